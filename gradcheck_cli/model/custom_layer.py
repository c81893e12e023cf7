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

from ..errors import LAYER_FAILURES, LayerError, one_line
from ..spec.load import LayerSpec
from . import custom, objects
from .functions import FunctionPair, function_layer



def custom_layer(layer_spec: LayerSpec, spec_file: Path, label: str, fail):
    """The layer `layer_spec` names, ready for build; `fail(message)` makes the SpecError at its line."""
    target = layer_spec.target
    if target is None:
        target = custom.load_class(layer_spec.type, spec_file, fail)
    if isinstance(target, FunctionPair):
        return function_layer(target, layer_spec.declared, fail)
    index = int(label.split(".")[0])
    if _is_constructor(target):
        options = _constructor_options(layer_spec, fail)
        custom.check_options(target, layer_spec.type, options, fail)
        try:
            layer = target(**options)
        except LAYER_FAILURES as exc:
            raise LayerError(f"{label} ({layer_spec.type})", f"constructor raised {one_line(exc)}",
                             index=index) from None
    else:
        layer = target  # an object the Python API was given
        if "init" in layer_spec.declared:
            raise fail(f"init: {layer_spec.type} is already built (an object, not a class); init is for a constructor")
    return objects.adapt(layer, layer_spec.declared, f"{label} ({layer_spec.type})", index, layer_spec.type, fail)


def _is_constructor(target) -> bool:
    """A class (or a factory function) to call, rather than a layer object already made."""
    if isinstance(target, type):
        return True
    return not any(hasattr(target, name) for name in objects.FORWARD_NAMES[:-1] + objects.BACKWARD_NAMES)


def _constructor_options(layer_spec: LayerSpec, fail) -> dict:
    """The entry's other keys and `init:` (for a constructor argument with a reserved name)."""
    init = layer_spec.declared.get("init", {})
    both = sorted(set(init) & set(layer_spec.options))
    if both:
        raise fail(f"{both[0]!r} is given twice, in init and as a key of the entry; give it once")
    return {**layer_spec.options, **init}
