"""From analytic and numeric gradients to a verdict per tensor.

An element matches when |a - n| <= atol + rtol·max(|a|, |n|) + noise. noise is zero at first;
an element that does not match gets a closer look (numeric.closer_look) and is then accepted
 - as noise, if the Richardson estimate matches within the finite difference's own error, or
 - as a kink, if a lies between the one-sided derivatives from below and above, which
   differ (a non-differentiable point within h: ReLU at 0, ties of a max, |x| at 0).
Everything else is a mismatch, and one mismatch fails the tensor. In a network whose every
layer passed alone, a mismatch whose perturbation crosses a kink inside some layer is a kink
too (`crosses_kink`, decided by check/composition.py): the composite's one-sided derivatives
there need not bracket a chain of valid local choices.

The noise test needs estimates at h and h/2 that agree (the closer look is `settled`): near a
kink they differ by as much as the derivative itself, and "within the error" would accept
anything. A closer look that is not settled is taken again with steps FINER times smaller,
which resolves a kink that lies near θ rather than at it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..defaults import TOLERANCES
from .numeric import CloserLook


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


# Keyed by the precision of the check (see defaults.TOLERANCES for why these values).
DEFAULT_TOLERANCES = {key: Tolerance(rtol, atol) for key, (rtol, atol) in TOLERANCES.items()}
NOISE_SAFETY = 4.0  # accept a discrepancy up to this many times the estimated numeric error
FINER = 1.0 / 64.0  # step of the second closer look, relative to the first
# A matching element gets a closer look too when its one-sided slopes (L(θ±h) - L(θ)) / h differ
# by this many times its allowance: a smooth L's differ by L''·h, a kink's by the jump itself.
KINK_SCREEN = 1000.0


@dataclass
class ElementVerdicts:
    """Per-element outcome for one tensor."""

    abs_error: np.ndarray
    rel_error: np.ndarray
    excess: np.ndarray      # |a - n| over what was allowed: > 1 is a mismatch
    mismatch: np.ndarray    # bool
    kink: np.ndarray        # bool: accepted as a subgradient at a kink
    numeric: np.ndarray     # the best numeric estimate per element
    # bool: a mismatch whose one-sided derivatives differ (it sits on a kink, outside the bracket):
    # its numeric value is a central difference across the kink, no number to read a pattern from
    bent: np.ndarray | None = None


def relative_error(analytic, numeric, tol: Tolerance):
    """|a - n| / max(|a|, |n|, atol/rtol): entries smaller than atol/rtol are measured
    against that floor, so near-zero entries don't give meaningless ratios."""
    floor = tol.atol / tol.rtol if tol.rtol > 0 else np.finfo(np.float64).tiny
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), max(floor, 1e-300))
    return np.abs(analytic - numeric) / scale


def _allowed(a, n, tol: Tolerance, noise):
    return tol.atol + tol.rtol * np.maximum(np.abs(a), np.abs(n)) + noise


def judge(analytic: np.ndarray, numeric: np.ndarray, tol: Tolerance, analytic_noise,
          look, kinks_inconclusive: bool = False, crosses_kink=None, bends=None) -> ElementVerdicts:
    """`look(idx, scale) -> CloserLook` re-examines one element with steps scale·h; called only
    for disagreeing ones.
    `analytic_noise`: known rounding error of the analytic side (float32 vs its float64 twin).
    `kinks_inconclusive`: for directional derivatives, where a direction crossing several kinks
    has one-sided derivatives that need not bracket <g, v>: such an element is not judged.
    `crosses_kink(idx) -> bool`: asked only about an element that is a mismatch otherwise.
    `bends`: per element, |L(θ+h) - 2L(θ) + L(θ-h)| / h. A matching element whose bend is large
    is looked at again and counted as a kink if it sits on one: a backward that gives each
    tied entry of a max the central difference (G/2) matches them one by one, and only the
    joint check of a layer alone at its kinks (check/ties.py) sees that together they get too
    much; that check runs where kinks were counted."""
    shape = np.shape(analytic)
    a = np.asarray(analytic, dtype=np.float64).ravel()     # flat, so a 0-d parameter works too
    n = np.asarray(numeric, dtype=np.float64).ravel().copy()
    noise = np.broadcast_to(np.asarray(analytic_noise, dtype=np.float64), shape).ravel()
    allowed = _allowed(a, n, tol, noise)
    excess = np.abs(a - n) / np.maximum(allowed, 1e-300)
    kink = np.zeros(a.shape, dtype=bool)
    bent = np.zeros(a.shape, dtype=bool)
    for flat in np.flatnonzero(excess > 1.0):
        idx = flat
        where = np.unravel_index(flat, shape)
        closer: CloserLook = look(where, 1.0)
        if not (closer.settled or closer.noise <= tol.atol):
            closer = look(where, FINER)
        settled = closer.settled or closer.noise <= tol.atol
        value = a[idx]
        smooth_allowed = _allowed(value, closer.richardson, tol, noise[idx] + NOISE_SAFETY * closer.noise)
        if settled and abs(value - closer.richardson) <= smooth_allowed:
            n[idx] = closer.richardson
            excess[idx] = abs(value - closer.richardson) / smooth_allowed
            continue
        low, high = sorted((closer.left, closer.right))
        slack = _allowed(value, high, tol, noise[idx] + NOISE_SAFETY * closer.noise)
        if high - low > slack and (kinks_inconclusive or low - slack <= value <= high + slack):
            kink[idx] = True
            n[idx] = value  # a valid subgradient; report it as matching
            excess[idx] = 0.0
            continue
        if crosses_kink is not None and crosses_kink(where):
            kink[idx] = True
            n[idx] = value  # each layer's choice at its kink was checked alone; report it as matching
            excess[idx] = 0.0
            continue
        bent[idx] = high - low > slack
        n[idx] = closer.richardson
        # Unsettled, the estimates' disagreement is no error bar: it would excuse anything.
        plain_allowed = smooth_allowed if settled else _allowed(value, closer.richardson, tol, noise[idx])
        excess[idx] = abs(value - closer.richardson) / plain_allowed
    if bends is not None:
        # matching now, noise included (a tie's G/2 can be off by rounding at first), and not a kink yet
        _count_matching_kinks(a, tol, noise, allowed, (excess <= 1.0) & ~kink, kink, np.ravel(bends), look, shape)
    abs_error = np.abs(a - n)
    rel_error = relative_error(a, n, tol)
    return ElementVerdicts(*(v.reshape(shape) for v in (abs_error, rel_error, excess, excess > 1.0, kink, n, bent)))


def _count_matching_kinks(a, tol, noise, allowed, matching, kink, bends, look, shape) -> None:
    """Marks the matching elements that sit on a kink (their verdict stays: they match)."""
    for flat in np.flatnonzero(matching & (bends > KINK_SCREEN * allowed)):
        closer: CloserLook = look(np.unravel_index(flat, shape), 1.0)
        low, high = sorted((closer.left, closer.right))
        if high - low > _allowed(a[flat], high, tol, noise[flat] + NOISE_SAFETY * closer.noise):
            kink[flat] = True
