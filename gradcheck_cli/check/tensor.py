"""One tensor's check: its analytic gradient against finite differences, element by element
(full and sample mode) or along random directions (fast mode)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import LayerError
from ..results import FAILED, PASSED, TensorCheck
from .numeric import (central_differences, central_differences_stacked, closer_look, directional_differences,
                      element_shift)
from .precision import Precision
from .verdict import ElementVerdicts, judge

if TYPE_CHECKING:
    from .jobs import TensorJob


def check_tensor(layer: int, type_: str, tensor: str, analytic, theta, evaluate, precision: Precision,
                 analytic_noise=0.0, losses_of=None, stack_size: int = 1, sample: np.ndarray | None = None,
                 crosses_kink=None) -> TensorCheck:
    """Compare one tensor's analytic gradient with finite differences of evaluate() over theta
    (or of `losses_of`, the same function evaluated for many perturbations per call).
    `sample`: flat indices of the only elements to check. `crosses_kink(index)`: see verdict.judge."""
    sums = np.empty(theta.shape if sample is None else len(sample), dtype=np.float64)
    if losses_of is None:
        numeric = central_differences(evaluate, theta, precision.step, sample, sums=sums)
    else:
        numeric = central_differences_stacked(losses_of, theta, precision.step, stack_size, sample, sums=sums)
    if not np.all(np.isfinite(numeric)):
        where = int(np.argwhere(~np.isfinite(numeric.ravel()))[0][0])
        idx = np.unravel_index(where if sample is None else int(sample[where]), theta.shape)
        raise LayerError(f"{layer} ({type_})", f"the loss is not finite when {tensor}{[int(i) for i in idx]} "
                         "is perturbed by a small step", index=layer)
    chosen = analytic if sample is None else analytic.ravel()[sample]
    noise = analytic_noise if sample is None or np.ndim(analytic_noise) == 0 else analytic_noise.ravel()[sample]

    def full_index(idx):
        return idx if sample is None else np.unravel_index(int(sample[idx[0]]), theta.shape)

    def look(idx, scale):
        where = full_index(idx)
        h = scale * precision.step * max(1.0, abs(float(theta[where])))
        return closer_look(element_shift(evaluate, theta, where), h, loss_here, eps)

    loss_here = evaluate()
    eps = float(np.finfo(precision.numeric_dtype).eps)
    kink_test = None if crosses_kink is None else (lambda idx: crosses_kink(full_index(idx)))
    chosen_theta = theta.astype(np.float64).ravel() if sample is None else theta.astype(np.float64).ravel()[sample]
    steps = precision.step * np.maximum(1.0, np.abs(chosen_theta)).reshape(np.shape(sums))
    # L(θ±h) + L(θ-h) - 2L(θ), or of the moved row's part of L where the engine computes only that
    here = loss_here
    if getattr(losses_of, "row_parts", False):
        here = losses_of.row_here(np.arange(theta.size) if sample is None else sample).reshape(np.shape(sums))
    bends = np.abs(sums - 2.0 * here) / steps
    verdicts = judge(chosen, numeric, precision.tolerance, noise, look, crosses_kink=kink_test, bends=bends)
    # A failed tensor keeps its numbers, for the diagnosis of what kind of mistake it is.
    # (not where a mismatch sits on a kink: a central difference across it fits no pattern, and a
    # guess from it would be a wrong one — relu'(0) = 2 against 0.5 reads as "a factor 4")
    at_kink = verdicts.bent is not None and bool(verdicts.bent.any())
    compared = (verdicts.numeric, verdicts.mismatch, sample) if verdicts.mismatch.any() and not at_kink else None
    return _summary(layer, type_, tensor, analytic.shape, chosen, verdicts,
                    lambda flat: full_index(np.unravel_index(flat, chosen.shape)),
                    rel_errors=verdicts.rel_error if sample is None else None, checked=int(chosen.size),
                    kink_at=_full_flat(np.flatnonzero(verdicts.kink), sample), compared=compared)


def _full_flat(flat: np.ndarray, sample: np.ndarray | None) -> np.ndarray:
    """Flat indices into the whole tensor (the check of the kinks' tied sets needs them)."""
    return flat if sample is None else np.asarray(sample)[flat]


def _summary(layer, type_, tensor, shape, analytic, verdicts: ElementVerdicts, index_of, **extra) -> TensorCheck:
    """A TensorCheck from per-element verdicts; `index_of(flat)` names the worst element."""
    mismatches = int(verdicts.mismatch.sum())
    worst = int(np.argmax(verdicts.excess)) if analytic.size else None
    return TensorCheck(
        layer=layer, type=type_, tensor=tensor, shape=tuple(shape),
        max_abs_error=float(verdicts.abs_error.max(initial=0.0)),
        max_rel_error=float(verdicts.rel_error.max(initial=0.0)),
        worst_index=() if worst is None else tuple(int(i) for i in index_of(worst)),
        analytic=0.0 if worst is None else float(np.ravel(analytic)[worst]),
        numeric=0.0 if worst is None else float(verdicts.numeric.ravel()[worst]),
        outcome=FAILED if mismatches else PASSED,
        elements=int(np.prod(shape)), mismatches=mismatches, kinks=int(verdicts.kink.sum()), **extra,
    )


def check_tensor_directions(job: "TensorJob", precision: Precision, rng, count: int) -> TensorCheck:
    """Fast mode: k random unit directions v; the directional derivative against <grad, v>.
    A wrong gradient g' escapes only if every projection <g' - g, v> falls within tolerance."""
    directions = []
    for _ in range(count):
        v = rng.standard_normal(job.analytic.shape)
        directions.append(v / max(np.linalg.norm(v), 1e-300))

    def along(v, t):
        original = job.theta.copy()
        job.theta += (t * v).astype(job.theta.dtype)
        try:
            return job.evaluate()
        finally:
            job.theta[...] = original

    numeric = directional_differences(along, directions, precision.step)
    if not np.all(np.isfinite(numeric)):
        raise LayerError(f"{job.layer} ({job.type})", f"the loss is not finite when {job.name} is perturbed",
                         index=job.layer)
    analytic = job.analytic.astype(np.float64)
    projected = np.array([float(np.sum(analytic * v)) for v in directions])
    noise = 0.0 if job.twin is None else \
        2.0 * np.abs(projected - np.array([float(np.sum(job.twin * v)) for v in directions]))
    loss_here = job.evaluate()
    eps = float(np.finfo(precision.numeric_dtype).eps)

    def look(idx, scale):
        v = directions[idx[0]]
        return closer_look(lambda t: (along(v, t), t), scale * precision.step, loss_here, eps)

    verdicts = judge(projected, numeric, precision.tolerance, noise, look, kinks_inconclusive=True)
    return _summary(job.layer, job.type, job.name, job.analytic.shape, projected, verdicts, lambda flat: (flat,),
                    checked=count, directions=count)
