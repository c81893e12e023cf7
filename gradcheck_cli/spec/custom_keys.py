"""The reserved keys of a custom layer entry: what cannot be guessed from the user's code
(which arrays are weights, what the methods are called, what forward is given). Every other key
of the entry goes to the layer's constructor. Checked here for form; what they name is checked
when the layer is built."""
from __future__ import annotations

from typing import Any

from ..errors import did_you_mean
from .options import Option, check_value, describe

MAX_PARAM_DIMS = 6

# Keys of a custom layer entry that are not constructor options: they say what cannot be guessed
# from the user's code (docs: README "Layers as you write them").
RESERVED = {
    "weights": Option("mapping_of_names", None,
                      doc="parameter attribute -> its gradient's attribute, {W: dW}; dotted for a sublayer's, "
                          "{layers.0.W: layers.0.gW}"),
    "constants": Option("names", None, doc="arrays forward reads that are not parameters (a fixed mask), [mask]"),
    "methods": Option("methods", None, doc="{forward: NAME, backward: NAME} when they are named otherwise; "
                                           "reset: NAME, called before every forward (a fresh pass)"),
    "call": Option("mapping", None, doc="keyword arguments given to forward at every call, {training: true}"),
    "init": Option("mapping", None, doc="constructor arguments, for one that takes a reserved name"),
    "params": Option("param_shapes", None, doc="function pairs: the arrays after x in forward's signature, "
                     "name -> shape or {shape, init: normal|zeros|ones, scale}, drawn from the seed"),
    "args": Option("mapping", None, doc="function pairs: forward's other arguments by name (config dicts, "
                   "integers); a fresh copy at every call"),
}
PARAM_INITS = ("normal", "zeros", "ones")
# reset: for a layer that keeps what every forward saw until its update step (a list of inputs)
METHOD_ROLES = ("forward", "backward", "reset")


def parse_reserved(key: str, value: Any, path: tuple, marks) -> Any:
    """A reserved key of a custom layer entry, checked for its form (what it names is checked
    when the layer is built)."""
    kind = RESERVED[key].kind
    if kind == "names":
        if not isinstance(value, list):
            raise marks.error(path, f"expected a list of attribute names, like [mask], got {describe(value)}")
        for i, name in enumerate(value):
            if not is_attribute_path(name):
                raise marks.error(path + (i,), f"expected an attribute name, like mask or layers.0.mask, "
                                               f"got {describe(name)}")
        return list(value)
    if not isinstance(value, dict):
        raise marks.error(path, f"expected a mapping, got {describe(value)}")
    for name, item in value.items():
        if kind == "mapping_of_names":
            if not is_attribute_path(name):
                raise marks.error(path + (name,), "expected the parameter's attribute name as the key, like W or "
                                                  f"layers.0.W, got {describe(name)}", key=True)
        elif not isinstance(name, str) or not name.isidentifier():
            raise marks.error(path + (name,), f"expected a Python name as the key, got {describe(name)}", key=True)
        if kind == "mapping_of_names" and not is_attribute_path(item):
            raise marks.error(path + (name,), f"expected the name of the gradient's attribute, like d{name}, "
                                              f"got {describe(item)}")
        if kind == "methods":
            if name not in METHOD_ROLES:
                hint = did_you_mean(name, METHOD_ROLES)
                raise marks.error(path + (name,), f"unknown method role {name!r}{hint}; expected forward, backward "
                                                  "or reset", key=True)
            if not (isinstance(item, str) and item.isidentifier()):
                raise marks.error(path + (name,), f"expected a method name, got {describe(item)}")
        if kind == "param_shapes":
            value[name] = _parse_param_shape(item, path + (name,), marks)
    return dict(value)


def is_attribute_path(text: Any) -> bool:
    """W, params.W, layers.0.W: an attribute of the layer, of a dict or list it holds, and so on."""
    if not isinstance(text, str) or not text:
        return False
    parts = text.split(".")
    return parts[0].isidentifier() and all(p.isidentifier() or p.isdigit() for p in parts)


def _parse_param_shape(value: Any, path: tuple, marks) -> dict:
    """`[4, 3]` or `{shape: [4, 3], init: normal|zeros|ones, scale: s}` -> that mapping, filled in."""
    if isinstance(value, list):
        value = {"shape": value}
    if not isinstance(value, dict):
        raise marks.error(path, "expected a shape like [4, 3] or {shape: [4, 3], init: zeros}, "
                                f"got {describe(value)}")
    for key in value:
        if key not in ("shape", "init", "scale"):
            hint = did_you_mean(str(key), ["shape", "init", "scale"])
            raise marks.error(path + (key,), f"unknown key {key!r}{hint}; expected shape, init or scale", key=True)
    shape = value.get("shape")
    if not (isinstance(shape, list) and 1 <= len(shape) <= MAX_PARAM_DIMS
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
        raise marks.error(path + (("shape",) if "shape" in value else ()),
                          f"expected a shape: a list of 1 to {MAX_PARAM_DIMS} positive integers, got {describe(shape)}")
    init = value.get("init", "normal")
    if init not in PARAM_INITS:
        raise marks.error(path + ("init",), f"expected one of {', '.join(PARAM_INITS)}, got {describe(init)}")
    scale = value.get("scale", 1.0)
    problem = check_value(Option("positive_number"), scale)
    if problem:
        raise marks.error(path + ("scale",), problem)
    return {"shape": tuple(shape), "init": init, "scale": float(scale)}
