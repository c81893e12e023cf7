"""A layer alone at its kinks, coordinates taken jointly.

One by one, an element at a kink passes when its analytic value lies between its one-sided
derivatives. That is the whole truth for kinks that are independent of each other (a ReLU
entry by entry), but not for a tie: at a max over k tied entries every one of them alone has
the bracket [0, G], and a backward that gives G to each of the k passes them all, while the
valid choices share G among them (one-hot, or split: the gradients sum to G). Moving the tied
entries together tells: the max moves with them, smoothly, at rate G.

So kinked elements are grouped where the layer couples them, and each group moved as one:
- footprint: elements whose moves change a common output entry may be coupled (others cannot);
- coupled pair: moved together, i and j change <G, f> otherwise than the sum of their moves
  alone predicts (separable kinks, a ReLU's, never are; nothing joint is then asked of them);
- a coupled group moved along 1_S: if <G, f> is smooth along it (a whole tied set: the max moves
  with it), the gradients' sum must equal that rate; if not (a part of a tie, a ReLU after the
  max) and every pair of the group is coupled (one tie, not several side by side), the sum must
  lie between the one-sided rates, which is then exactly the range of the valid choices.
A group that fails makes the tensor fail, with a hint that says so.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..results import FAILED, TensorCheck
from .numeric import CloserLook, closer_look
from .precision import Precision
from .verdict import NOISE_SAFETY, relative_error

MAX_JOINED = 4096     # kinked elements looked at jointly, at most (the first ones)
CLIQUE_LIMIT = 16     # a group is bracketed only if all its pairs are coupled: up to this size
MAX_GROUP = 64        # linked kinked elements looked at jointly in one part


def check_ties(check: TensorCheck, analytic: np.ndarray, theta: np.ndarray, evaluate, forward,
               precision: Precision) -> TensorCheck:
    """`evaluate()`: <G, f> for the current theta; `forward()`: f itself. Returns the check,
    failed if a group of its kinked elements got gradients outside the valid set."""
    kinks = [] if check.kink_at is None else [int(i) for i in check.kink_at[:MAX_JOINED]]
    if len(kinks) < 2:
        return check
    joint = _Joint(theta, evaluate, precision)
    failures = []
    signs = np.random.default_rng(len(kinks)).choice([-1.0, 1.0], MAX_GROUP)
    for linked in _footprint_groups(kinks, forward, joint):
        # in parts of at most MAX_GROUP (a tie cut in two is still checked, by parts), so that a
        # dense layer's many separable kinks cost no more than their number
        for group in (linked[at:at + MAX_GROUP] for at in range(0, len(linked), MAX_GROUP)):
            joint.sides.update({i: joint.look((i,), (1.0,)) for i in group})
            # An element whose kink lies near θ rather than at it has one-sided estimates that
            # depend on the step: it was judged alone, and is left out of the joint look.
            group = [i for i in group if joint.sides[i].settled]
            if len(group) < 2 or not any(joint.not_separable(group, pattern)
                                         for pattern in ((1.0,) * len(group), tuple(signs[:len(group)]))):
                continue   # a ReLU's kinks side by side: nothing joint to ask
            for component in _components(group, joint):
                failure = _judge_group(component, analytic.ravel(), joint)
                if failure:
                    failures.append(failure)
    if not failures:
        return check
    return _failed(check, failures, precision)


class _Joint:
    """Closer looks at theta moved along ±1 on a few of its elements."""

    def __init__(self, theta, evaluate, precision: Precision):
        self.theta, self.evaluate, self.precision = theta, evaluate, precision
        self.here = evaluate()
        self.eps = float(np.finfo(precision.numeric_dtype).eps)
        self.coupling: dict[tuple[int, int], bool] = {}
        self.sides: dict[int, CloserLook] = {}      # each element moved alone

    def at(self, elements) -> tuple:
        """Index arrays into theta (perturbed in place, whatever its strides) for flat indices."""
        return np.unravel_index(np.asarray(elements, dtype=np.intp), self.theta.shape)

    def step(self, elements) -> float:
        return self.precision.step * max(1.0, float(np.max(np.abs(self.theta[self.at(elements)]))))

    def moved(self, elements, signs, t: float, then=None):
        """`then()` (default: evaluate) with theta moved by t·v (v: signs/√k on `elements`), restored exactly."""
        at = self.at(elements)
        old = self.theta[at].copy()
        unit = np.asarray(signs, dtype=np.float64) / math.sqrt(len(elements))
        try:
            self.theta[at] = old + (t * unit).astype(old.dtype)
            return (then or self.evaluate)()
        finally:
            self.theta[at] = old

    def look(self, elements, signs) -> CloserLook:
        return closer_look(lambda t: (self.moved(elements, signs, t), t), self.step(elements), self.here, self.eps)

    def slack(self, *looks: CloserLook) -> float:
        tol = self.precision.tolerance
        size = max(max(abs(c.left), abs(c.right)) for c in looks)
        return tol.atol + tol.rtol * size + NOISE_SAFETY * sum(c.noise for c in looks)

    def coupled(self, i: int, j: int) -> bool:
        """Whether i and j, moved together, change <G, f> otherwise than their moves alone add up to."""
        key = (min(i, j), max(i, j))
        if key not in self.coupling:
            self.coupling[key] = any(self.not_separable((i, j), signs) for signs in ((1.0, 1.0), (1.0, -1.0)))
        return self.coupling[key]

    def not_separable(self, elements, signs) -> bool:
        """Moved together along signs/√k, the elements change <G, f> otherwise than alone: each
        moved by s·t alone changes it at rate right·s (s > 0) or left·s (s < 0)."""
        together, sides = self.look(tuple(elements), signs), [self.sides[i] for i in elements]
        root = math.sqrt(len(elements))
        right = sum((c.right if s > 0 else c.left) * s for c, s in zip(sides, signs)) / root
        left = sum((c.left if s > 0 else c.right) * s for c, s in zip(sides, signs)) / root
        slack = self.slack(together, *sides)
        return abs(together.right - right) > slack or abs(together.left - left) > slack


def _footprint_groups(kinks: list[int], forward, joint: _Joint) -> list[list[int]]:
    """Kinked elements linked through the output entries their moves change (union-find)."""
    here = np.array(forward(), copy=True).reshape(-1)
    parent = {i: i for i in kinks}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def changed():
        return np.flatnonzero(np.array(forward()).reshape(-1) != here).tolist()

    owner: dict[int, int] = {}
    for i in kinks:
        h = joint.step((i,))
        for out in set(joint.moved((i,), (1.0,), h, changed) + joint.moved((i,), (1.0,), -h, changed)):
            if out in owner:
                parent[root(i)] = root(owner[out])
            else:
                owner[out] = i
    groups: dict[int, list[int]] = {}
    for i in kinks:
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _components(group: list[int], joint: _Joint) -> list[list[int]]:
    """The group split into coupled parts: an element joins every part whose first element it is
    coupled with (in a tie every pair is coupled; kinks side by side are not)."""
    parts: list[list[int]] = []
    for i in group:
        joined = [p for p in parts if joint.coupled(i, p[0])]
        parts = [p for p in parts if not any(p is q for q in joined)] + [[i] + [k for p in joined for k in p]]
    return [p for p in parts if len(p) > 1]


def _judge_group(group: list[int], analytic: np.ndarray, joint: _Joint):
    """None if the group's gradients are a valid choice, else (group, their sum, low, high): the
    rates at which <G, f> changes when each of them moves by +t (low == high: smoothly)."""
    together = joint.look(tuple(group), (1.0,) * len(group))
    scale = math.sqrt(len(group))   # rates along the unit 1_S/√k, reported per unit move of each
    given = float(sum(analytic[i] for i in group)) / scale
    slack = joint.slack(together)
    tol = joint.precision.tolerance
    if abs(together.right - together.left) <= slack:
        expected = together.richardson if together.settled else 0.5 * (together.left + together.right)
        allowed = tol.atol + tol.rtol * max(abs(given), abs(expected)) + NOISE_SAFETY * together.noise
        return None if abs(given - expected) <= allowed else (group, given * scale, expected * scale,
                                                               expected * scale)
    if len(group) > CLIQUE_LIMIT or not all(joint.coupled(i, j) for n, i in enumerate(group)
                                            for j in group[n + 1:]):
        return None
    low, high = sorted((together.left, together.right))
    if low - slack <= given <= high + slack:
        return None
    return group, given * scale, low * scale, high * scale


def _failed(check: TensorCheck, failures, precision: Precision) -> TensorCheck:
    def off(failure):
        _, given, low, high = failure
        return 0.0 if low <= given <= high else min(abs(given - low), abs(given - high))

    group, given, low, high = max(failures, key=off)
    group = sorted(group)
    nearest = low if abs(given - low) <= abs(given - high) else high
    where = [tuple(int(k) for k in np.unravel_index(i, check.shape)) for i in group[:4]]
    listed = ", ".join(str(list(w)) for w in where) + (", ..." if len(group) > 4 else "")
    rate = f"at rate {low:.6g}" if low == high else f"at a rate between {low:.6g} and {high:.6g}"
    hint = (f"{len(group)} elements at one tie ({listed}) each lie between their own one-sided derivatives, but "
            f"moved together (each by +t) they change the layer's output, weighted by the upstream gradient, {rate}, "
            f"while their gradients sum to {given:.6g}: at a tie the upstream gradient is shared among the tied "
            "elements (given to one of them, or split), not given to each")
    rel = float(relative_error(np.array(given), np.array(nearest), precision.tolerance))
    wrong = [i for failure in failures for i in failure[0]]
    rel_errors = check.rel_errors
    if rel_errors is not None:   # the heatmap shows the failed ties
        rel_errors = np.array(rel_errors, dtype=np.float64, copy=True)
        rel_errors.reshape(-1)[wrong] = np.maximum(rel_errors.reshape(-1)[wrong], rel)
    return replace(check, outcome=FAILED, mismatches=check.mismatches + len(wrong), kinks=check.kinks - len(wrong),
                   worst_index=where[0], analytic=given, numeric=nearest,
                   max_abs_error=max(check.max_abs_error, abs(given - nearest)),
                   max_rel_error=max(check.max_rel_error, rel), hint=check.hint or hint, rel_errors=rel_errors,
                   kink_at=np.setdiff1d(check.kink_at, wrong))
