"""Custom layers: `package.module:Name` or `path/to/file.py:Name`, the path relative to the spec
file, naming a class or a function pair (functions.py). While a layer module loads, the spec's
folder and the layer file's folder come first on the import path (its neighbours), and the
folder above its package (above its folder, for a namespace package such as a cs231n folder
without __init__.py) and the current folder come last: a layer file imports its neighbours and
its own package the way it does in its repository."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from contextlib import contextmanager
from pathlib import Path

from ..errors import did_you_mean, one_line
from .functions import FunctionPair
from .resolve import find_target

_loaded_files: dict[Path, object] = {}
CUSTOM_PREFIX = "gradcheck_custom_"


@contextmanager
def _on_import_path(first: list[Path], last: list[Path]):
    """`first` before the import path and `last` after it while layers load (what the layer's
    own folders hold wins; the folders above only supply what nothing else does). Modules found
    through them are forgotten afterwards (the layers keep them), so that another folder's
    neighbour of the same name (helpers.py) is its own module, not this one. Modules found
    through the rest of the path (numpy, a virtual environment inside the current folder) and
    gradcheck's own stay."""
    folders = [*first, *last]
    before = set(sys.modules)
    others = [Path(entry or ".").resolve() for entry in sys.path]
    sys.path[:0] = [str(folder) for folder in first]
    sys.path.extend(str(folder) for folder in last)
    try:
        yield
    finally:
        for entry in map(str, first):       # the first occurrence: the one put first
            if entry in sys.path:
                sys.path.remove(entry)
        for entry in map(str, last):        # the last occurrence: the one put last
            if entry in sys.path:
                del sys.path[len(sys.path) - 1 - sys.path[::-1].index(entry)]
        for name in set(sys.modules) - before:
            module = sys.modules[name]
            # a namespace package (a cs231n folder without __init__.py) has no file, only its folders
            files = [module.__file__] if getattr(module, "__file__", None) else list(getattr(module, "__path__", []))
            if not _keeps(name) and any(_found_through(Path(file).resolve(), folders, others) for file in files):
                del sys.modules[name]


def _found_through(file: Path, folders: list[Path], others: list[Path]) -> bool:
    """Whether the deepest path entry holding `file` is one of `folders`."""
    holding = [entry for entry in [*folders, *others] if file.is_relative_to(entry)]
    return bool(holding) and max(holding, key=lambda entry: len(entry.parts)) in folders


def _keeps(module_name: str) -> bool:
    return (module_name.rpartition(".")[2].startswith(CUSTOM_PREFIX)
            or module_name == "gradcheck_cli" or module_name.startswith("gradcheck_cli."))


def _package_of(path: Path) -> tuple[Path, str]:
    """(the folder above the packages holding `path`, the dotted package name) — for a file
    outside any package: (its folder, "")."""
    folder, parts = path.parent, []
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def _is_file_reference(module: str) -> bool:
    return module.endswith(".py") or "/" in module or "\\" in module


def load_target(type_name: str, spec_file: Path, fail) -> type | FunctionPair:
    """The class or function pair a custom `type:` names; `fail(message)` makes the SpecError at
    its line."""
    module, module_name, name = load_module(type_name, spec_file, fail)
    return find_target(module, module_name, name, fail)


def load_module(type_name: str, spec_file: Path, fail):
    """(the module a custom `type:` names, imported as its layers are; the module as written; the
    name after the colon). A custom loss is looked up in it by model/custom_loss.py."""
    module_name, _, name = type_name.rpartition(":")
    folder = spec_file.resolve().parent
    first, last = [folder], [Path.cwd().resolve()]
    if _is_file_reference(module_name):
        path = (folder / module_name).resolve()
        root, package = _package_of(path)
        first.append(path.parent)
        last.insert(0, root if package else path.parent.parent)
    with _on_import_path(first, last):
        if _is_file_reference(module_name):
            module = _load_file(path, module_name, fail)
        else:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and module_name.startswith(exc.name):
                    raise fail(f"no module named {module_name!r} (looked in {folder} and the Python path)")
                raise fail(f"importing {module_name} failed{_deepest_line(exc)}: {one_line(exc)}")
            except (Exception, SystemExit) as exc:  # the user's module raised (or exited) while importing
                raise fail(f"importing {module_name} failed{_deepest_line(exc)}: {one_line(exc)}")
    return module, module_name, name


def _shown(file: str) -> str:
    """A path as a user reads it: relative to the current folder when below it."""
    try:
        return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return file


def _library_folders() -> list[Path]:
    import sysconfig
    paths = sysconfig.get_paths()
    return [Path(paths[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths]


def _deepest_user_frame(exc: BaseException) -> tuple[str, int] | None:
    """(file, line) of the innermost frame of the user's code that raised: not importlib's, nor
    the standard library's or an installed package's."""
    found, tb, libraries = None, exc.__traceback__, _library_folders()
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        if not file.startswith("<"):
            where = Path(file).resolve()
            if not any(where.is_relative_to(library) for library in libraries):
                found = (file, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _deepest_line(exc: BaseException) -> str:
    """` at helpers.py:3`, where the user's code raised, or nothing."""
    frame = _deepest_user_frame(exc)
    return f" at {_shown(frame[0])}:{frame[1]}" if frame else ""


def _line_in(exc: BaseException, path: Path) -> int | None:
    """The line of `path` where `exc` went through it last: the import or the call that failed."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _import_failure(exc: BaseException, path: Path, shown: str) -> str:
    """`./layers.py:3: importing failed: ModuleNotFoundError: No module named 'foo'`."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == path:
        return f"{shown}:{exc.lineno}: importing failed: SyntaxError: {exc.msg}"
    line = _line_in(exc, path)
    if line is None:
        return f"importing {shown} failed: {one_line(exc)}"
    deepest = _deepest_user_frame(exc)
    further = f" (raised at {_shown(deepest[0])}:{deepest[1]})" if deepest and Path(deepest[0]) != path else ""
    return f"{shown}:{line}: importing failed: {one_line(exc)}{further}"


def _load_file(path: Path, shown: str, fail):
    if path in _loaded_files:
        return _loaded_files[path]
    try:
        is_file = path.is_file()
    except OSError as exc:  # a name over 255 bytes, a loop of links
        from ..spec.reading import os_problem
        raise fail(f"cannot read {shown}: {os_problem(exc, str(path))}") from None
    if not is_file:
        raise fail(f"no such file: {shown} (looked for {path})")
    # One module per file path, so that two folders' layers.py never collide. A file inside a
    # package is its package's module, so that its relative imports (from .utils import f) work.
    import hashlib  # only specs with custom layer files need it
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    package = _package_of(path)[1]
    name = f"{package}.{CUSTOM_PREFIX}{path.stem}_{digest}" if package else f"{CUSTOM_PREFIX}{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise fail(f"cannot import {shown}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # No __pycache__ next to the user's files (nor next to what they import): the check
    # leaves their folder as it found it.
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # SystemExit from a stray script counts too
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise fail(_import_failure(exc, path, shown)) from None
    finally:
        sys.dont_write_bytecode = writes_bytecode
    _loaded_files[path] = module
    return module


def check_options(cls: type, type_name: str, options: dict, fail) -> None:
    """Refuse options the constructor does not take, as a spec error rather than a TypeError."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    parameters = signature.parameters.values()
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes = f"it takes: {', '.join(accepted)}" if accepted else "it takes no options"
    if not any(p.kind == p.VAR_KEYWORD for p in parameters):
        # a misspelt option first: "missing 'out'" alone would not say that 'outt' was meant
        for name in options:
            if name not in accepted:
                raise fail(f"unknown option {name!r} for {type_name}{did_you_mean(str(name), accepted)}; {takes}")
    try:
        signature.bind(**options)
    except TypeError as exc:
        raise fail(f"{type_name} cannot be built with these options ({exc}); {takes}")
