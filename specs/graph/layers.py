import numpy as np

class Embedding:
    def __init__(self, vocab, dim):
        self.vocab, self.dim = vocab, dim
        self.params, self.grads = {}, {}
    def build(self, shape, rng):
        self.params["W"] = rng.standard_normal((self.vocab, self.dim))
    def forward(self, ids):
        self.ids = ids
        return self.params["W"][ids]
    def backward(self, g):
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.ids, g)
        self.grads["W"] = dW
        return None

class Attend:
    """out[n] = softmax over t of <h[n], e[n, t]> weighted sum of e[n, t]."""
    def forward(self, h, e):
        self.h, self.e = h, e
        s = np.einsum("nd,ntd->nt", h, e)
        s = s - s.max(axis=1, keepdims=True)
        p = np.exp(s); p /= p.sum(axis=1, keepdims=True)
        self.p = p
        return np.einsum("nt,ntd->nd", p, e)
    def backward(self, g):
        h, e, p = self.h, self.e, self.p
        dp = np.einsum("nd,ntd->nt", g, e)
        ds = p * (dp - (dp * p).sum(axis=1, keepdims=True))
        dh = np.einsum("nt,ntd->nd", ds, e)
        de = np.einsum("nt,nd->ntd", p, g) + np.einsum("nt,nd->ntd", ds, h)
        return dh, de
