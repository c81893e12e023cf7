"""What a user's layer object holds: every floating-point array, where it sits (an attribute,
an entry of a dict or list attribute, the same inside a sublayer), and the names people give
to an array's gradient. objects.py decides from these which arrays are parameters.

A place is a tuple of steps from the layer object: ("attr", "W"), ("item", "W") or ("item", 0),
so ("attr", "layers"), ("item", 0), ("attr", "W") is self.layers[0].W.
"""
from __future__ import annotations

import inspect
import sys
import types
from typing import Any, Iterator

import numpy as np

# The names of an array's gradient, tried in this order: W -> dW, d_W, dL_dW, grad_W, W_grad.
GRADIENT_NAMES = ("d{}", "d_{}", "dL_d{}", "grad_{}", "{}_grad")
# Dicts (or lists) of parameters, and of their gradients keyed alike: params["W"] -> grads["W"].
PARAMETER_CONTAINERS = ("params", "parameters", "weights", "param", "variables")
GRADIENT_CONTAINERS = ("grads", "gradients", "param_grads", "grad")
# Sublayers within sublayers this deep are still searched; deeper ones are not.
MAX_DEPTH = 4
# A list or dict longer than this is data, not layers or parameters: not searched.
MAX_ITEMS = 256

MISSING = object()
Place = tuple


def floating_arrays(root) -> Iterator[tuple[Place, np.ndarray]]:
    """Every floating-point ndarray the layer holds, with its place; an array held in two
    places comes twice. Objects are visited once each (a sublayer pointing back at its
    parent is not followed round)."""
    yield from _walk(root, (), 0, set())


def _walk(value, place: Place, depth: int, seen: set) -> Iterator[tuple[Place, np.ndarray]]:
    if isinstance(value, np.ndarray):
        if np.issubdtype(value.dtype, np.floating):
            yield place, value
        return
    if id(value) in seen or depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        seen.add(id(value))
        if len(value) <= MAX_ITEMS:
            for key, item in list(value.items()):
                if isinstance(key, (str, int)) and not isinstance(key, bool):
                    yield from _walk(item, place + (("item", key),), depth + 1, seen)
    elif isinstance(value, (list, tuple)):
        seen.add(id(value))
        if len(value) <= MAX_ITEMS:
            for i, item in enumerate(value):
                yield from _walk(item, place + (("item", i),), depth + 1, seen)
    elif _is_user_object(value):
        seen.add(id(value))
        for name, item in _attributes(value):
            yield from _walk(item, place + (("attr", name),), depth + 1, seen)


def _is_user_object(value) -> bool:
    """An instance of a class of the user's (a sublayer, an activation object): searched.
    Modules, classes, functions and the objects of numpy and the standard library are not."""
    if isinstance(value, (type, types.ModuleType)) or inspect.isroutine(value):
        return False
    module = (type(value).__module__ or "").partition(".")[0]
    if module in ("numpy", "builtins", "gradcheck_cli") or module in sys.stdlib_module_names:
        return False
    return hasattr(value, "__dict__") or any(getattr(cls, "__slots__", ()) for cls in type(value).__mro__)


def _attributes(value) -> list[tuple[str, Any]]:
    """An object's attributes: its __dict__, and its __slots__ if its class has them."""
    found = dict(getattr(value, "__dict__", {}))
    for cls in type(value).__mro__:
        slots = getattr(cls, "__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and name not in found and hasattr(value, name):
                found[name] = getattr(value, name)
    return list(found.items())


def resolve(root, place: Place) -> Any:
    """What sits at `place` now, or MISSING."""
    value = root
    for kind, key in place:
        try:
            value = getattr(value, key) if kind == "attr" else value[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            return MISSING
        except Exception:  # a property of the user's that raised
            return MISSING
    return value


def assign(root, place: Place, value) -> None:
    """Put `value` at `place` (the last step's container must exist)."""
    owner = resolve(root, place[:-1])
    kind, key = place[-1]
    if kind == "attr":
        setattr(owner, key, value)
    else:
        owner[key] = value


def expression(place: Place) -> str:
    """self.layers[0].W, as the user's code spells it."""
    return "self" + "".join(f".{key}" if kind == "attr" else f"[{key!r}]" for kind, key in place)


def dotted(place: Place) -> str:
    """layers.0.W: how a spec names a place (weights:, constants:) and a report shows it."""
    return ".".join(str(key) for _, key in place)


def shown_name(place: Place) -> str:
    """The name of a parameter in reports: dotted, without the name of a parameter dict
    (params["W"] is W, self.layers[0].parameters["W"] is layers.0.W)."""
    kept = [str(key) for i, (kind, key) in enumerate(place)
            if not (kind == "attr" and key in PARAMETER_CONTAINERS and i + 1 < len(place)
                    and place[i + 1][0] == "item")]
    return ".".join(kept)


def place_of(root, text: str) -> Place | None:
    """The place a spec names as `layers.0.W` or `params.W`, if it exists on the layer."""
    place: Place = ()
    value = root
    for part in text.split("."):
        if isinstance(value, (list, tuple)) and part.isdigit():
            step = ("item", int(part))
        elif isinstance(value, dict):
            step = ("item", int(part) if part.isdigit() and int(part) in value else part)
        else:
            step = ("attr", part)
        value = resolve(value, (step,))
        if value is MISSING:
            return None
        place += (step,)
    return place


def gradient_places(place: Place) -> list[Place]:
    """Where people keep the gradient of the array at `place`, most usual first: a sibling
    named dW, d_W, ... and, for an entry of a parameter dict, the same key of a gradient dict."""
    parent, (kind, key) = place[:-1], place[-1]
    found = []
    if isinstance(key, str):
        found += [parent + ((kind, pattern.format(key)),) for pattern in GRADIENT_NAMES]
    if kind == "item" and parent and parent[-1][0] == "attr":
        container = parent[-1][1]
        partners = [pattern.format(container) for pattern in GRADIENT_NAMES]
        if container in PARAMETER_CONTAINERS:
            partners = list(GRADIENT_CONTAINERS) + partners
        found += [parent[:-1] + (("attr", name), ("item", key)) for name in partners]
    return found
