"""A spec on standard input (`gradcheck run -`): named `stdin` in reports and messages, its
relative custom-layer paths resolved against the current folder, no larger than a spec file."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from .. import defaults
from ..errors import SpecError

STDIN = "-"               # the path that names standard input
STDIN_NAME = "stdin"      # what reports and messages call it
_read_ahead: list[bytes] = []


def shown_path(path: str) -> str:
    """A spec's path as reports and messages show it."""
    return STDIN_NAME if path == STDIN else path


def _read_bounded() -> bytes:
    """At most one byte more than a spec may hold: enough to tell that it is too large."""
    if sys.stdin is None:  # closed (`<&-`): nothing to read
        return b""
    if not hasattr(sys.stdin, "buffer"):  # replaced by a text stream (an embedding program's)
        return sys.stdin.read(defaults.MAX_SPEC_BYTES + 1).encode("utf-8")
    return sys.stdin.buffer.read(defaults.MAX_SPEC_BYTES + 1)


@contextmanager
def stdin_read_ahead():
    """Standard input read here, once, for specs checked in forked worker processes (whose own
    standard input is /dev/null): while this lasts, reading the spec `-` gives these bytes."""
    _read_ahead.append(_read_bounded())
    try:
        yield
    finally:
        _read_ahead.clear()


def read_stdin() -> tuple[str, Path]:
    """The text of standard input, and the file its relative custom-layer paths are resolved
    beside: `stdin` in the current folder."""
    data = _read_ahead[0] if _read_ahead else _read_bounded()
    if len(data) > defaults.MAX_SPEC_BYTES:
        raise SpecError(f"standard input holds more than {defaults.MAX_SPEC_BYTES:,} bytes; "
                        f"a spec is at most {defaults.MAX_SPEC_BYTES:,}", STDIN_NAME, 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("not text (it is not valid UTF-8)", STDIN_NAME) from None
    return text, Path.cwd() / STDIN_NAME
