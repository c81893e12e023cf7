"""A custom layer, from what the spec names to an object the checker can drive.

The checker drives every layer through one contract: `forward(x)`, `backward(grad_out)`, a
`params` dict of the arrays it perturbs in place and a `grads` dict that backward fills
(optional `build(input_shape, rng)`). Users write layers in other styles; each style has a
module here that makes its layers fit the contract:

- a class following the contract is used as it is (this module);
- a class of another style (forward_pass, weights as attributes, `call:` keyword arguments):
  objects.py adapts it, and discovery.py finds its parameters once it is built;
- a function pair (cs231n's `affine_forward` / `affine_backward`): functions.py;
"""
from __future__ import annotations

from pathlib import Path

from ..errors import LAYER_FAILURES, LayerError, raised
from ..spec.load import LayerSpec
from . import custom, objects
from .functions import FunctionPair, function_layer



def custom_layer(layer_spec: LayerSpec, spec_file: Path, label: str, fail, inputs: int | None = None):
    """The layer `layer_spec` names, ready for build; `fail(message)` makes the SpecError at its line.
    `inputs`: a graph node's, how many arrays its forward takes (None: a stack's layer, x alone)."""
    target = layer_spec.target
    if target is None:
        target = custom.load_target(layer_spec.type, spec_file, fail)
    if isinstance(target, FunctionPair):
        return function_layer(target, layer_spec.declared, fail, label, layer_spec.options, inputs)
    index, name, declared = int(label.split(".")[0]), f"{label} ({layer_spec.type})", layer_spec.declared
    inputs = inputs or 1
    if "args" in declared:
        raise fail(f"args is for function pairs; {layer_spec.type} is a class: give its constructor's arguments as "
                   "keys of the entry (or in init)")
    if not _is_constructor(target):
        if "init" in declared or "params" in declared:
            raise fail(f"{'init' if 'init' in declared else 'params'}: {layer_spec.type} is already built (an "
                       "object, not a class); init and params are for a constructor")
        return objects.adapt(target, declared, name, index, layer_spec.type, fail, inputs=inputs)  # the API's object
    if isinstance(target, type) and objects.seen_on_class(target):  # nothing is made that is no layer
        objects.method_names(target, declared.get("methods", {}), layer_spec.type, fail)
    options = _constructor_options(layer_spec, fail)
    shapes = declared.get("params", {})
    custom.check_options(target, layer_spec.type, {**options, **dict.fromkeys(shapes)}, fail)

    def make(rng=None):
        arrays = objects.draw_arrays(shapes, rng) if shapes else {}
        try:
            return target(**options, **arrays)
        except LAYER_FAILURES as exc:
            raise LayerError(name, raised("constructor", exc), index=index) from None

    if shapes:  # arrays for the constructor, drawn from the layer's seed: made at build
        return objects.adapt(target, declared, name, index, layer_spec.type, fail, make=make, inputs=inputs)
    return objects.adapt(make(), declared, name, index, layer_spec.type, fail, inputs=inputs)


def _is_constructor(target) -> bool:
    """A class (or a factory function) to call, rather than a layer object already made."""
    if isinstance(target, type):
        return True
    return not any(hasattr(target, name) for name in objects.FORWARD_NAMES[:-1] + objects.BACKWARD_NAMES)


def _constructor_options(layer_spec: LayerSpec, fail) -> dict:
    """The entry's other keys and `init:` (for a constructor argument with a reserved name);
    `params:` adds arrays drawn by shape, at build."""
    seen: dict[str, str] = {}
    for where, keys in (("as a key of the entry", layer_spec.options), ("in init", layer_spec.declared.get("init", {})),
                        ("in params", layer_spec.declared.get("params", {}))):
        for key in keys:
            if key in seen:
                raise fail(f"{key!r} is given twice, {seen[key]} and {where}; give it once")
            seen[key] = where
    return {**layer_spec.options, **layer_spec.declared.get("init", {})}
