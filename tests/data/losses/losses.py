"""Losses written the way students write them: the cs231n form, `loss(x, y) -> (loss, dx)`, and a
class with forward(y, targets) and backward(). Checked by the specs beside this file, with no
Python glue."""
import numpy as np


def softmax_loss(x, y):
    """
    Softmax (cross-entropy) loss, averaged over the rows.

    Inputs:
    - x: scores, of shape (N, C)
    - y: labels, of shape (N,), each in [0, C)

    Returns a tuple of:
    - loss: a scalar
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    n = x.shape[0]
    loss = -np.sum(log_probs[np.arange(n), y]) / n
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    dx /= n
    return loss, dx


def svm_loss(x, y):
    """
    Multiclass SVM (hinge) loss with margin 1, averaged over the rows.

    Inputs:
    - x: scores, of shape (N, C)
    - y: labels, of shape (N,), each in [0, C)

    Returns a tuple of:
    - loss: a scalar
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    n = x.shape[0]
    correct = x[np.arange(n), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(n), y] = 0
    loss = np.sum(margins) / n
    positive = (margins > 0).astype(x.dtype)
    dx = positive.copy()
    dx[np.arange(n), y] -= np.sum(positive, axis=1)
    dx /= n
    return loss, dx


def temporal_softmax_loss(x, y, mask, verbose=False):
    """
    Softmax loss over a sequence, summed over time steps and averaged over the batch; the
    mask says which steps count (padding does not).

    Inputs:
    - x: scores, of shape (N, T, V)
    - y: labels, of shape (N, T), each in [0, V)
    - mask: booleans, of shape (N, T)

    Returns a tuple of:
    - loss: a scalar
    - dx: gradient of the loss with respect to x, of shape (N, T, V)
    """
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
    dx_flat *= mask_flat[:, None]
    if verbose:
        print("dx_flat:", dx_flat.shape)
    return loss, dx_flat.reshape(n, t, v)


class Hinge:
    """Binary hinge loss on scores y (any shape) with targets t in {0, 1}, read as signs
    s = 2t - 1: L = mean(max(0, 1 - s·y)); dL/dy = -s·[1 - s·y > 0] / size."""

    def forward(self, y, targets):
        """y: (N, D) scores, targets: (N, D) in {0, 1} -> a scalar."""
        self.signs = 2.0 * targets - 1.0
        self.margins = 1.0 - self.signs * y
        return float(np.mean(np.maximum(0.0, self.margins)))

    def backward(self):
        """-> dL/dy: (N, D)."""
        return -self.signs * (self.margins > 0) / self.margins.size
