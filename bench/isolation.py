"""What isolating custom layers costs (issue 13): the per-spec overhead of a worker forked for a
spec with custom code, on tiny specs, and the per-call cost of watching a custom layer's calls.

    .venv/bin/python bench/isolation.py            # ~20 s
    .venv/bin/python bench/isolation.py --repeat 200

Three numbers:
- per spec: the same tiny spec checked in this process (batch.check_spec) and in a fresh worker
  (isolation.check_isolated), each many times; the difference of the medians is what isolation
  adds to a spec (fork, pipe, the layer file imported afresh, the pages the worker copies as it
  writes to them); and a worker that does nothing, the floor.
- per call: watch.call around a custom layer's forward (naming the layer, comparing numpy's
  module dicts) against calling it directly.
- a batch: `gradcheck run` over N copies of the tiny spec in a subprocess, its wall time per spec.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAYER = '''
class Scale:
    """y = 2x: the smallest custom layer."""

    def forward(self, x):
        return 2.0 * x

    def backward(self, grad_out):
        return 2.0 * grad_out
'''
SPEC = "input: [2, 3]\nlayers: [./layers.py:Scale, {type: linear, out: 2}]\n"


def per_spec(folder: Path, repeat: int) -> tuple:
    """Median seconds of one tiny spec in this process and in a worker, and of a worker that
    does nothing (the floor: fork, pipe, result, reaping). Each in a loop of its own: a worker
    still ending (its atexit handlers, its teardown) would slow the next in-process check."""
    from gradcheck_cli.results import SpecResult
    from gradcheck_cli.run.batch import RunOptions, check_spec
    from gradcheck_cli.run.isolation import SpecJob, check_isolated
    from gradcheck_cli.run.worker import Worker, end_workers

    spec, options = str(folder / "tiny.yaml"), RunOptions()
    nothing = SpecJob(lambda: SpecResult("nothing.yaml", "nothing", "passed"), "nothing.yaml", "nothing")

    def timed(check) -> tuple[float, float]:
        """(median wall seconds, CPU seconds per check, this process's and its workers')."""
        for _ in range(5):  # warm: imports, caches
            check()
        end_workers()
        seconds, cpu = [], _cpu()
        for _ in range(repeat):
            start = time.perf_counter()
            check()
            seconds.append(time.perf_counter() - start)
        end_workers()  # reaped: their CPU time is counted
        return statistics.median(seconds), (_cpu() - cpu) / repeat

    from gradcheck_cli.check.numeric import one_blas_thread
    with one_blas_thread():  # as run() holds it for a whole batch, and the workers inherit it
        return timed(lambda: check_spec(spec, options)), timed(lambda: check_isolated(spec, options)), \
            timed(lambda: Worker(nothing).wait())


def _cpu() -> float:
    """CPU seconds used so far by this process and its reaped children: the load of other
    processes on the machine inflates wall times, not this."""
    import resource
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def per_call(repeat: int = 200_000) -> tuple[float, float]:
    """Seconds per call of a tiny forward: directly, and through watch.call."""
    import numpy as np

    from gradcheck_cli.model import watch
    from gradcheck_cli.model.network import Entry

    class Tiny:
        def forward(self, x):
            return x

    entry = Entry("0", "./layers.py:Tiny", Tiny(), None)
    entry.random = None  # no seeding: only the watch is timed
    x = np.zeros((2, 3))
    watch.begin()
    forward = entry.layer.forward
    start = time.perf_counter()
    for _ in range(repeat):
        forward(x)
    direct = (time.perf_counter() - start) / repeat
    start = time.perf_counter()
    for _ in range(repeat):
        watch.call(entry, "forward", forward, x)
    watched = (time.perf_counter() - start) / repeat
    return direct, watched


def batch(folder: Path, copies: int) -> float:
    """Wall seconds per spec of `gradcheck run` over `copies` tiny custom specs."""
    for i in range(copies):
        (folder / f"copy_{i:03d}.yaml").write_text(SPEC, encoding="utf-8")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", str(folder), "-q"], check=True,
                   capture_output=True, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    return (time.perf_counter() - start) / (copies + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=100, help="specs timed each way (default 100)")
    parser.add_argument("--copies", type=int, default=50, help="specs in the batch run (default 50)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "layers.py").write_text(LAYER, encoding="utf-8")
        (folder / "tiny.yaml").write_text(SPEC, encoding="utf-8")
        per_spec_times = per_spec(folder, args.repeat)
        direct, watched = per_call()
        wall = batch(folder, args.copies)
    (inside, inside_cpu), (isolated, isolated_cpu), (floor, floor_cpu) = per_spec_times
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (wall times grow with it; CPU times less)")
    print(f"tiny custom spec, in process:  {inside * 1e3:6.2f} ms wall (median of {args.repeat}), "
          f"{inside_cpu * 1e3:6.2f} ms CPU")
    print(f"tiny custom spec, in a worker: {isolated * 1e3:6.2f} ms wall, {isolated_cpu * 1e3:6.2f} ms CPU "
          "(the worker's included)")
    print(f"isolation per spec:            {(isolated - inside) * 1e3:6.2f} ms wall, "
          f"{(isolated_cpu - inside_cpu) * 1e3:6.2f} ms CPU (target <= 20 ms)")
    print(f"a worker that does nothing:    {floor * 1e3:6.2f} ms wall, {floor_cpu * 1e3:6.2f} ms CPU "
          "(fork, pipe, result, reaping)")
    print(f"a custom layer's call watched: {(watched - direct) * 1e6:6.2f} µs more ({direct * 1e6:.2f} µs direct)")
    print(f"gradcheck run, {args.copies + 1} tiny custom specs: {wall * 1e3:6.2f} ms per spec (wall, with start-up)")

if __name__ == "__main__":
    main()
