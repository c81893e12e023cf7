"""Layer normalization with a learnable scale and shift, as a gradcheck custom layer."""
import numpy as np


class LayerNorm:
    """Normalizes each row over its features, then scales and shifts.

    y = gamma * (x - mean(x)) / sqrt(var(x) + eps) + beta, mean and var per row.

    Inputs:
    - x: array of shape (N, D)
    - eps: small constant added to the variance

    Parameters (after build):
    - params["gamma"]: shape (D,)
    - params["beta"]: shape (D,)

    Returns of forward:
    - y: shape (N, D)

    backward(dout), dout = dL/dy of shape (N, D):
    - returns dx, shape (N, D)
    - sets grads["gamma"] and grads["beta"], shape (D,) each
    """

    def __init__(self, eps=1e-5):
        self.eps = eps
        self.params = {}
        self.grads = {}

    def build(self, input_shape, rng):
        D = input_shape[-1]
        # Not exactly 1 and 0, so that a gradient that forgets gamma or beta shows up.
        self.params["gamma"] = 1.0 + 0.1 * rng.standard_normal(D)
        self.params["beta"] = 0.1 * rng.standard_normal(D)

    def forward(self, x):
        mu = x.mean(axis=1, keepdims=True)
        inv_std = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + self.eps)
        xhat = (x - mu) * inv_std
        self.cache = (xhat, inv_std)
        return self.params["gamma"] * xhat + self.params["beta"]

    def backward(self, dout):
        xhat, inv_std = self.cache
        D = xhat.shape[1]
        self.grads["gamma"] = np.sum(dout * xhat, axis=0)   # summed over the batch rows
        self.grads["beta"] = np.sum(dout, axis=0)
        dxhat = dout * self.params["gamma"]
        # The normalization couples a row's entries: its Jacobian is not diagonal.
        dx = inv_std / D * (D * dxhat
                            - dxhat.sum(axis=1, keepdims=True)
                            - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True))
        return dx
