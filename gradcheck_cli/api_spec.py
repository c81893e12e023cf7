"""What the Python API adds to a spec: Python's spelling of it read as YAML's (tuples, numpy scalars,
arrays where a file gives shapes), layers given as themselves (functions paired with their backward),
and the caller's objects and random stream left as they were found."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np

from .errors import SpecError
from .model.functions import FunctionPair
from .spec.custom_keys import RESERVED
from .spec.load import MAX_DIMS, walk
from .spec.targets import is_function, is_target
from .spec.yaml_marks import format_path



def input_array(x: Any, where: str) -> np.ndarray:
    """x as an array of real numbers, rows then features."""
    array = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if array.dtype.kind not in "fiu":
        raise SpecError(f"expected an array of real numbers, got {_what(x)}", where, where="x")
    if not 2 <= array.ndim <= MAX_DIMS or 0 in array.shape:
        raise SpecError(f"expected an array of 2 to {MAX_DIMS} non-empty dimensions (rows, then features), "
                        f"got shape {array.shape}" + (" (one row: x[None])" if array.ndim == 1 else ""), where,
                        where="x")
    if not np.all(np.isfinite(array)):
        raise SpecError("contains NaN or Inf", where, where="x")
    return array


def _what(value: Any) -> str:
    return f"an array of {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__


def plain(value: Any) -> Any:
    """A copy in YAML's spelling: tuples as lists, numpy scalars as Python numbers (the parser
    never writes into the caller's mapping, and reads `(4, 3)` as it reads `[4, 3]`)."""
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not is_target(value):
        return [plain(item) for item in value]
    return value.item() if isinstance(value, np.generic) else value


def plain_spec(data: dict) -> tuple[dict, list[dict]]:
    """The mapping in YAML's spelling, and for every custom layer in order, the arrays its `params`
    gave as themselves (each replaced by its shape for the parser)."""
    arrays: list[dict] = []
    spec = {key: _entries(value, arrays) if key in ("layers", "graph") else plain(value) for key, value in data.items()}
    return spec, arrays


def _entries(value: Any, arrays: list) -> Any:
    if not isinstance(value, (list, tuple)) or is_target(value):
        return plain(value)  # the parser says what is wrong with it
    return [_entry(entry, arrays) for entry in value]


def _entry(entry: Any, arrays: list) -> Any:
    if is_target(entry):
        arrays.append({})
        return entry
    if not isinstance(entry, dict):
        return plain(entry)
    if "type" in entry:
        kind, options = entry["type"], {key: value for key, value in entry.items() if key != "type"}
    elif len(entry) == 1 and isinstance(next(iter(entry.values())), dict):
        (kind, options), = entry.items()
    else:
        return plain(entry)
    if is_target(kind) or (isinstance(kind, str) and ":" in kind):
        given: dict = {}
        # Its constructor's options go to it as given (a tuple stays a tuple); the reserved keys are read.
        options = {key: _params(value, given) if key == "params" else plain(value) if key in RESERVED else value
                   for key, value in options.items()}
        arrays.append(given)
    else:
        options = {key: _entries(value, arrays) if key == "layers" else plain(value) for key, value in options.items()}
    return {"type": kind, **options} if "type" in entry else {kind: options}


def _params(value: Any, given: dict) -> Any:
    if not isinstance(value, dict):
        return plain(value)
    shapes = {}
    for name, item in value.items():
        if isinstance(item, np.ndarray):
            given[name] = item
            shapes[name] = list(item.shape) or [1]  # checked for what it is by attach()
        else:
            shapes[name] = plain(item)
    return shapes


def attach(spec, arrays: list[dict]) -> None:
    """Give the parsed spec what YAML cannot hold: a function's backward, and the arrays of `params`."""
    customs = [layer for layer in walk(spec.layers) if layer.custom]
    for layer, given in zip(customs, arrays):
        target = layer.target
        if isinstance(target, tuple):
            layer.target = FunctionPair(layer.type, *target)
        elif is_function(target):
            layer.target = FunctionPair(layer.type, target, _backward_of(target, spec.path, layer.path))
        for name, array in given.items():
            where = format_path(layer.path + ("params", name))
            if array.dtype.kind != "f" or not 1 <= array.ndim <= MAX_DIMS:
                raise SpecError(f"expected a float array of 1 to {MAX_DIMS} dimensions, or a shape, "
                                f"got an array of {array.dtype} and shape {array.shape}", spec.path, where=where)
            layer.declared["params"][name] = {"value": array.copy()}  # the caller's array is never perturbed


def _backward_of(forward, file: str, path: tuple):
    """`affine_forward` -> `affine_backward`, beside it in its module (or a notebook's namespace)."""
    name = getattr(forward, "__name__", None)
    namespace = getattr(forward, "__globals__", None)
    if not name or namespace is None:
        raise SpecError(f"cannot tell the backward of {forward!r}; give the pair as (forward, backward)", file,
                        where=format_path(path))
    wanted = f"{name.removesuffix('_forward')}_backward"
    backward = namespace.get(wanted)
    if not callable(backward):
        module = namespace.get("__name__", "its module")
        raise SpecError(f"no function {wanted} beside {name} (in {module}); name it so, or give the pair as "
                        "(forward, backward)", file, where=format_path(path))
    return backward


@contextmanager
def left_as_found(spec):
    """The caller's layer objects hold the same arrays, with the same values, after the check as before
    (build, the float32 cast and perturbations rebind or write them), wherever discovery looks for them
    (model/holdings.py: sublayers in lists, SimpleNamespaces, ...), and numpy's global random stream goes
    on where it was."""
    from .model.holdings import survey

    random_state = np.random.get_state()
    held: list = []
    for layer in walk(spec.layers):
        if layer.target is not None and not isinstance(layer.target, (type, tuple, FunctionPair)):
            held += [(layer.target, place, array, array.copy()) for place, array in survey(layer.target).arrays.items()]
    loss = spec.loss.target
    if loss is not None and not isinstance(loss, type):  # a loss object's arrays too
        held += [(loss, place, array, array.copy()) for place, array in survey(loss).arrays.items()]
    try:
        yield
    finally:
        np.random.set_state(random_state)
        for root, place, array, values in held:
            _put(root, place, array)
            if array.flags.writeable and array.shape == values.shape and not np.array_equal(array, values,
                                                                                          equal_nan=True):
                np.copyto(array, values)


def _put(root: Any, place: tuple, array: np.ndarray) -> None:
    from .model.holdings import assign, resolve

    try:
        if resolve(root, place) is not array:
            assign(root, place, array)
    except (IndexError, KeyError, TypeError, AttributeError):
        pass  # the layer took the slot away (a shorter list): nothing of the caller's to put back
