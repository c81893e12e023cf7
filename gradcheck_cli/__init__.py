"""gradcheck: check hand-written backward passes against central finite differences.

The Python API: `check_layer`, `check_function`, `check_spec`, `assert_gradients` (gradcheck_cli/api.py).
They load on first use, so that `import gradcheck_cli` (and `gradcheck --help`) pays for no numpy.

A custom layer needs no base class: any object with forward and backward will do. `Layer`
spells the contract out for type checkers.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .api import assert_gradients, check_function, check_layer, check_spec
    from .errors import GradcheckWarning, SpecError
    from .results import SpecResult, TensorCheck

__version__ = "0.1.0"
# name -> the module that defines it, imported when the name is first used
_LAZY = {"check_layer": "api", "check_function": "api", "check_spec": "api", "assert_gradients": "api",
         "SpecError": "errors", "GradcheckWarning": "errors", "SpecResult": "results", "TensorCheck": "results"}
__all__ = ["GradcheckWarning", "Layer", "SpecError", "SpecResult", "TensorCheck", "__version__", "assert_gradients",
           "check_function", "check_layer", "check_spec"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
