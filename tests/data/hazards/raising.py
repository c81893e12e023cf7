"""Layers that raise, each from a known line of the user's code."""
import numpy as np

from helpers import checked_scale


class RaisesInForward:
    def forward(self, x):
        raise ValueError("boom")

    def backward(self, grad_out):
        return grad_out


class RaisesInBackward(RaisesInForward):
    def forward(self, x):
        return x

    def backward(self, grad_out):
        raise KeyError("missing")


class RaisesInBuild:
    def build(self, input_shape, rng):
        raise RuntimeError("no weights today")

    def forward(self, x):
        return x

    def backward(self, grad_out):
        return grad_out


class ConstructorRaises(RaisesInBackward):
    def __init__(self, width=3):
        raise TypeError(f"width {width} is not supported")


class NumpyRaises(RaisesInBackward):
    """numpy raises, deep in its own code: the line of ours that called it is the one named."""

    def forward(self, x):
        return x @ np.ones((x.shape[-1] + 1, 2))


class HelperRaises(RaisesInBackward):
    """The innermost user frame is in another of the user's files."""

    def forward(self, x):
        return checked_scale(x, -1.0)
