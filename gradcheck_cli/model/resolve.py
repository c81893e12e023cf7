"""What a custom `type: file.py:Name` names: a layer class, or a function pair found by its
name (`affine` -> `affine_forward` and `affine_backward`); refused before anything is called when
it is neither (`os:system` is never run)."""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import did_you_mean, where
from .functions import FunctionPair


def pair_names(name: str) -> tuple[str, str]:
    """The forward and the backward a name stands for: `affine` -> affine_forward, affine_backward;
    a forward's own name pairs with its 'forward' made 'backward' (conv_forward_naive ->
    conv_backward_naive)."""
    if "forward" in name:
        at = name.rindex("forward")
        return name, f"{name[:at]}backward{name[at + len('forward'):]}"
    return f"{name}_forward", f"{name}_backward"


def _is_function(value: Any) -> bool:
    return callable(value) and not inspect.isclass(value)


def find_target(module, shown: str, name: str, fail):
    """The class or the function pair `shown:name` names in `module` (or a callable that makes a
    layer); `fail(message)` makes the SpecError at the spec's line."""
    value = getattr(module, name, None)
    forward_name, backward_name = pair_names(name)
    forward = value if forward_name == name else getattr(module, forward_name, None)
    if inspect.isclass(value):
        if forward is not value and _is_function(forward) and _is_function(getattr(module, backward_name, None)):
            raise fail(f"{shown}:{name} names both the class {name} ({where(value)}) and the function pair "
                       f"{forward_name}/{backward_name} ({where(forward)}); which one? Write "
                       f"{shown}:{forward_name} for the pair, or rename one of them")
        return value
    if _is_function(forward):
        backward = getattr(module, backward_name, None)
        if not _is_function(backward):
            found = f"; {backward_name} is {type(backward).__name__}" if backward is not None else ""
            raise fail(f"{shown} defines {forward_name} ({where(forward)}) but no {backward_name}{found}: a function "
                       f"pair needs both (looked for {backward_name}, the backward of {forward_name})")
        return FunctionPair(f"{shown}:{name}", forward, backward)
    if "backward" in name and _is_function(value):
        stem = name.replace("_backward", "").replace("backward", "forward")
        raise fail(f"{shown}:{name} is a backward; name the pair by its forward or its stem, like {shown}:{stem}")
    if value is None:
        classes, pairs = _defined(module)
        hint = did_you_mean(name, classes + pairs)
        if not pairs:
            listed = f"; it defines: {', '.join(classes)}" if classes else ""
            raise fail(f"{shown} has no class {name!r}{hint}{listed}")
        listed = (f"classes: {', '.join(classes)}; " if classes else "") + f"function pairs: {', '.join(pairs)}"
        raise fail(f"{shown} has no class or function pair {name!r}{hint}; it defines {listed}")
    # Nothing a spec names is called before it is known to be a layer: os:system is refused, not run.
    if inspect.isroutine(value):
        raise fail(f"{shown}:{name} is a function, neither a class nor a function pair (looked for {forward_name} "
                   f"and {backward_name})")
    kind = type(value).__name__
    article = "an" if kind.lstrip("_")[:1].lower() in "aeiou" else "a"
    made = " (a layer object: name its class, which each spec builds afresh)" if _is_layer_object(value) else ""
    raise fail(f"{shown}:{name} is {article} {kind}, not a layer class or a function pair{made}")


def _is_layer_object(value: Any) -> bool:
    from .objects import BACKWARD_NAMES, FORWARD_NAMES
    return any(callable(getattr(value, n, None)) for n in FORWARD_NAMES[:-1] + BACKWARD_NAMES)


def _defined(module) -> tuple[list[str], list[str]]:
    """The classes and the function pairs (by the name a spec would use) `module` defines."""
    classes, pairs = [], []
    for key, value in vars(module).items():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            classes.append(key)
        elif _is_function(value) and "forward" in key and _is_function(getattr(module, pair_names(key)[1], None)):
            pairs.append(key[:-len("_forward")] if key.endswith("_forward") else key)
    return classes, pairs
