"""Built-in layers. Each is a custom layer like any other: build / forward / backward, with
forward and its local backward side by side, written as the equations of docs/math.md
(section 4, "Built-in layers").

Shapes: X is (N, ..., m): rows are data points, the last axis is features.
"""
from __future__ import annotations

import math

import numpy as np

from .columns import ColumnChange


class Builtin:
    """What every built-in shares: no parameters unless build makes some.

    `stacked = True`: forward also takes a stack of inputs (a leading axis of perturbations),
    so the checker can evaluate many perturbations in one numpy call. `rowwise = True`: each
    output row depends on the same input row only. A custom layer may declare either."""

    stacked = True
    rowwise = True
    thread_safe = True

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def build(self, input_shape, rng):
        pass


class Linear(Builtin):
    """Y = X W + b.   X: (N, m), W: (m, n), b: (n,) -> Y: (N, n)."""


    def __init__(self, out, bias=True, init="normal"):
        super().__init__()
        self.out, self.bias, self.init = out, bias, init

    def build(self, input_shape, rng):
        m = input_shape[-1]
        # init: normal, W ~ N(0, 1/m); init: zeros, W = 0 (a last layer's or an adapter's start:
        # without a bias every output is then exactly 0, on the kink of a ReLU after it)
        self.params["W"] = np.zeros((m, self.out)) if self.init == "zeros" else \
            rng.standard_normal((m, self.out)) / math.sqrt(m)
        if self.bias:
            self.params["b"] = 0.1 * rng.standard_normal(self.out)

    def forward(self, x):
        self.x = x
        W = self.params["W"]
        y = (x.reshape(-1, x.shape[-1]) @ W).reshape(x.shape[:-1] + W.shape[1:])  # one GEMM for any stack
        if self.bias:
            y += self.params["b"]
        return y

    def perturbed_outputs(self, name, x, y, flat_indices, deltas) -> ColumnChange:
        """Y for many single-entry perturbations of W or b at once.
        W[i, j] + d moves only column j of Y, by d·X[:, i]; b[j] + d moves it by d."""
        rows_y = y.reshape(-1, y.shape[-1])
        if name == "W":
            i, j = np.unravel_index(flat_indices, self.params["W"].shape)
            moved = deltas[:, None] * x.reshape(-1, x.shape[-1])[:, i].T
        else:
            j, moved = flat_indices, deltas[:, None]
        return ColumnChange(rows_y, y.shape, j, rows_y[:, j].T + moved)

    def perturbed_input_rows(self, y_rows, positions, deltas):
        """Y for many rows of X, each moved at one position: X[r, ..., i] + d moves only
        Y[r, ...] at the same leading position, by d·W[i, :].
        y_rows: (B, ..., n), the unperturbed output rows; positions: flat within a row of X."""
        W = self.params["W"]
        m, n = W.shape
        out = y_rows.reshape(len(positions), -1, n).copy()
        out[np.arange(len(positions)), positions // m] += deltas[:, None] * W[positions % m]
        return out.reshape(y_rows.shape)

    def forward_columns(self, change: ColumnChange, y):
        """Y for inputs that differ from the unperturbed one in one column each: a rank-1
        update Y + (x'[:, j] - x[:, j]) ⊗ W[j, :] instead of a matrix product."""
        W = self.params["W"]
        moved = change.values - change.base[:, change.cols].T            # (B, R)
        out = np.einsum("br,bn->brn", moved, W[change.cols])             # B outer products
        out += y.reshape(1, -1, W.shape[1])
        return out.reshape((len(change.cols),) + y.shape)

    def backward(self, g):
        rows_x = self.x.reshape(-1, self.x.shape[-1])
        rows_g = g.reshape(-1, g.shape[-1])
        self.grads["W"] = rows_x.T @ rows_g          # dL/dW = Xᵀ · dL/dY
        if self.bias:
            self.grads["b"] = rows_g.sum(axis=0)      # dL/db = sum over rows of dL/dY
        return g @ self.params["W"].T                # dL/dX = dL/dY · Wᵀ


class Elementwise(Builtin):
    """Y = σ(X) entry by entry. The Jacobian is diagonal, so dL/dX = dL/dY ⊙ σ'(X)."""

    keeps_column_changes = True

    def f(self, x):
        raise NotImplementedError

    def df(self, x):
        raise NotImplementedError

    def forward(self, x):
        self.x = x
        return self.f(x)

    def backward(self, g):
        return g * self.df(self.x)

    def forward_columns(self, change: ColumnChange, y) -> ColumnChange:
        """Only the changed column changes."""
        return ColumnChange(y.reshape(-1, y.shape[-1]), y.shape, change.cols, self.f(change.values))


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # the same function, without exp overflow


class Sigmoid(Elementwise):
    """σ(x) = 1 / (1 + e^-x);  σ' = σ (1 - σ)."""

    def f(self, x):
        return _sigmoid(x)

    def df(self, x):
        s = _sigmoid(x)
        return s * (1.0 - s)


class Tanh(Elementwise):
    """tanh(x);  tanh' = 1 - tanh²."""

    def f(self, x):
        return np.tanh(x)

    def df(self, x):
        return 1.0 - np.tanh(x) ** 2


class ReLU(Elementwise):
    """max(x, 0);  derivative 1 where x > 0, else 0 (0 is a valid subgradient at the kink)."""

    def f(self, x):
        return np.maximum(x, 0.0)

    def df(self, x):
        return (x > 0).astype(x.dtype)


class LeakyReLU(Elementwise):
    """x where x > 0, else slope·x;  derivative 1 or slope."""


    def __init__(self, slope=0.01):
        super().__init__()
        self.slope = slope

    def f(self, x):
        return np.where(x > 0, x, self.slope * x)

    def df(self, x):
        return np.where(x > 0, 1.0, self.slope).astype(x.dtype)


class ELU(Elementwise):
    """x where x > 0, else alpha·(e^x - 1);  derivative 1 or alpha·e^x."""


    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def f(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))

    def df(self, x):
        return np.where(x > 0, 1.0, self.alpha * np.exp(np.minimum(x, 0.0))).astype(x.dtype)


class Softplus(Elementwise):
    """log(1 + e^x);  derivative σ(x)."""

    def f(self, x):
        return np.logaddexp(0.0, x).astype(x.dtype)

    def df(self, x):
        return _sigmoid(x)


_GELU_C = math.sqrt(2.0 / math.pi)


class GELU(Elementwise):
    """x·Φ(x) in its tanh form: 0.5·x·(1 + tanh(c·(x + 0.044715·x³))), c = √(2/π)."""

    def f(self, x):
        return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + 0.044715 * x**3)))

    def df(self, x):
        t = np.tanh(_GELU_C * (x + 0.044715 * x**3))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * _GELU_C * (1.0 + 3 * 0.044715 * x**2)


class SiLU(Elementwise):
    """x·σ(x) (swish);  derivative σ(x)·(1 + x·(1 - σ(x)))."""

    def f(self, x):
        return x * _sigmoid(x)

    def df(self, x):
        s = _sigmoid(x)
        return s * (1.0 + x * (1.0 - s))


class Softmax(Builtin):
    """Each row to probabilities: y = e^x / Σ e^x over the last axis.

    Not element-wise: a row's Jacobian is diag(y) - y yᵀ, so dL/dx = y ⊙ (g - <g, y>).
    """

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
        self.y = y  # for backward; the local y is returned, another thread may replace self.y
        return y

    def backward(self, g):
        return self.y * (g - (g * self.y).sum(axis=-1, keepdims=True))


class LogSoftmax(Builtin):
    """y = x - logsumexp(x) over the last axis;  dL/dx = g - softmax(x)·Σ g."""

    def forward(self, x):
        shifted = x - x.max(axis=-1, keepdims=True)
        log_total = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        self.probs = np.exp(shifted - log_total)
        return shifted - log_total

    def backward(self, g):
        return g - self.probs * g.sum(axis=-1, keepdims=True)


class Flatten(Builtin):
    """(N, d1, d2, ...) -> (N, d1·d2·...): each row flattened;  dL/dx is G reshaped back.

    A custom conv layer's (N, C, H, W) output becomes the (N, features) a linear layer takes.
    Axes before the row axis (a stack of perturbations) are kept."""

    def build(self, input_shape, rng):
        self.row_shape = tuple(input_shape[1:])

    def forward(self, x):
        kept = x.ndim - len(self.row_shape)  # the rows, and a stack's leading axis
        return x.reshape(x.shape[:kept] + (-1,))

    def backward(self, g):
        return g.reshape(g.shape[:-1] + self.row_shape)


class Residual(Builtin):
    """y = x + f(x), f a stack of layers: a copy gate, the branch, an add gate.

    dL/dx = dL/dy + backward_f(dL/dy). The branch must keep the shape of x.
    """


    def __init__(self, layers):
        super().__init__()
        self.branch = layers  # a built network.Stack; its layers own the parameters
        self.stacked = all(getattr(e.layer, "stacked", False) is True for e in layers.entries)
        self.rowwise = all(getattr(e.layer, "rowwise", False) is True for e in layers.entries)
        self.thread_safe = all(getattr(e.layer, "thread_safe", False) is True for e in layers.entries)

    def forward(self, x):
        return x + self.branch.forward(x)

    def backward(self, g):
        return g + self.branch.backward(g)
