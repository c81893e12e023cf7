"""Spec inputs under faults, by class: what is given as a spec (a FIFO, a device, a huge or sparse
file, standard input without end), names the file system refuses, a working folder that was
deleted, folders that cannot be read, and every YAML constructor error. Each is one line naming
the path, exit code 2, in bounded time and memory; nothing is skipped without a word."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SPECS, invoke_cli

NOT_REGULAR = "not a regular file ({kind}); a spec is a file, or - for standard input"
MLP = (SPECS / "mlp.yaml").read_text(encoding="utf-8")


def gradcheck(*args, cwd=None, timeout=60, stdin=None, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, stdin=stdin, **kwargs)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def clean(proc) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


# --- what is given as a spec ---------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--timeout", "5"], ["--jobs", "2"]])
def test_a_fifo_given_as_a_spec_is_refused_without_blocking(tmp_path, extra):
    """Without a writer, opening a FIFO blocks forever, under --timeout too (the parent read the
    spec again to name it); now it is never opened for reading until known to be a regular file."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    (tmp_path / "ok.yaml").write_text(MLP, encoding="utf-8")
    proc = gradcheck("run", "-q", "pipe.yaml", "ok.yaml", *extra, cwd=tmp_path, timeout=60)
    clean(proc)
    assert proc.returncode == 2
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "pipe.yaml: " + NOT_REGULAR.format(kind="a FIFO")
    assert lines[-1].startswith("2 specs: 1 passed, 0 failed, 1 error")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_device_given_as_a_spec_is_refused_unread(device, command):
    proc = gradcheck(command, device, *(["-q"] if command == "run" else []), timeout=30)
    clean(proc)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines()[0] == f"{device}: " + NOT_REGULAR.format(kind="a character device")


def test_the_jacobian_command_refuses_a_fifo_too(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    proc = gradcheck("jacobian", fifo, "--layer", "0", timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{fifo}: " + NOT_REGULAR.format(kind="a FIFO")


def test_standard_input_without_end_is_read_within_the_limit():
    with open("/dev/zero", "rb") as zeros:
        proc = gradcheck("run", "-", stdin=zeros, timeout=30)
    clean(proc)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines()[1].strip() == (
        "stdin:1: standard input holds more than 1,000,000 bytes; a spec is at most 1,000,000")


@pytest.mark.parametrize("size", [2_000_000, 10**11])
def test_a_huge_spec_file_is_refused_reading_at_most_the_limit(tmp_path, size, monkeypatch):
    """A 2 MB spec, and a sparse 100 GB one: refused after reading one byte more than the limit."""
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.write(MLP.encode())
        handle.truncate(size)
    read = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: read.append(n) or real_read(fd, n))
    start = time.monotonic()
    result = invoke_cli("run", "-q", path)
    assert time.monotonic() - start < 20
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"{path}:1: the file is {size:,} bytes; a spec is at most 1,000,000"
    assert 0 < sum(read) <= 1_000_001


def test_a_fifo_or_a_dangling_link_in_a_folder_is_named_not_skipped(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "a.yaml").write_text(MLP, encoding="utf-8")
    os.mkfifo(folder / "b.yaml")
    (folder / "c.yaml").symlink_to(folder / "missing.yaml")
    proc = gradcheck("run", "-q", "specs", cwd=tmp_path, timeout=60)
    clean(proc)
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines() == [
        "specs/b.yaml: " + NOT_REGULAR.format(kind="a FIFO"),
        "specs/c.yaml: a symbolic link to a file that does not exist",
        proc.stdout.strip().splitlines()[-1]]
    assert proc.stdout.strip().splitlines()[-1].startswith("3 specs: 1 passed, 0 failed, 2 errors")


# --- names ---------------------------------------------------------------------------------------

LONG = "a" * 300


@pytest.mark.parametrize("given", [f"{LONG}.yaml", f"sub/{LONG}/spec.yaml"])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_name_over_255_bytes_is_one_line(in_tmp, given, command):
    Path("sub").mkdir()
    result = invoke_cli(command, given, *(["-q"] if command == "run" else []))
    assert result.exit_code == 2
    longest = max(len(part) for part in given.split("/"))
    assert result.output.splitlines()[0] == (f"{given}: the name is too long: {longest} bytes, where a file or "
                                             "folder name is at most 255")


def test_a_custom_layer_path_over_255_bytes_is_one_line(in_tmp):
    Path("spec.yaml").write_text(f"input: [2, 2]\nlayers:\n  - {{type: ./{LONG}.py:Layer}}\n", encoding="utf-8")
    result = invoke_cli("run", "-q", "spec.yaml")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == (f"spec.yaml:3: layers[0]: cannot read ./{LONG}.py: the name is too "
                                             "long: 303 bytes, where a file or folder name is at most 255")


# --- the working folder --------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["run", "spec.yaml"], ["run", "{abs}"], ["run", "{abs}", "--json", "r.json"],
                                  ["validate", "{abs}"], ["jacobian", "{abs}", "--layer", "0"], ["run", "-"]])
def test_a_deleted_working_folder_is_one_line(tmp_path, args):
    spec = tmp_path / "spec.yaml"
    spec.write_text(MLP, encoding="utf-8")
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    command = " ".join(f"'{a.format(abs=spec)}'" for a in args)
    proc = subprocess.run(["sh", "-c", f"cd '{doomed}' && rmdir '{doomed}' && exec '{sys.executable}' -m gradcheck_cli "
                                       f"{command} < '{spec}'"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("the current folder no longer exists (it was deleted or moved); cd to a folder "
                                   "that exists")
    assert proc.stdout == ""


# --- folders that cannot be read -----------------------------------------------------------------

def test_an_unreadable_folder_is_named_not_skipped(in_tmp, monkeypatch):
    """Root reads every folder, so the refusal of the file system is simulated where it is met:
    os.walk's listing of one folder raises PermissionError, as it does for a user without the
    right (the real thing: the next test, skipped as root). The other specs still run."""
    for name in ("specs/a.yaml", "specs/locked/b.yaml", "specs/z/c.yaml"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(MLP, encoding="utf-8")
    listing = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = invoke_cli("run", "-q", "specs")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0] == "specs/locked: cannot read this folder (Permission denied); the specs in it would go unchecked"
    assert lines[-1].startswith("3 specs: 2 passed, 0 failed, 1 error")
    result = invoke_cli("validate", "specs")
    assert result.exit_code == 2 and lines[0] in result.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_is_named_for_real(in_tmp):
    Path("specs/locked").mkdir(parents=True)
    Path("specs/locked/b.yaml").write_text(MLP, encoding="utf-8")
    Path("specs/locked").chmod(0)
    try:
        result = invoke_cli("run", "-q", "specs")
    finally:
        Path("specs/locked").chmod(0o755)
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == ("specs/locked: cannot read this folder (Permission denied); the specs "
                                             "in it would go unchecked")


# --- YAML constructor errors ---------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("x:\n  <<: 1\n", "spec.yaml:4: x: cannot read the merge key (<<): expected a mapping or list of mappings for "
                      "merging, but found scalar"),
    ("<<: [1, 2]\n", "spec.yaml:3: cannot read the merge key (<<): expected a mapping for merging, but found scalar"),
    ("<<: [[a]]\n", "spec.yaml:3: cannot read the merge key (<<): expected a mapping for merging, but found sequence"),
    ("seed: !!int 0b\n", "spec.yaml:3: seed: cannot read value: !!int '0b': invalid literal for int() with base 2: ''"),
    ("seed: !!float abc\n", "spec.yaml:3: seed: cannot read value: !!float 'abc': could not convert string to float: "
                            "'abc'"),
    ("seed: !!timestamp 2001-99-99\n", "spec.yaml:3: seed: cannot read value: !!timestamp '2001-99-99': month must be "
                                       "in 1..12"),
    ("seed: !!bool maybe\n", "spec.yaml:3: seed: cannot read value: !!bool 'maybe': 'maybe'"),
    ("seed: !!python/name:os.system x\n", "spec.yaml:3: seed: cannot read value: could not determine a constructor "
                                          "for the tag 'tag:yaml.org,2002:python/name:os.system'"),
    ("? !!int 0x\n: 1\n", "spec.yaml:3: cannot read value: !!int '0x': invalid literal for int() with base 16: ''"),
    ("seed: !!set {a, b}\n", "spec.yaml:3: seed: YAML tag !!set is not allowed: a spec holds plain data only"),
])
def test_every_yaml_constructor_error_is_one_line(write_spec, text, message):
    path = write_spec("input: [2, 2]\nlayers: [tanh]\n" + text)
    result = invoke_cli("run", "-q", path)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0] == f"{path.parent}/{message}"


TAGS = ["!!int", "!!float", "!!bool", "!!null", "!!str", "!!binary", "!!timestamp", "!!merge", "!!value",
        "!!python/object", "!!python/tuple", "!foo", "!!omap", "!!pairs", "!!set", "!!seq", "!!map"]
VALUES = ["0b", "0x", "0o9", "1e999", "-", "~", "2001-13-01", "2001-01-01 25:00:00", "abc", "'='", "[1]", "{a: 1}",
          "'###'", "1_000", ".inf", "0:60", "99999999999999999999999999", "yes"]


@pytest.mark.parametrize("tag", TAGS)
def test_no_tag_on_any_value_gives_a_traceback(write_spec, tag):
    """The class, not the examples: every YAML 1.1 tag (and some of Python's) on values that
    break their constructors, as a value, as a key and under a merge key."""
    for value in VALUES:
        for text in (f"seed: {tag} {value}\n", f"? {tag} {value}\n: 1\n", f"x: {{<<: {tag} {value}}}\n"):
            path = write_spec("input: [2, 2]\nlayers: [tanh]\n" + text)
            result = invoke_cli("run", "-q", path)
            assert result.exception is None or isinstance(result.exception, SystemExit), (text, result.exception)
            assert "Traceback" not in result.output, text
            assert result.exit_code in (0, 2), (text, result.output)  # a value its tag reads well (!!int 1_000) is fine
            if result.exit_code == 2:
                assert len(result.output.splitlines()) == 2, (text, result.output)
                assert result.output.startswith(f"{path}:"), (text, result.output)


# --- the pytest plugin reads a spec's name as the runner reads the spec -----------------------------

@pytest.mark.parametrize("size", [48 * 10**6, 48 * 10**9])
def test_the_plugin_reads_a_huge_specs_name_within_the_limit(tmp_path, size):
    """The issue's 48 MB spec (its whole text parsed took over 120 s), and a sparse 48 GB one:
    the name is read from at most the size limit + 1 bytes, or not at all."""
    import tracemalloc

    from gradcheck_cli.pytest_plugin import _spec_name

    path = tmp_path / "huge.gradcheck.yaml"
    with open(path, "wb") as handle:
        handle.write(b"name: far too big\n" + MLP.encode())
        handle.write(b"#" * 1000 + b"\n" * (min(size, 48 * 10**6) // 1000))
        handle.truncate(size)
    tracemalloc.start()
    try:
        start = time.monotonic()
        assert _spec_name(path) == "huge.gradcheck"  # the item then fails with the spec's own error
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 10 and peak < 10 * 10**6
    small = tmp_path / "small.gradcheck.yaml"
    small.write_text("name: my spec\ninput: [4, 3]\nlayers: [tanh]\n", encoding="utf-8")
    assert _spec_name(small) == "my spec"


def test_a_pytest_session_with_a_fifo_and_a_huge_spec_ends_with_one_line_each(tmp_path):
    """pytest itself collects only regular files (the FIFO is not an item: nothing opens it); the
    huge spec is one failed item with the spec's own one-line error; the session goes on."""
    os.mkfifo(tmp_path / "pipe.gradcheck.yaml")
    with open(tmp_path / "huge.gradcheck.yaml", "wb") as handle:
        handle.write(MLP.encode())
        handle.truncate(48 * 10**9)
    (tmp_path / "ok.gradcheck.yaml").write_text(MLP, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "COLUMNS": "300"})
    assert "Traceback" not in proc.stdout, proc.stdout
    assert proc.returncode == 1, proc.stdout
    assert [line for line in proc.stdout.splitlines() if line.startswith("FAILED")] == [
        "FAILED huge.gradcheck.yaml::huge.gradcheck - invalid spec: huge.gradcheck.yaml:1: the file is "
        "48,000,000,000 bytes; a spec is at most 1,000,000"]
    assert "1 failed, 1 passed" in proc.stdout
