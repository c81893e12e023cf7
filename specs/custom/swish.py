"""Swish with a learnable slope, written as a gradcheck custom layer.

A custom layer needs no base class: gradcheck calls build (optional), forward and backward,
and reads params and grads. The spec names it as `./swish.py:Swish`, relative to the spec.
"""
import numpy as np


class Swish:
    """Swish activation with a learnable scalar beta: y = x * sigmoid(beta * x).

    Inputs:
    - x: array of shape (N, D), one data point per row (any (N, ...) works: element-wise)
    - beta: initial value of the learnable slope (a float, from the spec's options)

    Parameters (after build):
    - params["beta"]: array of shape (1,): one slope shared by every entry

    Returns of forward:
    - y: array of the shape of x

    backward(dout), dout = dL/dy of the shape of y:
    - returns dx = dL/dx, the shape of x
    - sets grads["beta"] = dL/dbeta, shape (1,)
    """

    def __init__(self, beta=1.0):
        self.beta0 = float(beta)
        self.params = {}
        self.grads = {}

    def build(self, input_shape, rng):
        # Called once before the first forward, with the shape of x and a seeded Generator.
        # beta starts at the value the spec gives, so rng is not needed here.
        self.params["beta"] = np.array([self.beta0])

    def forward(self, x):
        beta = self.params["beta"]          # read params in forward: the checker perturbs them
        s = 1.0 / (1.0 + np.exp(-beta * x))
        self.cache = (x, s)
        return x * s

    def backward(self, dout):
        x, s = self.cache
        beta = self.params["beta"]
        ds = s * (1.0 - s)                  # sigmoid'(beta x)
        dx = dout * (s + beta * x * ds)     # d/dx [x σ(βx)] = σ + β x σ'
        # d/dβ [x σ(βx)] = x² σ'; beta is shared by every entry, so their terms add up.
        self.grads["beta"] = np.array([np.sum(dout * x * x * ds)])
        return dx
