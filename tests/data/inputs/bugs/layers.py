"""The layers of ../layers.py with one planted bug each."""
import numpy as np


class WordEmbedding:
    def __init__(self, vocab, dim):
        self.vocab, self.dim = vocab, dim

    def build(self, input_shape, rng):
        self.W = 0.5 * rng.standard_normal((self.vocab, self.dim))

    def forward(self, ids):
        self.ids = ids
        return self.W[ids]

    def backward(self, dout):
        self.dW = np.zeros_like(self.W)
        self.dW[self.ids] = dout             # BUG: an id seen twice keeps only its last gradient
        return None


def word_embedding_forward(x, W):
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    dW[x] = dout                             # BUG: np.add.at(dW, x, dout) accumulates repeated ids
    return dW


class LeakyBelowMinusOne:
    """y = x for x > 0, 0.1·x below: its backward is wrong only for x < -1, a branch that a
    small input may never reach."""

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, 0.1 * x)

    def backward(self, g):
        slope = np.where(self.x > 0, 1.0, np.where(self.x < -1, 0.01, 0.1))   # BUG: 0.01 below -1
        return g * slope
