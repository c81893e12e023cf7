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


class UsageError(Exception):
    """The command line asks for something that cannot be done (a report over a user's file):
    one line, exit code 2, before anything runs."""


class ShapeError(ValueError):
    """A built-in layer received an input it cannot take; becomes a SpecError at its line."""


def one_line(exc: BaseException) -> str:
    """An exception as `Type: first line of its message`, for one-line error reports."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def did_you_mean(name: str, known) -> str:
    """` (did you mean 'seed'?)` when a known name is close to `name`, else nothing."""
    import difflib
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
