"""A custom layer, from what the spec names to an object the checker can drive.

The checker drives every layer through one contract: `forward(x)`, `backward(grad_out)`, a
`params` dict of the arrays it perturbs in place and a `grads` dict that backward fills
(optional `build(input_shape, rng)`). Users write layers in other styles; each style has a
module here that makes its layers fit the contract:

- a class following the contract is used as it is (this module);
- a function pair (cs231n's `affine_forward` / `affine_backward`): functions.py;
"""
from __future__ import annotations

from pathlib import Path

from ..errors import LAYER_FAILURES, LayerError, raised
from ..spec.load import LayerSpec
from . import custom
from .functions import FunctionPair, function_layer



def custom_layer(layer_spec: LayerSpec, spec_file: Path, label: str, fail):
    """The layer `layer_spec` names, ready for build; `fail(message)` makes the SpecError at its line."""
    target = layer_spec.target
    if target is None:
        target = custom.load_target(layer_spec.type, spec_file, fail)
    if isinstance(target, FunctionPair):
        return function_layer(target, layer_spec.declared, fail, label, layer_spec.options)
    if isinstance(target, type) or not hasattr(target, "forward"):
        custom.check_options(target, layer_spec.type, layer_spec.options, fail)
        try:
            layer = target(**layer_spec.options)
        except LAYER_FAILURES as exc:
            raise LayerError(f"{label} ({layer_spec.type})", raised("constructor", exc),
                             index=int(label.split(".")[0])) from None
    else:
        layer = target  # an object the Python API was given
    for method in ("forward", "backward"):
        if not callable(getattr(layer, method, None)):
            raise fail(f"{layer_spec.type} has no {method}() method; "
                       "a layer needs forward(x) and backward(grad_out)")
    return layer
