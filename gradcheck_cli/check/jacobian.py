"""One layer's Jacobian, analytic and numeric, for small layers: the picture of docs/math.md
(section 2, "The vector chain rule").

J[j, i] = d y_j / d x_i for one data row: the analytic one row by row from backward(e_j), the
numeric one from the same central differences, step, tolerances and match rule as `run`
(closer look and kinks included): each entry is the derivative of one scalar, y_j.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..model.network import Entry, Network, build_network
from ..spec.load import Spec
from .backprop import Trace, backprop
from .jobs import _noise
from .numeric import central_differences, closer_look, element_shift
from .precision import FLOAT64, Precision, choose_precision
from .spec_check import float64_twin
from .verdict import judge

MAX_ENTRIES = 2_500


@dataclass
class Jacobians:
    layer: int | str          # a graph spec: the node's name
    type: str
    row: int
    analytic: np.ndarray      # (outputs, inputs) of the row
    numeric: np.ndarray       # the best numeric estimate of each entry, as `run` reports it
    differ: np.ndarray        # bool: a mismatch by run's rule
    kink: np.ndarray          # bool: a kink within h, the analytic value a valid subgradient

    @property
    def place(self) -> str:
        return f"node {self.layer}" if isinstance(self.layer, str) else f"layer {self.layer}"


def layer_jacobians(spec: Spec, layer: int | str, row: int = 0) -> Jacobians:
    """Layer `layer`'s Jacobians for data row `row` of a loaded spec (the caller applies run's
    guards first: load_spec's allow_custom, run.batch.guard_size); in a graph spec, `layer` names
    a node (graph_jacobian.py)."""
    with np.errstate(all="ignore"):  # as in `run`: overflow etc. show up as NaN/Inf, which are checked
        net = build_network(spec)
        if spec.graph is not None:
            from .graph_jacobian import node_jacobians
            return node_jacobians(spec, net, str(layer), row)
        entries = net.stack.entries
        if isinstance(layer, str):
            if not layer.lstrip("-").isdigit():
                raise SpecError(f"--layer {layer}: expected a layer index, 0 to {len(entries) - 1} (a node's name "
                                "is for graph specs)", spec.path)
            layer = int(layer)
        if not 0 <= layer < len(entries):
            raise SpecError(f"--layer {layer}: the spec has layers 0 to {len(entries) - 1}", spec.path)
        if entries[layer].integer_input:
            raise SpecError(f"--layer {layer}: its input is integer ids, which have no Jacobian; its parameters are "
                            "checked by `gradcheck run`", spec.path)
        trace = backprop(net, net.x)
        x = trace.inputs[layer]
        if not 0 <= row < x.shape[0]:
            raise SpecError(f"--row {row}: the input of layer {layer} has rows 0 to {x.shape[0] - 1}", spec.path)
        n_out, n_in = trace.outputs()[layer][row].size, x[row].size
        if n_out * n_in > MAX_ENTRIES:
            raise SpecError(f"layer {layer}'s Jacobian for one row is {n_out} x {n_in}; printing is for layers "
                            f"with at most {MAX_ENTRIES:,} entries (try a spec with fewer features)", spec.path)
        return _compare(spec, net, trace, layer, row)


def _compare(spec: Spec, net: Network, trace: Trace, layer: int, row: int) -> Jacobians:
    """Both Jacobians, and the verdict on each entry, as `run` would give it."""
    entry, x = net.stack.entries[layer], trace.inputs[layer]
    twin = float64_twin(net)
    precision, _ = choose_precision(net, trace, twin is not None, spec.rtol, spec.atol, spec.step)
    analytic = _analytic(entry, x, row)
    with net.params_as(FLOAT64) if twin else nullcontext():
        # float32 on its float64 twin, as in `run`: the analytic side's rounding is allowed for
        noise = _noise(analytic, _analytic(entry, twin.inputs[layer], row)) if twin else 0.0
        x_numeric = (twin or trace).inputs[layer].astype(precision.numeric_dtype, copy=True)
        numeric, look = _numeric(entry, x_numeric, row, precision)
        verdicts = judge(analytic, numeric, precision.tolerance, noise, look)
    return Jacobians(layer, entry.type, row, analytic, verdicts.numeric, verdicts.mismatch, verdicts.kink)


def _analytic(entry: Entry, x, row: int) -> np.ndarray:
    """Row j of J is dL/dx[row] for dL/dy = e_j at that row: one backward per output."""
    rows = []
    for j in range(entry.forward(x.copy())[row].size):
        y = entry.forward(x.copy())  # backward uses what the last forward stored
        upstream = np.zeros_like(y)
        upstream[row].flat[j] = 1.0
        dx = entry.backward(upstream, x.shape)
        entry.require_finite(dx, "dL/dx returned by backward")
        rows.append(dx[row].astype(np.float64).ravel())
    return np.array(rows)


def _numeric(entry: Entry, x, row: int, precision: Precision):
    """Column i of J from central differences of y[row] in x[row, i]; and the closer look at
    entry (j, i) that the verdict asks for. Each perturbed x is run forward once for all j."""
    theta = x[row]  # a view: perturbed in place, restored exactly
    outputs: dict[bytes, np.ndarray] = {}

    def output_row() -> np.ndarray:
        key = theta.tobytes()
        if key not in outputs:
            outputs[key] = entry.forward(x.copy())[row].astype(np.float64).ravel()
        return outputs[key]

    def output(j: int):
        return lambda: float(output_row()[j])

    n_out = output_row().size
    numeric = np.array([central_differences(output(j), theta, precision.step).ravel() for j in range(n_out)])
    if not np.all(np.isfinite(numeric)):
        where = np.unravel_index(int(np.argwhere(~np.isfinite(numeric))[0][1]), theta.shape)
        raise entry.fail(f"the output is not finite when input{[row, *map(int, where)]} is perturbed by "
                         "a small step")
    eps = float(np.finfo(precision.numeric_dtype).eps)

    def look(where, scale):
        j, i = (int(k) for k in where)
        idx = np.unravel_index(i, theta.shape)
        h = scale * precision.step * max(1.0, abs(float(theta[idx])))
        return closer_look(element_shift(output(j), theta, idx), h, output(j)(), eps)

    return numeric, look
