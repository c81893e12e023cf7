"""Function pairs, the cs231n style: `NAME_forward(x, w, b) -> (out, cache)` and
`NAME_backward(dout, cache) -> (dx, dw, db)`, made into a layer the checker can drive."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class FunctionPair:
    """A forward function and its backward, as a spec or the Python API names them."""

    name: str                  # what reports call it: "./layers.py:affine", or the function's name
    forward: Callable
    backward: Callable


def function_layer(pair: FunctionPair, declared: dict, fail):
    """A contract layer (forward, backward, params, grads, build) around `pair`; `declared`
    holds the entry's `params` and `args`."""
    raise fail(f"{pair.name}: function pairs are not supported yet")
