"""gradcheck: check hand-written backward passes against central finite differences.

A custom layer needs no base class: any object with forward and backward will do. `Layer`
spells the contract out for type checkers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

__version__ = "0.1.0"
__all__ = ["Layer", "__version__"]


@runtime_checkable
class Layer(Protocol):
    """The custom-layer contract (duck typing: no need to inherit from this).

    Optional: `build(self, input_shape, rng)`, called once before the first forward with the
    shape of x and a seeded numpy Generator; create parameters there. `params` and `grads`
    may be missing for a layer without parameters.
    """

    params: "dict[str, np.ndarray]"   # perturbed in place by the checker; read them in forward
    grads: "dict[str, np.ndarray]"    # backward sets one entry per parameter, same shape

    def forward(self, x: "np.ndarray") -> "np.ndarray":
        """(N, ...) -> (N, ...): rows are data points."""
        ...

    def backward(self, grad_out: "np.ndarray") -> "np.ndarray":
        """dL/dy -> dL/dx (the shape of x); fills grads."""
        ...
