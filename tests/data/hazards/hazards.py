"""Layers with a hazard each: their gradients are right, but each does something that can bite
in training. tests/test_hazards.py checks the warning each one gets."""
import numpy as np


class Tanh:
    """Correct and careful: no warning."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad_out):
        return grad_out * (1.0 - self.y ** 2)


class ReLUInPlace:
    """cs231n's relu_backward as often written: dx = dout; dx[x <= 0] = 0 writes into dout."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, grad_out):
        dx = grad_out
        dx[self.x <= 0] = 0.0
        return dx


class BufferedTanh:
    """Fills one output buffer at every call, to save an allocation."""

    def forward(self, x):
        if getattr(self, "out", None) is None or self.out.shape != x.shape:
            self.out = np.empty_like(x)
        np.tanh(x, out=self.out)
        self.y = self.out.copy()
        return self.out

    def backward(self, grad_out):
        return grad_out * (1.0 - self.y ** 2)


class Float32Tanh:
    """Computes in float32 whatever it is given."""

    def forward(self, x):
        self.y = np.tanh(x.astype(np.float32))
        return self.y

    def backward(self, grad_out):
        return grad_out * (1.0 - self.y ** 2)


class Float32Backward(Tanh):
    """Right forward; backward returns float32."""

    def backward(self, grad_out):
        return (grad_out * (1.0 - self.y ** 2)).astype(np.float32)


class Dropout:
    """Inverted dropout with numpy's global random state, as most from-scratch code has it."""

    def __init__(self, p=0.5):
        self.p = p

    def forward(self, x):
        self.mask = (np.random.rand(*x.shape) < self.p) / self.p
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask


class StackedDropout(Dropout):
    """Declares that forward takes stacks, but draws a mask the shape of what it is given."""

    stacked = True


class ThreadSafeDropout(Dropout):
    """Declares itself safe to call from several threads at once: the engine then runs its
    stacks on a thread pool, and the seeded calls must still not interleave."""

    thread_safe = True


class NumpyInitAffine:
    """Draws its weights with np.random in build, as from-scratch code often does."""

    def __init__(self, out=3):
        self.out = out
        self.params, self.grads = {}, {}

    def build(self, input_shape):
        self.params["W"] = np.random.randn(input_shape[-1], self.out) * 0.5

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        return grad_out @ self.params["W"].T
