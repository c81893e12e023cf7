"""Layers for kinks in composition (tests/test_kinks_composition.py, tests/mutation/kinks.py).

Their inputs sit exactly on kinks: after a zero-initialized linear layer without bias every
entry is 0 (a ReLU's kink), after `Constant` every window of a max pooling is a tie. Each class
says whether its backward is a valid local choice there; those whose docstring starts with
"BUG:" are not.
"""
import numpy as np


class Constant:
    """y = 0·x + c: the layer after it sees the same value everywhere (ties in every window)."""

    def __init__(self, value=0.0):
        self.value = value

    def forward(self, x):
        return 0.0 * x + self.value

    def backward(self, g):
        return 0.0 * g


class ZeroColumns:
    """y = x with its first `count` features set to 0: kinks there, ordinary values elsewhere."""

    def __init__(self, count=2):
        self.count = count

    def forward(self, x):
        keep = np.ones(x.shape[-1])
        keep[: self.count] = 0.0
        return x * keep

    def backward(self, g):
        keep = np.ones(g.shape[-1])
        keep[: self.count] = 0.0
        return g * keep


class ReLU:
    """max(x, 0) with derivative `at_zero` at x == 0 (and `above` for x > 0, 1 unless a bug is
    planted): anything between 0 and 1 is a valid choice at the kink, 2 or -1 are not."""

    def __init__(self, at_zero=0.0, above=1.0):
        self.at_zero, self.above = at_zero, above

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, g):
        return g * np.where(self.x > 0, self.above, np.where(self.x == 0, self.at_zero, 0.0))


class LeakyReLU:
    """x for x > 0, slope·x below; derivative `at_zero` at 0: valid between slope and 1."""

    def __init__(self, slope=0.1, at_zero=0.1):
        self.slope, self.at_zero = slope, at_zero

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.slope * x)

    def backward(self, g):
        return g * np.where(self.x > 0, 1.0, np.where(self.x == 0, self.at_zero, self.slope))


class Abs:
    """|x| with derivative `at_zero` at 0: valid in [-1, 1] (sign(0) = 0 is what numpy gives)."""

    def __init__(self, at_zero=1.0):
        self.at_zero = at_zero

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g):
        return g * np.where(self.x == 0, self.at_zero, np.sign(self.x))


class ReLUByUpstreamSize(ReLU):
    """BUG: derivative 2 at 0 when the upstream gradient is small (std < 0.5), else 0: valid
    alone, for a random G ~ N(0, 1), invalid inside the network, where dL/dy is small."""

    def backward(self, g):
        self.at_zero = 2.0 if g.std() < 0.5 else 0.0
        return super().backward(g)


class Rounded:
    """y = round(scale·x): whole numbers, so some 2x2 windows of a max pooling after it have
    ties and others not. Piecewise constant: dL/dx = 0 (its jumps lie far from random inputs)."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def forward(self, x):
        return np.round(self.scale * x)

    def backward(self, g):
        return 0.0 * g


def _windows(x):
    """(N, C, H, W) -> (N, C, H/2, W/2, 4): each 2x2 window's entries on the last axis."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)


def _unwindows(d, shape):
    n, c, h, w = shape
    return d.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


class MaxPool:
    """2x2 max pooling, stride 2, on (N, C, H, W). `route` says where a window's gradient goes
    when several entries tie for its max: "first" or "last" of them, or "share" it equally: all
    valid. (Without ties every route gives it to the one max.)"""

    def __init__(self, route="first"):
        self.route = route

    def forward(self, x):
        self.x = x
        return _windows(x).max(axis=-1)

    def mask(self, windows):
        """Where each window's gradient goes, and how much of it: sums to 1 per window."""
        tied = windows == windows.max(axis=-1, keepdims=True)
        if self.route == "share":
            return tied / tied.sum(axis=-1, keepdims=True)
        pick = np.argmax(tied, axis=-1) if self.route == "first" else 3 - np.argmax(tied[..., ::-1], axis=-1)
        return np.eye(4)[pick]

    def backward(self, g):
        return _unwindows(self.mask(_windows(self.x)) * g[..., None], self.x.shape)


class MaxPoolToEveryTie(MaxPool):
    """BUG: every entry equal to its window's max gets the whole gradient (cs231n's naive
    `mask = window == max`): right without ties, k times too much in total at a k-fold tie."""

    def mask(self, windows):
        return (windows == windows.max(axis=-1, keepdims=True)).astype(float)


class MaxPoolHalfToEveryTie(MaxPool):
    """BUG: every tied entry gets half the gradient: each within [0, G] alone, 2G together at a
    4-fold tie (and G/2 where there is no tie)."""

    def mask(self, windows):
        return 0.5 * (windows == windows.max(axis=-1, keepdims=True))


class MaxPoolTwiceToFirst(MaxPool):
    """BUG: the first tied entry gets twice the gradient."""

    def mask(self, windows):
        return 2.0 * super().mask(windows)


class Maxout:
    """y[:, j] = max(x[:, 2j], x[:, 2j+1]); at a tie the gradient goes to the first ("first"), or
    to both ("both": BUG, twice the gradient in total)."""

    def __init__(self, route="first"):
        self.route = route

    def forward(self, x):
        self.x = x
        return x.reshape(len(x), -1, 2).max(axis=-1)

    def backward(self, g):
        pairs = self.x.reshape(len(self.x), -1, 2)
        tied = pairs == pairs.max(axis=-1, keepdims=True)
        mask = tied.astype(float) if self.route == "both" else np.eye(2)[np.argmax(tied, axis=-1)]
        return (mask * g[..., None]).reshape(self.x.shape)


class Affine:
    """y = x W + b; `dx_factor` != 1 plants a bug in dL/dx."""

    def __init__(self, out=3, dx_factor=1.0):
        self.out, self.dx_factor = out, dx_factor
        self.params, self.grads = {}, {}

    def build(self, shape, rng):
        self.params["W"] = rng.standard_normal((shape[-1], self.out)) / np.sqrt(shape[-1])
        self.params["b"] = 0.1 * rng.standard_normal(self.out)

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, g):
        self.grads["W"] = self.x.T @ g
        self.grads["b"] = g.sum(axis=0)
        return self.dx_factor * g @ self.params["W"].T


class TanhByUpstreamSize:
    """BUG: tanh whose backward is doubled when the upstream gradient is small (std < 0.5): right
    alone (a random G ~ N(0, 1)), wrong inside the network, where dL/dy is small; a mistake of
    the composition that no kink explains."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        return g * (1.0 - self.y ** 2) * (2.0 if g.std() < 0.5 else 1.0)


class ZeroAffineOnesWhereZero:
    """BUG: y = x W (W = 0 at build) whose backward takes an upstream gradient that is exactly 0 as
    1 (dW = xᵀ·1 there): right for a random G, wrong for the network's, which a ReLU at its kink
    makes exactly 0; the crossing of kinks must not excuse it."""

    def __init__(self, out=4):
        self.out = out
        self.params, self.grads = {}, {}

    def build(self, shape, rng):
        self.params["W"] = np.zeros((shape[-1], self.out))

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, g):
        g = np.where(g == 0.0, 1.0, g)
        self.grads["W"] = self.x.T @ g
        return g @ self.params["W"].T
