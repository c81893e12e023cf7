"""Custom layers for the report and pytest-plugin tests: one right, one with a planted bug,
one that raises. Specs name them as `layers.py:Class`, relative to the spec file."""
import math


class SquareAffine:
    """y = x W + b with a square W; correct."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["W"] = rng.standard_normal((d, d)) / math.sqrt(d)
        self.params["b"] = 0.1 * rng.standard_normal(d)

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class MissingTranspose(SquareAffine):
    """BUG: dL/dx uses W instead of Wᵀ; the shapes agree because W is square."""

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"]


class Exploding:
    """Raises in forward, with characters that need escaping in XML and HTML."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        raise RuntimeError('forward exploded <here> & "there"\x07')

    def backward(self, dout):
        return dout
