"""One forward and backward pass through the stack, watching every layer as it goes: a layer
that modifies its input, is not deterministic, keeps state between calls, declares `stacked` or
`rowwise` wrongly, or produces NaN/Inf is stopped here with an error naming it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LayerError, one_line
from ..model.network import Entry, Network, parameters


@dataclass
class Trace:
    """One forward and backward pass: each layer's input and the gradients backprop produced."""

    inputs: list[np.ndarray]                      # inputs[k]: input of top-level layer k
    input_grads: list[np.ndarray]                 # dL/d inputs[k]
    param_grads: list[dict[str, np.ndarray]]      # per top-level layer, by shown name
    lowest_dtype: np.dtype
    output: np.ndarray                            # the last layer's output
    upcasting: list[int]                          # layers whose output is wider than their input

    def outputs(self) -> list[np.ndarray]:
        """outputs[k]: the output of top-level layer k."""
        return self.inputs[1:] + [self.output]


def _check_declarations(entry: Entry, x, y) -> None:
    """`stacked` and `rowwise` let the engine skip work, so a wrong declaration would give
    wrong numbers without a word: each is tried once on x, whose output is y. (`rowwise` is
    used only together with `stacked`: the engine then sends rows alone as a stack of one-row
    inputs, and that is what is tried.)"""
    layer = entry.layer
    if getattr(layer, "stacked", False) is not True:
        return
    rowwise = getattr(layer, "rowwise", False) is True
    scale = 100.0 * float(np.finfo(y.dtype).eps) if np.issubdtype(y.dtype, np.floating) else 0.0

    def same(a, b) -> bool:
        return a.shape == b.shape and bool(np.all(np.abs(a - b) <= scale * (1.0 + np.abs(b))))

    reversed_rows = x[::-1].copy()
    try:
        ys = layer.forward(np.stack([x, reversed_rows]))
    except Exception as exc:
        raise entry.fail(f"declares stacked = True, but forward raised {one_line(exc)} on a stack of "
                         f"2 inputs {(2,) + x.shape}") from None
    if not (isinstance(ys, np.ndarray) and same(ys[0], y) and same(ys[1], entry.forward(reversed_rows))):
        raise entry.fail(f"declares stacked = True, but forward of a stack of 2 inputs {(2,) + x.shape} is not "
                         "forward of each input: remove the declaration, or treat the leading axis as a stack")
    if not rowwise:
        return
    try:
        alone = layer.forward(x[:, None].copy())          # each row as a one-row input
    except Exception as exc:
        raise entry.fail(f"declares rowwise = True, but forward raised {one_line(exc)} on its rows given "
                         "alone") from None
    if not (isinstance(alone, np.ndarray) and alone.shape == (len(x), 1) + y.shape[1:] and same(alone[:, 0], y)):
        raise entry.fail("declares rowwise = True, but its output rows differ when each input row is given "
                         "alone: remove the declaration, or make each row depend on its own input row only")


def _remembers(entry: Entry, x, y) -> bool:
    """Whether forward keeps state from call to call (a running mean): its output for x, y
    before, changes after it has seen another batch (x without its last row). A layer that
    cannot take that batch is not judged by it. The last call is always forward(x), whose
    state backward will use."""
    if len(x) < 2:
        return False
    try:
        entry.forward(x[:-1].copy())
    except LayerError:
        entry.forward(x.copy())
        return False
    return not np.array_equal(y, entry.forward(x.copy()), equal_nan=True)


def backprop(net: Network, x) -> Trace:
    """Forward and backward through the stack, watching every layer as it goes."""
    inputs, lowest, upcasting = [], np.dtype(x.dtype), []
    for k, entry in enumerate(net.stack.entries):
        inputs.append(x.copy())
        y = entry.forward(x)
        if not np.array_equal(x, inputs[-1], equal_nan=True):
            raise entry.fail("forward modified its input array in place; it must leave x unchanged "
                             "(the checker reuses it)")
        entry.require_finite(y, "the output of forward")
        _check_declarations(entry, inputs[-1], y)
        # the calls below end with forward(x): backward uses what that call kept
        again = entry.forward(inputs[-1].copy())
        if not np.array_equal(y, again, equal_nan=True):
            raise entry.fail("forward gave different outputs for the same input (randomness or hidden "
                             "state?); gradients of such a layer cannot be checked")
        if _remembers(entry, inputs[-1], y):
            raise entry.fail("forward gave a different output for the same input after another input "
                             "(state kept between calls, such as a running statistic?); gradients of such "
                             "a layer cannot be checked")
        if y.dtype.itemsize < lowest.itemsize and np.issubdtype(y.dtype, np.floating):
            lowest = y.dtype
        if y.dtype.itemsize > x.dtype.itemsize:
            upcasting.append(k)
        x = y
    g = net.loss.grad(x).astype(x.dtype)
    input_grads = [None] * len(inputs)
    param_grads = [None] * len(inputs)
    for k in reversed(range(len(inputs))):
        entry = net.stack.entries[k]
        g = entry.backward(g, inputs[k].shape)
        entry.require_finite(g, "dL/dx returned by backward")
        input_grads[k] = g.copy()
        param_grads[k] = {}
        for shown, owner, key in parameters(entry):
            grad = owner.param_grads()[key]
            owner.require_finite(grad, f"grads[{key!r}]")
            param_grads[k][shown] = grad
    return Trace(inputs, input_grads, param_grads, lowest, x.copy(), upcasting)
