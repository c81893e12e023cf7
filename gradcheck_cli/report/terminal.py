"""What reaches a terminal or a log: text it can show, and never a control sequence from a
file name or a layer's message. Plain strings, no rich.

- escape_controls: an escape (ANSI colors, cursor moves), a carriage return, NUL, a bidi
  override in a name or a message is shown as `\\x1b`, `\\r`, `\\x00`, `\\u202e`, so a spec named to
  look like another, or a layer's error text, cannot repaint the screen or hide a line.
- GuardedStream: standard output or error as the report is printed on it. Characters its
  encoding cannot carry (an ASCII or Latin-1 locale) become plain ones (`×` -> `x`, `→` -> `->`);
  a stream that cannot be written (closed with `>&-`, `/dev/full`, a broken pipe) is noted once
  and left alone, so that the run goes on and its report files are still written.
"""
from __future__ import annotations

import codecs
import re

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """`text` with every control character written out as an escape (`\\x1b`, `\\r`, `\\n`)."""
    return _CONTROLS.sub(_escaped, text) if _CONTROLS.search(text) else text


# What the reports print beyond ASCII, and what stands for it where the encoding lacks it.
PLAIN = {"×": "x", "→": "->", "←": "<-", "σ": "sigma", "Σ": "sum", "ε": "eps", "θ": "theta", "π": "pi",
         "Φ": "Phi", "µ": "u", "·": "*", "⊙": "*", "⊗": "(x)", "±": "+-", "…": "...", "—": "-", "–": "-",
         "≤": "<=", "≥": ">=", "≈": "~", "²": "^2", "³": "^3", "ᵀ": "^T", "√": "sqrt", "−": "-",
         "░": ".", "▒": ":", "▓": "+", "█": "#", "━": "-", "─": "-", "│": "|", "┃": "|", "•": "*", "✓": "ok",
         "✗": "x", "’": "'", "‘": "'", "“": '"', "”": '"'}


def plain(text: str, encoding: str) -> str:
    """`text` as `encoding` can carry it: unchanged where it can, else with PLAIN's stand-ins,
    and a backslash escape for any other character."""
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode(encoding)
            out.append(char)
        except UnicodeEncodeError:
            stand_in = PLAIN.get(char)
            out.append(stand_in if stand_in is not None else char.encode(encoding, "backslashreplace").decode(encoding))
    return "".join(out)


def _is_unicode(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


class GuardedStream:
    """A text stream (sys.stdout, sys.stderr, or None when it is closed) that never raises on
    write or flush: the first failure is kept in `error`, and later output is dropped."""

    def __init__(self, stream, name: str = "standard output"):
        self.stream = stream
        self.name = name
        self.error: str | None = None if stream is not None else "closed"
        encoding = getattr(stream, "encoding", None) or "utf-8"
        self.encoding = encoding if isinstance(encoding, str) else "utf-8"
        self._unicode = _is_unicode(self.encoding)
        self.reader_left = False
        self.said = False  # whether lost() was said on standard error

    def write(self, text: str) -> int:
        if self.error is None:
            try:
                self.stream.write(text if self._unicode else plain(text, self.encoding))
            except (OSError, ValueError) as exc:  # ValueError: an I/O operation on a closed file
                self._failed(exc)
        return len(text)

    def flush(self) -> None:
        if self.error is None:
            try:
                self.stream.flush()
            except (OSError, ValueError) as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.error = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        self.reader_left = isinstance(exc, BrokenPipeError)  # `| head`: the reader stopped on purpose

    def isatty(self) -> bool:
        try:
            return self.error is None and bool(self.stream.isatty())
        except (OSError, ValueError, AttributeError):
            return False

    def fileno(self) -> int:
        if self.stream is None:
            raise OSError("closed")
        return self.stream.fileno()

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):  # what layer code may use: buffer, errors, ...
        if self.stream is None or name.startswith("rich_"):  # rich must print through this, not around it
            raise AttributeError(name)
        return getattr(self.stream, name)

    def lost(self) -> str | None:
        """One line saying that nothing more could be shown here, or None when all went out."""
        if self.error is None or self.reader_left:
            return None
        if self.error == "closed":
            return f"{self.name} is closed: the report could not be shown there"
        return f"{self.name}: cannot write ({self.error}): the report could not be shown there"


_GUARDS: dict[int, GuardedStream] = {}


def guarded(stderr: bool) -> GuardedStream:
    """The guard of standard output (or error) as it is now: one per stream, so that what it
    lost is known when the process ends (stream_lost)."""
    import sys
    stream = sys.stderr if stderr else sys.stdout
    guard = _GUARDS.get(id(stream))
    if guard is None or guard.stream is not stream:
        guard = _GUARDS[id(stream)] = GuardedStream(stream, "standard error" if stderr else "standard output")
    return guard


def stream_lost(code: int) -> int:
    """As the process ends: a standard output that could not be written is said in one line on
    standard error, unless it was said already (the run says it with its reports) or its reader
    left on purpose; the exit code is then at least 1."""
    for guard in list(_GUARDS.values()):
        if guard.name != "standard output" or guard.error is None:
            continue
        if not guard.said and guard.lost():
            guarded(stderr=True).write(guard.lost() + "\n")
        guard.said, code = True, code or 1
    return code


def escaped_result(result):
    """A SpecResult whose texts (path, name, error, layer types, tensor names, hints, warnings,
    notes) have their control characters escaped, for a terminal, a log or a page. The result
    itself, and the JSON report, keep them as they are."""
    from dataclasses import replace

    def check(c):
        return replace(c, type=escape_controls(c.type), tensor=escape_controls(c.tensor),
                       hint=None if c.hint is None else escape_controls(c.hint))

    texts = [result.path, result.name or "", result.error or "", *result.notes, *(w.message for w in result.warnings),
             *(c.type + c.tensor + (c.hint or "") for c in result.checks),
             *(lc.type + "".join(c.type + c.tensor for c in lc.checks) for lc in result.layer_checks)]
    if not any(_CONTROLS.search(text) for text in texts):
        return result
    return replace(result, path=escape_controls(result.path), name=result.name and escape_controls(result.name),
                   error=result.error and escape_controls(result.error),
                   notes=[escape_controls(n) for n in result.notes],
                   warnings=[replace(w, message=escape_controls(w.message)) for w in result.warnings],
                   checks=[check(c) for c in result.checks],
                   layer_checks=[replace(lc, type=escape_controls(lc.type), checks=[check(c) for c in lc.checks])
                                 for lc in result.layer_checks])
