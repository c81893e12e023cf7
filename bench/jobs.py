"""What `--jobs 2` buys over `--jobs 1` (issue 15): the wall time of whole `gradcheck run DIR -q`
processes, start-up included, as a user sees it.

    .venv/bin/python bench/jobs.py              # ~1 min on 2 cores
    .venv/bin/python bench/jobs.py --repeat 7
    .venv/bin/python bench/jobs.py --tree /tmp/before   # another checkout's gradcheck_cli

Two batches, each written to a temporary folder:
- tiny: 22 tiny specs, half of built-in layers only, half with a custom layer (a file beside them);
  each takes a few ms, so what -j 2 adds (workers, their start, waiting for them) shows.
- mutation: the specs of the mutation suite (tests/mutation/cases.py, written as tests/test_mutation.py
  writes a Case), custom layers and built-ins, correct and buggy: real work to share between cores.

Each is run with -j 1 and -j 2, alternately, best of --repeat runs (the best sample is the one
least disturbed by other work on the machine). Printed: the wall seconds of the fastest run and the
CPU seconds it used (its workers' included), the ratio of the wall times -j 2 / -j 1 (below 1: -j 2
is faster), and the load average before and after: above ~1 per core, every wall time is inflated,
and -j 2 has no idle core to win with. `--tree DIR` times another checkout's gradcheck_cli (say,
`git archive COMMIT | tar -x -C DIR`), for a before and after under the same load.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYER = '''
class Scale:
    """y = 2x: the smallest custom layer."""

    def forward(self, x):
        return 2.0 * x

    def backward(self, grad_out):
        return 2.0 * grad_out
'''
BUILTIN = "name: builtin_{i}\nseed: {i}\ninput: [2, 3]\nlayers: [{{type: linear, out: 2}}, tanh]\n"
CUSTOM = "name: custom_{i}\nseed: {i}\ninput: [2, 3]\nlayers: [./layers.py:Scale, {{type: linear, out: 2}}]\n"
TINY_SPECS = 22


def write_tiny(folder: Path, count: int = TINY_SPECS) -> int:
    """`count` tiny specs, built-in only and custom in turn; how many were written."""
    (folder / "layers.py").write_text(LAYER, encoding="utf-8")
    for i in range(count):
        text = (BUILTIN if i % 2 == 0 else CUSTOM).format(i=i)
        (folder / f"spec_{i:03d}.yaml").write_text(text, encoding="utf-8")
    return count


def write_mutation(folder: Path) -> int:
    """Every case of the mutation suite as a spec file; how many were written."""
    import yaml
    sys.path.insert(0, str(ROOT / "tests"))
    from mutation.cases import BUGGY, CORRECT
    for case in CORRECT + BUGGY:
        spec = {"name": case.name, "seed": case.seed, "dtype": case.dtype, "input": list(case.input),
                "layers": case.layers, "loss": case.loss}
        (folder / f"{case.name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return len(CORRECT) + len(BUGGY)


def run_once(folder: Path, jobs: int, tree: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds with its workers') of one `gradcheck run FOLDER -q -j JOBS`
    process, with the gradcheck_cli of `tree`."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(tree)}
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", str(folder), "-q", "-j", str(jobs)],
                          capture_output=True, text=True, cwd=tree, env=env)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode not in (0, 1):  # 1: the mutation suite's buggy cases fail, as they must
        raise SystemExit(f"gradcheck run {folder} -j {jobs} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, cpu


def _children_cpu() -> float:
    """User and system seconds of the finished child processes (and their workers)."""
    import resource
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def best_of(folder: Path, repeat: int, tree: Path) -> dict[int, tuple[float, float]]:
    """{jobs: (wall, CPU seconds) of the fastest run} for -j 1 and -j 2, run in turn so that both
    see the same load."""
    run_once(folder, 1, tree)  # bytecode compiled, files in the page cache
    best = {1: (float("inf"), 0.0), 2: (float("inf"), 0.0)}
    for _ in range(repeat):
        for jobs in best:
            best[jobs] = min(best[jobs], run_once(folder, jobs, tree))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each batch at each -j (default 5)")
    parser.add_argument("--only", choices=("tiny", "mutation"), help="one batch only")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout whose gradcheck_cli is timed (default: this one; another commit's "
                             "`git archive` to compare)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} on {os.cpu_count()} cores")
    batches = [("tiny", write_tiny), ("mutation", write_mutation)]
    for name, write in batches:
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            count = write(Path(tmp))
            best = best_of(Path(tmp), args.repeat, args.tree.resolve())
        (wall_1, cpu_1), (wall_2, cpu_2) = best[1], best[2]
        print(f"{name:>8}: {count:3d} specs   -j 1 {wall_1:6.2f} s ({cpu_1:5.2f} s CPU)   "
              f"-j 2 {wall_2:6.2f} s ({cpu_2:5.2f} s CPU)   -j 2 / -j 1 = {wall_2 / wall_1:.2f}   "
              f"(best of {args.repeat})")
    load_after = os.getloadavg()
    print(f"load average {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} after")


if __name__ == "__main__":
    main()
