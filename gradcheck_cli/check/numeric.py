"""Central finite differences, and a closer look at the elements that disagree.

`evaluate()` returns the scalar loss for the current contents of `theta`; theta is perturbed
in place, one element at a time, and every element is restored to its exact original value.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np


def default_step(dtype) -> float:
    """cbrt(machine epsilon): where truncation (h²) and rounding (ε/h) errors balance."""
    return float(np.finfo(dtype).eps) ** (1.0 / 3.0)


def _shift(theta, idx, old, delta) -> float:
    """Set theta[idx] = old + delta and return the step actually taken after rounding."""
    theta[idx] = old + delta
    return float(theta[idx]) - float(old)


def central_differences(evaluate, theta: np.ndarray, step: float, indices: np.ndarray | None = None,
                        sums: np.ndarray | None = None) -> np.ndarray:
    """(L(θ+h) - L(θ-h)) / 2h for every element, with h = step·max(1, |θ|). With `indices`
    (flat), only those elements, as a 1-D array in their order. `sums`, shaped like the result,
    receives L(θ+h) + L(θ-h): with L(θ), the second difference, large where a kink is within h."""
    if indices is None:
        chosen, numeric = np.ndindex(theta.shape), np.empty(theta.shape, dtype=np.float64)
    else:
        chosen = (np.unravel_index(int(i), theta.shape) for i in indices)
        numeric = np.empty(len(indices), dtype=np.float64)
    for at, idx in enumerate(chosen):
        old = theta[idx].copy()
        h = step * max(1.0, abs(float(old)))
        try:
            up = _shift(theta, idx, old, h)
            loss_up = evaluate()
            down = _shift(theta, idx, old, -h)
            loss_down = evaluate()
        finally:
            theta[idx] = old
        numeric[idx if indices is None else at] = (loss_up - loss_down) / (up - down)
        if sums is not None:
            sums[idx if indices is None else at] = loss_up + loss_down
    return numeric


MAX_THREADS = 8
CORES: int | None = None  # the cores this process may use (a --jobs worker's share); None: all
MAX_STACK = 512        # perturbations per call: amortises the call (bench/mlp.yaml: faster than 256, as fast as 1024)
STACK_BUDGET = 1 << 19  # floats in one stack of perturbed activations (4 MB in float64: stays in cache)


def steps_taken(values: np.ndarray, step: float, dtype) -> tuple[np.ndarray, np.ndarray]:
    """The steps up and down actually taken from each value once θ ± h is rounded to dtype."""
    values = values.astype(dtype)
    h = step * np.maximum(1.0, np.abs(values.astype(np.float64)))
    up = (values + h.astype(dtype)).astype(np.float64) - values
    down = (values - h.astype(dtype)).astype(np.float64) - values
    return up, down


def central_differences_stacked(losses_of, theta: np.ndarray, step: float, stack_size: int,
                                indices: np.ndarray | None = None, sums: np.ndarray | None = None) -> np.ndarray:
    """The same central differences as `central_differences`, many elements per call:
    `losses_of(flat_indices, deltas)` returns L with theta.flat[i] moved by each delta.
    With `indices` (flat), only those elements, as a 1-D array in their order; `sums` as there."""
    _keep_freed_arrays_in_the_heap()
    chosen = np.arange(theta.size) if indices is None else np.asarray(indices)
    up, down = steps_taken(theta.ravel()[chosen], step, theta.dtype)
    numeric = np.empty(len(chosen), dtype=np.float64)
    half = max(1, stack_size // 2)
    parts = [slice(start, min(start + half, len(chosen))) for start in range(0, len(chosen), half)]

    def differences(part: slice) -> None:
        idx = chosen[part]
        losses = losses_of(np.concatenate([idx, idx]), np.concatenate([up[part], down[part]]))
        numeric[part] = (losses[: len(idx)] - losses[len(idx):]) / (up[part] - down[part])
        if sums is not None:
            sums.reshape(-1)[part] = losses[: len(idx)] + losses[len(idx):]

    workers = min(len(parts), CORES or os.cpu_count() or 1, MAX_THREADS)
    # BLAS is held to one thread: with chunks on every core, its own threads would fight them for
    # the cores; alone, on the mid-sized products of a stack, its threads spin more than they
    # gain (bench/mlp.yaml as custom layers, one chunk at a time: 1.42 s with OpenBLAS's threads,
    # 0.24 s without, on a loaded 2-core machine).
    with one_blas_thread():
        if workers > 1 and getattr(losses_of, "thread_safe", False):
            # numpy's loops release the GIL, so chunks run on every core at once
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(differences, parts))
        else:
            for part in parts:
                differences(part)
    return numeric.reshape(theta.shape) if indices is None else numeric


_controller = None
_blas_held = 0


@contextmanager
def one_blas_thread():
    """BLAS on one thread while the block runs (nested blocks: the outermost sets and restores)."""
    global _blas_held
    if _blas_held:
        _blas_held += 1
        try:
            yield
        finally:
            _blas_held -= 1
        return
    _blas_held = 1
    try:
        with _blas_controller().limit(limits=1, user_api="blas"):
            yield
    finally:
        _blas_held = 0


def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, found once: finding them walks every
    shared library of the process, a few ms each time."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
    return _controller


_heap_settled = False


def _keep_freed_arrays_in_the_heap() -> None:
    """Stacks allocate and free arrays of a few MB, over and over. glibc gives every freed
    block over 128 kB back to the kernel, so each new one page-faults afresh (in threads, the
    faults also queue on the process's memory-map lock): about a quarter of bench/mlp.yaml's
    full check. These settings keep blocks up to 32 MB in the heap and up to 64 MB of free
    heap before trimming it. Linux with glibc only; elsewhere nothing changes."""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, 32 << 20)
    mallopt(M_TRIM_THRESHOLD, 64 << 20)


def directional_differences(evaluate_along, directions: list[np.ndarray], step: float) -> np.ndarray:
    """(L(θ + h·v) - L(θ - h·v)) / 2h for each unit direction v; `evaluate_along(v, t)` returns
    L at θ + t·v and leaves θ as it was."""
    return np.array([(evaluate_along(v, step) - evaluate_along(v, -step)) / (2.0 * step) for v in directions])


@dataclass
class CloserLook:
    """Several estimates of one derivative, from steps h and h/2."""

    richardson: float   # (4·D(h/2) - D(h)) / 3: the h² error term cancelled
    noise: float        # how far the estimates disagree: the finite difference's own error
    left: float         # one-sided second-order derivative from below
    right: float        # ... and from above; they differ where a kink is within h of θ
    settled: bool       # D(h) and D(h/2) agree within half their size, or within rounding: h
                        # resolves the function here. If not, a kink or a sharp bend lies within
                        # h, and `noise` measures that, not the error of a smooth estimate.


def closer_look(loss_at, h: float, loss_here: float, rounding: float) -> CloserLook:
    """Re-estimate a derivative with steps h and h/2 on both sides. `loss_at(t)` returns
    (L at θ + t, the step t actually taken) and leaves θ as it was; θ is one element, or a
    point on a line θ + t·v.

    `rounding` is machine epsilon of the arithmetic that computes L: it bounds the noise
    from below, so two estimates that agree by chance are not taken as exact."""
    losses, steps = {}, {}
    for k in (-2, -1, 1, 2):
        losses[k], steps[k] = loss_at(k * h / 2)
    d_full = (losses[2] - losses[-2]) / (steps[2] - steps[-2])
    d_half = (losses[1] - losses[-1]) / (steps[1] - steps[-1])
    richardson = (4.0 * d_half - d_full) / 3.0
    magnitude = max(abs(loss_here), *(abs(v) for v in losses.values()))
    rounding_error = 10.0 * rounding * magnitude / h
    noise = max(abs(d_full - d_half), rounding_error)
    settled = abs(d_full - d_half) <= max(0.5 * max(abs(d_full), abs(d_half)), rounding_error)
    # f'(θ) ≈ (-3 f(θ) + 4 f(θ + k) - f(θ + 2k)) / 2k with k = ±h/2: exact for a parabola.
    right = (-3.0 * loss_here + 4.0 * losses[1] - losses[2]) / (2.0 * steps[1])
    left = (-3.0 * loss_here + 4.0 * losses[-1] - losses[-2]) / (2.0 * steps[-1])
    return CloserLook(richardson, noise, left, right, settled)


def element_shift(evaluate, theta: np.ndarray, idx: tuple):
    """loss_at(t) for closer_look: theta[idx] moved by t, then restored exactly."""
    def loss_at(t: float) -> tuple[float, float]:
        old = theta[idx].copy()
        try:
            taken = _shift(theta, idx, old, t)
            return evaluate(), taken
        finally:
            theta[idx] = old
    return loss_at
