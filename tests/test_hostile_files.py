"""Report files under faults, by class: whatever is at a report's path — a symbolic link, a
device, a FIFO, a socket, a folder, a user's file that merely looks like a report, a file that
appears or changes during the run — and wherever a layer moves the working folder, no file of
the user's is lost or replaced, nothing hangs, and what is refused is one line, exit code 2."""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SPECS, invoke_cli

KINDS = {"--json": "r.json", "--junit-xml": "r.xml", "--html": "r.html"}
NOT_REGULAR = {"--json": "not a regular file; use - for standard output",
               "--junit-xml": "not a regular file; give a file name", "--html": "not a regular file; give a file name"}
NOT_A_REPORT = ("the file exists and is not an earlier gradcheck report; refusing to overwrite it (remove it, or "
                "choose another name)")
MLP = str(SPECS / "mlp.yaml")

# Layers that do to the report files what a hostile (or careless) layer might, during build.
LAYERS = '''
import os


class Identity:
    def forward(self, x):
        return x * 1.0

    def backward(self, g):
        return g * 1.0


class Plant(Identity):
    """Writes `text` at `path` during the run: a file that appears where a report will go."""

    def __init__(self, path, text="the user's own notes\\n", link=False):
        self.path, self.text, self.link = path, text, link

    def build(self, shape, rng):
        if os.path.lexists(self.path):
            os.remove(self.path)
        if self.link:  # the report's place becomes a link to a user's file
            os.symlink(self.text, self.path)
        else:
            with open(self.path, "w") as handle:
                handle.write(self.text)


class Mover(Identity):
    """Moves the working folder during the run."""

    def __init__(self, to):
        self.to = to

    def build(self, shape, rng):
        os.chdir(self.to)


class Remover(Identity):
    """Removes a folder during the run (where one report was to go)."""

    def __init__(self, folder):
        self.folder = folder

    def build(self, shape, rng):
        import shutil
        shutil.rmtree(self.folder)
'''


def gradcheck(*args, cwd=None, timeout=60, **kwargs) -> subprocess.CompletedProcess:
    """The real command in a process of its own (a FIFO would hang the test run, not just fail it)."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, **kwargs)


def spec_with(tmp_path: Path, entry: str, name: str = "spec.yaml") -> Path:
    (tmp_path / "layers.py").write_text(LAYERS, encoding="utf-8")
    path = tmp_path / name
    path.write_text(f"input: [3, 2]\nlayers:\n  - {entry}\n  - tanh\n", encoding="utf-8")
    return path


def earlier_report(option: str, target: Path) -> str:
    """A real report of that kind at `target`, as an earlier run leaves it."""
    result = invoke_cli("run", MLP, option, target)
    assert result.exit_code == 0, result.output
    return target.read_text(encoding="utf-8")


def is_report(option: str, text: str) -> bool:
    if option == "--json":
        return json.loads(text)["version"] == 2
    if option == "--junit-xml":
        return ET.fromstring(text).get("name") == "gradcheck"
    return text.rstrip().endswith("</html>") and 'content="gradcheck"' in text


def no_traceback(result) -> None:
    output = getattr(result, "output", None) or (result.stdout + result.stderr)
    assert "Traceback" not in output, output
    assert getattr(result, "exception", None) is None or isinstance(result.exception, SystemExit), result.exception


# --- symbolic links ------------------------------------------------------------------------------

@pytest.mark.parametrize("option", KINDS)
def test_a_link_to_an_earlier_report_is_written_through_and_stays_a_link(tmp_path, option):
    real = tmp_path / "reports" / KINDS[option]
    real.parent.mkdir()
    before = earlier_report(option, real)
    link = tmp_path / f"link-{KINDS[option]}"
    link.symlink_to(real)
    result = invoke_cli("run", str(SPECS / "residual.yaml"), option, link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    after = real.read_text(encoding="utf-8")
    assert after != before and is_report(option, after) and "residual" in after
    assert sorted(p.name for p in real.parent.iterdir()) == [real.name]  # no temporary left


@pytest.mark.parametrize("option", KINDS)
def test_a_link_to_a_users_file_is_refused_and_both_stay(tmp_path, option):
    mine = tmp_path / "notes.txt"
    mine.write_text("mine\n", encoding="utf-8")
    link = tmp_path / KINDS[option]
    link.symlink_to(mine)
    result = invoke_cli("run", MLP, option, link)
    assert result.exit_code == 2
    assert result.output.strip() == f"{option} {link}: {NOT_A_REPORT}"
    assert link.is_symlink() and mine.read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize("option", KINDS)
def test_a_dangling_link_is_refused_and_nothing_is_created_through_it(tmp_path, option):
    link = tmp_path / KINDS[option]
    link.symlink_to(tmp_path / "elsewhere" / "target")
    result = invoke_cli("run", MLP, option, link)
    assert result.exit_code == 2
    assert result.output.strip() == (f"{option} {link}: a symbolic link to {tmp_path / 'elsewhere' / 'target'}, which "
                                     "does not exist; refusing to create a file through it (remove the link, or "
                                     "give another name)")
    assert link.is_symlink() and not (tmp_path / "elsewhere").exists()


# --- what is not a regular file ------------------------------------------------------------------

@pytest.mark.parametrize("option", KINDS)
def test_a_fifo_is_refused_without_blocking(tmp_path, option):
    fifo = tmp_path / KINDS[option]
    os.mkfifo(fifo)
    proc = gradcheck("run", MLP, option, fifo, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"{option} {fifo}: {NOT_REGULAR[option]}"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_standard_output_as_a_path_is_refused_and_its_link_kept(tmp_path):
    """What /dev/stdout is (a link to the process's fd 1, here a pipe), without touching /dev/stdout:
    run as root, that link was replaced by a regular file."""
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")
    proc = gradcheck("run", MLP, "--json", stdout, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"--json {stdout}: not a regular file; use - for standard output"
    assert stdout.is_symlink() and os.readlink(stdout) == "/proc/self/fd/1"
    assert proc.stdout == ""


@pytest.mark.parametrize("option", KINDS)
@pytest.mark.parametrize("device", ["/dev/null", "link to /dev/null"])
def test_a_device_is_refused(tmp_path, option, device):
    target = Path("/dev/null")
    if device.startswith("link"):
        target = tmp_path / KINDS[option]
        target.symlink_to("/dev/null")
    result = invoke_cli("run", MLP, option, target)
    assert result.exit_code == 2
    assert result.output.strip() == f"{option} {target}: {NOT_REGULAR[option]}"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not Path("/dev/null").is_symlink()


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "r.json"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        result = invoke_cli("run", MLP, "--json", path)
    finally:
        server.close()
    assert result.exit_code == 2
    assert result.output.strip() == f"--json {path}: not a regular file; use - for standard output"
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


@pytest.mark.parametrize("option", KINDS)
def test_a_folder_is_refused(tmp_path, option):
    result = invoke_cli("run", MLP, option, tmp_path)
    assert result.exit_code == 2
    assert result.output.strip() == f"{option} {tmp_path}: that is a folder; give a file name"


# --- files that look like reports ----------------------------------------------------------------

LOOKALIKES = {
    "--json": ['{"version": 1, "summary": {"specs": 3}} and my notes below\n',   # the first words, then not JSON
               '{"version": 1, "summary": {}, "notes": "mine"}\n',             # JSON, without its specs
               '[{"version": 1, "specs": []}]\n'],                             # JSON, not the report's object
    "--junit-xml": ['<testsuites name="gradcheck" tests="1">\nmy notes, not XML\n',
                    '<?xml version="1.0"?>\n<testsuites name="mine"><testsuite name="gradcheck"/></testsuites>\n',
                    '<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<testsuites name="gradcheck">&a;</testsuites>\n'],
    "--html": ['<!DOCTYPE html>\n<html><head><meta name="generator" content="gradcheck">\n<title>my draft',
               '<!DOCTYPE html>\n<html><head></head><body><meta name="generator" content="gradcheck"></body></html>\n',
               '<html><head><meta name="generator" content="gradcheck"></head></html>\n'],
}


@pytest.mark.parametrize("option, text", [(o, t) for o, texts in LOOKALIKES.items() for t in texts])
def test_a_file_with_the_reports_first_words_is_not_a_report(tmp_path, option, text):
    target = tmp_path / KINDS[option]
    target.write_text(text, encoding="utf-8")
    result = invoke_cli("run", MLP, option, target)
    assert result.exit_code == 2
    assert result.output.strip() == f"{option} {target}: {NOT_A_REPORT}"
    assert target.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("option", KINDS)
def test_each_writers_report_is_recognised_as_an_earlier_report(tmp_path, option):
    """The positive side of the mark: what the writer writes, the next run replaces."""
    target = tmp_path / KINDS[option]
    first = earlier_report(option, target)
    result = invoke_cli("run", str(SPECS / "residual.yaml"), option, target)
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") != first


# --- what changes during the run -----------------------------------------------------------------

@pytest.mark.parametrize("option", KINDS)
@pytest.mark.parametrize("before", ["nothing", "an earlier report"])
def test_a_file_that_appears_during_the_run_is_not_overwritten(tmp_path, option, before):
    target = tmp_path / KINDS[option]
    if before != "nothing":
        earlier_report(option, target)
    spec = spec_with(tmp_path, f"{{type: ./layers.py:Plant, path: '{target}'}}")
    result = invoke_cli("run", spec, option, target)
    no_traceback(result)
    assert result.exit_code == 2
    assert target.read_text(encoding="utf-8") == "the user's own notes\n"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(f".{target.name}.") and p.name.endswith(".tmp")]
    assert len(kept) == 1 and is_report(option, kept[0].read_text(encoding="utf-8"))
    last = result.output.strip().splitlines()[-1]
    assert last == (f"{option} {target}: cannot write the report: a file that is not an earlier gradcheck report is "
                    f"there now (it appeared or changed during the run); it was left as it is, and the report is in "
                    f"{kept[0]}")


def test_a_report_replaced_by_a_link_during_the_run_is_left_alone(tmp_path):
    target, mine = tmp_path / "r.json", tmp_path / "mine.txt"
    mine.write_text("mine\n", encoding="utf-8")
    earlier_report("--json", target)
    spec = spec_with(tmp_path, f"{{type: ./layers.py:Plant, path: '{target}', text: '{mine}', link: true}}")
    result = invoke_cli("run", spec, "--json", target)
    assert result.exit_code == 2
    assert target.is_symlink() and mine.read_text(encoding="utf-8") == "mine\n"


def test_a_layer_that_changes_folder_does_not_move_the_reports(tmp_path):
    """Relative report paths are settled before any layer runs: a layer's os.chdir neither moves
    the reports nor makes them land over a file of the same name in the other folder."""
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    for name in KINDS.values():
        (there / name).write_text("the user's file in the other folder\n", encoding="utf-8")
    spec_with(here, f"{{type: ./layers.py:Mover, to: '{there}'}}")
    proc = gradcheck("run", "spec.yaml", *[part for option, name in KINDS.items() for part in (option, name)],
                     cwd=here)
    assert proc.returncode == 0, proc.stderr
    for option, name in KINDS.items():
        assert is_report(option, (here / name).read_text(encoding="utf-8"))
        assert (there / name).read_text(encoding="utf-8") == "the user's file in the other folder\n"


def test_a_report_that_cannot_be_written_does_not_lose_the_others(tmp_path):
    """A layer removes the folder of the JUnit report: that one is said in one line (exit 2), the
    JSON and HTML reports are still written."""
    gone = tmp_path / "gone"
    gone.mkdir()
    spec = spec_with(tmp_path, f"{{type: ./layers.py:Remover, folder: '{gone}'}}")
    result = invoke_cli("run", spec, "--json", tmp_path / "r.json", "--junit-xml", gone / "r.xml",
                        "--html", tmp_path / "r.html")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (f"--junit-xml {gone / 'r.xml'}: cannot write the report: "
                                                      "No such file or directory")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["passed"] is True
    assert is_report("--html", (tmp_path / "r.html").read_text(encoding="utf-8"))


# --- names and folders ---------------------------------------------------------------------------

def test_a_report_name_over_255_bytes_is_one_line(tmp_path):
    target = tmp_path / ("r" * 300 + ".json")
    result = invoke_cli("run", MLP, "--json", target)
    assert result.exit_code == 2
    assert result.output.strip() == (f"--json {target}: the name is too long: 305 bytes, where a file or folder "
                                     "name is at most 255")


def test_a_read_only_folder_is_refused_before_the_run(tmp_path, monkeypatch):
    """Root writes anywhere, so the folder's mode alone cannot show this under root: os.access is
    what the check asks, and here it says no (tests/test_ci_fit.py has the chmod version, skipped
    as root)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    asked = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == locked else asked(path, mode))
    result = invoke_cli("run", MLP, "--json", locked / "r.json")
    assert result.exit_code == 2
    assert result.output.strip() == f"--json {locked / 'r.json'}: cannot write the report: {locked} is not writable"
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_refused_for_real(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = invoke_cli("run", MLP, "--json", locked / "r.json")
        assert result.exit_code == 2
        assert result.output.strip() == f"--json {locked / 'r.json'}: cannot write the report: {locked} is not writable"
    finally:
        locked.chmod(0o755)
