"""Class layers (and one function pair) written in ways that once made a wrong gradient pass in
silence, or a right one fail: weights deep in sublayers, rebound by forward at every call, held
in a SimpleNamespace, kept as a Python float, in a params list, read through a transposed view;
a params dict beside a `gradients` dict; an update step inside a function pair's backward.
`bug=True` plants one mistake: a gradient off by a factor."""
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np


class Affine:
    def __init__(self, d_in, d_out, rng, bug=False):
        self.W = 0.5 * rng.standard_normal((d_in, d_out))
        self.b = np.zeros(d_out)
        self.bug = bug

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.dW = (3.0 if self.bug else 1.0) * (self.x.T @ g)
        self.db = g.sum(0)
        return g @ self.W.T


class Block:
    def __init__(self, d, rng, bug):
        self.layers = [Affine(d, d, rng, bug)]

    def forward(self, x):
        return self.layers[0].forward(x)

    def backward(self, g):
        return self.layers[0].backward(g)


class Stage:
    def __init__(self, d, rng, bug):
        self.blocks = [Block(d, rng, bug)]

    def forward(self, x):
        return self.blocks[0].forward(x)

    def backward(self, g):
        return self.blocks[0].backward(g)


class Model:
    """model.stages[0].blocks[0].layers[0].W: four objects and three lists deep."""

    def __init__(self, bug=False):
        self.bug = bug

    def build(self, shape, rng):
        self.stages = [Stage(shape[-1], rng, self.bug)]

    def forward(self, x):
        return self.stages[0].forward(x)

    def backward(self, g):
        return self.stages[0].backward(g)


class Holder:
    pass


class Chain:
    """An Affine at the end of a chain of `depth` holders: self.inner.inner....inner."""

    def __init__(self, depth=20, bug=False):
        self.depth, self.bug = depth, bug

    def build(self, shape, rng):
        leaf = Affine(shape[-1], 3, rng, self.bug)
        for _ in range(self.depth):
            holder = Holder()
            holder.inner, leaf = leaf, holder
        self.inner = leaf

    def _leaf(self):
        leaf = self.inner
        for _ in range(self.depth):
            leaf = leaf.inner
        return leaf

    def forward(self, x):
        return self._leaf().forward(x)

    def backward(self, g):
        return self._leaf().backward(g)


class ReshapeBias:
    """forward rebinds self.b to a reshaped view of itself at every call."""

    def __init__(self, bug=False):
        self.bug = bug

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 3))
        self.b = np.zeros(3)

    def forward(self, x):
        self.x = x
        self.b = self.b.reshape(1, -1)
        return x @ self.W + self.b

    def backward(self, g):
        self.dW = self.x.T @ g
        self.db = (5.0 if self.bug else 1.0) * g.sum(0, keepdims=True)
        return g @ self.W.T


class AstypeW:
    """forward rebinds self.W to a copy of itself in the input's dtype at every call."""

    def __init__(self, bug=False):
        self.bug = bug

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 3))

    def forward(self, x):
        self.x = x
        self.W = self.W.astype(x.dtype)
        return x @ self.W

    def backward(self, g):
        self.step_W = (5.0 if self.bug else 1.0) * (self.x.T @ g)   # a name gradcheck cannot guess
        return g @ self.W.T


class NamespaceHolder:
    """Weights and their gradients in a types.SimpleNamespace."""

    def __init__(self, bug=False):
        self.bug = bug

    def build(self, shape, rng):
        self.p = SimpleNamespace(W=rng.standard_normal((shape[-1], 3)), dW=None)

    def forward(self, x):
        self.x = x
        return x @ self.p.W

    def backward(self, g):
        self.p.dW = (5.0 if self.bug else 1.0) * (self.x.T @ g)
        return g @ self.p.W.T


@dataclass(frozen=True)
class Weights:
    W: np.ndarray
    dW: np.ndarray


class FrozenHolder:
    """The weight and its gradient in a frozen dataclass: the float32 cast must still reach it."""

    def build(self, shape, rng):
        self.weights = Weights(rng.standard_normal((shape[-1], 3)), np.zeros((shape[-1], 3)))

    def forward(self, x):
        self.x = x
        return x @ self.weights.W

    def backward(self, g):
        self.weights.dW[...] = self.x.T @ g
        return g @ self.weights.W.T


class FloatBias:
    """A bias kept as a Python float (or a numpy scalar), with its gradient beside it."""

    def __init__(self, scalar="float"):
        self.scalar = scalar

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 3))
        self.b = 0.5 if self.scalar == "float" else np.float64(0.5)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.dW = self.x.T @ g
        self.db = 123.0                         # wrong: float(g.sum()) is the gradient
        return g @ self.W.T


class ParamsGradients:
    """A `params` dict with its gradients in a `gradients` dict (or `dparams`)."""

    def __init__(self, into="gradients", bug=False):
        self.into, self.bug = into, bug

    def build(self, shape, rng):
        self.params = {"W": rng.standard_normal((shape[-1], 3))}
        setattr(self, self.into, {})

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, g):
        getattr(self, self.into)["W"] = (2.0 if self.bug else 1.0) * (self.x.T @ g)
        return g @ self.params["W"].T


class ListParams:
    """self.params = [W, b] with self.grads = [dW, db], paired by index (or a tuple)."""

    def __init__(self, bug=False, kind="list"):
        self.bug, self.kind = bug, kind

    def build(self, shape, rng):
        made = tuple if self.kind == "tuple" else list
        self.params = made([rng.standard_normal((shape[-1], 3)), np.zeros(3)])
        self.grads = [np.zeros((shape[-1], 3)), np.zeros(3)]

    def forward(self, x):
        self.x = x
        W, b = self.params
        return x @ W + b

    def backward(self, g):
        W, _ = self.params
        self.grads[0] = self.x.T @ g
        self.grads[1] = (2.0 if self.bug else 1.0) * g.sum(0)
        return g @ W.T


class ViewWT:
    """W stored (out, in); forward reads a transposed view of it made in build."""

    def __init__(self, bug=False):
        self.bug = bug

    def build(self, shape, rng):
        self.W = rng.standard_normal((3, shape[-1]))
        self.WT = self.W.T

    def forward(self, x):
        self.x = x
        return x @ self.WT

    def backward(self, g):
        self.dW = (2.0 if self.bug else 1.0) * (g.T @ self.x)
        return g @ self.W


def affine_sgd_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_sgd_backward(dout, cache):
    """Right gradients, then an SGD step on w inside backward."""
    x, w = cache
    dw = x.T @ dout
    dx = dout @ w.T
    w -= 0.1 * dw
    return dx, dw, dout.sum(0)


class DerivedWeight:
    """forward derives self.W_eff = self.W * self.mask at every call, and backward keeps its
    gradient too: W_eff is no parameter (forward never reads the one it finds), W is."""

    def __init__(self, bug=False):
        self.bug = bug

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 3))
        self.mask = (rng.random((shape[-1], 3)) > 0.3).astype(float)

    def forward(self, x):
        self.x = x
        self.W_eff = self.W * self.mask
        return x @ self.W_eff

    def backward(self, g):
        self.dW_eff = self.x.T @ g
        self.dW = (2.0 if self.bug else 1.0) * self.dW_eff * self.mask
        return g @ self.W_eff.T
