"""The layer's side of the diagnosis: the numbers of its failed tensors when checked alone, its
backward for other upstream gradients, a row's numeric Jacobian, its options. Then the
diagnosis of each failed tensor, and the same diagnosis on the whole network's check of it."""
from __future__ import annotations

import numpy as np

from ..errors import LAYER_FAILURES
from ..model.network import Entry, parameters
from ..results import LayerCheck, TensorCheck
from .diagnosis import Evidence, diagnose
from .patterns import MAX_ROW_WIDTH
from .precision import Mode, Precision
from .tensor import check_tensor

# Fast mode: a failed tensor is checked again by coordinates for its diagnosis, all of them up
# to this many, a random sample of FAST_SAMPLE beyond.
FAST_COORDINATES = 4096
FAST_SAMPLE = 256


class LayerProbe:
    """Calls the layer alone at its input x, as the check did; a call that fails gives None
    (the fingerprint that asked is then skipped: a diagnosis never turns a run into an error)."""

    def __init__(self, entry: Entry, x: np.ndarray, step: float):
        self.entry, self.x, self.step = entry, x, step
        self._jacobians: dict[int, np.ndarray | None] = {}

    def _forward(self, x) -> np.ndarray:
        return self.entry.forward(x)

    def backward(self, upstream: np.ndarray) -> dict[str, np.ndarray] | None:
        """{"input": dx, parameter: gradient} for this upstream gradient."""
        try:
            y = self._forward(self.x.copy())
            dx = self.entry.backward(upstream.astype(y.dtype), self.x.shape)
            grads = {shown: owner.param_grads()[key] for shown, owner, key in parameters(self.entry)}
        except LAYER_FAILURES:
            return None
        return {"input": np.asarray(dx, dtype=np.float64),
                **{name: np.asarray(g, dtype=np.float64) for name, g in grads.items()}}

    def row_jacobian(self, r: int) -> np.ndarray | None:
        """J[i, j] = ∂y[r]_i / ∂x[r]_j by central differences, row r alone moved."""
        if r not in self._jacobians:
            self._jacobians[r] = self._measure(r)
        return self._jacobians[r]

    def _measure(self, r: int) -> np.ndarray | None:
        x = self.x
        if x[r].size > MAX_ROW_WIDTH:
            return None
        columns = []
        try:
            for j in range(x[r].size):
                where = (r, *np.unravel_index(j, x.shape[1:]))
                old = x[where]
                h = self.step * max(1.0, abs(float(old)))
                moved = []
                for delta in (h, -h):
                    shifted = x.copy()
                    shifted[where] = old + delta
                    moved.append((self._forward(shifted)[r].astype(np.float64).ravel(),
                                  float(shifted[where]) - float(old)))
                (up, taken_up), (down, taken_down) = moved
                columns.append((up - down) / (taken_up - taken_down))
        except LAYER_FAILURES:
            return None
        return np.stack(columns, axis=1)


class NoProbe:
    """For what cannot be called alone at one input (a graph node with several, a loss): the
    fingerprints read from the numbers alone still apply; those that ask the layer are skipped."""

    def backward(self, upstream):
        return None

    def row_jacobian(self, r: int):
        return None


def diagnose_numbers(checks: list, analytic: dict, x: np.ndarray, upstream: np.ndarray, precision: Precision) -> None:
    """Sets `diagnosis` on the failed checks from their numbers alone (`analytic`: by tensor name);
    `x`, `upstream`: the input and upstream gradient they were taken at (for 1/N and shapes)."""
    evidence = []
    for check in checks:
        if check.passed or check.compared is None or check.tensor not in analytic:
            continue
        numeric, mismatch, sample = check.compared
        a = np.asarray(analytic[check.tensor], dtype=np.float64)
        where = np.arange(a.size) if sample is None else np.asarray(sample)
        evidence.append(Evidence(check.tensor, a, np.asarray(numeric, dtype=np.float64).ravel(),
                                 np.asarray(mismatch).ravel(), where, precision.tolerance, upstream, x, {}, NoProbe()))
    found = diagnose(evidence)
    for check in checks:
        if check.diagnosis is None:
            check.diagnosis = found.get(check.tensor)


def layer_options(layer_spec) -> dict[str, float]:
    """The layer's options that are fractions (a dropout's p, a slope), by name; nested ones
    (a function pair's dropout_param.p) by their dotted name."""
    found: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        elif isinstance(value, float) and np.isfinite(value) and not value.is_integer():
            found[prefix.rstrip(".")] = value

    if layer_spec is not None:
        declared = getattr(layer_spec, "declared", {}) or {}
        for source in (layer_spec.options, declared.get("init", {}), declared.get("args", {})):
            walk("", source)
    return found


def _by_coordinates(job, precision: Precision, rng) -> tuple | None:
    """Fast mode compared random directions: the tensor's numbers, element by element."""
    size = job.theta.size
    sample = None if size <= FAST_COORDINATES else np.sort(rng.choice(size, FAST_SAMPLE, replace=False))
    return check_tensor(job.layer, job.type, job.name, job.analytic, job.theta, job.evaluate, precision,
                        job.noise, None, 1, sample).compared


def diagnose_layer(entry: Entry, layer_spec, x: np.ndarray, upstream: np.ndarray, jobs: list, checks: list,
                   precision: Precision, mode: Mode, rng) -> None:
    """Sets `diagnosis` on the failed checks of one layer checked alone (jobs[i] gave checks[i])."""
    probe, options, evidence = LayerProbe(entry, x, precision.step), layer_options(layer_spec), []
    for job, check in zip(jobs, checks):
        if check.passed:
            continue
        compared = check.compared if check.compared is not None or mode.name != "fast" else \
            _by_coordinates(job, precision, rng)
        if compared is None:
            continue
        numeric, mismatch, sample = compared
        where = np.arange(job.analytic.size) if sample is None else np.asarray(sample)
        evidence.append(Evidence(job.name, np.asarray(job.analytic, dtype=np.float64),
                                 np.asarray(numeric, dtype=np.float64).ravel(), np.asarray(mismatch).ravel(), where,
                                 precision.tolerance, upstream, x, options, probe))
    found = diagnose(evidence)
    for check in checks:
        check.diagnosis = found.get(check.tensor)


def share_diagnoses(checks: list[TensorCheck], layer_checks: list[LayerCheck]) -> None:
    """A tensor of the network whose layer is wrong alone gets that layer's diagnosis of it (a
    tensor that fails only because an error flows down from a later layer gets none); the
    numbers kept for the diagnosis are let go."""
    # by layer (a stack), node (a graph; "loss" for a custom loss's row) and tensor
    alone = {(c.layer, c.node, c.tensor): c.diagnosis for lc in layer_checks for c in lc.checks if c.diagnosis}
    for check in checks:
        if not check.passed:
            check.diagnosis = alone.get((check.layer, check.node, check.tensor))
    for check in checks + [c for lc in layer_checks for c in lc.checks]:
        check.compared = None
