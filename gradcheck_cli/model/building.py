"""What building a layer needs besides the layer: the arguments its build() takes, and its
parameters cast to the spec's dtype, with every attribute that aliased an array pointed at the new
one (a layer keeping `self.W = self.params["W"]` must see the array the checker perturbs)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import numpy as np


def rebind(layer, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Point the layer's attributes that held `old` (self.W = self.params["W"]) at `new`, so
    a layer that keeps such an alias sees the parameter the checker perturbs."""
    for attribute, value in list(vars(layer).items()) if hasattr(layer, "__dict__") else []:
        if value is old:
            setattr(layer, attribute, new)
    return new


def build_arguments(build, shape, rng) -> tuple:
    """build(input_shape, rng), or build(input_shape) for a layer that draws nothing at random."""
    import inspect
    try:
        positional = [p for p in inspect.signature(build).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return (shape, rng)
    if len(positional) == 1 and positional[0].kind != positional[0].VAR_POSITIONAL:
        return (shape,)
    return (shape, rng)


def cast_params(entry, dtype) -> None:
    raw = getattr(entry.layer, "params", None)
    # a list (self.params = [W, b]) is paired by index with its gradients: discovery.settle
    if raw is not None and not isinstance(raw, (dict, list, tuple)):
        raise entry.fail(f"params is a {type(raw).__name__}; it must be a dict of numpy arrays, "
                         "like {'W': W, 'b': b}")
    params = entry.params()
    for name, value in list(params.items()):
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.floating):
            raise entry.fail(f"params[{name!r}] is {array.dtype}, expected a float array")
        if array.dtype != dtype or not isinstance(value, np.ndarray):
            params[name] = rebind(entry.layer, value, array.astype(dtype))


@contextmanager
def swapped_params(owners: Iterable, dtype) -> Iterator[bool]:
    """Every parameter of `owners` (a stack's entries, a graph's nodes: each with params() and
    layer) swapped for a copy in `dtype` while the block runs (the float64 twin). Yields whether
    the swap took: a layer whose `params` is rebuilt on every access keeps its own."""
    saved, took = [], True
    for owner in owners:
        params = owner.params()
        for name, value in list(params.items()):
            saved.append((owner, params, name, value))
            params[name] = rebind(owner.layer, value, np.array(value, dtype=dtype))
            took = took and owner.params().get(name) is params[name]
    try:
        yield took
    finally:
        for owner, params, name, value in saved:
            params[name] = rebind(owner.layer, params[name], value)
