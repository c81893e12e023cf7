"""Every built-in layer and loss, by the name a spec uses. To add a layer: write its class in
layers.py (forward and backward side by side, options declared), then list it here."""
from __future__ import annotations

from . import layers, losses

LAYERS = {
    "linear": layers.Linear,
    "sigmoid": layers.Sigmoid,
    "tanh": layers.Tanh,
    "relu": layers.ReLU,
    "leaky_relu": layers.LeakyReLU,
    "elu": layers.ELU,
    "softplus": layers.Softplus,
    "gelu": layers.GELU,
    "silu": layers.SiLU,
    "softmax": layers.Softmax,
    "log_softmax": layers.LogSoftmax,
    "residual": layers.Residual,
}

LOSSES = {
    "mse": losses.MSE,
    "cross_entropy": losses.CrossEntropy,
    "bce_with_logits": losses.BCEWithLogits,
    "dot": losses.Dot,
}


def summary(cls) -> str:
    """The first line of a class's docstring: what `gradcheck layers` and errors show."""
    return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
