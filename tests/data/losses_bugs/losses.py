"""The losses of ../losses/losses.py, each with one bug planted in its gradient (the loss value is
right, so the numeric side is the truth)."""
import numpy as np


def softmax_loss(x, y):
    """x: (N, C), y: (N,) -> loss, dx: (N, C). Bug: dx is not divided by N."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = x.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx


def svm_loss(x, y):
    """x: (N, C), y: (N,) -> loss, dx: (N, C). Bug: dx counts the correct class's own margin
    (x_y - x_y + 1 = 1 > 0) as a positive margin: its mask is not zeroed there."""
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    positive = (margins > 0).astype(x.dtype)
    margins[np.arange(n), y] = 0
    loss = np.sum(margins) / n
    dx = positive.copy()
    dx[np.arange(n), y] -= np.sum(margins > 0, axis=1)
    dx /= n
    return loss, dx


def temporal_softmax_loss(x, y, mask, verbose=False):
    """x: (N, T, V), y: (N, T), mask: (N, T) -> loss, dx: (N, T, V). Bug: dx ignores the mask."""
    n, t, v = x.shape
    x_flat = x.reshape(n * t, v)
    y_flat = y.reshape(n * t)
    mask_flat = mask.reshape(n * t)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(n * t), y_flat])) / n
    dx_flat = probs.copy()
    dx_flat[np.arange(n * t), y_flat] -= 1
    dx_flat /= n
    return loss, dx_flat.reshape(n, t, v)


class Hinge:
    """L = mean(max(0, 1 - s·y)), s = 2t - 1. Bug: backward drops the sign s."""

    def forward(self, y, targets):
        self.signs = 2.0 * targets - 1.0
        self.margins = 1.0 - self.signs * y
        return float(np.mean(np.maximum(0.0, self.margins)))

    def backward(self):
        return -1.0 * (self.margins > 0) / self.margins.size
