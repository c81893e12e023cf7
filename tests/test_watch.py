"""`gradcheck run --watch`: real files changed while the watch runs (in a thread, or as the command
in a subprocess), and what is checked again, shown and written after each change."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gradcheck_cli.results import PASSED
from gradcheck_cli.run import isolation, watching
from gradcheck_cli.run.batch import RunOptions

from conftest import CLI_ENV, invoke_cli

TIMEOUT = 60  # seconds: no test waits longer for a run, whatever goes wrong

BUGGY = """from helpers import scale


class Double:
    def forward(self, x):
        return scale(x)

    def backward(self, grad_out):
        return 3.0 * grad_out  # the bug: y = 2x
"""
FIXED = BUGGY.replace("3.0 * grad_out  # the bug: y = 2x", "2.0 * grad_out")


@pytest.fixture
def project(tmp_path):
    """A spec with a custom layer (buggy backward) that imports a sibling module, and a spec of built-ins."""
    (tmp_path / "helpers.py").write_text("def scale(x):\n    return 2.0 * x\n")
    (tmp_path / "layers.py").write_text(BUGGY)
    (tmp_path / "double.yaml").write_text("input: [3, 2]\nlayers: [{type: ./layers.py:Double}, tanh]\n")
    (tmp_path / "plain.yaml").write_text("input: [3, 2]\nlayers: [tanh]\n")
    return tmp_path


class Watching:
    """watching.watch in a thread; `next()` the next run (or the exception that ended it)."""

    def __init__(self, paths, **kwargs):
        self.runs: queue.Queue = queue.Queue()
        self.stop = threading.Event()

        def target():
            try:
                watching.watch([str(p) for p in paths], RunOptions(), self.runs.put, stop=self.stop, **kwargs)
            except BaseException as exc:  # handed to the test
                self.runs.put(exc)
            self.runs.put(None)

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def next(self, timeout: float = TIMEOUT):
        got = self.runs.get(timeout=timeout)
        if isinstance(got, BaseException):
            raise got
        return got

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


def outcomes(rerun) -> dict[str, str]:
    return {Path(spec.path).name: spec.outcome for spec in rerun.result.specs}


def test_fixing_the_layer_file_turns_its_spec_green_and_checks_only_that_spec(project):
    with Watching([project]) as watch:
        first = watch.next()
        assert outcomes(first) == {"double.yaml": "failed", "plain.yaml": "passed"}
        assert first.changed == [] and len(first.checked) == 2
        (project / "layers.py").write_text(FIXED)
        second = watch.next()
        assert second.changed == [(project / "layers.py").resolve()]
        assert [Path(p).name for p in second.checked] == ["double.yaml"]
        assert outcomes(second) == {"double.yaml": "passed", "plain.yaml": "passed"}
    # the watching process imported none of the user's code: a forked worker cannot inherit a stale module
    assert not [name for name, module in list(sys.modules.items())
                if str(project) in str(getattr(module, "__file__", None))]


def test_a_change_of_a_module_the_layer_file_imports_checks_its_spec_again(project):
    with Watching([project]) as watch:
        assert outcomes(watch.next())["double.yaml"] == "failed"
        (project / "helpers.py").write_text("def scale(x):\n    return 3.0 * x\n")  # now matches the backward
        second = watch.next()
        assert [p.name for p in second.changed] == ["helpers.py"]
        assert outcomes(second)["double.yaml"] == "passed"


def test_without_fork_the_users_modules_are_loaded_afresh(project, monkeypatch):
    """Where a spec's custom code runs in the watching process (no fork: macOS, Windows), each run
    imports layers.py again: the fixed backward is the one checked."""
    monkeypatch.setattr(isolation, "FORK_SAFE", False)
    with Watching([project / "double.yaml"]) as watch:
        assert outcomes(watch.next()) == {"double.yaml": "failed"}
        (project / "layers.py").write_text(FIXED)
        assert outcomes(watch.next()) == {"double.yaml": "passed"}
        (project / "helpers.py").write_text("def scale(x):\n    return 5.0 * x\n")
        assert outcomes(watch.next()) == {"double.yaml": "failed"}


def test_a_new_spec_in_a_watched_folder_is_checked(project):
    with Watching([project]) as watch:
        watch.next()
        (project / "sub").mkdir()
        (project / "sub" / "new.yaml").write_text("input: [2, 2]\nlayers: [sigmoid]\n")
        rerun = watch.next()
        while "new.yaml" not in outcomes(rerun):  # the folder's creation may come as a run of its own
            rerun = watch.next()
        assert [Path(p).name for p in rerun.checked] == ["new.yaml"]
        assert outcomes(rerun) == {"double.yaml": "failed", "plain.yaml": "passed", "new.yaml": "passed"}


def test_a_spec_named_but_not_there_yet_is_checked_once_written(tmp_path):
    with Watching([tmp_path / "later.yaml"]) as watch:
        first = watch.next()
        assert [spec.error for spec in first.result.specs] == [f"{tmp_path / 'later.yaml'}: no such file or folder"]
        (tmp_path / "later.yaml").write_text("input: [2, 2]\nlayers: [tanh]\n")
        assert outcomes(watch.next()) == {"later.yaml": "passed"}


def test_a_burst_of_writes_is_one_run(project):
    with Watching([project]) as watch:
        watch.next()
        for text in (BUGGY, "", FIXED[:20], FIXED):  # an editor writing in several steps
            (project / "layers.py").write_text(text)
        assert outcomes(watch.next())["double.yaml"] == "passed"
        with pytest.raises(queue.Empty):
            watch.next(timeout=1.0)


def test_files_nothing_depends_on_start_no_run(project):
    with Watching([project]) as watch:
        watch.next()
        (project / "notes.txt").write_text("todo")
        (project / "unrelated.py").write_text("X = 1\n")
        with pytest.raises(queue.Empty):
            watch.next(timeout=1.0)


def test_an_invalid_spec_shows_its_error_and_once_fixed_is_checked_again(project):
    with Watching([project]) as watch:
        watch.next()
        (project / "plain.yaml").write_text("input: [3, 2]\nlayers: [{type: linear}]\n")
        broken = watch.next()
        spec = [s for s in broken.result.specs if s.path.endswith("plain.yaml")][0]
        assert spec.invalid and spec.error == f"{project / 'plain.yaml'}:2: layers[0]: linear needs option 'out'"
        (project / "plain.yaml").write_text("input: [3, 2]\nlayers: [{type: linear, out: 2}]\n")
        assert outcomes(watch.next())["plain.yaml"] == PASSED


def test_watching_stops_after_the_runs_asked_for(project):
    done = watching.watch([str(project)], RunOptions(), lambda rerun: None, runs=1)
    assert done.number == 1 and outcomes(done)["double.yaml"] == "failed"


def test_on_a_terminal_each_run_is_drawn_in_place_of_the_last(project):
    import io

    from rich.console import Console

    from gradcheck_cli.report.watch_view import WatchView
    out = io.StringIO()
    view = WatchView(Console(file=out, force_terminal=True, width=100, color_system=None, soft_wrap=True), quiet=True)
    rerun = watching.watch([str(project)], RunOptions(), lambda rerun: None, runs=1)
    view.show(2, [project / "layers.py"], rerun.checked[:1], rerun.result)
    text = out.getvalue()
    assert text.startswith("\x1b[2J\x1b[H")  # cleared, cursor home
    lines = text.split("\x1b[H", 1)[1].splitlines()
    assert lines[0].startswith("gradcheck --watch, run 2 at ")
    assert lines[0].endswith(f": {project / 'layers.py'} changed")
    assert lines[1].startswith(f"{project / 'double.yaml'}: failed: layer 0 input off")
    assert lines[2].startswith("2 specs: 1 passed, 1 failed, 0 errors in ") and lines[2].endswith("; 1 checked again")


# The command, as a user runs it: a subprocess, its output read as it comes.

class Command:
    def __init__(self, *args, cwd, runs=None):
        env = {**os.environ, **{k: v for k, v in CLI_ENV.items() if v is not None}}
        for key in [k for k, v in CLI_ENV.items() if v is None]:
            env.pop(key, None)
        if runs:
            env["GRADCHECK_WATCH_RUNS"] = str(runs)
        self.process = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", "run", "--watch", *map(str, args)],
                                        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str) -> list[str]:
        """The lines up to the one holding `text`."""
        deadline, got = time.monotonic() + TIMEOUT, []
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            got.append(line)
            self.seen.append(line)
            if text in line:
                return got

    def end(self) -> tuple[int, str]:
        try:
            code = self.process.wait(TIMEOUT)
        finally:
            self.process.kill()
        return code, self.process.stderr.read()


def test_the_command_redraws_the_report_and_rewrites_the_report_files(project):
    command = Command(".", "--json", "out/report.json", "--junit-xml", "report.xml", cwd=project, runs=2)
    first = command.until("watching 4 files for changes (Ctrl-C ends)")
    assert "2 specs: 1 passed, 1 failed, 0 errors" in first[-2]
    assert [spec["outcome"] for spec in json.loads((project / "out" / "report.json").read_text())["specs"]] == \
        ["failed", "passed"]
    (project / "layers.py").write_text(FIXED)
    second = command.until("checked again")
    code, stderr = command.end()
    assert second[0] == "──── layers.py changed: checking 1 spec again ────────"
    assert any(line.startswith("./double.yaml  double  float64  passed") for line in second)
    assert second[-1].startswith("2 specs: 2 passed, 0 failed, 0 errors in ") and "; 1 checked again" in second[-1]
    assert code == 0 and stderr == ""
    report = json.loads((project / "out" / "report.json").read_text())
    assert [spec["outcome"] for spec in report["specs"]] == ["passed", "passed"]
    assert 'failures="0"' in (project / "report.xml").read_text()


def test_the_command_shows_an_invalid_spec_in_one_line_and_goes_on_watching(project):
    command = Command("plain.yaml", cwd=project, runs=3)
    command.until("watching")
    (project / "plain.yaml").write_text("input: [3, 2]\nlayers: [{type: tanhh}]\n")
    broken = command.until("watching")
    assert broken[1] == "plain.yaml  error"
    assert broken[2].startswith("  plain.yaml:2: layers[0]: unknown layer 'tanhh' (did you mean 'tanh'?); known")
    (project / "plain.yaml").write_text("input: [3, 2]\nlayers: [tanh]\n")
    fixed = command.until("checked again")
    assert fixed[-1].startswith("1 spec: 1 passed")
    assert command.end() == (0, "")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_ends_watching_cleanly(project, signum, code):
    command = Command(".", cwd=project)
    command.until("watching")
    command.process.send_signal(signum)
    assert command.until("stopped watching")
    assert command.end() == (code, "")  # no traceback


def test_ctrl_c_during_a_run_ends_it_and_leaves_the_last_reports(project):
    command = Command(".", "--json", "report.json", cwd=project)
    command.until("watching")
    (project / "layers.py").write_text("import time\n" + FIXED.replace("return scale(x)", "time.sleep(60)"))
    command.until("checking 1 spec again")
    time.sleep(0.5)  # inside the slow forward, in its worker
    command.process.send_signal(signal.SIGINT)
    assert command.until("interrupted") == ["interrupted: the report files hold the last whole run"]
    assert command.end() == (130, "")
    assert [spec["outcome"] for spec in json.loads((project / "report.json").read_text())["specs"]] == \
        ["failed", "passed"]


@pytest.mark.parametrize("args, message", [
    (["-"], "--watch: standard input (-) cannot be watched; give spec files or folders"),
    ([".", "--json", "-"], "--json - cannot go with --watch (a JSON document on standard output per run); "
                           "give a file name"),
])
def test_what_cannot_be_watched_is_refused(project, monkeypatch, args, message):
    monkeypatch.chdir(project)
    result = invoke_cli("run", "--watch", *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == message
