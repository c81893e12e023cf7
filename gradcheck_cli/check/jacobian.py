"""One layer's Jacobian, analytic and numeric, for small layers: the picture of math.md.

J[j, i] = d y_j / d x_i for one data row: the analytic one row by row from backward(e_j),
the numeric one column by column from central differences of forward.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backprop import backprop
from ..errors import SpecError
from ..model.network import build_network
from .numeric import default_step
from ..spec.load import load_spec
from .verdict import DEFAULT_TOLERANCES

MAX_ENTRIES = 2_500


@dataclass
class Jacobians:
    layer: int
    type: str
    row: int
    analytic: np.ndarray      # (outputs, inputs) of the row
    numeric: np.ndarray
    differ: np.ndarray        # bool, where they disagree beyond the tolerance


def layer_jacobians(path: str, layer: int, row: int = 0) -> Jacobians:
    spec = load_spec(path)
    net = build_network(spec)
    entries = net.stack.entries
    if not 0 <= layer < len(entries):
        raise SpecError(f"--layer {layer}: the spec has layers 0 to {len(entries) - 1}", path)
    trace = backprop(net, net.x)
    entry = entries[layer]
    x = trace.inputs[layer].copy()
    if not 0 <= row < x.shape[0]:
        raise SpecError(f"--row {row}: the input of layer {layer} has rows 0 to {x.shape[0] - 1}", path)
    y = entry.forward(x.copy())
    n_out, n_in = y[row].size, x[row].size
    if n_out * n_in > MAX_ENTRIES:
        raise SpecError(f"layer {layer}'s Jacobian for one row is {n_out} x {n_in}; printing is for layers "
                        f"with at most {MAX_ENTRIES:,} entries (try a spec with fewer features)", path)
    analytic = np.empty((n_out, n_in))
    for j in range(n_out):
        upstream = np.zeros_like(y)
        upstream[row].flat[j] = 1.0
        entry.forward(x.copy())  # backward uses what the last forward stored
        analytic[j] = entry.backward(upstream, x.shape)[row].ravel()
    numeric = np.empty((n_out, n_in))
    step = spec.step or default_step(x.dtype)
    for i in range(n_in):
        old = x[row].flat[i]
        h = step * max(1.0, abs(float(old)))
        x[row].flat[i] = old + h
        up = entry.forward(x.copy())[row].astype(np.float64).ravel()
        taken_up = float(x[row].flat[i]) - float(old)
        x[row].flat[i] = old - h
        down = entry.forward(x.copy())[row].astype(np.float64).ravel()
        taken_down = float(x[row].flat[i]) - float(old)
        x[row].flat[i] = old
        numeric[:, i] = (up - down) / (taken_up - taken_down)
    tol = DEFAULT_TOLERANCES.get(spec.dtype, DEFAULT_TOLERANCES["float32"])
    rtol = spec.rtol if spec.rtol is not None else max(tol.rtol, 1e-5)
    atol = spec.atol if spec.atol is not None else max(tol.atol, 1e-7)
    differ = np.abs(analytic - numeric) > atol + rtol * np.maximum(np.abs(analytic), np.abs(numeric))
    return Jacobians(layer, entry.type, row, analytic, numeric, differ)
