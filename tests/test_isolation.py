"""Custom layers cannot harm the run (issue 13): each class of fault a layer can do to its process
is that spec's error, naming the layer, and the spec after it is checked and reported; signals
end a run with its reports and without a worker left; the Python API stays in the caller's
process. The layers are in tests/data/faults/faults.py, one spec each."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.run import isolation
from gradcheck_cli.run.batch import RunOptions, run
from gradcheck_cli.run.isolation import check_isolated

FAULTS = Path(__file__).parent / "data" / "faults"
SOURCE = (FAULTS / "faults.py").read_text(encoding="utf-8").splitlines()
pytestmark = pytest.mark.skipif(not isolation.FORK_SAFE, reason="workers are forked on Linux only")


def line_of(statement: str, cls: str = "") -> int:
    """The line of faults.py holding `statement` (in class `cls`): the messages name the user's line."""
    start = SOURCE.index(f"class {cls}(Identity):") if cls else 0
    return next(i for i, line in enumerate(SOURCE[start:], start + 1) if line.strip() == statement)


RAISE_BASE = 'raise CustomBase("a layer\'s own BaseException")'
ENDED = "which ended its worker process before the check was done"
NUMPY_SHARED = ("numpy is shared by every layer and spec, so nothing computed after it could be trusted "
                "(numpy's own functions are put back; call a function of your own instead)")
# spec -> (its error, the suspect layer): in the worker, and in the report of a run
ERRORS = {
    "exits_zero": (f"layer 1 (./faults.py:ExitsZero): forward called os._exit(0) at ./faults.py:"
                   f"{line_of('os._exit(0)', 'ExitsZero')}, {ENDED}", 1),
    "exits_three": (f"layer 1 (./faults.py:ExitsThree): backward called os._exit(3) at ./faults.py:"
                    f"{line_of('os._exit(3)')}, {ENDED}", 1),
    "sys_exit": (f"layer 1 (./faults.py:SysExit): ./faults.py:{line_of('sys.exit(0)')}: forward raised "
                 "SystemExit: 0", 1),
    "segfault": (f"layer 1 (./faults.py:Segfault): forward killed its worker process with signal 11 (SIGSEGV) at "
                 f"./faults.py:{line_of('ctypes.string_at(0)')}: a crash in native code (ctypes, a C extension)", 1),
    "aborts": (f"layer 1 (./faults.py:Aborts): backward killed its worker process with signal 6 (SIGABRT) at "
               f"./faults.py:{line_of('os.abort()')}: a crash in native code (ctypes, a C extension)", 1),
    "raises_base": (f"layer 1 (./faults.py:RaisesBase): ./faults.py:"
                    f"{line_of(RAISE_BASE)}"
                    ": forward raised CustomBase: a layer's own BaseException", 1),
    "raises_interrupt": ("layer 1 (./faults.py:RaisesInterrupt): ./faults.py:"
                         f"{line_of('raise KeyboardInterrupt', 'RaisesInterrupt')}: "
                         "backward raised KeyboardInterrupt", 1),
    "exits_on_import": ("layer 1 (./exits_on_import.py:Never): import or constructor called os._exit(0) at "
                        f"./exits_on_import.py:4, {ENDED}", 1),
    "interrupts_constructor": ("layer 1 (./faults.py:InterruptsItsConstructor): ./faults.py:"
                               f"{line_of('raise KeyboardInterrupt', 'InterruptsItsConstructor')}: import or "
                               "constructor raised KeyboardInterrupt", 1),
    "patches_numpy": (f"layer 0 (./faults.py:PatchesNumpy): forward replaced numpy's np.dot (by _fast_dot, "
                      f"./faults.py:{line_of('def _fast_dot(a, b, out=None):')}): {NUMPY_SHARED}", 0),
}


@pytest.fixture
def faults(tmp_path, monkeypatch) -> Path:
    """A copy of tests/data/faults as the current folder; what the layers write goes to tmp_path."""
    folder = tmp_path / "faults"
    shutil.copytree(FAULTS, folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("GRADCHECK_TEST_PIDS", str(tmp_path / "pids.txt"))
    monkeypatch.setenv("GRADCHECK_TEST_ATEXIT", str(tmp_path / "atexit.txt"))
    monkeypatch.setenv("GRADCHECK_TEST_ELSEWHERE", str(tmp_path))
    return folder


def gradcheck(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`gradcheck ARGS` in a process of its own, from the current folder."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def specs_of(report: Path) -> list[tuple]:
    return [(s["path"], s["outcome"]) for s in json.loads(report.read_text(encoding="utf-8"))["specs"]]


def alive(pid: int) -> bool:
    """A process that still runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --- each fault, alone and before a correct spec -----------------------------------------------

@pytest.mark.parametrize("name", ERRORS)
def test_a_fault_in_a_layer_is_its_specs_error_naming_the_layer(faults, name):
    result = check_isolated(f"{name}.yaml", RunOptions())
    assert (result.outcome, result.error, result.suspect_layer) == ("error", *ERRORS[name])
    assert result.name == name and result.path == f"{name}.yaml"


@pytest.mark.parametrize("name", ERRORS)
def test_the_spec_after_a_fault_is_checked_and_reported(faults, name):
    proc = gradcheck("run", f"{name}.yaml", "dot.yaml", "--json", "report.json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert specs_of(faults / "report.json") == [(f"{name}.yaml", "error"), ("dot.yaml", "passed")]
    first = json.loads((faults / "report.json").read_text(encoding="utf-8"))["specs"][0]
    assert (first["error"], first["suspect_layer"]) == ERRORS[name]
    assert f"  error: {ERRORS[name][0]}" in proc.stdout.splitlines()
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("options", [["--jobs", "2"], ["--timeout", "30"]], ids=["jobs", "timeout"])
@pytest.mark.parametrize("name", ["exits_zero", "segfault", "raises_interrupt", "patches_numpy"])
def test_with_jobs_and_timeout_a_fault_is_named_the_same_way(faults, name, options):
    proc = gradcheck("run", f"{name}.yaml", "dot.yaml", "builtin.yaml", "--json", "report.json", *options)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert specs_of(faults / "report.json") == [(f"{name}.yaml", "error"), ("dot.yaml", "passed"),
                                               ("builtin.yaml", "passed")]
    first = json.loads((faults / "report.json").read_text(encoding="utf-8"))["specs"][0]
    assert (first["error"], first["suspect_layer"]) == ERRORS[name]


def test_validate_builds_a_spec_with_custom_code_in_a_worker_too(faults):
    """`gradcheck validate` runs each layer's forward: an os._exit there was a silent "valid"."""
    proc = gradcheck("validate", "exits_zero.yaml", "segfault.yaml", "dot.yaml", "builtin.yaml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [f"exits_zero.yaml: error: {ERRORS['exits_zero'][0]}",
                                        f"segfault.yaml: error: {ERRORS['segfault'][0]}",
                                        "dot.yaml: valid", "builtin.yaml: valid", "2 of 4 specs valid"]


def test_os_exit_zero_alone_is_no_longer_a_silent_pass(faults):
    """It used to end the run with exit code 0 and no report."""
    proc = gradcheck("run", "exits_zero.yaml", "--json", "report.json", "--junit-xml", "report.xml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert specs_of(faults / "report.json") == [("exits_zero.yaml", "error")]
    assert ET.parse(faults / "report.xml").getroot().get("errors") == "1"
    assert proc.stdout.splitlines()[-1].startswith("1 spec: 0 passed, 0 failed, 1 error in ")


@pytest.mark.parametrize("options", [[], ["--jobs", "2"], ["--timeout", "30"]], ids=["plain", "jobs", "timeout"])
def test_a_thread_a_layer_left_running_does_not_hold_the_run(faults, options):
    start = time.monotonic()
    proc = gradcheck("run", "leaves_thread.yaml", "dot.yaml", "--json", "report.json", *options, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - start < 30
    assert specs_of(faults / "report.json") == [("leaves_thread.yaml", "passed"), ("dot.yaml", "passed")]


def test_a_layer_changing_the_folder_moves_neither_the_next_spec_nor_the_report(faults, tmp_path):
    proc = gradcheck("run", "changes_folder.yaml", "dot.yaml", "--json", "report.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert specs_of(faults / "report.json") == [("changes_folder.yaml", "passed"), ("dot.yaml", "passed")]
    assert not (tmp_path / "report.json").exists()


def test_sys_path_and_sys_modules_changed_by_a_layer_do_not_reach_the_next_spec(faults):
    proc = gradcheck("run", "changes_path.yaml", "checks.yaml", "--json", "report.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert specs_of(faults / "report.json") == [("changes_path.yaml", "passed"), ("checks.yaml", "passed")]


def test_nor_do_they_reach_the_process_that_ran_the_check(faults):
    import json as real_json
    results = run(["changes_path.yaml", "changes_folder.yaml", "checks.yaml"], RunOptions())
    assert [s.outcome for s in results.specs] == ["passed"] * 3, [s.error for s in results.specs]
    assert "/nonexistent/planted" not in sys.path and sys.modules["json"] is real_json
    assert "planted_by_a_layer" not in sys.modules and Path.cwd() == faults


def test_the_worker_runs_the_atexit_handlers_a_layer_registered(faults, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", "run", "registers_atexit.yaml"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    handler_ran_in = int((tmp_path / "atexit.txt").read_text(encoding="utf-8"))
    assert handler_ran_in not in (proc.pid, os.getpid())  # in the worker, before it ended


def test_what_a_layer_starts_does_not_outlive_the_run(faults, tmp_path):
    proc = gradcheck("run", "forks.yaml", "dot.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pids = [int(line) for line in (tmp_path / "pids.txt").read_text().split()]
    assert pids and not any(alive(pid) for pid in pids)


def test_a_long_run_leaves_no_file_descriptor_nor_process_behind(faults):
    """Each worker's pipes are closed and the worker reaped once its result is in (a run of
    thousands of specs would otherwise run out of file descriptors)."""
    from gradcheck_cli.run.worker import end_workers

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    check_isolated("dot.yaml", RunOptions())
    end_workers()
    before = open_descriptors()
    for name in ["dot", "exits_zero", "segfault", "raises_base"] * 5:
        check_isolated(f"{name}.yaml", RunOptions())
    end_workers()
    assert open_descriptors() == before
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    assert not any(alive(int(pid)) for pid in children)


# --- numpy replaced ------------------------------------------------------------------------------

def test_in_the_callers_process_numpy_is_put_back_and_the_next_spec_passes(faults):
    """The Python API runs the layers in the caller's process: the layer's np.dot is seen after
    its first forward, named, and numpy's own is put back."""
    from gradcheck_cli import check_spec

    numpy_dot = np.dot
    try:
        result = check_spec("patches_numpy.yaml")
        assert (result.outcome, result.error, result.suspect_layer) == ("error", *ERRORS["patches_numpy"])
        assert np.dot is numpy_dot
        assert check_spec("dot.yaml").passed
    finally:
        np.dot = numpy_dot


def test_numpy_replaced_behind_setattrs_back_is_seen_too(faults):
    (faults / "sneaky.py").write_text("import numpy as np\n\n\nclass Sneaky:\n    def forward(self, x):\n"
                                      "        vars(np.linalg)['norm'] = lambda a: 0.0\n        return x * 1.0\n\n"
                                      "    def backward(self, grad_out):\n        return grad_out * 1.0\n")
    (faults / "sneaky.yaml").write_text("input: [2, 2]\nlayers: [./sneaky.py:Sneaky]\n", encoding="utf-8")
    norm = np.linalg.norm
    from gradcheck_cli import check_spec
    try:
        result = check_spec("sneaky.yaml")
        put_back = np.linalg.norm is norm
    finally:
        np.linalg.norm = norm
    assert result.error == ("layer 0 (./sneaky.py:Sneaky): forward replaced numpy's np.linalg.norm "
                            f"(by Sneaky.forward.<locals>.<lambda>, ./sneaky.py:6): {NUMPY_SHARED}")
    assert put_back


# --- the Python API stays in the caller's process ------------------------------------------------

def test_the_python_api_runs_the_callers_object_in_the_callers_process():
    from gradcheck_cli import check_layer

    class Counting:
        def __init__(self):
            self.pids, self.calls = set(), 0

        def forward(self, x):
            self.pids.add(os.getpid())
            self.calls += 1
            return 3.0 * x

        def backward(self, grad_out):
            return 3.0 * grad_out

    layer = Counting()
    assert check_layer(layer, input_shape=(2, 2)).passed
    assert layer.pids == {os.getpid()} and layer.calls > 10


# --- where fork is not safe ----------------------------------------------------------------------

def test_without_fork_a_layers_base_exception_is_still_its_specs_error(faults, monkeypatch):
    monkeypatch.setattr(isolation, "FORK_SAFE", False)
    result = check_isolated("raises_base.yaml", RunOptions())
    assert (result.outcome, result.error) == ("error", ERRORS["raises_base"][0])
    with pytest.raises(KeyboardInterrupt):  # in the caller's process it may be the user's own Ctrl-C
        check_isolated("raises_interrupt.yaml", RunOptions())


def test_without_waitid_workers_are_reaped_as_they_are_seen(faults, monkeypatch):
    """macOS before Python 3.13 has no os.waitid: a worker's end is taken from waitpid instead."""
    monkeypatch.delattr(os, "waitid")
    monkeypatch.setattr(os, "pidfd_open", lambda pid: (_ for _ in ()).throw(OSError("no pidfd")))
    assert (check_isolated("segfault.yaml", RunOptions()).error, check_isolated("dot.yaml", RunOptions()).passed) \
        == (ERRORS["segfault"][0], True)


def test_a_spec_of_built_in_layers_runs_in_this_process(faults, monkeypatch):
    forked = []
    monkeypatch.setattr(isolation, "Worker", lambda job: forked.append(job))
    assert check_isolated("builtin.yaml", RunOptions()).passed
    assert not forked


def test_what_decides_isolation_errs_on_the_side_of_a_worker(faults):
    """A custom layer anywhere (in a residual's branch too), a loss that is not a built-in, or a
    spec holding something this does not know (another kind of spec): a worker."""
    import dataclasses

    from gradcheck_cli.spec.load import load_spec
    assert not isolation.runs_user_code(load_spec("builtin.yaml"))
    assert isolation.runs_user_code(load_spec("dot.yaml"))
    branch = "input: [2, 3]\nlayers:\n  - {type: residual, layers: [./faults.py:Identity]}\n"
    (faults / "branch.yaml").write_text(branch, encoding="utf-8")
    assert isolation.runs_user_code(load_spec("branch.yaml"))
    spec = load_spec("builtin.yaml")
    spec.loss.type = "./losses.py:mine"
    assert isolation.runs_user_code(spec)
    graph = dataclasses.replace(spec, graph={"h": "x"})
    graph.loss.type = "mse"
    assert isolation.runs_user_code(graph)


# --- the pytest plugin ---------------------------------------------------------------------------

pytest_plugins = ["pytester"]


def plugin_option() -> list[str]:
    """`-p` for the plugin when its entry point is not installed (installed, it loads by itself)."""
    import importlib.metadata
    entry_points = importlib.metadata.entry_points(group="pytest11")
    installed = any(ep.value == "gradcheck_cli.pytest_plugin" for ep in entry_points)
    return [] if installed else ["-p", "gradcheck_cli.pytest_plugin"]


def test_in_the_plugin_a_layers_os_exit_or_keyboard_interrupt_is_one_failed_test(pytester):
    """Each is its spec's failure, naming the layer; the session goes on to the next spec."""
    shutil.copy(FAULTS / "faults.py", pytester.path / "faults.py")
    for name, layer in [("a_exits", "ExitsZero"), ("b_interrupts", "RaisesInterrupt"), ("c_segfault", "Segfault"),
                        ("d_good", "Dot")]:
        (pytester.path / f"{name}.gradcheck.yaml").write_text(f"input: [2, 3]\nlayers: [./faults.py:{layer}]\n",
                                                             encoding="utf-8")
    result = pytester.runpytest_subprocess(*plugin_option(), "-p", "no:randomly", "-rf")
    result.assert_outcomes(passed=1, failed=3)
    output = result.stdout.str()
    assert "Interrupted" not in output
    result.stdout.fnmatch_lines([
        f"error: layer 0 (./faults.py:ExitsZero): forward called os._exit(0) at ./faults.py:"
        f"{line_of('os._exit(0)', 'ExitsZero')}, {ENDED}",
        "error: layer 0 (./faults.py:RaisesInterrupt): ./faults.py:"
        f"{line_of('raise KeyboardInterrupt', 'RaisesInterrupt')}: "
        "backward raised KeyboardInterrupt",
        "error: layer 0 (./faults.py:Segfault): forward killed its worker process with signal 11 (SIGSEGV) at "
        f"./faults.py:{line_of('ctypes.string_at(0)')}: a crash in native code (ctypes, a C extension)",
        "FAILED a_exits.gradcheck.yaml::a_exits.gradcheck - error: layer 0 *",
        "FAILED b_interrupts.gradcheck.yaml::b_interrupts.gradcheck - error: layer 0 *",
        "FAILED c_segfault.gradcheck.yaml::c_segfault.gradcheck - error: layer 0 *",
    ])
