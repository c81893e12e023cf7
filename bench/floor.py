"""The floor: the matmul FLOPs of a layer-local full check divided by the best float64 matmul
rate measured on this machine. No code reaches it; it is the lower bound."""
from __future__ import annotations

import math
import time

import numpy as np


def linear_layers(net) -> list[tuple[str, int, int, int, int]]:
    """(label, N rows, m, n, scalars of input and params) for every linear layer."""
    found = []
    for entry in net.stack.walk():
        if entry.type != "linear":
            continue
        W = entry.params()["W"]
        b = entry.params().get("b")
        m, n = W.shape
        rows = math.prod(entry.input_shape[:-1])
        found.append((entry.label, rows, m, n, rows * m + W.size + (b.size if b is not None else 0)))
    return found


def floor_scalars(net) -> int:
    """What the floor counts: the input and parameters of the linear layers."""
    return sum(s for *_, s in linear_layers(net))


def floor_flops(net) -> float:
    """Matmul FLOPs of a layer-local full check: per scalar of a linear layer's input and params,
    two evaluations of that layer alone, 2·N·m·n FLOPs each."""
    return float(sum(scalars * 2 * (2 * rows * m * n) for _, rows, m, n, scalars in linear_layers(net)))


def matmul_rate(rows: int, m: int, n: int, window: float = 1.5) -> float:
    """Best float64 FLOP/s of (rows, m) @ (m, n) on this machine: the best of many samples over
    `window` seconds, so that on a shared machine a quiet moment is caught."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((rows, m)), rng.standard_normal((m, n))
    out = np.empty((rows, n))
    np.matmul(a, b, out=out)  # warm up
    inner = max(1, int(1e8 // (2 * rows * m * n)))  # ~0.1 GFLOP per timed sample
    best, end = math.inf, time.perf_counter() + window
    while time.perf_counter() < end:
        start = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=out)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2 * rows * m * n / best


def stack_budget() -> int:
    try:
        from gradcheck_cli.check.numeric import STACK_BUDGET
        return int(STACK_BUDGET)
    except ImportError:
        return 1 << 22


def floor_part(net) -> dict:
    """The floor at the best rate measured (512³ and GEMMs shaped like the workload's stacked
    ones, (B·N, m) @ (m, n)), and at each layer's own shaped rate."""
    rates = {"512x512 @ 512x512": matmul_rate(512, 512, 512)}
    per_layer = []
    budget = stack_budget()
    for _, rows, m, n, scalars in linear_layers(net):
        stack = max(1, budget // (rows * max(m, n)))
        key = f"({stack * rows}, {m}) @ ({m}, {n})"
        if key not in rates:
            rates[key] = matmul_rate(stack * rows, m, n)
        per_layer.append((scalars * 4 * rows * m * n, rates[key]))
    flops = floor_flops(net)
    best = max(rates.values())
    return {"flops": flops, "rates": rates, "best_rate": best, "seconds": flops / best,
            "seconds_shaped": sum(f / r for f, r in per_layer)}
