"""Scalars against seconds with the cost of one perturbation held fixed: only the input's feature
count m grows, and with it X and W1 of layer 0; the layers after W1 stay as they are, so each W1
scalar costs the same and the W1 check must take time in proportion. (The other tensors are
cheaper per scalar, so the total's per-scalar cost shifts with the mix.)"""
from __future__ import annotations

import contextlib
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.harness import best_seconds, full_mode_args, make_run_options
from bench.tables import table

SCALING_FEATURES = (64, 128, 256, 512, 1024)


def write_mlp_spec(folder: str, m: int) -> Path:
    path = Path(folder) / f"mlp_{m}.yaml"
    path.write_text(
        f"name: mlp_{m}\nseed: 0\ndtype: float64\ninput: [32, {m}]\nlayers:\n"
        "  - {type: linear, out: 128}\n  - tanh\n  - {type: linear, out: 128}\n"
        "  - tanh\n  - {type: linear, out: 10}\nloss: mse\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def timing_each_tensor():
    """While inside, every tensor's check is timed: yields {(layer, tensor): best seconds}."""
    from gradcheck_cli.check import jobs  # holds check_tensor, as the job list calls it
    per_tensor: dict = {}
    plain_check = jobs.check_tensor

    def timed_check(layer, type_, tensor, *rest, **kwargs):
        start = time.perf_counter()
        result = plain_check(layer, type_, tensor, *rest, **kwargs)
        key = (layer, tensor)
        per_tensor[key] = min(per_tensor.get(key, math.inf), time.perf_counter() - start)
        return result

    jobs.check_tensor = timed_check
    try:
        yield per_tensor
    finally:
        jobs.check_tensor = plain_check


def measure_size(path: Path, m: int, options, per_tensor: dict) -> tuple[int, float, int, float, str]:
    """(scalars, seconds, W1 scalars, W1 seconds, outcome) of the full check of one MLP."""
    from gradcheck_cli.run.batch import check_spec
    per_tensor.clear()
    check_spec(str(path), options)  # warm-up: imports, caches
    seconds = best_seconds(lambda: check_spec(str(path), options), 2)
    result = check_spec(str(path), options)
    scalars = sum(c.elements for c in result.checks)
    return scalars, seconds, 128 * m, per_tensor[(0, "W")], result.outcome


def scaling_rows(features: list[int], options) -> tuple[list[list[str]], list, list]:
    """The table's rows, and (scalars, seconds) of the whole check and of W1 at every size."""
    rows = [["m", "scalars", "seconds", "us/scalar", "W1 scalars", "W1 seconds", "us/W1 scalar", "outcome"]]
    totals, w1 = [], []
    with timing_each_tensor() as per_tensor, tempfile.TemporaryDirectory() as folder:
        for m in features:
            scalars, seconds, w1_scalars, w1_seconds, outcome = measure_size(
                write_mlp_spec(folder, m), m, options, per_tensor)
            totals.append((scalars, seconds))
            w1.append((w1_scalars, w1_seconds))
            rows.append([str(m), f"{scalars:,}", f"{seconds:.2f}", f"{1e6 * seconds / scalars:.1f}",
                         f"{w1_scalars:,}", f"{w1_seconds:.2f}", f"{1e6 * w1_seconds / w1_scalars:.1f}", outcome])
    return rows, totals, w1


def print_fits(totals: list, w1: list) -> None:
    slope = np.polyfit(np.log([p[0] for p in w1]), np.log([p[1] for p in w1]), 1)[0]
    print(f"W1 check: seconds grow like scalars^{slope:.2f} (least squares on log-log; 1.00 is linear)")
    # The tensors that do not grow with m cost the same at every size: the whole check is
    # linear as a + b·scalars, which a log-log slope would not show.
    scalars, seconds = np.array(totals, dtype=float).T
    b, a = np.polyfit(scalars, seconds, 1)
    worst = np.max(np.abs(a + b * scalars - seconds) / seconds)
    steps = [f"{1e6 * (t1 - t0) / (n1 - n0):.1f}" for (n0, t0), (n1, t1) in zip(totals, totals[1:])]
    print(f"whole check: a straight line through (scalars, seconds) is within {100 * worst:.0f}% at every size; "
          f"us per added scalar from one size to the next: {', '.join(steps)}")


def scaling(features: list[int]) -> None:
    _, run_kwargs, mode_note = full_mode_args()
    print(f"scaling: gradcheck's full check, in-process; {mode_note}")
    print("input [32, m] -> linear 128 -> tanh -> linear 128 -> tanh -> linear 10 -> mse, float64, seed 0")
    print()
    rows, totals, w1 = scaling_rows(features, make_run_options(run_kwargs))
    print(table(rows, "rrrrrrrl"))
    if len(w1) >= 2:
        print_fits(totals, w1)
