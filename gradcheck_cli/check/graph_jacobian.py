"""`gradcheck jacobian SPEC --layer NODE` on a graph spec: one node's Jacobian for one data row,
J[j, i] = d out_j / d in_i, its float inputs side by side along i and its outputs along j (in the
order of `in` and of the outputs). The node is seen as a layer of one input and one output, whose
row r holds row r of every input (of every output), so jacobian.py's comparison runs unchanged."""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from ..errors import SpecError
from ..model.graph import GraphNetwork
from ..model.graph_nodes import Node, is_float
from ..spec.load import Spec
from .graph_check import graph_backprop, graph_twin
from .jacobian import MAX_ENTRIES, Jacobians, _analytic, _numeric
from .jobs import _noise
from .precision import FLOAT64, choose_precision
from .verdict import judge


class RowView:
    """A node as one (N, inputs' features) -> (N, outputs' features) map: what jacobian.py takes."""

    def __init__(self, node: Node, xs: list[np.ndarray]):
        self.node, self.xs, self.type = node, xs, node.type
        self.floats = [i for i, x in enumerate(xs) if is_float(x)]
        self.ys = node.forward([x.copy() for x in xs])

    def fail(self, message: str):
        return self.node.fail(message)

    def require_finite(self, array, what: str) -> None:
        self.node.require_finite(array, what)

    def rows(self, arrays) -> np.ndarray:
        return np.concatenate([a.reshape(len(a), -1) for a in arrays], axis=1)

    def forward(self, packed):
        xs, at = list(self.xs), 0
        for i in self.floats:
            width = self.xs[i][0].size
            xs[i] = packed[:, at:at + width].reshape(self.xs[i].shape).astype(self.xs[i].dtype)
            at += width
        return self.rows(self.node.forward(xs))

    def backward(self, packed, shape):
        grads, at = [], 0
        for y in self.ys:
            grads.append(packed[:, at:at + y[0].size].reshape(y.shape).astype(y.dtype))
            at += y[0].size
        dxs = self.node.backward(grads)
        return self.rows([dxs[i] for i in self.floats])


def node_jacobians(spec: Spec, net: GraphNetwork, name: str, row: int = 0) -> Jacobians:
    names = [node.name for node in net.nodes]
    if name not in names:
        raise SpecError(f"--layer {name}: the graph has no node {name!r}; its nodes: {', '.join(names)}", spec.path)
    node = net.node(name)
    trace = graph_backprop(net, net.inputs)
    xs = [trace.values[ref] for ref in node.inputs]
    view = RowView(node, xs)
    if not view.floats:
        raise SpecError(f"--layer {name}: the node takes integer tensors only: it has no Jacobian to show", spec.path)
    rows = {len(a) for a in [*(xs[i] for i in view.floats), *view.ys]}
    if len(rows) > 1:
        raise SpecError(f"--layer {name}: its inputs and outputs do not share their first axis (rows: "
                        f"{', '.join(map(str, sorted(rows)))}), so a row's Jacobian is not defined", spec.path)
    if not 0 <= row < len(xs[view.floats[0]]):
        raise SpecError(f"--row {row}: the inputs of node {name} have rows 0 to {len(xs[view.floats[0]]) - 1}",
                        spec.path)
    n_out, n_in = sum(y[0].size for y in view.ys), sum(xs[i][0].size for i in view.floats)
    if n_out * n_in > MAX_ENTRIES:
        raise SpecError(f"node {name}'s Jacobian for one row is {n_out} x {n_in}; printing is for nodes with at most "
                        f"{MAX_ENTRIES:,} entries (try a spec with fewer features)", spec.path)
    twin = graph_twin(net)
    precision, _ = choose_precision(net, trace, twin is not None, spec.rtol, spec.atol, spec.step)
    packed = view.rows([xs[i] for i in view.floats])
    analytic = _analytic(view, packed, row)
    with net.params_as(FLOAT64) if twin else nullcontext():
        numeric_xs = [(twin or trace).values[ref] for ref in node.inputs]
        numeric_xs = [x.astype(precision.numeric_dtype) if is_float(x) else x for x in numeric_xs]
        numeric_view = RowView(node, numeric_xs)
        noise = _noise(analytic, _analytic(numeric_view, numeric_view.rows([numeric_xs[i] for i in view.floats]),
                                           row)) if twin else 0.0
        numeric, look = _numeric(numeric_view, numeric_view.rows([numeric_xs[i] for i in view.floats]), row, precision)
        verdicts = judge(analytic, numeric, precision.tolerance, noise, look)
    return Jacobians(name, node.type, row, analytic, verdicts.numeric, verdicts.mismatch, verdicts.kink)
