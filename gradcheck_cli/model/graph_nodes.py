"""One node of a graph spec, with every call of its layer guarded: whatever the layer does wrong
(raises, returns the wrong number or shape of arrays, NaN) becomes a NodeError naming the node.

A node's layer takes its inputs as forward(a, b, ...) and gives back from backward one gradient
per input, in order: a single-input node keeps the stack's forward(x) -> y, backward(G) -> dx.
Several outputs come from forward as a tuple, and backward gets their gradients as a tuple.
An integer input (ids) has no gradient: whatever backward returns for it (None included) is
ignored, never compared."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LAYER_FAILURES, LayerError, NodeError, raised
from .random_state import GlobalRandom


def is_float(array) -> bool:
    return np.issubdtype(array.dtype, np.floating)


@dataclass
class Node:
    name: str
    type: str           # as written in the spec
    layer: Any
    line: int | None
    inputs: list        # spec.graph.Ref: what it takes
    index: int          # its place in the file's graph list
    input_shapes: list[tuple] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)   # which inputs are integer tensors
    outputs: int | None = None       # None: forward returns one array; k: a tuple of k (known after one call)
    called: bool = False
    random: GlobalRandom | None = None
    hazards: list = field(default_factory=list)          # (kind, message), as a stack Entry's
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.type})"

    def output_names(self) -> list[str]:
        """How reports name its outputs: out, or out.0, out.1 for a tuple."""
        return ["out"] if self.outputs is None else [f"out.{k}" for k in range(self.outputs)]

    def fail(self, message: str) -> NodeError:
        return NodeError(self.name, self.type, message)

    def hazard(self, kind: str, message: str) -> None:
        if (kind, message) not in self.hazards:
            self.hazards.append((kind, message))

    def require_finite(self, array, what: str) -> None:
        if is_float(array) and not np.all(np.isfinite(array)):
            raise self.fail(f"{what} contains {'NaN' if np.any(np.isnan(array)) else 'Inf'}")

    def params(self) -> dict:
        params = getattr(self.layer, "params", None)
        return params if isinstance(params, dict) else {}

    def _call(self, what: str, method, *arguments):
        random = self.random
        try:
            if random is None or not random.seeding:
                return method(*arguments)
            return random.call(what, lambda packed: method(*packed), arguments)
        except NodeError:
            raise
        except LayerError as exc:  # an adapter's (function pair, class style) message, said of the node
            raise self.fail(exc.message) from None
        except LAYER_FAILURES as exc:
            raise self.fail(raised(what, exc)) from None

    def forward(self, xs: list) -> list[np.ndarray]:
        """The outputs, always as a list (one array for a single output), each a copy of its own."""
        result = self._call("forward", self.layer.forward, *xs)
        several = isinstance(result, (tuple, list))
        ys = list(result) if several else [result]
        for k, y in enumerate(ys):
            if not isinstance(y, np.ndarray):
                where = f" as output {k} of {len(ys)}" if several else ""
                raise self.fail(f"forward returned {type(y).__name__}{where}, expected a numpy array")
        if not self.called:
            self.outputs, self.called = (len(ys) if several else None), True
        elif several != (self.outputs is not None) or (several and len(ys) != self.outputs):
            got, before = (f"{len(ys)} outputs" if several else "one array"), (
                f"{self.outputs} outputs" if self.outputs is not None else "one array")
            raise self.fail(f"forward returned {got}, and {before} before: the same outputs at every call")
        return [y.copy() for y in ys]  # each kept while others run: never a buffer the layer reuses

    def backward(self, grads: list[np.ndarray]) -> list[np.ndarray | None]:
        """dL/d each input (None for an integer one) from dL/d each output."""
        given = [g.copy() for g in grads]
        result = self._call("backward", self.layer.backward, grads[0] if self.outputs is None else tuple(grads))
        if not all(np.array_equal(g, kept, equal_nan=True) for g, kept in zip(grads, given)):
            self.hazard("grad_out_modified", f"node {self.label}: backward wrote into the grad_out array it was "
                        "given; in training, another node may still hold that array: compute the gradients into "
                        "new ones")
        count = len(self.inputs)
        if count == 1 and not isinstance(result, (tuple, list)):
            result = [result]
        if not isinstance(result, (tuple, list)) or len(result) != count:
            got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
            raise self.fail(f"backward returned {got}, expected one gradient per input ({count}: "
                            f"{', '.join(map(str, self.inputs))}), in order")
        found: list[np.ndarray | None] = []
        for k, (dx, shape, integer) in enumerate(zip(result, self.input_shapes, self.integer)):
            if integer:  # ids: no gradient, whatever backward says
                found.append(None)
                continue
            which = f"the gradient of {self.inputs[k]}" + (f" (value {k + 1} of {count})" if count > 1 else "")
            if not isinstance(dx, np.ndarray):
                raise self.fail(f"backward returned {type(dx).__name__} as {which}, expected a numpy array")
            if dx.shape != shape:
                raise self.fail(f"backward returned {which} with shape {dx.shape}, expected {shape} (the shape of "
                                f"{self.inputs[k]})")
            self.require_finite(dx, f"{which} returned by backward")
            found.append(dx)
        return found

    def param_grads(self) -> dict[str, np.ndarray]:
        """Copies of the gradients backward stored, checked against the parameters."""
        try:
            grads = getattr(self.layer, "grads", None)
        except LayerError as exc:  # an adapter that finds a gradient missing says so
            raise self.fail(exc.message) from None
        grads = grads if isinstance(grads, dict) else {}
        result = {}
        for name, value in self.params().items():
            if name not in grads:
                raise self.fail(f"backward did not set grads[{name!r}]")
            grad = np.asarray(grads[name])
            if grad.shape != np.shape(value):
                raise self.fail(f"grads[{name!r}] has shape {grad.shape}, expected {np.shape(value)} "
                                f"(the shape of params[{name!r}])")
            self.require_finite(grad, f"grads[{name!r}]")
            result[name] = grad.copy()
        return result


class SettleView:
    """A node seen as a layer of one input and one output, for discovery.settle (which finds a
    class layer's parameters by running it): the inputs packed into one flat float64 array, the
    outputs and their gradients likewise. Packing is exact: float32 and ids survive float64."""

    def __init__(self, node: Node, xs: list[np.ndarray], ys: list[np.ndarray]):
        self.node, self.xs, self.ys = node, xs, ys
        self.label = str(node.index)   # settle names an adapter's index from it
        self.name = node.label
        self.notes: list[str] = []

    @property
    def layer(self):
        return self.node.layer

    @layer.setter
    def layer(self, value) -> None:  # settle wraps an attribute-style layer in an ObjectLayer
        self.node.layer = value

    def fail(self, message: str) -> NodeError:
        return self.node.fail(message)

    def forward(self, flat):
        return pack(self.node.forward(unpack(flat, self.xs)))

    def backward(self, flat, shape):
        dxs = self.node.backward(unpack(flat, self.ys))
        return pack([np.zeros(x.shape) if dx is None else dx for dx, x in zip(dxs, self.xs)])

    def finish(self) -> None:
        """settle's notes, said of the node."""
        self.node.notes += [note.replace(f"layer {self.name}:", f"node {self.name}:", 1) for note in self.notes]


def pack(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def unpack(flat, like: list[np.ndarray]) -> list[np.ndarray]:
    arrays, at = [], 0
    for array in like:
        arrays.append(flat[at:at + array.size].reshape(array.shape).astype(array.dtype))
        at += array.size
    return arrays
