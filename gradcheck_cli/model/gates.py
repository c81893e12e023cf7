"""The gates of a graph spec: nodes that join or reshape activations, with no parameters.
Forward and backward side by side, written as the equations of docs/math.md (section 3, "Gates").

A gate takes its inputs as forward(a, b, ...) and returns from backward(G) one gradient per
input, in order. `check(named_shapes)` says, before anything runs, whether the shapes of its
inputs meet: a ShapeError becomes a spec error at the node's line. Shapes must match exactly:
a gate never broadcasts, so a (4, 1) meeting a (4, 3) is an error, not a silent sum."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError


def _listed(named_shapes) -> str:
    return " and ".join(f"{name}: {tuple(shape)}" for name, shape in named_shapes)


class Gate:
    """What every gate shares: no parameters (how many inputs each takes: registry.GATES)."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def check(self, named_shapes) -> None:
        pass


def _same_shapes(gate: str, named_shapes) -> None:
    if len({tuple(shape) for _, shape in named_shapes}) > 1:
        raise ShapeError(f"{gate} needs inputs of one shape (no broadcasting), got {_listed(named_shapes)}")


class Add(Gate):
    """s = a + b + ...: the upstream gradient is copied to every input, dL/da = dL/db = dL/ds."""

    def check(self, named_shapes):
        _same_shapes("add", named_shapes)

    def forward(self, *xs):
        self.count = len(xs)
        return sum(xs[1:], xs[0].copy())

    def backward(self, g):
        return tuple(g.copy() for _ in range(self.count))


class Multiply(Gate):
    """s = a ⊙ b, element-wise: dL/da = G ⊙ b, dL/db = G ⊙ a (each input's gradient holds the other)."""

    def check(self, named_shapes):
        _same_shapes("multiply", named_shapes)

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.a


class Concat(Gate):
    """s = [a, b, ...] along `axis`: backward cuts G back into the inputs' pieces along that axis."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def check(self, named_shapes):
        ndim = len(named_shapes[0][1])
        if not -ndim <= self.axis < ndim:
            raise ShapeError(f"concat: axis {self.axis} is out of range for inputs of {ndim} dimensions")
        axis = self.axis % ndim
        rest = {tuple(s[:axis]) + tuple(s[axis + 1:]) for _, s in named_shapes}
        if len(rest) > 1 or len({len(s) for _, s in named_shapes}) > 1:
            raise ShapeError(f"concat along axis {self.axis} needs inputs that agree on every other axis, got "
                             f"{_listed(named_shapes)}")

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, g):
        return tuple(np.split(g, np.cumsum(self.sizes)[:-1], axis=self.axis))


class MatMul(Gate):
    """S = A B over the last two axes (attention's scores Q Kᵀ): dL/dA = G Bᵀ, dL/dB = Aᵀ G.

    Axes before the last two are a batch of matrices, the same in A and B."""

    def check(self, named_shapes):
        (_, a), (_, b) = named_shapes
        if len(a) < 2 or len(a) != len(b) or tuple(a[:-2]) != tuple(b[:-2]) or a[-1] != b[-2]:
            raise ShapeError(f"matmul needs (..., n, k) and (..., k, m) with the same leading axes, got "
                             f"{_listed(named_shapes)}")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        return g @ np.swapaxes(self.b, -1, -2), np.swapaxes(self.a, -1, -2) @ g


class Transpose(Gate):
    """Y = Xᵀ over the last two axes: dL/dX = Gᵀ (a transpose is its own adjoint)."""

    def check(self, named_shapes):
        if len(named_shapes[0][1]) < 2:
            raise ShapeError(f"transpose swaps the last two axes; {named_shapes[0][0]} has shape "
                             f"{tuple(named_shapes[0][1])}")

    def forward(self, x):
        return np.swapaxes(x, -1, -2).copy()

    def backward(self, g):
        return np.swapaxes(g, -1, -2).copy()
