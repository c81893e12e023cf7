"""What kind of mistake a failed tensor's numbers point at: its analytic gradient against the
numeric one, and what the layer's backward does with other upstream gradients.

Each fingerprint is a hypothesis about the analytic side, tested on every compared element with
the check's own tolerance (FIT times its allowance). The first one that fits them all is the
diagnosis; when none does, there is none: a wrong kind would mislead more than silence.

KINDS, in the order they are tried (the more specific and the less likely to fit by chance first;
an analytic gradient that is all zeros is `zero` at once, and `transpose` is tried on the array
itself early, on each row's Jacobian after `partial`):
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..results import Diagnosis
from .verdict import Tolerance

KINDS = {
    "forward": "moving the parameter does not change the layer's output, yet backward gives it a gradient: "
               "forward reads a copy of it (or nothing at all); the bug is in forward",
    "upstream_ignored": "backward gives the same gradient for an upstream gradient of ones: grad_out is not used",
    "swapped": "two parameters of the same shape each get the other's gradient",
    "sign": "analytic = -numeric everywhere",
    "factor": "analytic = c x numeric everywhere, c a constant (named when it is 1/N, N, 2, 1/2, an option of "
              "the layer or the size of some axes: a mean where a sum belongs, a dropout mask without its 1/p)",
    "transpose": "the analytic gradient is the numeric one transposed, or backward applies the transposed "
                 "Jacobian (a square weight used without .T)",
    "skip_missing": "numeric - analytic = grad_out: the identity path of y = x + f(x) is missing",
    "branch": "wrong only where the layer's input is negative (or only where positive), or off by a different "
              "constant on each side: a bug in one branch of a piecewise function",
    "partial": "wrong only on some rows, columns, channels or time steps (and right on the others), or "
               "backward ignores the upstream gradient of some rows: one sample only, a loop that stops early, "
               "backpropagation through time cut short",
    "diagonal_only": "backward keeps only the diagonal of each row's Jacobian (softmax without its -y·sum(g·y))",
    "zero": "analytic is 0 where the numeric gradient is not: a gradient never set, a path missing",
    "passthrough": "backward returns grad_out unchanged: the layer's own derivative is missing",
}
__doc__ += "".join(f"\n- {kind}: {meaning}" for kind, meaning in KINDS.items()) + "\n"

FIT = 4.0        # a hypothesis fits an element within this many times the check's allowance
EXACT = 1e-9     # two analytic results of the same backward agree to this (relative): the same numbers


@dataclass
class Evidence:
    """One failed tensor of a layer checked alone, and what the diagnosis may ask of the layer."""

    tensor: str                  # "input" or a parameter's name
    analytic: np.ndarray         # the whole analytic gradient
    numeric: np.ndarray          # flat, at `where`
    mismatch: np.ndarray         # flat bools, at `where`
    where: np.ndarray            # flat indices of the compared elements
    tolerance: Tolerance
    upstream: np.ndarray         # the upstream gradient backward was given
    x: np.ndarray                # the layer's input
    options: dict = field(default_factory=dict)   # the layer's float options by name (a dropout's p)
    probe: Any = None            # .backward(g) -> {tensor: gradient} or None; .row_jacobian(r) -> (q, m) or None

    @property
    def shown(self) -> str:
        """How details name the tensor: dx for the input's gradient, else the parameter."""
        return "dx" if self.tensor == "input" else self.tensor

    @property
    def a(self) -> np.ndarray:
        """The analytic gradient at the compared elements."""
        return self.analytic.ravel()[self.where]

    def fits(self, predicted, target=None, scale: float = 1.0) -> np.ndarray:
        """Per compared element: predicted (flat, at `where`) matches target (default: numeric)."""
        target = self.numeric if target is None else target
        tol = self.tolerance
        return np.abs(predicted - target) <= FIT * (tol.atol * scale + tol.rtol * np.maximum(np.abs(predicted),
                                                                                           np.abs(target)))

    def informative(self) -> np.ndarray:
        """Elements where analytic or numeric is clearly non-zero: the others fit any hypothesis."""
        return np.maximum(np.abs(self.a), np.abs(self.numeric)) > 10.0 * self.tolerance.atol

    def coverage(self) -> float:
        """Confidence shrinks with few informative elements: two can agree with a pattern by chance."""
        return min(1.0, float(self.informative().sum()) / 8.0) ** 0.5


def _found(kind: str, detail: str, confidence: float) -> Diagnosis:
    return Diagnosis(kind, detail, round(float(min(1.0, max(0.0, confidence))), 2))


def _same(first: np.ndarray, second) -> bool:
    """Two analytic results of one backward are the same numbers."""
    if second is None or np.shape(second) != first.shape:
        return False
    scale = max(float(np.abs(first).max(initial=0.0)), float(np.abs(second).max(initial=0.0)), 1e-300)
    return bool(np.all(np.abs(first - second) <= EXACT * scale))


def forward_ignores(ev: Evidence) -> Diagnosis | None:
    if ev.tensor == "input" or np.any(np.abs(ev.numeric) > ev.tolerance.atol):
        return None
    biggest = float(np.abs(ev.analytic).max(initial=0.0))
    if biggest <= 10.0 * ev.tolerance.atol:
        return None
    return _found("forward", f"moving {ev.shown} does not change the layer's output, yet backward gives it a "
                  f"gradient (up to {biggest:.3g}): forward does not read the array the checker moves (a copy "
                  "taken at build, a value cached once?); read the parameter itself at every call", 0.95)


def all_zero(ev: Evidence) -> Diagnosis | None:
    if np.any(np.abs(ev.analytic) > ev.tolerance.atol):
        return None
    return _found("zero", f"backward gives {ev.shown} no gradient at all (zeros) where the numeric one is not: "
                  "a gradient never set, or never added into?", 0.9 * ev.coverage())


def upstream_ignored(ev: Evidence) -> Diagnosis | None:
    if ev.probe is None:
        return None
    with_ones = ev.probe.backward(np.ones_like(ev.upstream))
    if with_ones is None or not _same(ev.analytic, with_ones.get(ev.tensor)):
        return None
    return _found("upstream_ignored", f"backward gives the same {ev.shown} gradient for an upstream gradient of "
                  "ones as for the one it was given: grad_out is not used (multiply by it)", 0.95)


def sign(ev: Evidence) -> Diagnosis | None:
    if ev.informative().sum() < 2 or not np.all(ev.fits(-ev.a)):
        return None
    return _found("sign", f"analytic = -numeric for every element of {ev.shown}: a sign flipped (a minus too "
                  "many, or too few)", 0.95 * ev.coverage())


def factor(ev: Evidence) -> Diagnosis | None:
    n, a = ev.numeric, ev.a
    usable = (np.abs(n) > 100.0 * ev.tolerance.atol) & (np.abs(a) > 100.0 * ev.tolerance.atol)
    if not usable.any():
        return None
    c = float(np.median(a[usable] / n[usable]))
    close = max(FIT * ev.tolerance.rtol, 1e-9)
    if abs(abs(c) - 1.0) <= close or abs(c) < 1e-6 or not np.all(ev.fits(a, c * n, max(1.0, abs(c)))):
        return None
    named = next(((label, why) for value, label, why in factor_candidates(ev) if abs(c / value - 1.0) <= close),
                 None)
    if named is None:
        if usable.sum() < 4:
            return None
        return _found("factor", f"analytic = {c:.6g} × numeric for every element of {ev.shown}: a constant "
                      "factor off (none of 1/N, N, 2, 1/2, an axis size or an option of the layer)",
                      0.7 * ev.coverage())
    label, why = named
    return _found("factor", f"analytic = {c:.4g} × numeric for every element of {ev.shown}, {label}: {why}",
                  0.95 * max(ev.coverage(), 0.6))


AXIS_LETTERS = {2: ("N", "D"), 3: ("N", "T", "D"), 4: ("N", "C", "H", "W")}


def factor_candidates(ev: Evidence) -> list[tuple[float, str, str]]:
    """(value, what it is, the slip it suggests), the likeliest first: the batch size, the
    layer's options, 2, then the sizes of the input's axes and their products."""
    from itertools import combinations
    from math import prod

    shape = ev.x.shape
    rows = shape[0]
    found = [(1.0 / rows, f"1/N with N = {rows} rows in the batch", "a mean over the batch where the sum belongs?"),
             (float(rows), f"N = {rows} rows in the batch", "a sum where the mean belongs, or N multiplied in?")]
    for name, value in ev.options.items():
        found += [(value, f"{name} = {value:g}, an option of the layer", f"the 1/{name} of forward missing from "
                   "backward (an inverted dropout mask without its 1/p?)"),
                  (1.0 / value, f"1/{name} with {name} = {value:g}", f"a 1/{name} too many in backward?")]
    found += [(2.0, "2", "a term counted twice?"), (0.5, "1/2", "a factor 2 missing, as in d(x²)/dx = 2x?")]
    letters = AXIS_LETTERS.get(len(shape)) or ("N",) + tuple(f"d{i}" for i in range(1, len(shape)))
    for count in range(1, len(shape) + 1):
        for axes in combinations(range(len(shape)), count):
            size = prod(shape[i] for i in axes)
            if axes == (0,) or size <= 1:
                continue
            label = "·".join(letters[i] for i in axes)
            shown = label if count == 1 else f"({label})"
            found += [(1.0 / size, f"1/{shown} = 1/{size}", f"a mean over {label} where the sum belongs?"),
                      (float(size), f"{label} = {size}", f"the 1/{shown} of a mean missing from backward?")]
    return found


def transposed(ev: Evidence) -> Diagnosis | None:
    shape = ev.analytic.shape
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 2 or np.allclose(ev.analytic, ev.analytic.T):
        return None
    if ev.informative().sum() < 2 or not np.all(ev.fits(ev.analytic.T.ravel()[ev.where])):
        return None
    return _found("transpose", f"analytic = numericᵀ for {ev.shown}: its gradient is transposed (dout.T @ x where "
                  "x.T @ dout belongs?)", 0.9 * ev.coverage())


def same_shape_as_output(ev: Evidence) -> bool:
    return ev.tensor == "input" and ev.upstream.shape == ev.analytic.shape


def skip_missing(ev: Evidence) -> Diagnosis | None:
    if not same_shape_as_output(ev) or not np.any(ev.upstream):
        return None
    upstream = ev.upstream.ravel()[ev.where].astype(np.float64)
    if not np.all(ev.fits(ev.a + upstream)):
        return None
    return _found("skip_missing", "numeric - analytic = grad_out for every element of dx: the identity path of "
                  "y = x + f(x) is missing (add grad_out to dx)", 0.9 * ev.coverage())


def zero_where_not(ev: Evidence) -> Diagnosis | None:
    wrong, count = ev.mismatch, int(ev.mismatch.sum())
    sampled = ev.where.size < ev.analytic.size  # the elements not compared may be off another way
    if count < (3 if sampled else 1) or np.any(np.abs(ev.a[wrong]) > ev.tolerance.atol):
        return None
    shown = ", ".join(str(list(np.unravel_index(int(i), ev.analytic.shape))) for i in ev.where[wrong][:4])
    return _found("zero", f"analytic is 0 at the {count} element{'s' if count > 1 else ''} of {ev.shown} that are "
                  f"off ({shown}{', ...' if count > 4 else ''}), where the numeric gradient is not: a path or an "
                  "index missing from backward?", (0.8 if count > 1 else 0.6) * ev.coverage() ** 0.5)


def passthrough(ev: Evidence) -> Diagnosis | None:
    if not same_shape_as_output(ev) or not _same(ev.analytic, ev.upstream.astype(np.float64)):
        return None
    return _found("passthrough", "backward returns grad_out unchanged as dx: the layer's own derivative is "
                  "missing (dx = grad_out · f'(x))", 0.9)


def swapped(evidence: list[Evidence]) -> dict[str, Diagnosis]:
    """Pairs of failed parameters of the same size whose gradients each fit the other's numeric."""
    found: dict[str, Diagnosis] = {}
    params = [ev for ev in evidence if ev.tensor != "input"]
    for i, first in enumerate(params):
        for second in params[i + 1:]:
            if first.tensor in found or second.tensor in found or first.analytic.size != second.analytic.size:
                continue
            crossed = [np.all(ev.fits(other.analytic.ravel()[ev.where])) and ev.informative().sum() >= 1
                       for ev, other in ((first, second), (second, first))]
            if all(crossed):
                for ev, other in ((first, second), (second, first)):
                    found[ev.tensor] = _found("swapped", f"backward's gradient for {ev.tensor} is the one "
                                              f"{other.tensor} should get, and the other way round: swapped",
                                              0.95 * ev.coverage())
    return found


def diagnose(evidence: list[Evidence]) -> dict[str, Diagnosis]:
    """{tensor: diagnosis} for the failed tensors of one layer checked alone; a tensor no
    fingerprint fits is left out."""
    from .patterns import branch, partial_rows_ignored, partial_slices, row_jacobian_kinds

    found = {}
    crossed = swapped(evidence)

    def swapped_pair(ev: Evidence) -> Diagnosis | None:
        return crossed.get(ev.tensor)

    for ev in evidence:
        for fingerprint in (forward_ignores, all_zero, upstream_ignored, swapped_pair, sign, factor, transposed,
                            skip_missing, branch, partial_rows_ignored, partial_slices, row_jacobian_kinds,
                            zero_where_not, passthrough):
            diagnosis = fingerprint(ev)
            if diagnosis is not None:
                found[ev.tensor] = diagnosis
                break
    return found
