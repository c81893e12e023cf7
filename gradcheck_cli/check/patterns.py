"""The diagnosis's structural fingerprints: where in the tensor the errors lie (one branch of
the input's sign, some rows or channels or time steps), which rows of the upstream gradient
backward reads, and how backward's result relates to each row's numeric Jacobian."""
from __future__ import annotations

import numpy as np

from ..results import Diagnosis
from .diagnosis import FIT, Evidence, _found, _same, same_shape_as_output

MAX_ROW_WIDTH = 256     # the per-row Jacobian is probed when a row of x and of y has at most this many entries
MAX_ROWS_PROBED = 64    # rows of the upstream gradient zeroed one at a time
ROWS_FOR_JACOBIAN = 2   # rows whose Jacobian is measured (those with the most errors)
PROBE_BUDGET = 50_000_000  # at most this many input scalars through the layer's calls, per probe
DENSE = 0.9             # a slice counts as wrong when this share of its informative elements is off
SIDE_MINIMUM = 3        # elements needed on each side of 0 to speak of a branch


def _ranges(indices) -> str:
    """[0, 1, 2, 5] -> "0–2, 5"."""
    indices, parts, start = sorted(int(i) for i in indices), [], None
    for i, value in enumerate(indices):
        if start is None:
            start = value
        if i + 1 == len(indices) or indices[i + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}–{value}")
            start = None
    return ", ".join(parts)


def _ratio(ev: Evidence, chosen: np.ndarray) -> float | None:
    """c if analytic = c·numeric on every chosen element (with enough of them), else None."""
    a, n = ev.a[chosen], ev.numeric[chosen]
    usable = (np.abs(n) > 100.0 * ev.tolerance.atol) & (np.abs(a) > 100.0 * ev.tolerance.atol)
    if usable.sum() < SIDE_MINIMUM:
        return None
    c = float(np.median(a[usable] / n[usable]))
    return c if np.all(ev.fits(a, c * n, max(1.0, abs(c)))) else None


def branch(ev: Evidence) -> Diagnosis | None:
    if ev.tensor != "input":
        return None
    x = ev.x.ravel()[ev.where]
    informative, wrong = ev.informative(), ev.mismatch
    sides = {"negative": x < 0, "positive": x > 0}
    for side, other in (("negative", "positive"), ("positive", "negative")):
        here, there = sides[side], sides[other]
        if (wrong & ~here).any() or wrong.sum() < SIDE_MINIMUM or (informative & there).sum() < SIDE_MINIMUM:
            continue
        if wrong.sum() < DENSE * (informative & here).sum():
            continue
        return _found("branch", f"wrong only where the layer's input is {side} ({int(wrong.sum())} of "
                      f"{int(here.sum())} elements there), right where it is {other}{_what_there(ev, wrong)}: a bug "
                      f"in the x {'<' if side == 'negative' else '>'} 0 branch of backward", 0.85 * ev.coverage())
    below, above = _ratio(ev, sides["negative"]), _ratio(ev, sides["positive"])
    if below is None or above is None or abs(below / above - 1.0) <= FIT * ev.tolerance.rtol:
        return None
    exchanged = " — the two branches' derivatives exchanged?" if abs(below * above - 1.0) < 1e-6 else ""
    return _found("branch", f"analytic = {above:.4g} × numeric where the layer's input is positive and "
                  f"{below:.4g} × where it is negative{exchanged}", 0.8 * ev.coverage())


def _what_there(ev: Evidence, wrong: np.ndarray) -> str:
    a, n = ev.a[wrong], ev.numeric[wrong]
    if np.all(ev.fits(-a, n)):
        return "; analytic = -numeric there"
    if np.all(np.abs(a) <= ev.tolerance.atol):
        return "; analytic is 0 there"
    if np.all(np.abs(n) <= ev.tolerance.atol):
        return "; numeric is 0 there, analytic is not: the gradient passes where it is blocked"
    return ""


def partial_rows_ignored(ev: Evidence) -> Diagnosis | None:
    rows = ev.upstream.shape[0]
    if ev.probe is None or not 2 <= rows <= MAX_ROWS_PROBED or rows * ev.x.size > PROBE_BUDGET:
        return None
    ignored = []
    for r in range(rows):
        upstream = ev.upstream.copy()
        upstream[r] = 0
        result = ev.probe.backward(upstream)
        if result is None:
            return None
        if _same(ev.analytic, result.get(ev.tensor)):
            ignored.append(r)
    if not ignored or len(ignored) == rows:
        return None
    used = [r for r in range(rows) if r not in ignored]
    return _found("partial", f"backward ignores the upstream gradient of row{'s' if len(ignored) > 1 else ''} "
                  f"{_ranges(ignored)} for {ev.shown} (uses row{'s' if len(used) > 1 else ''} {_ranges(used)} only): "
                  "a loop over the samples that stops early, or dout[0] where a sum over the batch belongs?", 0.85)


def _axis_names(ev: Evidence) -> tuple[str, ...]:
    ndim = ev.analytic.ndim
    if ev.tensor == "input" and ndim in (3, 4):
        return ("samples", "time steps", "features") if ndim == 3 else ("samples", "channels", "rows", "columns")
    return ("rows", "columns") if ndim == 2 else tuple(f"indices of axis {k}" for k in range(ndim))


def partial_slices(ev: Evidence) -> Diagnosis | None:
    shape = ev.analytic.shape
    if len(shape) < 2:
        return None
    position = np.unravel_index(ev.where, shape)
    informative, wrong = ev.informative(), ev.mismatch
    best = None
    for axis, size in enumerate(shape):
        at = position[axis]
        seen = np.bincount(at[informative], minlength=size)
        # every slice judged must show two informative elements (sample mode sees few of each)
        if size < 2 or not seen.any() or seen[seen > 0].min() < 2:
            continue
        bad = np.unique(at[wrong])
        good = np.setdiff1d(np.flatnonzero(seen), bad)
        in_bad = np.isin(at, bad) & informative
        if len(bad) == 0 or seen[good].sum() < SIDE_MINIMUM or wrong.sum() < max(SIDE_MINIMUM, DENSE * in_bad.sum()):
            continue
        if best is None or len(bad) < len(best[1]):
            best = (axis, bad, good)
    if best is None:
        return None
    axis, bad, good = best
    name = _axis_names(ev)[axis]
    zero = "; analytic is 0 there" if np.all(np.abs(ev.a[wrong]) <= ev.tolerance.atol) else ""
    cut = " (backpropagation through time cut short?)" if name == "time steps" and max(good) > max(bad) else ""
    return _found("partial", f"{ev.shown} is wrong only in {name} {_ranges(bad)} of {shape[axis]}, right in "
                  f"{_ranges(good)}{zero}{cut}", 0.85 * ev.coverage())


def row_jacobian_kinds(ev: Evidence) -> Diagnosis | None:
    """diagonal_only or transpose: dx of a row against its numeric Jacobian J (∂y_i/∂x_j), for the
    rows with the most errors: the right dx is grad_out·J; grad_out ⊙ diag(J) keeps only the
    diagonal; J·grad_out applies the transpose."""
    width = ev.analytic[0].size
    if not same_shape_as_output(ev) or ev.probe is None or width > MAX_ROW_WIDTH or \
            2 * ROWS_FOR_JACOBIAN * width * ev.x.size > PROBE_BUDGET:
        return None
    rows = ev.where[ev.mismatch] // width
    counts = np.bincount(rows, minlength=ev.analytic.shape[0])
    chosen = [int(r) for r in np.argsort(-counts, kind="stable")[:ROWS_FOR_JACOBIAN] if counts[r] >= 2]
    if not chosen:
        return None
    verdicts = set()
    for r in chosen:
        jacobian = ev.probe.row_jacobian(r)
        if jacobian is None or jacobian.shape != (width, width):
            return None
        g, a = ev.upstream[r].ravel().astype(np.float64), ev.analytic[r].ravel()
        scale = np.abs(g) @ np.abs(jacobian) + np.abs(jacobian) @ np.abs(g) + np.abs(a)
        allowed = FIT * (ev.tolerance.atol + ev.tolerance.rtol * scale)

        def fits(predicted):
            return bool(np.all(np.abs(a - predicted) <= allowed))

        if fits(g @ jacobian):  # this row is right after all: the probe cannot tell
            return None
        verdicts.add("diagonal_only" if fits(g * np.diag(jacobian)) else "transpose" if fits(jacobian @ g) else None)
    if len(verdicts) != 1 or None in verdicts:
        return None
    if verdicts == {"diagonal_only"}:
        return _found("diagonal_only", "dx = grad_out ⊙ diag(J) for each row, J its Jacobian ∂y_i/∂x_j: backward "
                      "keeps only the diagonal, the terms through the row's other outputs are missing (softmax's "
                      "-y·sum(grad_out·y)?)", 0.9)
    return _found("transpose", "dx = J·grad_out for each row where grad_out·J belongs (J its Jacobian ∂y_i/∂x_j): "
                  "backward applies the transposed Jacobian, a square weight or mixing matrix used without .T?", 0.9)
