"""The two kinds of trouble a run can meet, kept apart because they end differently.

SpecError: the spec itself is wrong (exit code 2); it always knows its file and line.
LayerError: a layer misbehaved while being checked (that spec's outcome is "error").
"""
from __future__ import annotations


# What a layer's own code may raise: sys.exit() included, or it would end the whole run silently.
LAYER_FAILURES = (Exception, SystemExit)


class SpecError(ValueError):
    """An invalid spec: `file:line: where: what`, one line, exit code 2. A ValueError, for the
    Python API: the arguments of check_layer make a spec too."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, where: str = ""):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.where = where

    def __str__(self) -> str:
        place = self.file or "<spec>"
        if self.line is not None:
            place = f"{place}:{self.line}"
        what = f"{self.where}: {self.message}" if self.where else self.message
        return f"{place}: {what}"


class LayerError(Exception):
    """A layer raised, returned a wrong shape, omitted a gradient or produced NaN/Inf."""

    def __init__(self, layer: str, message: str, index: int | None = None):
        super().__init__(f"layer {layer}: {message}")
        self.layer = layer
        self.index = index
        self.message = message


class LossError(LayerError):
    """A custom loss misbehaved: `loss (./layers.py:softmax_loss): ...`. Its index is one past
    the last layer, where the loss sits in reports."""

    def __init__(self, loss: str, message: str, index: int | None = None):
        Exception.__init__(self, f"loss ({loss}): {message}")
        self.layer = f"loss ({loss})"
        self.index = index
        self.message = message


class NodeError(LayerError):
    """A node of a graph spec misbehaved: `node h (./layers.py:Attend): backward raised ...`."""

    def __init__(self, node: str, type_: str, message: str):
        Exception.__init__(self, f"node {node} ({type_}): {message}")
        self.layer, self.index, self.message, self.node = f"{node} ({type_})", None, message, node


class GradcheckWarning(UserWarning):
    """A hazard in a layer of a check that passed (a layer's warning, results.Warning): raised as a
    Python warning by the pytest plugin for a spec file and by assert_gradients, so that pytest
    shows it, and `-W error::gradcheck_cli.GradcheckWarning` (or `gradcheck_strict = true`) fails on it."""


class UsageError(Exception):
    """The command line asks for something that cannot be done (a report over a user's file):
    one line, exit code 2, before anything runs."""


class ShapeError(ValueError):
    """A built-in layer received an input it cannot take; becomes a SpecError at its line."""


def one_line(exc: BaseException) -> str:
    """An exception as `Type: first line of its message`, for one-line error reports."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def raised(what: str, exc: BaseException) -> str:
    """`./layers.py:42: backward raised ValueError: boom`: what a layer's `what` (forward,
    backward, build, constructor) raised, at the line of the user's code that raised it, when
    the traceback passes through one (see user_frame)."""
    where = user_frame(exc)
    return f"{where}: {what} raised {one_line(exc)}" if where else f"{what} raised {one_line(exc)}"


def user_frame(exc: BaseException) -> str | None:
    """`./layers.py:42`: the innermost frame of the traceback in the user's own code, not in
    gradcheck, the standard library or an installed package (numpy's frames would only say
    where numpy noticed). Relative to the current folder when below it, else absolute."""
    import os

    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith("<frozen") and not any(filename.startswith(p) for p in _not_users()):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    filename, line = found
    if not filename.startswith("<"):
        try:
            relative = os.path.relpath(filename)
        except ValueError:  # another drive
            relative = os.pardir
        if not relative.startswith(os.pardir):
            filename = f".{os.sep}{relative}"
    return f"{filename}:{line}"


def shown_file(filename: str) -> str:
    """A file as messages show it: `./layers.py`, relative to the current folder when below it,
    else as it is."""
    import os
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive
        return filename
    return filename if relative.startswith(os.pardir) or filename.startswith("<") else f".{os.sep}{relative}"


_NOT_USERS: tuple[str, ...] | None = None


def _not_users() -> tuple[str, ...]:
    """Folders whose files are not the user's: this package, the standard library, installed packages."""
    global _NOT_USERS
    if _NOT_USERS is None:
        import os
        import site
        import sysconfig
        from pathlib import Path

        paths = sysconfig.get_paths()
        folders = {str(Path(__file__).resolve().parent)}
        folders |= {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
        folders |= set(getattr(site, "getsitepackages", lambda: [])())
        folders.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else "")
        _NOT_USERS = tuple(os.path.join(os.path.realpath(f), "") for f in folders if f) + \
            tuple(os.path.join(f, "") for f in folders if f)
    return _NOT_USERS


def did_you_mean(name: str, known) -> str:
    """` (did you mean 'seed'?)` when a known name is close to `name`, else nothing."""
    import difflib
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def where(function) -> str:
    """`layers.py:12`: where a function (or class) is defined, relative to the current folder."""
    import inspect
    from pathlib import Path

    try:
        file, line = inspect.getsourcefile(function), inspect.getsourcelines(function)[1]
    except (TypeError, OSError):
        return getattr(function, "__module__", None) or "?"
    try:
        file = str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        pass
    return f"{file}:{line}"
