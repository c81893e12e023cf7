"""Custom layers for the gradcheck mutation suite.

Contract (duck typing, see docs/math.md; rows are data points):
- __init__(**options): options of the spec entry arrive as keyword arguments.
- build(input_shape, rng): optional, called once before the first forward; creates self.params.
  Only input_shape[-1] is used, so a full (N, D) shape and a per-sample (D,) shape both work.
- forward(x) -> y: reads self.params on every call (the checker perturbs them in place).
- backward(dout) -> dx: fills self.grads with one entry per param, same shape as the param.

Layers keep the dtype they are given: only Python float constants, no float64 arrays of their own.

Correct layers come first. Every class whose docstring starts with "BUG:" carries exactly one
planted mistake in backward (or, "BUG (forward):", in forward); the docstring names it and which
tensors it makes wrong. The last part holds the layers of the diagnosis families (a constant
factor, a transpose, a branch, a missing path, a partial gradient, an ignored upstream gradient,
a diagonal Jacobian, swapped gradients, a forward that reads a copy) in several styles: the
params/grads contract, weights as attributes (W beside dW), numpy-ml's parameters/gradients
dicts, cs231n's function pairs (NAME_forward / NAME_backward, the bug's docstring on backward),
and inputs of 3 and 4 dimensions.
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


# ==============================================================================================
# The diagnosis families, in several styles and shapes
# ==============================================================================================

# --- correct layers ---------------------------------------------------------------------------

class Flatten(Layer):
    """(N, ...) -> (N, prod(...)): lets a 3-D or 4-D layer feed a linear layer."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class Sigmoid(Layer):
    """y = sigmoid(x), element-wise.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.y = _sigmoid(x)
        return self.y

    def backward(self, dout):
        return dout * self.y * (1.0 - self.y)


class Tanh(Layer):
    """y = tanh(x), element-wise.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        return dout * (1.0 - self.y ** 2)


class Square(Layer):
    """y = x**2, element-wise.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, dout):
        return 2.0 * self.x * dout


class ELU(Layer):
    """y = x for x > 0, alpha (e^x - 1) otherwise (smooth at 0 for alpha = 1).  x: (N, D) -> y: (N, D)"""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))

    def backward(self, dout):
        return np.where(self.x > 0, dout, self.alpha * np.exp(np.minimum(self.x, 0.0)) * dout)


class Clip(Layer):
    """y = clip(x, -1, 1), element-wise (kinks at -1 and 1).  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.x = x
        return np.clip(x, -1.0, 1.0)

    def backward(self, dout):
        return dout * ((self.x > -1.0) & (self.x < 1.0))


class Dropout(Layer):
    """Inverted dropout with a fixed mask: y = x * mask / p, mask[i] = 1 with probability p (keep).

    The mask is drawn from its own seed at every call, so each forward sees the same one.
    - x: (N, D) -> y: (N, D)
    """

    def __init__(self, p=0.8, seed=0):
        super().__init__()
        self.p, self.seed = p, seed

    def forward(self, x):
        self.mask = np.random.default_rng(self.seed).random(x.shape) < self.p
        return x * self.mask / self.p

    def backward(self, dout):
        return dout * self.mask / self.p


class MeanFeatures(Layer):
    """The mean of each row: y = mean(x, axis=1).  x: (N, D) -> y: (N, 1)"""

    def forward(self, x):
        self.shape = x.shape
        return x.mean(axis=1, keepdims=True)

    def backward(self, dout):
        return np.broadcast_to(dout, self.shape) / self.shape[1]


class L2Normalize(Layer):
    """y = x / ||x||, each row to unit length.  x: (N, D) -> y: (N, D)"""

    def forward(self, x):
        self.norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
        self.y = x / self.norm
        return self.y

    def backward(self, dout):
        return (dout - self.y * np.sum(dout * self.y, axis=-1, keepdims=True)) / self.norm


class ChannelScale(Layer):
    """y[:, c] = gamma[c] * x[:, c], one gamma per channel of an image batch.

    - x: (N, C, H, W);  gamma: (C,)
    - y: (N, C, H, W)
    """

    def build(self, input_shape, rng):
        self.params["gamma"] = 1.0 + 0.3 * rng.standard_normal(input_shape[1])

    def forward(self, x):
        self.x = x
        return x * self.params["gamma"][None, :, None, None]

    def backward(self, dout):
        self.grads["gamma"] = np.sum(dout * self.x, axis=(0, 2, 3))
        return dout * self.params["gamma"][None, :, None, None]


class TimeMix(Layer):
    """Mixes the time steps of a sequence: y[n] = A x[n], one (T, T) matrix for every sample and feature.

    - x: (N, T, D);  A: (T, T)
    - y: (N, T, D)
    """

    def build(self, input_shape, rng):
        t = input_shape[-2]
        self.params["A"] = rng.standard_normal((t, t)) / math.sqrt(t)

    def forward(self, x):
        self.x = x
        return np.einsum("ts,nsd->ntd", self.params["A"], x)

    def backward(self, dout):
        self.grads["A"] = np.einsum("ntd,nsd->ts", dout, self.x)
        return np.einsum("ts,ntd->nsd", self.params["A"], dout)


class CumSum(Layer):
    """Running sum over time: y[:, t] = x[:, 0] + ... + x[:, t].  x: (N, T, D) -> y: (N, T, D)"""

    def forward(self, x):
        return np.cumsum(x, axis=1)

    def backward(self, dout):
        return np.flip(np.cumsum(np.flip(dout, axis=1), axis=1), axis=1)


class RNN(Layer):
    """A vanilla recurrent layer: h_t = tanh(x_t W + h_{t-1} U), h_{-1} = 0; y = every h_t.

    - x: (N, T, D);  W: (D, H);  U: (H, H)
    - y: (N, T, H)
    """

    def __init__(self, hidden=3):
        super().__init__()
        self.hidden = hidden

    def build(self, input_shape, rng):
        d, h = input_shape[-1], self.hidden
        self.params["W"] = rng.standard_normal((d, h)) / math.sqrt(d)
        self.params["U"] = 0.8 * rng.standard_normal((h, h)) / math.sqrt(h)

    def forward(self, x):
        W, U = self.params["W"], self.params["U"]
        h, states = 0.0 * (x[:, 0] @ W), []
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ W + h @ U)
            states.append(h)
        self.x, self.h = x, np.stack(states, axis=1)
        return self.h

    def _carried(self, dh_next):
        return dh_next

    def backward(self, dout):
        W, U, x, hs = self.params["W"], self.params["U"], self.x, self.h
        dx, dW, dU = np.zeros_like(x), np.zeros_like(W), np.zeros_like(U)
        dh_next = np.zeros_like(hs[:, 0])
        for t in reversed(range(x.shape[1])):
            dz = (dout[:, t] + self._carried(dh_next)) * (1.0 - hs[:, t] ** 2)
            h_prev = hs[:, t - 1] if t > 0 else np.zeros_like(hs[:, 0])
            dx[:, t] = dz @ W.T
            dW += x[:, t].T @ dz
            dU += h_prev.T @ dz
            dh_next = dz @ U.T
        self.grads["W"], self.grads["U"] = dW, dU
        return dx


class Dense:
    """y = x W + b with the weights as attributes and their gradients beside them (dW, db):
    the most common student style, no params dict.

    - x: (N, D);  W: (D, M);  b: (M,)
    - y: (N, M)
    """

    def __init__(self, out=3):
        self.out = out

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.W = rng.standard_normal((d, self.out)) / math.sqrt(d)
        self.b = 0.1 * rng.standard_normal(self.out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class DenseLoop(Dense):
    """Dense with backward written as a loop over the samples (cs231n's naive style)."""

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        for n in range(len(dout)):
            dx[n] = self.W @ dout[n]
            self.dW += np.outer(self.x[n], dout[n])
            self.db += dout[n]
        return dx


class ResidualDense:
    """y = x + tanh(x W), a square W as an attribute with dW beside it.

    - x: (N, D);  W: (D, D)
    - y: (N, D)
    """

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.W = rng.standard_normal((d, d)) / math.sqrt(d)

    def forward(self, x):
        self.x = x
        self.h = np.tanh(x @ self.W)
        return x + self.h

    def backward(self, dout):
        dz = dout * (1.0 - self.h ** 2)
        self.dW = self.x.T @ dz
        return dout + dz @ self.W.T


class FullyConnectedML:
    """numpy-ml's style: `parameters` and `gradients` dicts keyed alike, b of shape (1, M), and a
    backward that adds into the gradients.

    - x: (N, D);  W: (D, M);  b: (1, M)
    - y: (N, M)
    """

    def __init__(self, n_out=3):
        self.n_out, self.parameters, self.gradients = n_out, {}, {}

    def build(self, input_shape, rng):
        d = input_shape[-1]
        self.parameters = {"W": rng.standard_normal((d, self.n_out)) / math.sqrt(d),
                           "b": 0.1 * rng.standard_normal((1, self.n_out))}
        self.gradients = {k: np.zeros_like(v) for k, v in self.parameters.items()}

    def forward(self, X):
        self.X = X
        return X @ self.parameters["W"] + self.parameters["b"]

    def backward(self, dLdy):
        self.gradients["W"] += self.X.T @ dLdy
        self.gradients["b"] += dLdy.sum(axis=0, keepdims=True)
        return dLdy @ self.parameters["W"].T


# cs231n's function pairs: NAME_forward(x, *params) -> (out, cache), NAME_backward(dout, cache)

def sigmoid_forward(x):
    s = _sigmoid(x)
    return s, s


def sigmoid_backward(dout, cache):
    return dout * cache * (1.0 - cache)


def tanh_forward(x):
    y = np.tanh(x)
    return y, y


def tanh_backward(dout, cache):
    return dout * (1.0 - cache ** 2)


def relu_forward(x):
    return np.maximum(0.0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def softmax_forward(x):
    y = _softmax(x)
    return y, y


def softmax_backward(dout, cache):
    return cache * (dout - np.sum(dout * cache, axis=-1, keepdims=True))


def scale_shift_forward(x, gamma, beta):
    """x: (N, D), gamma, beta: (D,) -> x * gamma + beta."""
    return x * gamma + beta, (x, gamma)


def scale_shift_backward(dout, cache):
    x, gamma = cache
    return dout * gamma, np.sum(dout * x, axis=0), np.sum(dout, axis=0)


# --- buggy layers -----------------------------------------------------------------------------

class DropoutNoRescale(Dropout):
    """BUG: dx = dout * mask, the 1/p of the inverted mask lost in backward (factor p). Wrong: input."""

    def backward(self, dout):
        return dout * self.mask


class TanhDoubled(Tanh):
    """BUG: the derivative counted twice, 2 (1 - y**2). Wrong: input."""

    def backward(self, dout):
        return 2.0 * dout * (1.0 - self.y ** 2)


class SquareHalf(Square):
    """BUG: d(x**2)/dx taken as x, the factor 2 missing. Wrong: input."""

    def backward(self, dout):
        return self.x * dout


class MeanFeaturesNoDivide(MeanFeatures):
    """BUG: dout broadcast to every feature without the 1/D of the mean (factor D). Wrong: input."""

    def backward(self, dout):
        return np.broadcast_to(dout, self.shape).copy()


class ChannelScaleMeanGrad(ChannelScale):
    """BUG: dgamma is the mean over (N, H, W) where the sum belongs. Wrong: gamma."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = np.mean(dout * self.x, axis=(0, 2, 3))
        return dx


class ChannelScaleOffByOne(ChannelScale):
    """BUG: backward loops over range(C - 1): the last channel gets no gradient. Wrong: input, gamma."""

    def backward(self, dout):
        gamma, C = self.params["gamma"], self.x.shape[1]
        dx, dgamma = np.zeros_like(self.x), np.zeros_like(gamma)
        for c in range(C - 1):
            dx[:, c] = dout[:, c] * gamma[c]
            dgamma[c] = np.sum(dout[:, c] * self.x[:, c])
        self.grads["gamma"] = dgamma
        return dx


class TimeMixNoTranspose(TimeMix):
    """BUG: dx = A dout instead of A^T dout (a square A used without its transpose). Wrong: input."""

    def backward(self, dout):
        super().backward(dout)
        return np.einsum("ts,nsd->ntd", self.params["A"], dout)


class CumSumNoReverse(CumSum):
    """BUG: backward runs the sum forward in time (cumsum of dout) instead of backward. Wrong: input."""

    def backward(self, dout):
        return np.cumsum(dout, axis=1)


class CumSumDropsFuture(CumSum):
    """BUG: dx[:, t] = dout[:, t]: the gradient from later steps is not carried back. Wrong: input."""

    def backward(self, dout):
        return dout.copy()


class RNNTruncated(RNN):
    """BUG: backprop through time cut short: dh of step t+1 is not carried back into step t.
    Wrong: input, W, U."""

    def _carried(self, dh_next):
        return 0.0 * dh_next


class LeakyReLUNegativeSign(LeakyReLU):
    """BUG: the slope's sign flipped on the negative side, -slope. Wrong: input."""

    def backward(self, dout):
        return np.where(self.x > 0, dout, -self.slope * dout)


class ELUNegativeBranch(ELU):
    """BUG: on the negative side the derivative is taken as the output, alpha (e^x - 1). Wrong: input."""

    def backward(self, dout):
        return np.where(self.x > 0, dout, self.alpha * np.expm1(np.minimum(self.x, 0.0)) * dout)


class ClipMaskNever(Clip):
    """BUG: the mask (x < -1) & (x > 1) is never true: dx is all zero. Wrong: input."""

    def backward(self, dout):
        return dout * ((self.x < -1.0) & (self.x > 1.0))


class ScaleShiftDbetaZeros(ScaleShift):
    """BUG: dbeta left as zeros. Wrong: beta."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["beta"] = np.zeros_like(self.params["beta"])
        return dx


class ScaleShiftSwapped(ScaleShift):
    """BUG: dgamma and dbeta swapped. Wrong: gamma, beta."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"], self.grads["beta"] = self.grads["beta"], self.grads["gamma"]
        return dx


class LayerNormSwapped(LayerNorm):
    """BUG: dgamma and dbeta swapped. Wrong: gamma, beta."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"], self.grads["beta"] = self.grads["beta"], self.grads["gamma"]
        return dx


class SigmoidIgnoresUpstream(Sigmoid):
    """BUG: dx = y (1 - y), not multiplied by dout. Wrong: input."""

    def backward(self, dout):
        return self.y * (1.0 - self.y)


class L2NormalizeDiagonal(L2Normalize):
    """BUG: only the diagonal of the Jacobian, (1 - y**2) / ||x||. Wrong: input."""

    def backward(self, dout):
        return dout * (1.0 - self.y ** 2) / self.norm


class ScaleStaleCopy(Scale):
    """BUG (forward): forward multiplies by a copy of gamma taken at build, so moving
    params['gamma'] changes nothing (backward is right). Wrong: gamma."""

    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.gamma = self.params["gamma"].copy()

    def forward(self, x):
        self.x = x
        return x * self.gamma


class AffineStaleBias(Affine):
    """BUG (forward): forward adds a copy of b taken at build, so moving params['b'] changes
    nothing (backward is right). Wrong: b."""

    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.b = self.params["b"].copy()

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.b


class DenseBiasMean(Dense):
    """BUG: db is the batch mean of dout where the sum belongs. Wrong: b."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.db = dout.mean(axis=0)
        return dx


class DenseSquareWTransposed(Dense):
    """BUG: dW = dout^T x, the transpose of x^T dout (a square W). Wrong: W."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = dout.T @ self.x
        return dx


class DenseWIgnoresUpstream(Dense):
    """BUG: dW = x^T ones, the upstream gradient replaced by ones. Wrong: W."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.x.T @ np.ones_like(dout)
        return dx


class DenseLoopFirstSample(DenseLoop):
    """BUG: the loop over the samples runs over range(1): only the first sample is backpropagated.
    Wrong: input, W, b."""

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        for n in range(1):
            dx[n] = self.W @ dout[n]
            self.dW += np.outer(self.x[n], dout[n])
            self.db += dout[n]
        return dx


class ResidualDenseNoIdentity(ResidualDense):
    """BUG: the identity path's + dout is missing from dx. Wrong: input."""

    def backward(self, dout):
        return super().backward(dout) - dout


class FullyConnectedMLSwapped(FullyConnectedML):
    """BUG: the gradients of W and b swapped (both (1, M) for one input feature). Wrong: W, b."""

    def backward(self, dLdy):
        self.gradients["W"] += dLdy.sum(axis=0, keepdims=True)
        self.gradients["b"] += self.X.T @ dLdy
        return dLdy @ self.parameters["W"].T


class FullyConnectedMLBiasForgotten(FullyConnectedML):
    """BUG: nothing is added into gradients["b"]: it stays zero. Wrong: b."""

    def backward(self, dLdy):
        self.gradients["W"] += self.X.T @ dLdy
        return dLdy @ self.parameters["W"].T


class FullyConnectedMLWSign(FullyConnectedML):
    """BUG: gradients["W"] -= x^T dLdy, a sign. Wrong: W."""

    def backward(self, dLdy):
        self.gradients["W"] -= self.X.T @ dLdy
        self.gradients["b"] += dLdy.sum(axis=0, keepdims=True)
        return dLdy @ self.parameters["W"].T


def sigmoid_sign_flip_forward(x):
    return sigmoid_forward(x)


def sigmoid_sign_flip_backward(dout, cache):
    """BUG: dx has the wrong sign. Wrong: input."""
    return -dout * cache * (1.0 - cache)


def tanh_passthrough_forward(x):
    return tanh_forward(x)


def tanh_passthrough_backward(dout, cache):
    """BUG: returns dout unchanged, the derivative 1 - y**2 forgotten. Wrong: input."""
    return dout


def relu_leak_forward(x):
    return relu_forward(x)


def relu_leak_backward(dout, cache):
    """BUG: dx = dout * (x != 0): the gradient passes where x < 0 too. Wrong: input."""
    return dout * (cache != 0)


def softmax_diagonal_forward(x):
    return softmax_forward(x)


def softmax_diagonal_backward(dout, cache):
    """BUG: only the diagonal of the softmax Jacobian, y (1 - y) dout. Wrong: input."""
    return dout * cache * (1.0 - cache)


def scale_shift_ignores_upstream_forward(x, gamma, beta):
    return scale_shift_forward(x, gamma, beta)


def scale_shift_ignores_upstream_backward(dout, cache):
    """BUG: dgamma = sum(x), the upstream gradient left out. Wrong: gamma."""
    x, gamma = cache
    return dout * gamma, np.sum(x, axis=0), np.sum(dout, axis=0)
