"""pytest plugin: every `*.gradcheck.yaml` (or `.yml`) file below the test paths is a test.

Installed with the package under the entry point group `pytest11` (name `gradcheck`), so a
plain `pytest` collects the specs; without the entry point, load it with
`pytest -p gradcheck_cli.pytest_plugin` (once the entry point is installed, name it `-p gradcheck`:
pytest refuses one module registered under two names). One test item per spec file; a failing spec reports
its failing tensors and the suspect layer instead of a Python traceback. Items are ordinary
File/Item nodes, so pytest-xdist (`-n auto`) distributes them like any other test.
A passing spec's warnings (a layer's hazards) become pytest warnings (GradcheckWarning, as those
of assert_gradients do); `gradcheck_strict = true` fails the spec instead, its warnings in the
failure text, and makes the warnings of assert_gradients errors that fail their test.

Ini options (pytest.ini, pyproject's [tool.pytest.ini_options], or `-o name=value`) set what
`gradcheck run` takes as options: gradcheck_rtol, gradcheck_atol, gradcheck_mode,
gradcheck_samples, gradcheck_directions, gradcheck_no_custom, gradcheck_strict, gradcheck_seeds;
gradcheck_files adds glob patterns of further spec files to collect (`specs/*.yaml`).
"""
from __future__ import annotations

import fnmatch
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import defaults
from .errors import GradcheckWarning  # noqa: F401  (its home was here: `from gradcheck_cli.pytest_plugin import ...`)

SUFFIXES = (".gradcheck.yaml", ".gradcheck.yml")
SPEC_SUFFIXES = (".yaml", ".yml")  # what a gradcheck_files pattern may add: spec files, not layer files


def _tolerance(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError
    return value


def _mode(text: str) -> str:
    if text not in defaults.MODES:
        raise ValueError
    return text


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError
    return value


def _flag(text: str) -> bool:
    return {"true": True, "yes": True, "on": True, "1": True,
            "false": False, "no": False, "off": False, "0": False}[text.lower()]


# ini name -> (RunOptions field, parser of the text, what a value must be, help); the defaults
# are RunOptions', which come from defaults.py.
INI_OPTIONS = {
    "gradcheck_rtol": ("rtol", _tolerance, "a finite number >= 0",
                       "relative tolerance for every spec (default: the dtype's, "
                       f"{defaults.TOLERANCES['float64'][0]:g} in float64)"),
    "gradcheck_atol": ("atol", _tolerance, "a finite number >= 0",
                       "absolute tolerance for every spec (default: the dtype's, "
                       f"{defaults.TOLERANCES['float64'][1]:g} in float64)"),
    "gradcheck_mode": ("mode", _mode, f"{', '.join(defaults.MODES[:-1])} or {defaults.MODES[-1]}",
                       f"{'|'.join(defaults.MODES)} (default: full up to {defaults.FULL_MODE_LIMIT:,} scalars, "
                       "fast above)"),
    "gradcheck_samples": ("samples", _count, "a positive integer",
                          f"coordinates per tensor in sample mode (default {defaults.SAMPLES})"),
    "gradcheck_directions": ("directions", _count, "a positive integer",
                             f"random directions per tensor in fast mode (default {defaults.DIRECTIONS})"),
    "gradcheck_no_custom": ("allow_custom", lambda text: not _flag(text), "true or false",
                            "refuse custom layers and losses: they are Python code and would run (default false)"),
    "gradcheck_strict": ("strict", _flag, "true or false",
                         "any warning (a layer's hazard) fails its spec, as `gradcheck run --strict` "
                         f"(default {str(defaults.STRICT).lower()})"),
    "gradcheck_seeds": ("seeds", _count, "a positive integer",
                        f"check each spec at N seeds, its own and the next ones (default {defaults.SEEDS})"),
}
_RUN_OPTIONS = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (_, _, _, help_text) in INI_OPTIONS.items():
        parser.addini(name, f"gradcheck: {help_text}", default="")
    parser.addini("gradcheck_files", "gradcheck: glob patterns of further spec files to collect, beyond "
                  "*.gradcheck.yaml (e.g. specs/*.yaml)", type="args", default=[])


def run_options(config: pytest.Config):
    """The RunOptions the ini options ask for; a pytest.UsageError naming the option for a bad value."""
    from .run.batch import RunOptions

    chosen = {}
    for name, (field, parse, expected, _) in INI_OPTIONS.items():
        text = str(config.getini(name) or "").strip()
        if not text:
            continue
        try:
            chosen[field] = parse(text)
        except (ValueError, KeyError):
            raise pytest.UsageError(f"ini option {name}: expected {expected}, got {text!r}") from None
    return RunOptions(**chosen)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gradcheck: a gradient check collected from a *.gradcheck.yaml spec")
    try:
        strict = _flag(str(config.getini("gradcheck_strict") or "false").strip())
    except KeyError:
        strict = False  # a bad value: pytest_sessionstart says so
    if strict:  # assert_gradients in a test warns where a spec file fails: both fail the test
        config.addinivalue_line("filterwarnings", "error::gradcheck_cli.errors.GradcheckWarning")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Read here rather than in pytest_configure, so that `pytest --help` still helps with a bad value.
    session.config.stash[_RUN_OPTIONS] = run_options(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """No worker outlives the session (one done gets a moment for its layers' atexit handlers)."""
    import sys
    if "gradcheck_cli.run.worker" in sys.modules:
        from .run.worker import end_workers
        end_workers()


def matches_pattern(path: Path, pattern: str) -> bool:
    """As pytest's python_files: a pattern without a `/` is matched against the file name; one
    with a `/` against the end of the path (so relative to the rootdir, or deeper), `*` crossing
    folders."""
    pattern = pattern.removeprefix("./")
    if "/" not in pattern:
        return fnmatch.fnmatch(path.name, pattern)
    if not os.path.isabs(pattern):
        pattern = f"*/{pattern}"
    return fnmatch.fnmatch(path.as_posix(), pattern)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    name = file_path.name
    if name.endswith(SUFFIXES) and name not in SUFFIXES:
        return GradcheckFile.from_parent(parent, path=file_path)
    if name.endswith(SPEC_SUFFIXES) and any(matches_pattern(file_path, pattern)
                                            for pattern in parent.config.getini("gradcheck_files")):
        return GradcheckFile.from_parent(parent, path=file_path)
    return None


def _spec_name(path: Path) -> str:
    """The name the spec gives itself, as the runner reads it; the file's stem if it gives none
    or cannot be read (the item then fails with the spec's own error when it runs). Read as the
    runner reads it: a regular file, within the size limit (a 48 MB file, a FIFO named
    x.gradcheck.yaml are not read whole, nor waited on)."""
    try:
        from .spec.reading import read_spec_file
        from .spec.yaml_marks import load

        data, _ = load(read_spec_file(str(path)).decode("utf-8"), str(path))
        name = data.get("name") if isinstance(data, dict) else None
    except Exception:
        name = None
    if not isinstance(name, str) or not name.strip():
        name = path.stem
    return name.strip().replace("::", ":")


class GradcheckFile(pytest.File):
    """A spec file: one item."""

    def collect(self):
        yield GradcheckItem.from_parent(self, name=_spec_name(self.path))


class GradcheckFailure(Exception):
    """A spec that failed, errored or is invalid; carries the SpecResult for repr_failure."""

    def __init__(self, result):
        super().__init__(result.error or result.outcome)
        self.result = result


@dataclass
class _Crash:
    """What pytest's short summary (`FAILED id - message`) and its --junitxml read."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class GradcheckRepr:
    """The failure text, with a crash line for the short summary; no traceback."""

    def __init__(self, text: str, path: str, message: str):
        self.text = text
        self.reprcrash = _Crash(path, 0, message)

    def toterminal(self, tw) -> None:
        for line in self.text.splitlines():
            tw.line(line, red=line.startswith(("  layer", "error", "invalid")), bold=line.startswith("  suspect"))

    def __str__(self) -> str:
        return self.text


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _printable(text: str) -> str:
    """Without control characters (a bell or an escape from a layer's error text)."""
    return _CONTROL.sub("", text)


def failure_text(result) -> tuple[str, str]:
    """(the full text, a one-line message) for a result that did not pass."""
    text, message = _failure_text(result)
    return _printable(text), _printable(message)


def _failure_text(result) -> tuple[str, str]:
    from .report.junit import failure_details, failure_message, tolerance_text
    from .report.wording import place
    from .results import PASSED

    if result.invalid:
        return f"invalid spec: {result.error}", f"invalid spec: {result.error}"
    if result.error:
        return f"error: {result.error}", f"error: {result.error}"
    off = sum(1 for c in result.checks if not c.passed)
    wrong_layers = [lc for lc in result.layer_checks if lc.outcome != PASSED]
    if wrong_layers:  # the short summary leads with where the bug is, not with its echoes upstream
        suspects = "; ".join(f"{place(lc)} {', '.join(lc.wrong_tensors) or lc.outcome}"
                             for lc in sorted(wrong_layers, key=lambda lc: lc.node != "loss"))
        message = f"{off} tensor{'s' if off != 1 else ''} off; suspect {suspects}"
    else:
        message = failure_message(result)
    # The first line is the message too: under pytest-xdist the short summary shows that line.
    lines = [f"{message}  ({len(result.checks)} checked; {tolerance_text(result)})"]
    lines += [f"  {line}" for line in failure_details(result)]
    return "\n".join(lines), message


def _display_path(path: Path) -> str:
    """The spec path as the messages show it: relative to the working folder when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return str(path) if relative.startswith("..") else relative


class GradcheckItem(pytest.Item):
    """One spec file, checked by run.isolation.check_isolated: a spec with custom code in a worker
    process of its own, so that a layer's os._exit, crash or KeyboardInterrupt fails this test
    and the session goes on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_marker("gradcheck")
        self.result = None

    def runtest(self) -> None:
        from .results import PASSED
        from .run.isolation import check_isolated

        self.result = check_isolated(_display_path(self.path), self.config.stash[_RUN_OPTIONS])
        self.user_properties.append(("gradcheck_outcome", self.result.outcome))
        if self.result.outcome != PASSED:
            raise GradcheckFailure(self.result)
        import warnings
        for warning in self.result.warnings:
            warnings.warn(GradcheckWarning(f"{self.path.name}: {warning.message}"), stacklevel=1)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GradcheckFailure):
            text, message = failure_text(excinfo.value.result)
            return GradcheckRepr(text, str(self.path), message)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"gradcheck: {self.name}"
