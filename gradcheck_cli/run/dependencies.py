"""What a spec's check depends on, for `gradcheck run --watch`: the spec file itself, every custom
layer or loss file it names (`./layers.py:Affine`, `mypkg.layers:Affine` found in the spec's
folder), and the modules those files import that live where the layers' own imports would find
them (the spec's folder, the layer file's folder, the folder above its package), transitively.

Found by reading: the spec's YAML, and each file's imports parsed with `ast`. No user code is
imported here (the watching process must hold no user module that a forked worker would inherit).
An import that cannot be told from the text (`importlib.import_module(name)`) is not followed.
"""
from __future__ import annotations

import ast
from pathlib import Path

from ..errors import SpecError

MAX_FILES = 500  # per spec: a folder of generated modules is not followed past this


def custom_type_names(spec) -> list[str]:
    """Every `module:Name` a spec's layers, nested layers, graph nodes and loss name."""
    from ..spec.load import walk
    names = [layer.type for layer in walk(spec.layers) if layer.target is None and ":" in layer.type]
    loss = spec.loss
    if getattr(loss, "target", None) is None and ":" in loss.type:
        names.append(loss.type)
    return names


def spec_dependencies(path: str) -> set[Path] | None:
    """The resolved files `path`'s check depends on, itself first among them; None when the spec
    cannot be read or is invalid as written (then only its own file is known to matter)."""
    from ..model.custom import _is_file_reference, _package_of
    from ..spec.load import load_spec
    try:
        spec = load_spec(path)  # YAML only: what custom layers name is imported when they are built
    except SpecError:
        return None
    folder = Path(path).resolve().parent
    found = {Path(path).resolve()}
    for type_name in custom_type_names(spec):
        module_name = type_name.rpartition(":")[0]
        if _is_file_reference(module_name):
            file = (folder / module_name).resolve()
            root, package = _package_of(file)
            roots = _unique([folder, file.parent, root if package else file.parent.parent])
            files = [file, *(_package_inits(file, root) if package else [])]
        else:
            roots = [folder]
            files = module_files(module_name, roots)
        found.update(files)
        for file in files:
            found |= imported_files(file, roots)
    return found


def module_files(dotted: str, roots: list[Path]) -> list[Path]:
    """The files importing `dotted` runs when it is found below one of `roots` (the first that
    holds its top package, as the import path is searched): each package's __init__.py on the
    way, and the module's own file. Empty when no root holds it (numpy, the standard library)."""
    parts = [part for part in dotted.split(".") if part]
    for root in roots:
        files = _files_below(root, parts)
        if files:
            return files
    return []


def _files_below(base: Path, parts: list[str]) -> list[Path]:
    files, folder = [], base
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        module, package = folder / f"{part}.py", folder / part / "__init__.py"
        if package.is_file():
            files.append(package)
            folder = folder / part
        elif last and module.is_file():
            files.append(module)
        elif (folder / part).is_dir() and not last:  # a namespace package (a folder without __init__.py)
            folder = folder / part
        else:
            break
    return [file.resolve() for file in files]


def imported_files(start: Path, roots: list[Path]) -> set[Path]:
    """The files below `roots` that `start` imports, and those they import, and so on (`start`
    itself not included unless imported back)."""
    seen: set[Path] = set()
    queue = [start]
    while queue and len(seen) < MAX_FILES:
        file = queue.pop()
        for found in _direct_imports(file, roots):
            if found not in seen:
                seen.add(found)
                queue.append(found)
    seen.discard(start)
    return seen


def _direct_imports(file: Path, roots: list[Path]) -> list[Path]:
    """The files below `roots` (or, for a relative import, in `file`'s own package) that `file`'s
    import statements name; a file that cannot be read or parsed names none."""
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):  # a file too deep to parse too
        return []
    found: list[Path] = []
    for node in ast.walk(tree):  # imports inside functions and try blocks count too
        if isinstance(node, ast.Import):
            for alias in node.names:
                found += module_files(alias.name, roots)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = file.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = (node.module or "").split(".") if node.module else []
                found += _files_below(base, parts) if parts else []
                # `from . import helpers`, `from .pkg import mod`: the names may be modules themselves
                found += [f for alias in node.names for f in _files_below(base, [*parts, alias.name])[-1:]]
            elif node.module:
                found += module_files(node.module, roots)
                found += [f for alias in node.names
                          for f in module_files(f"{node.module}.{alias.name}", roots)[-1:]]
    return found


def _package_inits(file: Path, root: Path) -> list[Path]:
    """The __init__.py of each package holding `file` (a file in a package is imported as its module)."""
    return [folder / "__init__.py" for folder in file.parents if root in folder.parents]


def _unique(folders: list[Path]) -> list[Path]:
    return list(dict.fromkeys(folders))
