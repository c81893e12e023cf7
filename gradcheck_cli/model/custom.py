"""Custom layers: `package.module:ClassName` or `path/to/file.py:ClassName`, the path relative
to the spec file. While a layer module loads, the spec's folder is on the import path, so a
layer file can import its neighbours."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from contextlib import contextmanager
from pathlib import Path

from ..errors import did_you_mean, one_line

_loaded_files: dict[Path, object] = {}


@contextmanager
def _on_import_path(folder: Path):
    """The spec's folder on the import path while its layers load. Modules imported from that
    folder are forgotten afterwards (the layers keep them), so that another folder's
    neighbour of the same name (helpers.py) is its own module, not this one."""
    entry = str(folder)
    before = set(sys.modules)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        try:
            sys.path.remove(entry)
        except ValueError:
            pass
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if file and not name.startswith("gradcheck_custom_") and Path(file).resolve().is_relative_to(folder):
                del sys.modules[name]


def _is_file_reference(module: str) -> bool:
    return module.endswith(".py") or "/" in module or "\\" in module


def load_class(type_name: str, spec_file: Path, fail) -> type:
    """The class a custom `type:` names; `fail(message)` makes the SpecError at its line."""
    module_name, _, class_name = type_name.rpartition(":")
    folder = spec_file.resolve().parent
    with _on_import_path(folder):
        if _is_file_reference(module_name):
            module = _load_file(folder / module_name, module_name, fail)
        else:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and module_name.startswith(exc.name):
                    raise fail(f"no module named {module_name!r} (looked in {folder} and the Python path)")
                raise fail(f"importing {module_name} failed: {one_line(exc)}")
            except (Exception, SystemExit) as exc:  # the user's module raised (or exited) while importing
                raise fail(f"importing {module_name} failed: {one_line(exc)}")
    cls = getattr(module, class_name, None)
    if cls is None:
        names = [n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module.__name__]
        listed = f"; it defines: {', '.join(names)}" if names else ""
        raise fail(f"{module_name} has no class {class_name!r}{listed}")
    if not callable(cls):
        raise fail(f"{type_name} is not a class")
    return cls


def _load_file(path: Path, shown: str, fail):
    path = path.resolve()
    if path in _loaded_files:
        return _loaded_files[path]
    if not path.is_file():
        raise fail(f"no such file: {shown} (looked for {path})")
    # One module per file path, so that two folders' layers.py never collide.
    import hashlib  # only specs with custom layer files need it
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"gradcheck_custom_{path.stem}_{digest}"
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
    except SyntaxError as exc:
        del sys.modules[name]
        raise fail(f"importing {shown} failed: SyntaxError at line {exc.lineno}: {exc.msg}")
    except BaseException as exc:  # SystemExit from a stray script counts too
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise fail(f"importing {shown} failed: {one_line(exc)}")
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
