"""Custom layers for the gradcheck mutation suite.

Contract (duck typing, see docs/math.md; rows are data points):
- __init__(**options): options of the spec entry arrive as keyword arguments.
- build(input_shape, rng): optional, called once before the first forward; creates self.params.
  Only input_shape[-1] is used, so a full (N, D) shape and a per-sample (D,) shape both work.
- forward(x) -> y: reads self.params on every call (the checker perturbs them in place).
- backward(dout) -> dx: fills self.grads with one entry per param, same shape as the param.

Layers keep the dtype they are given: only Python float constants, no float64 arrays of their own.

Correct layers come first. Every class whose docstring starts with "BUG:" carries exactly one
planted mistake in backward; the docstring names it and which tensors it makes wrong.
"""
import math

import numpy as np


def _sigmoid(z):
    """Numerically stable logistic function, keeps the dtype of z."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Layer:
    """Base class: no params, no options."""

    def __init__(self):
        self.params, self.grads = {}, {}


# ----------------------------------------------------------------------------------------------
# Correct layers
# ----------------------------------------------------------------------------------------------

class SquareAffine(Layer):
    """y = x W + b with a square W.

    - x: (N, D);  W: (D, D);  b: (D,)
    - y: (N, D)
    """

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


class Affine(SquareAffine):
    """y = x W + b with a non-square W.

    - x: (N, D);  W: (D, M);  b: (M,)
    - y: (N, M)
    """

    def __init__(self, out=5):
        super().__init__()
        self.out = out

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["W"] = rng.standard_normal((d, self.out)) / math.sqrt(d)
        self.params["b"] = 0.1 * rng.standard_normal(self.out)


class AffineNoBias(Layer):
    """y = x W, no bias.

    - x: (N, D);  W: (D, M)
    - y: (N, M)
    """

    def __init__(self, out=3):
        super().__init__()
        self.out = out

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["W"] = rng.standard_normal((d, self.out)) / math.sqrt(d)

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        return dout @ self.params["W"].T


class Scale(Layer):
    """y = x * gamma, one learnable gamma per feature.

    - x: (N, D);  gamma: (D,)
    - y: (N, D)
    """

    def build(self, input_shape, rng):
        self.params["gamma"] = 1.0 + 0.1 * rng.standard_normal(input_shape[-1])

    def forward(self, x):
        self.x = x
        return x * self.params["gamma"]

    def backward(self, dout):
        self.grads["gamma"] = np.sum(dout * self.x, axis=0)
        return dout * self.params["gamma"]


class ScaleShift(Layer):
    """y = x * gamma + beta, per feature.

    - x: (N, D);  gamma, beta: (D,)
    - y: (N, D)
    """

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["gamma"] = 1.0 + 0.1 * rng.standard_normal(d)
        self.params["beta"] = 0.1 * rng.standard_normal(d)

    def forward(self, x):
        self.x = x
        return x * self.params["gamma"] + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = np.sum(dout * self.x, axis=0)
        self.grads["beta"] = np.sum(dout, axis=0)
        return dout * self.params["gamma"]


class Bias(Layer):
    """y = x + b.

    - x: (N, D);  b: (D,)
    - y: (N, D)
    """

    def build(self, input_shape, rng):
        self.params["b"] = 0.1 * rng.standard_normal(input_shape[-1])

    def forward(self, x):
        return x + self.params["b"]

    def backward(self, dout):
        self.grads["b"] = dout.sum(axis=0)
        return dout


class Softplus(Layer):
    """y = log(1 + exp(x)), element-wise.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0.0, x)

    def backward(self, dout):
        return dout * _sigmoid(self.x)


class Swish(Layer):
    """y = x * sigmoid(beta * x), one learnable beta per feature (silu when beta = 1).

    - x: (N, D);  beta: (D,)
    - y: (N, D)
    """

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta0 = beta

    def build(self, input_shape, rng):
        self.params["beta"] = self.beta0 + 0.1 * rng.standard_normal(input_shape[-1])

    def forward(self, x):
        self.x = x
        self.s = _sigmoid(self.params["beta"] * x)
        return x * self.s

    def backward(self, dout):
        x, s, beta = self.x, self.s, self.params["beta"]
        ds = s * (1.0 - s)
        self.grads["beta"] = np.sum(dout * x * x * ds, axis=0)
        return dout * (s + beta * x * ds)


class Cube(Layer):
    """y = x**3, element-wise.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, dout):
        return 3.0 * self.x ** 2 * dout


class Sin(Layer):
    """y = sin(x), element-wise.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, dout):
        return np.cos(self.x) * dout


class LeCunTanh(Layer):
    """y = 1.7159 * tanh(2x / 3), element-wise.  x: (N, D) -> y: (N, D)"""

    A, B = 1.7159, 2.0 / 3.0

    def forward(self, x):
        self.t = np.tanh(self.B * x)
        return self.A * self.t

    def backward(self, dout):
        return self.A * self.B * (1.0 - self.t ** 2) * dout


class Gaussian(Layer):
    """y = exp(-x**2), element-wise.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        self.y = np.exp(-x * x)
        return self.y

    def backward(self, dout):
        return -2.0 * self.x * self.y * dout


class Softmax(Layer):
    """Row-wise softmax, full Jacobian: dx = y * (g - <g, y>).  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.y = _softmax(x)
        return self.y

    def backward(self, dout):
        y = self.y
        return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))


class LogSoftmax(Layer):
    """Row-wise log-softmax: y = x - logsumexp(x).  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        z = x - x.max(axis=-1, keepdims=True)
        self.p = _softmax(x)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def backward(self, dout):
        return dout - self.p * dout.sum(axis=-1, keepdims=True)


class LayerNorm(Layer):
    """Normalise each row over its features, then y = gamma * xhat + beta.

    - x: (N, D);  gamma, beta: (D,)
    - y: (N, D)
    """

    axis = -1

    def __init__(self, eps=1e-5):
        super().__init__()
        self.eps = eps

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["gamma"] = 1.0 + 0.1 * rng.standard_normal(d)
        self.params["beta"] = 0.1 * rng.standard_normal(d)

    def forward(self, x):
        mu = x.mean(axis=self.axis, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=self.axis, keepdims=True)
        self.inv = 1.0 / np.sqrt(var + self.eps)
        self.xhat = (x - mu) * self.inv
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def _dx(self, dxhat):
        a, xhat = self.axis, self.xhat
        return self.inv * (dxhat - dxhat.mean(axis=a, keepdims=True)
                           - xhat * (dxhat * xhat).mean(axis=a, keepdims=True))

    def backward(self, dout):
        self.grads["gamma"] = np.sum(dout * self.xhat, axis=0)
        self.grads["beta"] = np.sum(dout, axis=0)
        return self._dx(dout * self.params["gamma"])


class BatchNorm(LayerNorm):
    """Training-mode batch norm: normalise each feature over the batch (couples the rows).

    - x: (N, D), N >= 2;  gamma, beta: (D,)
    - y: (N, D)
    """

    axis = 0


class RMSNorm(Layer):
    """y = gamma * x / rms(x), rms over the features of each row.

    - x: (N, D);  gamma: (D,)
    - y: (N, D)
    """

    def __init__(self, eps=1e-6):
        super().__init__()
        self.eps = eps

    def build(self, input_shape, rng):
        self.params["gamma"] = 1.0 + 0.1 * rng.standard_normal(input_shape[-1])

    def forward(self, x):
        self.r = np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps)
        self.xh = x / self.r
        return self.params["gamma"] * self.xh

    def backward(self, dout):
        self.grads["gamma"] = np.sum(dout * self.xh, axis=0)
        dxh = dout * self.params["gamma"]
        return (dxh - self.xh * (dxh * self.xh).mean(axis=-1, keepdims=True)) / self.r


class Residual(Layer):
    """y = x + tanh(x W), with its own square W.

    - x: (N, D);  W: (D, D)
    - y: (N, D)
    """

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["W"] = rng.standard_normal((d, d)) / math.sqrt(d)

    def forward(self, x):
        self.x = x
        self.h = np.tanh(x @ self.params["W"])
        return x + self.h

    def backward(self, dout):
        dz = dout * (1.0 - self.h ** 2)
        self.grads["W"] = self.x.T @ dz
        return dout + dz @ self.params["W"].T


class Gated(Layer):
    """Gated unit y = x * sigmoid(x W), square W.

    - x: (N, D);  W: (D, D)
    - y: (N, D)
    """

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["W"] = rng.standard_normal((d, d)) / math.sqrt(d)

    def forward(self, x):
        self.x = x
        self.s = _sigmoid(x @ self.params["W"])
        return x * self.s

    def backward(self, dout):
        x, s = self.x, self.s
        dz = dout * x * s * (1.0 - s)
        self.grads["W"] = x.T @ dz
        return dout * s + dz @ self.params["W"].T


class SelfAttention(Layer):
    """Single-head self-attention over T tokens of width d = D / T.

    x (N, T*d) is reshaped to X (N, T, d); Q = X W_q, K = X W_k, V = X W_v;
    A = softmax(Q K^T / sqrt(d)) over the last axis (keys); y = (A V) reshaped to (N, T*d).
    - x: (N, T*d);  W_q, W_k, W_v: (d, d)
    - y: (N, T*d)
    """

    def __init__(self, T=2):
        super().__init__()
        self.T = T

    def build(self, input_shape, rng):
        self.d = input_shape[-1] // self.T
        for name in ("W_q", "W_k", "W_v"):
            self.params[name] = rng.standard_normal((self.d, self.d)) / math.sqrt(self.d)

    def forward(self, x):
        N, p = x.shape[0], self.params
        self.X = x.reshape(N, self.T, self.d)
        self.Q, self.K, self.V = self.X @ p["W_q"], self.X @ p["W_k"], self.X @ p["W_v"]
        self.A = _softmax(self.Q @ self.K.transpose(0, 2, 1) / math.sqrt(self.d))
        return (self.A @ self.V).reshape(x.shape)

    def _dscores(self, dA):
        return self.A * (dA - np.sum(dA * self.A, axis=-1, keepdims=True))

    def _dV(self, dO):
        return self.A.transpose(0, 2, 1) @ dO

    def backward(self, dout):
        p, X = self.params, self.X
        dO = dout.reshape(X.shape)
        dV = self._dV(dO)
        dS = self._dscores(dO @ self.V.transpose(0, 2, 1)) / math.sqrt(self.d)
        dQ, dK = dS @ self.K, dS.transpose(0, 2, 1) @ self.Q
        self.grads["W_q"] = np.einsum("ntd,nte->de", X, dQ)
        self.grads["W_k"] = np.einsum("ntd,nte->de", X, dK)
        self.grads["W_v"] = np.einsum("ntd,nte->de", X, dV)
        dX = dQ @ p["W_q"].T + dK @ p["W_k"].T + dV @ p["W_v"].T
        return dX.reshape(dout.shape)


class Maxout(Layer):
    """Max over consecutive groups of k features.  x: (N, D), D % k == 0 -> y: (N, D // k)"""

    def __init__(self, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        self.shape = x.shape
        xg = x.reshape(x.shape[0], -1, self.k)
        self.idx = xg.argmax(axis=-1)
        return xg.max(axis=-1)

    def _route(self, dout, idx):
        dxg = np.zeros(dout.shape + (self.k,), dtype=dout.dtype)
        np.put_along_axis(dxg, idx[..., None], dout[..., None], axis=-1)
        return dxg.reshape(self.shape)

    def backward(self, dout):
        return self._route(dout, self.idx)


class Abs(Layer):
    """y = |x|, element-wise (kink at 0).  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, dout):
        return np.sign(self.x) * dout


class ReLU(Layer):
    """y = max(x, 0), element-wise (kink at 0).  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, dout):
        return np.where(self.x > 0, dout, 0.0 * dout)


class LeakyReLU(Layer):
    """y = x for x > 0, slope * x otherwise.  x: (N, D) -> y: (N, D)"""

    def __init__(self, slope=0.1):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.slope * x)

    def backward(self, dout):
        return np.where(self.x > 0, dout, self.slope * dout)


class ZeroCols(Layer):
    """Sets fixed columns to exactly 0 (a following relu then sits on its kink).

    - x: (N, D);  cols: indices of the columns to zero
    - y: (N, D)
    """

    def __init__(self, cols=(0,)):
        super().__init__()
        self.cols = list(cols)

    def forward(self, x):
        y = x.copy()
        y[:, self.cols] = 0.0
        return y

    def backward(self, dout):
        dx = dout.copy()
        dx[:, self.cols] = 0.0
        return dx


class PairProduct(Layer):
    """Products of neighbouring features: y[:, i] = x[:, i] * x[:, i+1].

    - x: (N, D)
    - y: (N, D - 1)
    """

    def forward(self, x):
        self.x = x
        return x[:, :-1] * x[:, 1:]

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        dx[:, :-1] += dout * self.x[:, 1:]
        dx[:, 1:] += dout * self.x[:, :-1]
        return dx


class Bilinear(Layer):
    """y = (x U) * (x V), element-wise product of two projections.

    - x: (N, D);  U, V: (D, M)
    - y: (N, M)
    """

    def __init__(self, out=3):
        super().__init__()
        self.out = out

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.params["U"] = rng.standard_normal((d, self.out)) / math.sqrt(d)
        self.params["V"] = rng.standard_normal((d, self.out)) / math.sqrt(d)

    def forward(self, x):
        self.x = x
        self.a, self.b = x @ self.params["U"], x @ self.params["V"]
        return self.a * self.b

    def backward(self, dout):
        da, db = dout * self.b, dout * self.a
        self.grads["U"] = self.x.T @ da
        self.grads["V"] = self.x.T @ db
        return da @ self.params["U"].T + db @ self.params["V"].T


class SquareConcat(Layer):
    """y = [x, x**2] along the features.

    - x: (N, D)
    - y: (N, 2D)
    """

    def forward(self, x):
        self.x = x
        return np.concatenate([x, x * x], axis=1)

    def backward(self, dout):
        d = self.x.shape[1]
        return dout[:, :d] + 2.0 * self.x * dout[:, d:]


# ----------------------------------------------------------------------------------------------
# Buggy layers: exactly one planted mistake in backward each
# ----------------------------------------------------------------------------------------------

class SquareAffineNoTranspose(SquareAffine):
    """BUG: dx = dout W instead of dout W^T (square W, shapes still match). Wrong: input."""

    def backward(self, dout):
        super().backward(dout)
        return dout @ self.params["W"]


class SquareAffineWTransposed(SquareAffine):
    """BUG: dW = dout^T x, the transpose of x^T dout (square W). Wrong: W."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = dout.T @ self.x
        return dx


class AffineBiasMean(Affine):
    """BUG: db is the batch mean of dout where the sum belongs. Wrong: b."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.mean(axis=0)
        return dx


class AffineWScaledByN(Affine):
    """BUG: dW = x^T dout / N (non-square W). Wrong: W."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.x.T @ dout / dout.shape[0]
        return dx


class AffineNoBiasSignFlip(AffineNoBias):
    """BUG: dx has the wrong sign. Wrong: input."""

    def backward(self, dout):
        return -super().backward(dout)


class ScaleMeanGrad(Scale):
    """BUG: dgamma is the batch mean where the sum belongs. Wrong: gamma."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = np.mean(dout * self.x, axis=0)
        return dx


class ScaleDxIgnoresGamma(Scale):
    """BUG: dx = dout, gamma forgotten (dgamma is right). Wrong: input."""

    def backward(self, dout):
        super().backward(dout)
        return dout


class ScaleShiftBetaTiny(ScaleShift):
    """BUG: dbeta is 1.0001 times too large (relative error 1e-4). Wrong: beta."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["beta"] = 1.0001 * np.sum(dout, axis=0)
        return dx


class BiasFirstRow(Bias):
    """BUG: db = dout[0], the first row only, where the sum over the batch belongs. Wrong: b."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout[0].copy()
        return dx


class SoftplusAtOutput(Softplus):
    """BUG: derivative taken at the output, sigmoid(y) instead of sigmoid(x). Wrong: input."""

    def backward(self, dout):
        return dout * _sigmoid(np.logaddexp(0.0, self.x))


class SwishDxTiny(Swish):
    """BUG: dx is 1.0001 times too large (relative error 1e-4). Wrong: input."""

    def backward(self, dout):
        return 1.0001 * super().backward(dout)


class SwishBetaGradMissingX(Swish):
    """BUG: dbeta uses x * s(1-s) instead of x**2 * s(1-s). Wrong: beta."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["beta"] = np.sum(dout * self.x * self.s * (1.0 - self.s), axis=0)
        return dx


class CubeSlight(Cube):
    """BUG: 3.001 x**2 instead of 3 x**2 (0.03% too large). Wrong: input."""

    def backward(self, dout):
        return 3.001 * self.x ** 2 * dout


class SinSignFlip(Sin):
    """BUG: dx = -cos(x) dout. Wrong: input."""

    def backward(self, dout):
        return -np.cos(self.x) * dout


class LeCunTanhAtOutput(LeCunTanh):
    """BUG: uses 1 - y**2 with the scaled output y instead of 1 - tanh(2x/3)**2. Wrong: input."""

    def backward(self, dout):
        y = self.A * self.t
        return self.A * self.B * (1.0 - y ** 2) * dout


class GaussianOnePercent(Gaussian):
    """BUG: dx is 1.01 times too large (1% scale error). Wrong: input."""

    def backward(self, dout):
        return 1.01 * super().backward(dout)


class SoftmaxDiagonal(Softmax):
    """BUG: only the diagonal of the softmax Jacobian, y (1 - y) g. Wrong: input."""

    def backward(self, dout):
        return self.y * (1.0 - self.y) * dout


class SoftmaxWrongAxis(Softmax):
    """BUG: <g, y> summed over the batch axis instead of the features. Wrong: input."""

    def backward(self, dout):
        y = self.y
        return y * (dout - np.sum(dout * y, axis=0, keepdims=True))


class LogSoftmaxNoSum(LogSoftmax):
    """BUG: dx = g - p * g instead of g - p * sum(g). Wrong: input."""

    def backward(self, dout):
        return dout - self.p * dout


class LayerNormNoMean(LayerNorm):
    """BUG: ignores the dependence of the mean on x (the -mean(dxhat) term). Wrong: input."""

    def _dx(self, dxhat):
        a, xhat = self.axis, self.xhat
        return self.inv * (dxhat - xhat * (dxhat * xhat).mean(axis=a, keepdims=True))


class LayerNormGammaUsesX(LayerNorm):
    """BUG: dgamma = sum(dout * x) with the raw x instead of xhat. Wrong: gamma."""

    def forward(self, x):
        self.x = x
        return super().forward(x)

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = np.sum(dout * self.x, axis=0)
        return dx


class BatchNormConstStats(BatchNorm):
    """BUG: batch mean and variance treated as constants: dx = dout * gamma / std. Wrong: input."""

    def _dx(self, dxhat):
        return self.inv * dxhat


class BatchNormBetaMean(BatchNorm):
    """BUG: dbeta is the batch mean of dout where the sum belongs. Wrong: beta."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["beta"] = np.mean(dout, axis=0)
        return dx


class BatchNormWrongAxis(BatchNorm):
    """BUG: the two means in dx are taken over the features instead of the batch. Wrong: input."""

    def _dx(self, dxhat):
        xhat = self.xhat
        return self.inv * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                           - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))


class RMSNormNoCross(RMSNorm):
    """BUG: rms treated as a constant: dx = dout * gamma / rms. Wrong: input."""

    def backward(self, dout):
        super().backward(dout)
        return dout * self.params["gamma"] / self.r


class RMSNormGammaFirstRow(RMSNorm):
    """BUG: dgamma from the first row only instead of the sum over the batch. Wrong: gamma."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = (dout * self.xh)[0]
        return dx


class ResidualNoIdentity(Residual):
    """BUG: drops the identity path in backward: dx = backward_f(dout) only. Wrong: input."""

    def backward(self, dout):
        return super().backward(dout) - dout


class ResidualWGradNoDeriv(Residual):
    """BUG: dW = x^T dout, forgetting tanh' (1 - h**2). Wrong: W."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.x.T @ dout
        return dx


class GatedMissingGatePath(Gated):
    """BUG: dx = dout * s only, the path through the gate (x W) is dropped. Wrong: input."""

    def backward(self, dout):
        super().backward(dout)
        return dout * self.s


class GatedWGradMissingX(Gated):
    """BUG: dW = x^T (dout * s (1-s)), the factor x of the product is missing. Wrong: W."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.x.T @ (dout * self.s * (1.0 - self.s))
        return dx


class AttentionNoSoftmaxJacobian(SelfAttention):
    """BUG: dscores = A * dA, the -A <dA, A> term of the softmax Jacobian is missing.
    Wrong: input, W_q, W_k (W_v is right)."""

    def _dscores(self, dA):
        return self.A * dA


class AttentionVNoTranspose(SelfAttention):
    """BUG: dV = A dO instead of A^T dO. Wrong: input, W_v."""

    def _dV(self, dO):
        return self.A @ dO


class MaxoutFirstOfGroup(Maxout):
    """BUG: routes the gradient to the first feature of each group, not the argmax. Wrong: input."""

    def backward(self, dout):
        return self._route(dout, np.zeros_like(self.idx))


class AbsNoSign(Abs):
    """BUG: dx = dout, the sign of x forgotten. Wrong: input."""

    def backward(self, dout):
        return dout.copy()


class ReLUDoublePositive(ReLU):
    """BUG: factor 2 on the positive inputs. Wrong: input."""

    def backward(self, dout):
        return 2.0 * super().backward(dout)


class LeakyReLUWrongSide(LeakyReLU):
    """BUG: the slope is applied on the positive side instead of the negative one. Wrong: input."""

    def backward(self, dout):
        return np.where(self.x > 0, self.slope * dout, dout)


class ZeroColsPassThrough(ZeroCols):
    """BUG: backward forgets to zero the gradient of the zeroed columns. Wrong: input."""

    def backward(self, dout):
        return dout.copy()


class PairProductOneSided(PairProduct):
    """BUG: each product sends gradient to its left factor only. Wrong: input."""

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        dx[:, :-1] += dout * self.x[:, 1:]
        return dx


class BilinearUGradWrongFactor(Bilinear):
    """BUG: dU = x^T (dout * xU) instead of x^T (dout * xV). Wrong: U."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["U"] = self.x.T @ (dout * self.a)
        return dx


class SquareConcatMissingTwo(SquareConcat):
    """BUG: d(x**2)/dx taken as x instead of 2x. Wrong: input."""

    def backward(self, dout):
        d = self.x.shape[1]
        return dout[:, :d] + self.x * dout[:, d:]


# --- layers that compute in float32 whatever they are given (no float64 twin is possible) ------

F32 = np.float32


class Softplus32:
    """Softplus computed in float32: (N, D) -> (N, D)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.x = x.astype(F32)
        return np.logaddexp(F32(0), self.x).astype(F32)

    def backward(self, g):
        return (g / (F32(1) + np.exp(-self.x))).astype(F32)


class Scale32:
    """y = x * gamma in float32; gamma: (D,)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        self.params["gamma"] = (1 + 0.1 * rng.standard_normal(input_shape[-1])).astype(F32)

    def forward(self, x):
        self.x = x.astype(F32)
        return (self.x * self.params["gamma"].astype(F32)).astype(F32)

    def backward(self, g):
        self.grads["gamma"] = np.sum(g * self.x, axis=0).astype(F32)
        return (g * self.params["gamma"]).astype(F32)


class Scale32MeanGrad(Scale32):
    """BUG: mean over the batch instead of the sum for gamma."""

    def backward(self, g):
        dx = super().backward(g)
        self.grads["gamma"] = np.mean(g * self.x, axis=0).astype(F32)
        return dx


class Softmax32:
    """Row softmax in float32: (N, D) -> (N, D)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        x = x.astype(F32)
        e = np.exp(x - x.max(-1, keepdims=True))
        self.y = (e / e.sum(-1, keepdims=True)).astype(F32)
        return self.y

    def backward(self, g):
        return (self.y * (g - (g * self.y).sum(-1, keepdims=True))).astype(F32)


class Softmax32Diagonal(Softmax32):
    """BUG: only the diagonal of the softmax Jacobian."""

    def backward(self, g):
        return (self.y * (1 - self.y) * g).astype(F32)


class LayerNorm32:
    """Layer norm in float32 with gamma, beta: (D,)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        self.params["gamma"] = (1 + 0.1 * rng.standard_normal(input_shape[-1])).astype(F32)
        self.params["beta"] = (0.1 * rng.standard_normal(input_shape[-1])).astype(F32)

    def forward(self, x):
        x = x.astype(F32)
        self.var = x.var(-1, keepdims=True)
        self.xh = ((x - x.mean(-1, keepdims=True)) / np.sqrt(self.var + F32(1e-5))).astype(F32)
        return (self.xh * self.params["gamma"] + self.params["beta"]).astype(F32)

    def backward(self, g):
        self.grads["gamma"] = (g * self.xh).sum(0).astype(F32)
        self.grads["beta"] = g.sum(0).astype(F32)
        d = g * self.params["gamma"]
        dx = (d - d.mean(-1, keepdims=True) - self.xh * (d * self.xh).mean(-1, keepdims=True))
        return (dx / np.sqrt(self.var + F32(1e-5))).astype(F32)


class LayerNorm32NoMeanTerm(LayerNorm32):
    """BUG: ignores how the mean depends on x."""

    def backward(self, g):
        super().backward(g)
        d = g * self.params["gamma"]
        dx = d - self.xh * (d * self.xh).mean(-1, keepdims=True)
        return (dx / np.sqrt(self.var + F32(1e-5))).astype(F32)
