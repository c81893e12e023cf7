"""Class layers as people write them, without gradcheck's contract in mind: weights as
attributes, parameters/gradients dicts, sublayers in a list, forward_pass/backward_pass with a
training flag. Classes named *Bug carry one planted mistake."""
import numpy as np


class Affine:
    """The issue's example: W and b as attributes, their gradients as dW and db."""

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 2))
        self.b = np.zeros(2)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.dW = self.x.T @ g
        self.db = g.sum(0)
        return g @ self.W.T


class AffineDwBug(Affine):
    def backward(self, g):
        dx = super().backward(g)
        self.dW = 2 * self.x.T @ g          # wrong by a factor 2
        return dx


class AffineDbBug(Affine):
    def backward(self, g):
        dx = super().backward(g)
        self.db = g.mean(0)                 # a mean where a sum belongs
        return dx


class KeepsDx(Affine):
    """Keeps dL/dx as self.dx beside its input self.x: a cache, not a parameter x."""

    def backward(self, g):
        self.dx = super().backward(g)
        return self.dx


class Renamed(Affine):
    """Methods named otherwise, gradients under names gradcheck cannot guess."""

    forward = backward = None

    def run(self, x):
        self.x = x
        return x @ self.W + self.b

    def gradient(self, g):
        self.update_for_W = self.x.T @ g
        self.update_for_b = g.sum(0)
        return g @ self.W.T


class Callable(Affine):
    """forward is __call__."""

    forward = None

    def __call__(self, x):
        return Affine.forward(self, x)


class Unpaired:
    """Keeps its gradient nowhere gradcheck looks: forward reads W, nothing pairs with it."""

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 3))

    def forward(self, x):
        self.x = x
        return x @ self.W

    def backward(self, g):
        self.update_for_W = self.x.T @ g
        return g @ self.W.T


class Positional:
    """Adds a fixed table (a constant) and scales by a learnable gain."""

    def build(self, shape, rng):
        self.table = np.sin(np.arange(shape[0] * shape[1]).reshape(shape))
        self.gain = 1.0 + 0.1 * rng.standard_normal(shape[-1])
        self.unused = np.ones(shape[-1])            # read by nobody: left alone

    def forward(self, x):
        self.x = x
        return (x + self.table) * self.gain

    def backward(self, g):
        self.grad_gain = np.sum(g * (self.x + self.table), axis=0)
        return g * self.gain


class TwoDense:
    """Two Dense sublayers in a list, with a tanh between them."""

    def __init__(self, hidden=4, out=3, bug=False):
        self.layers = [Dense(hidden), Dense(out, bug=bug)]

    def build(self, shape, rng):
        self.layers[0].build(shape, rng)
        self.layers[1].build((shape[0], self.layers[0].out), rng)

    def forward(self, x):
        self.h = np.tanh(self.layers[0].forward(x))
        return self.layers[1].forward(self.h)

    def backward(self, g):
        g = self.layers[1].backward(g) * (1.0 - self.h ** 2)
        return self.layers[0].backward(g)


class Dense:
    def __init__(self, out, bug=False):
        self.out, self.bug = out, bug

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], self.out)) / np.sqrt(shape[-1])
        self.b = 0.1 * rng.standard_normal(self.out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.dW = self.x.T @ g * (1.1 if self.bug else 1.0)
        self.db = g.sum(axis=0)
        return g @ self.W.T


class DictStyle:
    """self.parameters and self.gradients keyed alike; the gradients are accumulated (+=) into
    arrays made once, as libraries do that zero them between batches."""

    def __init__(self, n_out=3):
        self.n_out = n_out
        self.parameters = {}
        self.gradients = {}

    def build(self, shape, rng):
        self.parameters = {"W": rng.standard_normal((shape[-1], self.n_out)), "b": np.zeros((1, self.n_out))}
        self.gradients = {k: np.zeros_like(v) for k, v in self.parameters.items()}

    def forward(self, X):
        self.X = X
        return X @ self.parameters["W"] + self.parameters["b"]

    def backward(self, dLdy):
        self.gradients["W"] += self.X.T @ dLdy
        self.gradients["b"] += dLdy.sum(axis=0, keepdims=True)
        return dLdy @ self.parameters["W"].T


class BatchNormalization:
    """forward_pass(X, training) / backward_pass(accum_grad), as in ML-From-Scratch, with the
    gradients kept as grad_gamma and grad_beta. Training mode uses the batch statistics and
    updates the running ones; the running ones are what the other mode reads."""

    def __init__(self, momentum=0.99):
        self.momentum, self.eps = momentum, 0.01
        self.running_mean = self.running_var = None

    def build(self, shape, rng):
        self.gamma = 1.0 + 0.1 * rng.standard_normal(shape[-1])
        self.beta = 0.1 * rng.standard_normal(shape[-1])

    def forward_pass(self, X, training):
        if self.running_mean is None:
            self.running_mean, self.running_var = X.mean(axis=0), X.var(axis=0)
        if training:
            mean, var = X.mean(axis=0), X.var(axis=0)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            mean, var = self.running_mean, self.running_var
        self.training = training
        self.X_centered = X - mean
        self.stddev_inv = 1 / np.sqrt(var + self.eps)
        return self.gamma * self.X_centered * self.stddev_inv + self.beta

    def backward_pass(self, accum_grad):
        X_norm = self.X_centered * self.stddev_inv
        self.grad_gamma = np.sum(accum_grad * X_norm, axis=0)
        self.grad_beta = np.sum(accum_grad, axis=0)
        dX_norm = accum_grad * self.gamma
        if not self.training:                       # fixed statistics: an affine map
            return dX_norm * self.stddev_inv
        n = accum_grad.shape[0]
        return self.stddev_inv / n * (n * dX_norm - dX_norm.sum(axis=0) - X_norm * np.sum(dX_norm * X_norm, axis=0))


class Updates(Affine):
    """Takes an SGD step inside backward: the weights move under the checker."""

    def backward(self, g):
        dx = super().backward(g)
        self.W -= 0.1 * self.dW
        return dx


class Replaces(Affine):
    def backward(self, g):
        dx = super().backward(g)
        self.W = self.W - 0.1 * self.dW
        return dx


class WithInit(Affine):
    """A constructor argument named like a reserved key."""

    def __init__(self, weights="normal", scale=1.0):
        self.weights, self.scale = weights, scale

    def build(self, shape, rng):
        super().build(shape, rng)
        self.W = self.scale * (np.ones_like(self.W) if self.weights == "ones" else self.W)


class ContractPlusAttribute:
    """The contract (params/grads) for W, and a gain kept beside it as an attribute."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, shape, rng):
        self.params["W"] = rng.standard_normal((shape[-1], shape[-1]))
        self.gain = 1.0 + 0.1 * rng.standard_normal(shape[-1])

    def forward(self, x):
        self.x, self.z = x, x @ self.params["W"]
        return self.z * self.gain

    def backward(self, g):
        self.grads["W"] = self.x.T @ (g * self.gain)
        self.dgain = np.sum(g * self.z, axis=0)
        return (g * self.gain) @ self.params["W"].T


class ContractPlusMask:
    """The contract for W, and a fixed mask forward reads, nowhere declared."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, shape, rng):
        self.params["W"] = rng.standard_normal((shape[-1], shape[-1]))
        self.mask = (rng.random(shape[-1]) > 0.3).astype(float)

    def forward(self, x):
        self.x = x
        return (x @ self.params["W"]) * self.mask

    def backward(self, g):
        self.grads["W"] = self.x.T @ (g * self.mask)
        return (g * self.mask) @ self.params["W"].T


class ArrayAffine:
    """deep-learning-from-scratch's style: the constructor takes the arrays themselves."""

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


class KeepsInputs:
    """Keeps the input of every forward until flush() (numpy-ml's style), backpropagating
    through all of them; gradients added into gradients[...]."""

    def __init__(self, n_out=3):
        self.n_out, self.X = n_out, []
        self.parameters, self.gradients = {}, {}

    def build(self, shape, rng):
        self.parameters["W"] = rng.standard_normal((shape[-1], self.n_out))
        self.gradients["W"] = np.zeros_like(self.parameters["W"])

    def flush(self):
        self.X = []
        self.gradients = {k: np.zeros_like(v) for k, v in self.gradients.items()}

    def forward(self, X):
        self.X.append(X)
        return X @ self.parameters["W"]

    def backward(self, dLdy):
        dX = []
        for x in self.X:
            self.gradients["W"] += x.T @ dLdy
            dX.append(dLdy @ self.parameters["W"].T)
        return dX[0] if len(self.X) == 1 else dX


class Slotted:
    """Attributes in __slots__, no __dict__."""

    __slots__ = ("W", "dW", "x")

    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 2))

    def forward(self, x):
        self.x = x
        return x @ self.W

    def backward(self, g):
        self.dW = self.x.T @ g
        return g @ self.W.T
