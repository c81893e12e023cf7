"""Kinks in composition: mismatches of the whole network that a chain of valid local choices
explains.

With W = 0 before a ReLU, every pre-activation sits at the kink; relu'(0) = 0, what every
framework computes, makes dL/dW = 0, while moving W[i, j] moves a whole column of
pre-activations, some up across the kink and some down: the one-sided derivatives of L, each
crossing several kinks at once, need not bracket 0 (nor any other chain of valid choices). The
whole-network check cannot judge such an element; each layer alone can, at every kink
(check/ties.py as well).

So, only when every layer passed alone (no suspect), a mismatched element is re-judged: it is a
kink if moving it by ±h crosses two kinks or more at once, inside the layer it enters or any
later one its move reaches (a layer is kinked along the way its input moves when its one-sided
derivatives there, alone, differ; then the moved entries are tried one by one to count them).
A move that crosses a single kink is not excused: L is then a smooth function of one piecewise
smooth function of one variable, whose one-sided derivatives do bracket every valid choice, so
the whole-network verdict stands (it catches a choice a layer makes only for the network's
upstream gradient, not for the random one it is checked alone with). Every other mismatch still
fails, and a move that dies out (a zero weight after it) reaches no kink beyond.
"""
from __future__ import annotations

import numpy as np

from .backprop import Trace
from .jobs import TensorJob, check_job, job_rng, tensor_jobs
from ..model.network import Network
from .numeric import CloserLook, closer_look, element_shift
from .precision import Mode, Precision
from ..results import TensorCheck
from .verdict import FINER, NOISE_SAFETY

MOST_MOVED = 64   # entries of a layer's input tried one by one for a kink of their own


class KinkFinder:
    """Whether moving one element crosses a kink inside some layer of a chain: the top-level
    layers of a network, or the branch of a residual layer checked alone."""

    def __init__(self, entries, inputs: list[np.ndarray], precision: Precision, seed_key: list[int]):
        self.entries, self.precision = entries, precision
        self.inputs = [x.astype(precision.numeric_dtype, copy=True) for x in inputs]
        self.eps = float(np.finfo(precision.numeric_dtype).eps)
        # a random upstream gradient per layer, as for a layer alone: a kink of f is one of <G, f>
        # for almost every G, whatever the downstream gradient happens to be
        self.weights = [np.random.default_rng(seed_key + [k, 7]).standard_normal(entry.forward(x).shape)
                        for k, (entry, x) in enumerate(zip(self.entries, self.inputs))]
        self.crossed: set[int] = set()   # the layers whose kinks excused an element
        self.seed_key, self.branches = seed_key, {}

    def _value(self, m: int, x) -> float:
        return float(np.sum(self.weights[m] * self.entries[m].forward(x).astype(np.float64)))

    def _kinked(self, loss_at, h: float, here: float) -> bool:
        """One-sided derivatives that differ, at the step h or FINER·h (a kink within reach)."""
        for scale in (1.0, FINER):
            look: CloserLook = closer_look(loss_at, scale * h, here, self.eps)
            tol = self.precision.tolerance
            slack = tol.atol + tol.rtol * max(abs(look.left), abs(look.right)) + NOISE_SAFETY * look.noise
            if abs(look.right - look.left) > slack:
                return True
        return False

    def crosses(self, job: TensorJob, where: tuple) -> bool:
        """For an element of a network tensor (its top-level layer's input, or a parameter):
        whether moving it crosses two kinks or more at once."""
        x_k = job.theta if job.name == "input" else self.inputs[job.layer]
        return self.count_element(job.layer, job.theta, where, x_k, job.name) >= 2

    def count_element(self, k: int, theta: np.ndarray, where: tuple, x_k: np.ndarray, name: str) -> int:
        """Kinks crossed (up to 2) when theta[where] moves by ±h: inside layer k, whose input is
        x_k (theta itself when `name` is "input"), and in the layers its move reaches after it."""
        h = self.precision.step * max(1.0, abs(float(theta[where])))
        entry = self.entries[k]
        if entry.branch is not None:     # a residual: count inside its branch, a chain of its own
            found = self._branch(k).count_entering(name, theta, where, h)
        else:   # one element of the layer's own input or parameters: one kink, as far as it can be seen
            found = int(self._kinked(element_shift(lambda: self._value(k, x_k), theta, where), h,
                                     self._value(k, x_k)))
        if found:
            self.crossed.add(k)
        moved = [element_shift(lambda: entry.forward(x_k).copy(), theta, where)(t) for t in (h, -h)]
        return self.count_path(k + 1, moved, found)

    def count_entering(self, name: str, theta: np.ndarray, where: tuple, h: float) -> int:
        """This chain as a residual's branch: kinks crossed when the residual's input (name
        "input", theta is that input) or a parameter of the branch ("j.W") moves."""
        if name == "input":   # the skip path is smooth; the branch sees the same move
            return self.count_path(0, [element_shift(lambda: theta.copy(), theta, where)(t) for t in (h, -h)], 0)
        head, _, rest = name.partition(".")
        return self.count_element(int(head), theta, where, self.inputs[int(head)], rest)

    def count_path(self, start: int, moved: list, found: int) -> int:
        """Kinks crossed from layer `start` on, whose input moved to each of `moved` (x, step taken)."""
        for m in range(start, len(self.entries)):
            base, entry = self.inputs[m], self.entries[m]
            if found >= 2 or not any(np.any(x_moved != base) for x_moved, _ in moved):
                break   # enough found, or the move dies out here: no layer further on sees it
            if entry.branch is not None:
                here = self._branch(m).count_path(0, moved, 0)
            else:
                here = 0
                for x_moved, taken in moved:
                    direction = (x_moved - base) / taken
                    def along(t, m=m, base=base, direction=direction):  # noqa: E306
                        return self._value(m, base + t * direction), t
                    if np.any(direction) and self._kinked(along, abs(taken), self._value(m, base)):
                        here = max(here, self._kinks_along(m, base, direction, abs(taken), 2 - found))
            if here:
                self.crossed.add(m)
            found += here
            moved = [(entry.forward(x_moved).copy(), taken) for x_moved, taken in moved]
        return min(found, 2)

    def _branch(self, m: int) -> "KinkFinder":
        """The branch of residual layer m as a chain, from the input layer m sees."""
        if m not in self.branches:
            entries, inputs = self.entries[m].branch.entries, [self.inputs[m]]
            for sub in entries[:-1]:
                inputs.append(np.array(sub.forward(inputs[-1]), copy=True))
            self.branches[m] = KinkFinder(entries, inputs, self.precision, self.seed_key + [m])
        return self.branches[m]

    def _kinks_along(self, m: int, base: np.ndarray, direction: np.ndarray, h: float, enough: int) -> int:
        """How many of the input entries that a move along `direction` changes sit on a kink of
        layer m each (looked for among the MOST_MOVED largest moves, until `enough`); at least
        1, since the line itself crosses one."""
        here, count = self._value(m, base), 0
        flat = direction.reshape(-1)
        for i in np.argsort(-np.abs(flat), kind="stable")[:MOST_MOVED]:
            if flat[i] == 0 or count >= enough:
                break
            def along(t, i=i):  # noqa: E306
                moved = base.copy()
                moved.reshape(-1)[i] += t
                return self._value(m, moved), float(moved.reshape(-1)[i]) - float(base.reshape(-1)[i])
            count += self._kinked(along, abs(float(flat[i])) * h, here)
        return max(count, 1)


def recheck_across_kinks(net: Network, precision: Precision, trace: Trace, shadow_trace: Trace | None,
                         mode: Mode, seed: int, checks: list[TensorCheck]) -> tuple[list[TensorCheck], list[str]]:
    """The failed tensors checked again, each mismatch asked whether it crosses a kink; with a
    note for every tensor whose mismatches all did. Call only when every layer passed alone."""
    finder = KinkFinder(net.stack.entries, (shadow_trace or trace).inputs, precision, [seed])
    result, notes = list(checks), []
    for at, job in enumerate(tensor_jobs(net, precision, trace, shadow_trace)):
        before = checks[at]
        if before.passed:
            continue
        finder.crossed.clear()
        after = check_job(job, precision, mode, job_rng(job, seed), crosses_kink=lambda where, job=job:
                          finder.crosses(job, where))
        result[at] = after
        if after.passed:
            inside = ", ".join(f"{m} ({net.stack.entries[m].type})" for m in sorted(finder.crossed))
            several = "s" if len(finder.crossed) > 1 else ""
            notes.append(f"layer {job.layer} ({job.type}) {job.name}: {before.mismatches} element"
                         f"{'s' if before.mismatches != 1 else ''} disagreed with the finite difference, each "
                         f"where moving it crosses two or more kinks at once, inside layer{several} {inside}; every "
                         "layer's backward was checked alone (at its kinks jointly too), so they count as kinks")
    return result, notes
