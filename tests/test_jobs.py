"""--jobs N (issue 15): how many workers, how many threads each, and which specs need none. A
small spec of built-in layers is checked in gradcheck's own process (a worker would cost it more
than it takes), a spec with custom code or a larger one in a worker, every spec in one with
--timeout; the workers share the cores. Not timed: bench/jobs.py measures."""
from __future__ import annotations

import os

import pytest

from gradcheck_cli.run import isolation, processes
from gradcheck_cli.run.batch import RunOptions, load_checked, run

pytestmark = pytest.mark.skipif(not isolation.FORK_SAFE, reason="workers are forked on Linux only")

# Writes the BLAS threads and the engine's cores it runs with, so that the test can read them.
LAYER = '''
import os


class Scale:
    """y = 2x, noting the threads it may use."""

    noted = False

    def forward(self, x):
        if not self.noted:
            self.note()
        return 2.0 * x

    def note(self):
        Scale.noted = True
        import threadpoolctl
        from gradcheck_cli.check import numeric
        blas = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
        with open(os.environ["GRADCHECK_TEST_THREADS"], "a") as seen:
            seen.write(f"{os.getpid()} {min(blas, default=1)} {numeric.CORES}\\n")

    def backward(self, grad_out):
        return 2.0 * grad_out
'''
TINY = "name: {name}\ninput: [2, 3]\nlayers: [{{type: linear, out: 2}}, tanh]\n"
LARGE = "name: large\ninput: [40, 30]\nlayers: [{type: linear, out: 2}]\n"    # 1,262 scalars
CUSTOM = "name: custom\ninput: [2, 3]\nlayers: [./layers.py:Scale, {type: linear, out: 2}]\n"


@pytest.mark.parametrize("jobs, specs, cores, expected", [
    (2, 22, 2, (2, 1)),     # two workers on two cores: one thread each
    (3, 10, 8, (3, 2)),
    (8, 10, 2, (8, 1)),     # more jobs than cores: never fewer than one thread
    (4, 1, 2, (1, 2)),      # never more workers than specs: the one worker gets every core
    (2, 0, 8, (1, 8)),
    (1, 10, 2, (1, 2)),     # --timeout alone: one worker, every core
    (2, 5, None, (2, 1)),   # cores unknown
])
def test_the_workers_never_outnumber_the_specs_and_share_the_cores(jobs, specs, cores, expected):
    assert processes.plan(jobs, specs, cores) == expected


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "layers.py").write_text(LAYER, encoding="utf-8")
    for name, text in [("a_tiny", TINY.format(name="a_tiny")), ("b_custom", CUSTOM), ("c_large", LARGE),
                       ("d_tiny", TINY.format(name="d_tiny"))]:
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRADCHECK_TEST_THREADS", str(tmp_path / "threads.txt"))
    return tmp_path


@pytest.mark.parametrize("timeout, here", [(None, {"a_tiny.yaml", "d_tiny.yaml"}), (30.0, set())])
def test_only_small_built_in_specs_without_a_timeout_are_checked_here(folder, timeout, here):
    options = RunOptions(jobs=2, timeout=timeout)
    found = {name for name in ("a_tiny.yaml", "b_custom.yaml", "c_large.yaml", "d_tiny.yaml")
             if processes.checked_here(load_checked(name, options), options)}
    assert found == here


def test_a_spec_checked_at_many_seeds_counts_each_seed(folder):
    (folder / "medium.yaml").write_text("input: [10, 10]\nlayers: [{type: linear, out: 1}]\n")  # 111 scalars
    spec = load_checked("medium.yaml", RunOptions())
    assert processes.checked_here(spec, RunOptions(jobs=2, seeds=9))          # 999
    assert not processes.checked_here(spec, RunOptions(jobs=2, seeds=10))     # 1,110: a worker


def test_a_batch_forks_only_for_what_needs_a_worker_and_reports_in_file_order(folder, monkeypatch):
    forked = []

    class Counted(processes.Worker):
        def __init__(self, job):
            forked.append(job.path)
            super().__init__(job)

    monkeypatch.setattr(processes, "Worker", Counted)
    result = run([str(folder)], RunOptions(jobs=2))
    names = [spec.name for spec in result.specs]
    assert names == ["a_tiny", "custom", "large", "d_tiny"]
    assert [spec.outcome for spec in result.specs] == ["passed"] * 4, [spec.error for spec in result.specs]
    assert sorted(os.path.basename(path) for path in forked) == ["b_custom.yaml", "c_large.yaml"]


def test_each_worker_is_held_to_its_share_of_the_cores_and_this_process_is_not(folder):
    from gradcheck_cli.check import numeric
    before = numeric._blas_controller().info()
    share = max(1, (os.cpu_count() or 1) // 2)
    run([str(folder / "b_custom.yaml"), str(folder / "a_tiny.yaml")], RunOptions(jobs=2))
    lines = (folder / "threads.txt").read_text().split("\n")
    pid, blas, cores = lines[0].split()
    assert int(pid) != os.getpid()  # it ran in a worker
    assert int(blas) == share
    assert cores == (str(share) if share < (os.cpu_count() or 1) else "None")
    assert numeric._blas_controller().info() == before and numeric.CORES is None  # put back after the run
