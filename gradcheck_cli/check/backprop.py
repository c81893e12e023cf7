"""One forward and backward pass through the stack, watching every layer as it goes: a layer
that modifies its input, is not deterministic, keeps state between calls, declares `stacked` or
`rowwise` wrongly, or produces NaN/Inf is stopped here with an error naming it.

Hazards that do not make this check wrong but can bite the user's own training are warnings
(the Trace's `warnings`): a backward that writes into its grad_out, a forward that overwrites
the array it returned on its next call, a layer that lowers the spec's precision, a layer that
reads numpy's global random state."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import LayerError, raised
from ..model.arrays import not_real_floats
from ..model.discovery import STATE_KEPT
from ..model.network import Entry, Network, parameters
from ..results import Warning
from ..spec.inputs import is_integer_input


@dataclass
class Trace:
    """One forward and backward pass: each layer's input and the gradients backprop produced."""

    inputs: list[np.ndarray]                      # inputs[k]: input of top-level layer k
    input_grads: list[np.ndarray | None]          # dL/d inputs[k]; None for integer ids
    param_grads: list[dict[str, np.ndarray]]      # per top-level layer, by shown name
    lowest_dtype: np.dtype
    output: np.ndarray                            # the last layer's output
    upcasting: list[int]                          # layers whose output is wider than their input
    warnings: list[Warning] = field(default_factory=list)

    def outputs(self) -> list[np.ndarray]:
        """outputs[k]: the output of top-level layer k."""
        return self.inputs[1:] + [self.output]


def _check_declarations(entry: Entry, x, y) -> None:
    """`stacked` and `rowwise` let the engine skip work, so a wrong declaration would give
    wrong numbers without a word: each is tried once on x, whose output is y. (`rowwise` is
    used only together with `stacked`: the engine then sends rows alone as a stack of one-row
    inputs, and that is what is tried.)"""
    layer = entry.layer
    for part in [entry] + (list(entry.branch.walk()) if entry.branch is not None else []):
        if part.random is not None and part.random.reads and getattr(part.layer, "stacked", False) is True:
            raise part.fail(f"declares stacked = True, but its {part.random.reads} reads numpy's global random "
                            "state (np.random): a stack of inputs would draw other numbers than each input alone; "
                            "remove the declaration")
    if getattr(layer, "stacked", False) is not True:
        return
    rowwise = getattr(layer, "rowwise", False) is True
    scale = 100.0 * float(np.finfo(y.dtype).eps) if np.issubdtype(y.dtype, np.floating) else 0.0

    def same(a, b) -> bool:
        return a.shape == b.shape and bool(np.all(np.abs(a - b) <= scale * (1.0 + np.abs(b))))

    reversed_rows = x[::-1].copy()
    try:
        ys = entry.run("forward", layer.forward, np.stack([x, reversed_rows]))
    except LayerError:
        raise
    except Exception as exc:
        raise entry.fail(f"declares stacked = True, but {raised('forward', exc)} on a stack of "
                         f"2 inputs {(2,) + x.shape}") from None
    if not (isinstance(ys, np.ndarray) and not not_real_floats(ys) and same(ys[0], y)
            and same(ys[1], entry.forward(reversed_rows))):
        raise entry.fail(f"declares stacked = True, but forward of a stack of 2 inputs {(2,) + x.shape} is not "
                         "forward of each input: remove the declaration, or treat the leading axis as a stack")
    if not rowwise:
        return
    try:
        alone = entry.run("forward", layer.forward, x[:, None].copy())  # each row as a one-row input
    except LayerError:
        raise
    except Exception as exc:
        raise entry.fail(f"declares rowwise = True, but {raised('forward', exc)} on its rows given "
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


def _reuses_output(entry: Entry, x, y) -> np.ndarray | None:
    """Whether forward returns an array it overwrites on its next call (one buffer, filled
    anew each time): y, forward(x)'s output, changes when forward sees another input (x's rows
    reversed). If so, a private copy of y, and the entry copies every output from now on: the
    engine keeps many outputs side by side. A layer that cannot take that input is not judged."""
    other = x[::-1].copy()
    if np.array_equal(other, x, equal_nan=True):
        return None
    kept = y.copy()
    try:
        entry.forward(other)
    except LayerError:
        return None
    if np.array_equal(y, kept, equal_nan=True):
        return None
    entry.copies_output = True
    entry.hazard("output_reused", f"layer {entry.name}: forward returns an array that it overwrites on its next "
                 "call (the same buffer each time), so an output kept by the caller changes under it: return a new "
                 "array (the check copied each output, so its numbers are right)")
    return kept


def _lowers_precision(entry: Entry, net: Network, what: str, given, returned) -> None:
    """A float64 spec is checked with the tolerance of the lowest precision a layer returns:
    a layer that returns float32 loosens the check of every layer (float32's 1e-3 lets a small
    gradient error pass), and in training it loses precision the spec asked for."""
    lower = np.issubdtype(returned.dtype, np.floating) and returned.dtype.itemsize < net.dtype.itemsize \
        and (returned.dtype.itemsize < given.dtype.itemsize or is_integer_input(given))
    if not lower:
        return
    if what == "forward":
        effect = (f"the spec is checked with {returned.dtype} tolerances, loose enough to let a small gradient "
                  "error pass")
    else:
        effect = "the gradients of the layers before it lose that precision"
    entry.hazard("dtype", f"layer {entry.name}: {what} returns {returned.dtype} for {given.dtype} "
                 f"{'input' if what == 'forward' else 'grad_out'} in a {net.dtype} spec: {effect}; keep the dtype it "
                 "is given")


def _settle(net: Network) -> list[Warning]:
    """The first pass is over: stop watching for np.random, and gather every layer's hazards."""
    warnings = []
    for entry in net.stack.walk():
        random = entry.random
        if random is not None:
            random.settle()
            if random.reads:
                entry.hazard("global_random", f"layer {entry.name}: {random.reads} reads numpy's global random "
                             "state (np.random); it was seeded for this layer (from the spec's seed and the "
                             "layer's position) before every call, so the check is reproducible and every "
                             "perturbation sees the same draws; a Generator passed via build(input_shape, rng) "
                             "is better")
        index = int(entry.label.split(".")[0])
        warnings += [Warning(index, kind, message) for kind, message in entry.hazards]
    return sorted(warnings, key=lambda w: w.layer)


def backprop(net: Network, x) -> Trace:
    """Forward and backward through the stack, watching every layer as it goes."""
    # integer ids are no precision of the network's: the floats it computes start at float64
    inputs, lowest, upcasting = [], np.dtype(np.float64 if is_integer_input(x) else x.dtype), []
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
        if len(x) >= 2:  # else _remembers does not end with forward(x)
            kept = _reuses_output(entry, inputs[-1], y)
            y = y if kept is None else kept
        if _remembers(entry, inputs[-1], y):
            raise entry.fail(STATE_KEPT)
        _lowers_precision(entry, net, "forward", x, y)
        if y.dtype.itemsize < lowest.itemsize and np.issubdtype(y.dtype, np.floating):
            lowest = y.dtype
        if y.dtype.itemsize > (net.dtype if is_integer_input(x) else x.dtype).itemsize:
            upcasting.append(k)
        x = y
    g = net.loss.grad(x).astype(x.dtype)
    input_grads = [None] * len(inputs)
    param_grads = [None] * len(inputs)
    for k in reversed(range(len(inputs))):
        entry = net.stack.entries[k]
        given = g
        g = entry.backward(g, inputs[k].shape)
        if not entry.integer_input:  # ids have no gradient (None)
            _lowers_precision(entry, net, "backward", given, g)
            entry.require_finite(g, "dL/dx returned by backward")
            input_grads[k] = g.copy()
        param_grads[k] = {}
        for shown, owner, key in parameters(entry):
            grad = owner.param_grads()[key]
            owner.require_finite(grad, f"grads[{key!r}]")
            param_grads[k][shown] = grad
    return Trace(inputs, input_grads, param_grads, lowest, x.copy(), upcasting, _settle(net))
