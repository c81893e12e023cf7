"""Losses: the network's output Y to a scalar L, and dL/dY.

Each draws its fixed random targets once, from the spec's seed, in `prepare`. The value is
computed in float64 whatever the spec's dtype, so the loss adds no rounding of its own.
`values(ys)` takes a stack of outputs (a leading axis of perturbations) and returns one loss
per item; `value(y)` is the single case.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError


def _axes(y, target_ndim: int) -> tuple:
    """The axes of one output, leaving any leading stack axes."""
    return tuple(range(y.ndim - target_ndim, y.ndim))


class Loss:
    def value(self, y) -> float:
        return float(self.values(y))


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class MSE(Loss):
    """L = mean((Y - T)²), T ~ N(0, 1);  dL/dY = 2 (Y - T) / size."""


    def prepare(self, shape, rng):
        self.target = rng.standard_normal(shape)

    def values(self, y):
        diff = np.subtract(y, self.target, dtype=np.float64)
        diff *= diff
        return np.mean(diff, axis=_axes(y, self.target.ndim))

    def row_values(self, ys, rows):
        """The part of L that rows[b] contributes, for ys[b] = that row alone: (B, 1, ...)."""
        diff = ys.astype(np.float64) - self.target[rows][:, None]
        return np.sum(diff ** 2, axis=tuple(range(1, ys.ndim))) / self.target.size

    def grad(self, y):
        return 2.0 * (y - self.target) / y.size


class CrossEntropy(Loss):
    """Logits Y: (N, C), integer classes t: L = mean over rows of -log softmax(Y)[t];
    dL/dY = (softmax(Y) - onehot(t)) / N."""


    def prepare(self, shape, rng):
        if len(shape) != 2:
            raise ShapeError(f"cross_entropy needs logits of shape (N, classes), got {tuple(shape)}")
        self.labels = rng.integers(shape[1], size=shape[0])
        self.onehot = np.eye(shape[1])[self.labels]

    def values(self, y):
        return -np.mean(np.sum(self.onehot * _log_softmax(y.astype(np.float64)), axis=-1), axis=-1)

    def row_values(self, ys, rows):
        logp = _log_softmax(ys.astype(np.float64))[:, 0]
        return -np.sum(self.onehot[rows] * logp, axis=-1) / self.onehot.shape[0]

    def grad(self, y):
        return (np.exp(_log_softmax(y)) - self.onehot) / y.shape[0]


class BCEWithLogits(Loss):
    """Logits Z, targets t in {0, 1}: L = mean(log(1 + e^Z) - t·Z);  dL/dZ = (σ(Z) - t) / size."""


    def prepare(self, shape, rng):
        self.target = rng.integers(0, 2, size=shape).astype(np.float64)

    def values(self, z):
        z = z.astype(np.float64)
        return np.mean(np.logaddexp(0.0, z) - self.target * z, axis=_axes(z, self.target.ndim))

    def row_values(self, zs, rows):
        z = zs.astype(np.float64)
        terms = np.logaddexp(0.0, z) - self.target[rows][:, None] * z
        return np.sum(terms, axis=tuple(range(1, zs.ndim))) / self.target.size

    def grad(self, z):
        return (0.5 * (1.0 + np.tanh(0.5 * z)) - self.target) / z.size


class Dot(Loss):
    """L = sum(R ⊙ Y) with a fixed random R: dL/dY = R, the raw vector-Jacobian product."""


    def prepare(self, shape, rng):
        self.weights = rng.standard_normal(shape)

    def values(self, y):
        return np.sum(self.weights * y.astype(np.float64), axis=_axes(y, self.weights.ndim))

    def row_values(self, ys, rows):
        return np.sum(self.weights[rows][:, None] * ys.astype(np.float64), axis=tuple(range(1, ys.ndim)))

    def grad(self, y):
        return self.weights.copy()
