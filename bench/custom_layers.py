"""The MLP of bench/mlp.yaml as a user writes it: plain classes, weights as attributes (self.W,
self.b) with their gradients beside them (self.dW, self.db), no declarations for speed.

Affine draws its weights from the Generator gradcheck passes to build, the way the built-in
linear layer does (W ~ N(0, 1/m), then b ~ 0.1·N(0, 1)): a layer at the same place in a spec
of the same seed gets the same Generator, so bench/custom_mlp.yaml has the very numbers of
bench/mlp.yaml (input, weights, targets)."""
import numpy as np


class Affine:
    """y = x @ W + b.   x: (N, m), W: (m, out), b: (out,) -> y: (N, out)."""

    def __init__(self, out):
        self.out = out

    def build(self, input_shape, rng):
        m = input_shape[-1]
        self.W = rng.standard_normal((m, self.out)) / np.sqrt(m)
        self.b = 0.1 * rng.standard_normal(self.out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Tanh:
    """y = tanh(x);  dL/dx = dL/dy · (1 - y²)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        return dout * (1.0 - self.y ** 2)
