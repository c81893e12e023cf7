"""Layers the Python API gives as themselves rather than by name: a class, an object, a function
(the forward of a pair) or a (forward, backward) tuple. A YAML file never holds one."""
from __future__ import annotations

from typing import Any


def is_target(value: Any) -> bool:
    if isinstance(value, tuple):
        return len(value) == 2 and all(callable(f) and not isinstance(f, type) for f in value)
    return not isinstance(value, (str, dict, list)) and (
        callable(value) or hasattr(value, "forward") or hasattr(value, "backward"))


def is_function(target: Any) -> bool:
    """The forward of a function pair (its backward found beside it), not a layer class or object."""
    return (callable(target) and not isinstance(target, type)
            and not hasattr(target, "forward") and not hasattr(target, "backward"))


def target_name(target: Any) -> str:
    """How reports name it: its class's name, or its forward's without `_forward`."""
    named = target[0] if isinstance(target, tuple) else target
    if not (isinstance(named, type) or is_function(named)):
        named = type(named)
    name = getattr(named, "__name__", None) or type(named).__name__
    return name.removesuffix("_forward") or name
