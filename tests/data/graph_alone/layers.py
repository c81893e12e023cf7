"""Layers whose wrong backward a graph's rows cannot see: each node alone must."""
import numpy as np


class Scaled:
    """y = x;  dL/dx = k · dL/dy: right only for k = 1 (two of them, k = 2 and k = 0, on one
    copy gate sum to the right total)."""

    def __init__(self, k=1.0):
        self.k = k

    def forward(self, x):
        return x * 1.0

    def backward(self, g):
        return self.k * g


class Constant:
    """y = c (a learned constant row, zero at build): every pair of its outputs is a tie for a max."""

    def build(self, shape, rng):
        self.c = np.zeros(shape[-1])

    def forward(self, x):
        return np.zeros_like(x) + self.c

    def backward(self, g):
        self.dc = g.sum(0)
        return np.zeros_like(g)


class PairMax:
    """y[:, j] = max(x[:, 2j], x[:, 2j+1]); route: first (the first of a tie), all (each tied
    element the whole gradient: wrong), split (shared)."""

    def __init__(self, route="first"):
        self.route = route

    def forward(self, x):
        self.pairs = x.reshape(x.shape[0], -1, 2)
        return self.pairs.max(axis=2)

    def backward(self, g):
        tied = (self.pairs == self.pairs.max(axis=2, keepdims=True)).astype(float)
        if self.route == "first":
            mask = np.zeros_like(tied)
            np.put_along_axis(mask, self.pairs.argmax(axis=2)[..., None], 1.0, axis=2)
        elif self.route == "all":
            mask = tied
        else:
            mask = tied / tied.sum(axis=2, keepdims=True)
        return (mask * g[..., None]).reshape(self.pairs.shape[0], -1)
