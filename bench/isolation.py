"""What isolating custom layers costs (issue 13): the per-spec overhead of a worker forked for a
spec with custom code, on tiny specs, and the per-call cost of watching a custom layer's calls.

    .venv/bin/python bench/isolation.py            # ~20 s
    .venv/bin/python bench/isolation.py --repeat 200

Three numbers:
- per spec: the same tiny spec checked in this process (batch.check_spec) and in a fresh worker
  (isolation.check_isolated), alternately, each many times; the difference of the medians is
  what isolation adds to a spec (fork, pipe, the layer file imported afresh in the worker).
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


def per_spec(folder: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of one tiny spec: in this process, and in a worker."""
    from gradcheck_cli.run.batch import RunOptions, check_spec
    from gradcheck_cli.run.isolation import check_isolated
    from gradcheck_cli.run.worker import end_workers

    spec, options = str(folder / "tiny.yaml"), RunOptions()
    inside, isolated = [], []
    for _ in range(5):  # warm both paths: imports, caches
        check_spec(spec, options), check_isolated(spec, options)
    for _ in range(repeat):
        start = time.perf_counter()
        assert check_spec(spec, options).passed
        inside.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert check_isolated(spec, options).passed
        isolated.append(time.perf_counter() - start)
    end_workers()
    return statistics.median(inside), statistics.median(isolated)


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
        inside, isolated = per_spec(folder, args.repeat)
        direct, watched = per_call()
        wall = batch(folder, args.copies)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"tiny custom spec, in process:  {inside * 1e3:6.2f} ms (median of {args.repeat})")
    print(f"tiny custom spec, in a worker: {isolated * 1e3:6.2f} ms")
    print(f"isolation per spec:            {(isolated - inside) * 1e3:6.2f} ms (target <= 20 ms)")
    print(f"a custom layer's call watched: {(watched - direct) * 1e6:6.2f} µs more ({direct * 1e6:.2f} µs direct)")
    print(f"gradcheck run, {args.copies + 1} tiny custom specs: {wall * 1e3:6.2f} ms per spec (wall, with start-up)")


if __name__ == "__main__":
    main()
