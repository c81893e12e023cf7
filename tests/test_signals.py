"""Signals (issue 13): SIGTERM (what CI sends on cancel) ends a run as Ctrl-C does, with the
reports of the specs finished so far and exit code 143; more signals while the run ends cannot
lose the reports; no worker outlives its run, however the run ends."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gradcheck_cli.run import isolation
from gradcheck_cli.run.signals import StopSignals, Stopped

FAULTS = Path(__file__).parent / "data" / "faults"
pytestmark = pytest.mark.skipif(not isolation.FORK_SAFE, reason="workers are forked on Linux only")


@pytest.fixture
def folder(tmp_path) -> Path:
    shutil.copytree(FAULTS, tmp_path / "faults")
    return tmp_path / "faults"


class Run:
    """`gradcheck run dot.yaml hangs.yaml ARGS --json report.json --junit-xml report.xml` in a process
    of its own: the correct spec finishes, the hanging one never does. Its output is read as it
    comes, so that a signal can wait for the correct spec's result."""

    def __init__(self, folder: Path, *args: str):
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "GRADCHECK_TEST_PIDS": str(folder / "pids.txt")}
        self.folder, self.lines = folder, []
        self.proc = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", "run", "dot.yaml", "hangs.yaml", *args,
                                      "--json", "report.json", "--junit-xml", "report.xml"], cwd=folder, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def hanging_workers(self, timeout: float = 30) -> list[int]:
        """Once the correct spec is reported and the hanging layer runs: the pids of its workers."""
        limit, pids = time.monotonic() + timeout, self.folder / "pids.txt"
        while time.monotonic() < limit:
            assert self.proc.poll() is None, self.output()
            reported = any(line.startswith("dot.yaml ") for line in list(self.lines))
            if reported and pids.exists() and pids.read_text().strip():
                return [int(line) for line in pids.read_text().split()]
            time.sleep(0.05)
        raise AssertionError(f"the run never got there: {self.output()}")

    def output(self, timeout: float = 20) -> str:
        """Everything it wrote, once it ended (killed if it has not within `timeout`)."""
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(timeout)
        return "".join(self.lines)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def finished_part(folder: Path) -> None:
    """The reports hold the finished spec and say the run was cut short."""
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert [(s["path"], s["outcome"]) for s in report["specs"]] == [("dot.yaml", "passed")]
    assert report["interrupted"] is True and report["passed"] is False
    suite = ET.parse(folder / "report.xml").getroot()
    assert suite.find(".//testcase[@name='interrupted']/error") is not None


@pytest.mark.parametrize("options", [[], ["--jobs", "2"], ["--timeout", "60"]], ids=["plain", "jobs", "timeout"])
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_run_with_its_reports_and_no_worker_left(folder, options, signum, code, word):
    run = Run(folder, *options)
    workers = run.hanging_workers()
    run.proc.send_signal(signum)
    output = run.output()
    assert run.proc.returncode == code, output
    assert f"{word}: reports hold the specs finished so far" in output.splitlines()
    assert "Traceback" not in output
    finished_part(folder)
    assert not any(alive(pid) for pid in workers)


def test_more_signals_while_the_run_ends_cannot_lose_the_reports(folder):
    """Ctrl-C, then Ctrl-C and SIGTERM again and again until the process is gone: whichever part of
    the ending each one meets (the workers being ended, the reports being written), the first
    decides the exit code and the reports are whole."""
    run = Run(folder)
    workers = run.hanging_workers()
    run.proc.send_signal(signal.SIGINT)
    limit, sent = time.monotonic() + 20, 0
    while run.proc.poll() is None and time.monotonic() < limit:
        try:
            os.kill(run.proc.pid, (signal.SIGINT, signal.SIGTERM)[sent % 2])
        except ProcessLookupError:
            break
        sent += 1
        time.sleep(0.0005)
    output = run.output()
    assert sent > 10
    assert run.proc.returncode == 130, output
    assert "Traceback" not in output
    finished_part(folder)
    assert not any(alive(pid) for pid in workers)


def test_the_workers_of_a_killed_run_die_with_it(folder):
    """SIGKILL leaves the run no chance to end its workers: they end themselves (PR_SET_PDEATHSIG)."""
    run = Run(folder)
    workers = run.hanging_workers()
    run.proc.kill()
    run.output()
    limit = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < limit:
        time.sleep(0.05)
    assert workers and not any(alive(pid) for pid in workers)


def test_once_the_reports_are_being_written_a_signal_is_only_remembered():
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signals = StopSignals()
    try:
        signals.hold()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # the handler runs between two bytecodes of this thread: it has by now
        assert signals.code == 143
        os.kill(os.getpid(), signal.SIGINT)  # a second one changes nothing
        time.sleep(0.01)
        assert signals.code == 143
    except Stopped:
        pytest.fail("a signal while the reports are being written interrupted them")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_the_first_signal_interrupts_and_the_ones_after_it_do_not():
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signals = StopSignals()
    try:
        with pytest.raises(Stopped) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert stopped.value.signum == signal.SIGTERM and isinstance(stopped.value, KeyboardInterrupt)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert signals.code == 143
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
