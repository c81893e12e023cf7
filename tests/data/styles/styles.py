"""The attribute-style classes of the public calibration cases (../../../../shared/calibration-styles):
weights as attributes, gradients as dW and db, no contract in mind."""
import numpy as np


class Dense:
    """Weights as attributes; gradients as dW and db."""

    def __init__(self, out):
        self.out = out

    def build(self, input_shape, rng):
        self.W = 0.5 * rng.standard_normal((input_shape[-1], self.out))
        self.b = np.zeros(self.out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.dW = self.x.T @ g
        self.db = g.sum(axis=0)
        return g @ self.W.T


class DenseBug(Dense):
    def backward(self, g):
        dx = super().backward(g)
        self.dW = self.dW / g.shape[0]          # a mean over the batch where a sum belongs
        return dx
