"""Custom layers with planted backward bugs: `gradcheck run specs/broken` shows what a
failure looks like (exit code 1). Each buggy class keeps a correct forward; only its
backward is wrong, in the way the comment on the wrong line says.
"""
import numpy as np


class AffineNoTranspose:
    """y = x W + b with a square W.  x: (N, D), W: (D, D), b: (D,) -> y: (N, D).

    BUG: dL/dx = dL/dy · W instead of dL/dy · Wᵀ. With a square W the shapes still match,
    so nothing crashes: only the numbers are wrong. grads["W"] and grads["b"] are right.
    """

    def __init__(self):
        self.params = {}
        self.grads = {}

    def build(self, input_shape, rng):
        D = input_shape[-1]
        self.params["W"] = rng.standard_normal((D, D)) / np.sqrt(D)
        self.params["b"] = 0.1 * rng.standard_normal(D)

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"]          # BUG: should be dout @ W.T


class SoftmaxDiagonal:
    """Row-wise softmax.  x: (N, C) -> y: (N, C), each row sums to 1.

    BUG: backward treats softmax as element-wise and keeps only the diagonal of each row's
    Jacobian diag(y) - y yᵀ: dL/dx = dL/dy ⊙ y ⊙ (1 - y), instead of y ⊙ (g - <g, y>).
    """

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        return self.y

    def backward(self, dout):
        y = self.y
        return dout * y * (1.0 - y)             # BUG: misses the off-diagonal -y_i y_j terms


class AffineBiasMean:
    """y = x W + b.  x: (N, D), W: (D, out), b: (out,) -> y: (N, out).

    BUG: dL/db is the MEAN of dL/dy over the batch rows instead of their SUM (b is added to
    every row, so each row's gradient counts). dL/dx and dL/dW are right.
    """

    def __init__(self, out=3):
        self.out = out
        self.params = {}
        self.grads = {}

    def build(self, input_shape, rng):
        D = input_shape[-1]
        self.params["W"] = rng.standard_normal((D, self.out)) / np.sqrt(D)
        self.params["b"] = 0.1 * rng.standard_normal(self.out)

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.mean(axis=0)     # BUG: should be dout.sum(axis=0)
        return dout @ self.params["W"].T
