"""check_layer with several inputs, given as a tuple (x=(q, k, v) or input_shape=((4, 8), (4, 8), (4, 8))):
the graph spec it stands for. The inputs are named after the first layer's forward (q, k, v), each layer
is a node taking the one before it (the first, every input), and the loss takes the last."""
from __future__ import annotations

import inspect
import re
from typing import Any

from .spec.targets import is_function, is_target, target_name


def several_inputs(x, input_shape) -> bool:
    """x as a tuple of arrays, or input_shape as a tuple of shapes."""
    if isinstance(x, tuple):
        return True
    return isinstance(input_shape, tuple) and bool(input_shape) and all(isinstance(s, (tuple, list))
                                                                        for s in input_shape)


def graph_mapping(layers: list, x, input_shape, count: int) -> tuple[dict, dict, dict]:
    """(the `inputs` and `graph` of the spec, the caller's arrays by input name, the renames that make
    its errors name check_layer's arguments)."""
    import numpy as np

    names = input_names(layers[0], count)
    if x is not None:
        arrays = dict(zip(names, x))
        inputs = {name: _input_form(np.asarray(array)) for name, array in arrays.items()}
    else:
        arrays, inputs = {}, {name: list(shape) if isinstance(shape, tuple) else shape
                              for name, shape in zip(names, input_shape)}
    nodes, taken = [], set(names)
    for i, layer in enumerate(layers):
        name = _unique(_node_name(layer), taken)
        nodes.append({**_entry(layer), "name": name, "in": names if i == 0 else nodes[-1]["name"]})
    renames = {"graph[0]": "layer"} if len(layers) == 1 else {"graph": "layer"}
    argument = "x" if x is not None else "input_shape"
    renames.update({f"inputs.{name}": f"{argument}[{i}]" for i, name in enumerate(names)})
    return {"inputs": inputs, "graph": nodes}, arrays, renames


def _input_form(array) -> Any:
    if array.dtype.kind in "iu":  # ids: never perturbed; the bound only has to hold them
        return {"shape": list(array.shape), "integers": max(1, int(array.max(initial=0)) + 1)}
    return list(array.shape)


def input_names(layer: Any, count: int) -> list[str]:
    """The names of the first `count` arguments of the layer's forward (q, k, v), else x0, x1, ..."""
    fallback = [f"x{i}" for i in range(count)]
    target = layer.get("type") if isinstance(layer, dict) else layer
    if isinstance(target, tuple):
        target = target[0]
    forward = target if is_function(target) else getattr(target, "forward", None)
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return fallback
    if isinstance(target, type):
        parameters = parameters[1:]  # self
    names = [p.name for p in parameters[:count] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) < count or len(set(names)) < count or not all(n.isidentifier() and n != "loss" for n in names):
        return fallback
    return names


def _entry(layer: Any) -> dict:
    if isinstance(layer, dict):
        if "type" in layer or len(layer) != 1:
            return dict(layer)
        (kind, options), = layer.items()
        return {"type": kind, **(options or {})}
    return {"type": layer}


def _node_name(layer: Any) -> str:
    kind = _entry(layer).get("type")
    name = target_name(kind) if is_target(kind) else str(kind).rpartition(":")[2]
    name = re.sub(r"\W", "_", name) or "layer"
    return f"n{name}" if name[0].isdigit() else name


def _unique(name: str, taken: set) -> str:
    found, k = name, 1
    while found in taken or found == "loss":
        found, k = f"{name}_{k}", k + 1
    taken.add(found)
    return found
