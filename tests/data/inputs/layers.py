"""Layers that take integer ids or need a domain, as people write them."""
import numpy as np


class WordEmbedding:
    """ids (N, T) in [0, vocab) -> W[ids] (N, T, dim). Weights as attributes, dW found by name."""

    def __init__(self, vocab, dim):
        self.vocab, self.dim = vocab, dim

    def build(self, input_shape, rng):
        self.W = 0.5 * rng.standard_normal((self.vocab, self.dim))

    def forward(self, ids):
        self.ids = ids
        return self.W[ids]

    def backward(self, dout):
        self.dW = np.zeros_like(self.W)
        np.add.at(self.dW, self.ids, dout)   # an id seen twice gets both gradients
        return None                          # ids have no gradient


def word_embedding_forward(x, W):
    """cs231n: x (N, T) integer ids, W (V, D) -> out (N, T, D), cache."""
    out = W[x]
    return out, (x, W)


def word_embedding_backward(dout, cache):
    """cs231n: -> dW (V, D) alone: x holds integers, which have no gradient."""
    x, W = cache
    dW = np.zeros_like(W)
    np.add.at(dW, x, dout)
    return dW


class Log:
    """y = log(x): defined for x > 0 only."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return g / self.x


class Sqrt:
    """y = sqrt(x): defined for x >= 0, its derivative for x > 0."""

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, g):
        return g / (2.0 * self.y)
