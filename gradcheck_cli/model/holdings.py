"""What a user's layer object holds: every floating-point array, where it sits (an attribute,
an entry of a dict or list attribute, the same inside a sublayer), and the names people give
to an array's gradient. objects.py decides from these which arrays are parameters.

A place is a tuple of steps from the layer object: ("attr", "W"), ("item", "W") or ("item", 0),
so ("attr", "layers"), ("item", 0), ("attr", "W") is self.layers[0].W.
"""
from __future__ import annotations

import inspect
import types
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The names of an array's gradient, tried in this order: W -> dW, d_W, dL_dW, grad_W, W_grad.
GRADIENT_NAMES = ("d{}", "d_{}", "dL_d{}", "grad_{}", "{}_grad")
# Dicts (or lists) of parameters, and of their gradients keyed alike: params["W"] -> grads["W"].
PARAMETER_CONTAINERS = ("params", "parameters", "weights", "param", "variables")
GRADIENT_CONTAINERS = ("grads", "gradients", "param_grads", "grad")
# Sublayers within sublayers this many objects deep are searched, the layer itself counted; the
# lists and dicts between them do not count (model.stages[0].blocks[0].layers[0].W: 4 objects).
MAX_DEPTH = 16
# Lists within dicts within lists ... with no object between them: a guard for the recursion.
MAX_STEPS = 64
# A list or dict longer than this is data, not layers or parameters: not searched.
MAX_ITEMS = 256
# Objects of the standard library that do its own work and hold no arrays of a layer's: a logger
# reaches every logger of the process. Any other object with attributes is searched.
INFRASTRUCTURE = frozenset({
    "logging", "threading", "_thread", "multiprocessing", "concurrent", "asyncio", "subprocess", "socket",
    "selectors", "ssl", "io", "_io", "tempfile", "sqlite3", "http", "urllib", "email", "tkinter", "unittest",
    "importlib", "_frozen_importlib", "_frozen_importlib_external", "zipfile", "tarfile", "weakref",
    "_weakrefset", "abc", "typing", "enum", "inspect", "ast", "warnings"})
NOT_SEARCHED = frozenset({"numpy", "builtins", "gradcheck_cli"}) | INFRASTRUCTURE

MISSING = object()
Place = tuple


@dataclass
class Holdings:
    """What a layer holds: its floating-point arrays and floating-point numbers (Python floats,
    numpy scalars) by place, an array held in two places under both; and what the search could
    not look into (a place -> (the value there, why)), so that it is never passed over in silence."""

    arrays: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    unsearched: dict = field(default_factory=dict)


def survey(root) -> Holdings:
    """Every floating-point array and number `root` holds, depth first in attribute order.
    Each object is searched once, from the shallowest place it is found at (a sublayer pointing
    back at its parent is not followed round)."""
    found, depths = Holdings(), {}
    _walk(root, (), 0, depths, found)
    # a value cut off on a deep path may have been searched from a shallower one after all
    found.unsearched = {place: why for place, why in found.unsearched.items() if id(why[0]) not in depths}
    return found


def _walk(value, place: Place, depth: int, depths: dict, found: Holdings) -> None:
    if isinstance(value, np.ndarray):
        if np.issubdtype(value.dtype, np.floating):
            found.arrays[place] = value
        return
    if isinstance(value, (float, np.floating)):
        found.numbers[place] = value
        return
    is_object = not isinstance(value, (dict, list, tuple, deque))
    if is_object and not _is_searched_object(value):
        return
    deeper = depth + is_object
    if depths.get(id(value), deeper + 1) <= deeper:
        return
    items = _items(value)
    if deeper > MAX_DEPTH:
        why = f"deeper than the {MAX_DEPTH} objects searched"
    elif len(place) >= MAX_STEPS:
        why = f"deeper than the {MAX_STEPS} steps searched"
    elif not is_object and len(items) > MAX_ITEMS:
        why = f"a {type(value).__name__} of {len(items)} items, more than the {MAX_ITEMS} searched"
    else:
        why = None
    if why is not None:
        if any(_may_hold(item) for _, item in items):
            found.unsearched.setdefault(place, (value, why))
        return
    depths[id(value)] = deeper
    for step, item in items:
        _walk(item, place + (step,), deeper, depths, found)


def _items(value) -> list[tuple[tuple, Any]]:
    if isinstance(value, dict):
        return [(("item", key), item) for key, item in list(value.items())
                if isinstance(key, (str, int)) and not isinstance(key, bool)]
    if isinstance(value, (list, tuple, deque)):
        return [(("item", i), item) for i, item in enumerate(value)]
    return [(("attr", name), item) for name, item in _attributes(value)]


def _may_hold(value) -> bool:
    """Whether a value could be or hold a floating-point array (not a number, a string, None:
    a long list of losses, or a config object deep down, hides no weight)."""
    if isinstance(value, np.ndarray):
        return np.issubdtype(value.dtype, np.floating)
    return isinstance(value, (dict, list, tuple, deque)) and len(value) > 0 or _is_searched_object(value)


def _is_searched_object(value) -> bool:
    """An object with attributes that may hold a layer's arrays (a sublayer, a SimpleNamespace, a
    dataclass): searched. Modules, classes, functions, numpy's objects and gradcheck's are not."""
    if isinstance(value, (type, types.ModuleType, bool, int, complex, str, bytes)) or inspect.isroutine(value):
        return False
    if (type(value).__module__ or "").partition(".")[0] in NOT_SEARCHED:
        return False
    return hasattr(value, "__dict__") or any(getattr(cls, "__slots__", ()) for cls in type(value).__mro__)


def _attributes(value) -> list[tuple[str, Any]]:
    """An object's attributes: its __dict__, and its __slots__ if its class has them."""
    try:
        found = dict(vars(value))
    except TypeError:
        found = {}
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
    if isinstance(owner, tuple):  # immutable: the tuple is made anew, in the place that holds it
        items = list(owner)
        items[key] = value
        assign(root, place[:-1], type(owner)(*items) if hasattr(owner, "_fields") else type(owner)(items))
    elif kind == "item":
        owner[key] = value
    else:
        try:
            setattr(owner, key, value)
        except AttributeError:  # a frozen dataclass
            object.__setattr__(owner, key, value)


def expression(place: Place) -> str:
    """self.layers[0].W, as the user's code spells it."""
    return "self" + "".join(f".{key}" if kind == "attr" else f"[{key!r}]" for kind, key in place)


def dotted(place: Place) -> str:
    """layers.0.W: how a spec names a place (weights:, constants:) and a report shows it."""
    return ".".join(str(key) for _, key in place)


def shown_name(place: Place) -> str:
    """The name of a parameter in reports: dotted, without the name of a parameter dict
    (params["W"] is W, self.layers[0].parameters["W"] is layers.0.W); an entry of a parameter
    list keeps it (params[0] is params.0)."""
    kept = [str(key) for i, (kind, key) in enumerate(place)
            if not (kind == "attr" and key in PARAMETER_CONTAINERS and i + 1 < len(place)
                    and place[i + 1][0] == "item" and isinstance(place[i + 1][1], str))]
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
