"""Layers for the graph specs of tests/test_graph*.py, in the styles people write them: a class with
its weights as attributes (RNNStep), a class with params/grads dicts (Attention), cs231n function pairs
(lstm_step, word_embedding), and the same with one planted bug each (`bug=` or a *_bug_* pair)."""
import numpy as np


class RNNStep:
    """h_next = tanh(x Wx + h Wh + b): forward(x, h) over two inputs; weights kept as attributes, their
    gradients beside them (dWx, dWh, db), found by name. bug="dh": backward forgets tanh' on the h path."""

    def __init__(self, hidden, bug=None):
        self.hidden, self.bug = hidden, bug

    def build(self, input_shapes, rng):
        (_, d), (_, hidden) = input_shapes
        self.Wx = 0.5 * rng.standard_normal((d, self.hidden))
        self.Wh = 0.5 * rng.standard_normal((hidden, self.hidden))
        self.b = 0.1 * rng.standard_normal(self.hidden)

    def forward(self, x, h):
        self.x, self.h = x, h
        self.out = np.tanh(x @ self.Wx + h @ self.Wh + self.b)
        return self.out

    def backward(self, g):
        da = g * (1 - self.out ** 2)
        self.dWx, self.dWh, self.db = self.x.T @ da, self.h.T @ da, da.sum(axis=0)
        dh = (g if self.bug == "dh" else da) @ self.Wh.T
        return da @ self.Wx.T, dh


class Attention:
    """Two inputs: queries q (N, T, D) attend to kv (N, S, D): softmax(q Wq (kv Wk)ᵀ / √D) kv Wv.
    bug="dWk": dWk is transposed."""

    def __init__(self, bug=None):
        self.bug, self.params, self.grads = bug, {}, {}

    def build(self, input_shapes, rng):
        d = input_shapes[0][-1]
        for name in ("Wq", "Wk", "Wv"):
            self.params[name] = rng.standard_normal((d, d)) / np.sqrt(d)

    def forward(self, q, kv):
        p = self.params
        self.q, self.kv = q, kv
        self.Q, self.K, self.V = q @ p["Wq"], kv @ p["Wk"], kv @ p["Wv"]
        scores = self.Q @ np.swapaxes(self.K, -1, -2) / np.sqrt(q.shape[-1])
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        self.A = e / e.sum(axis=-1, keepdims=True)
        return self.A @ self.V

    def backward(self, g):
        p, scale = self.params, 1 / np.sqrt(self.q.shape[-1])
        dA = g @ np.swapaxes(self.V, -1, -2)
        dV = np.swapaxes(self.A, -1, -2) @ g
        dS = self.A * (dA - (dA * self.A).sum(axis=-1, keepdims=True)) * scale
        dQ, dK = dS @ self.K, np.swapaxes(dS, -1, -2) @ self.Q
        flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
        self.grads["Wq"] = flat(self.q).T @ flat(dQ)
        self.grads["Wk"] = flat(self.kv).T @ flat(dK)
        if self.bug == "dWk":
            self.grads["Wk"] = self.grads["Wk"].T
        self.grads["Wv"] = flat(self.kv).T @ flat(dV)
        dq = dQ @ p["Wq"].T
        dkv = dK @ p["Wk"].T + dV @ p["Wv"].T        # kv is used twice: its gradients add up
        return dq, dkv


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """cs231n's LSTM step: (N, D), (N, H), (N, H) -> next_h, next_c, cache."""
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o, g = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """-> dx, dprev_h, dprev_c, dWx, dWh, db."""
    return _lstm_backward(dnext_h, dnext_c, cache, bug=None)


def _lstm_backward(dnext_h, dnext_c, cache, bug):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    t = np.tanh(next_c)
    do = dnext_h * t
    dc = dnext_c + dnext_h * o * (1 - t ** 2)
    df, di, dg = dc * prev_c, dc * g, dc * i
    dprev_c = dc if bug == "dprev_c" else dc * f
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


lstm_bug_step_forward = lstm_step_forward


def lstm_bug_step_backward(dnext_h, dnext_c, cache):
    """dprev_c forgets the forget gate: dc instead of dc * f."""
    return _lstm_backward(dnext_h, dnext_c, cache, bug="dprev_c")


def word_embedding_forward(x, W):
    """cs231n: integer ids x (N, T) -> W[x] (N, T, D)."""
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    """dW alone: the ids have no gradient."""
    x, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, x, dout)
    return dW


class Sigmoid:
    """An element-wise sigmoid written by hand. bug=True: its derivative is off by 1%."""

    def __init__(self, bug=False):
        self.bug = bug

    def forward(self, x):
        self.s = _sigmoid(x)
        return self.s

    def backward(self, g):
        return g * self.s * (1 - self.s) * (1.01 if self.bug else 1.0)


class PixelMix:
    """A convolution with a 1x1 kernel: (N, C, H, W) -> (N, F, H, W), out[n, f] = Σ_c K[f, c] x[n, c] + b[f]."""

    def __init__(self, filters):
        self.filters, self.params, self.grads = filters, {}, {}

    def build(self, input_shape, rng):
        self.params["K"] = rng.standard_normal((self.filters, input_shape[1]))
        self.params["b"] = rng.standard_normal(self.filters)

    def forward(self, x):
        self.x = x
        return np.einsum("fc,nchw->nfhw", self.params["K"], x) + self.params["b"][:, None, None]

    def backward(self, g):
        self.grads["K"] = np.einsum("nfhw,nchw->fc", g, self.x)
        self.grads["b"] = g.sum(axis=(0, 2, 3))
        return np.einsum("fc,nfhw->nchw", self.params["K"], g)
