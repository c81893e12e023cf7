"""Function pairs, the cs231n style: `NAME_forward(x, w, b) -> (out, cache)` and
`NAME_backward(dout, cache) -> (dx, dw, db)`, made into a layer the checker can drive.

The arrays after x in the forward's signature are the layer's parameters (the spec's `params`,
drawn from the seed); its other arguments come from the spec's `args`, a fresh copy at every
call, so a forward that writes into them (cs231n's batch norm keeps its running means in
bn_param) cannot change the next call."""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Callable

from ..errors import LayerError, did_you_mean, where
from ..spec.inputs import is_integer_input

UPDATE_GUESS = " (an update step, like w -= lr * dw?)"


@dataclass(frozen=True)
class FunctionPair:
    """A forward function and its backward, as a spec or the Python API names them."""

    name: str                  # what reports call it: "./layers.py:affine", or the function's name
    forward: Callable
    backward: Callable


def function_layer(pair: FunctionPair, declared: dict, fail, label: str = "0", options: dict | None = None,
                   inputs: int | None = None):
    """A contract layer (forward, backward, params, grads, build) around `pair`; `declared`
    holds the entry's `params` and `args`; `label` is its place in the stack ("2", "2.0");
    `options` the entry's other keys, which a function pair has no constructor to take.
    `inputs`: a graph node's, how many of forward's first arguments are inputs (None: a stack's layer, x alone)."""
    unknown = [*(options or {}), *(key for key in declared if key not in ("params", "args"))]
    for key in unknown[:1]:
        raise fail(f"unknown key {key!r}{did_you_mean(str(key), ['params', 'args'])} for the function pair "
                   f"{pair.name}; it takes params (the arrays after x, by shape) and args (its other arguments)")
    params, args = declared.get("params") or {}, declared.get("args") or {}
    order, positional = _plan_call(pair, params, args, fail, inputs or 1)
    if inputs is not None:  # a graph node: several inputs and outputs (graph_functions.py)
        from .graph_functions import NodeFunctionLayer as made
    else:
        made = FunctionLayer
    return made(pair, f"{label} ({pair.name})", int(label.split(".")[0]), {name: params[name] for name in order},
                args, positional, inputs or 1)


def _plan_call(pair: FunctionPair, params: dict, args: dict, fail, inputs: int = 1) -> tuple[list[str], list[str]]:
    """(the arrays in the forward's order, the names given by position) for calling
    forward(x, ...) with `params` and `args` (forward(a, b, ...) with `inputs` inputs); a spec
    error for what does not fit its signature."""
    forward = pair.forward
    shown = f"{getattr(forward, '__name__', 'forward')} ({where(forward)})"
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):  # no signature to read (a builtin): given by keyword, as written
        return list(params), []
    given_first = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                   inspect.Parameter.VAR_POSITIONAL)
    if len(parameters) < inputs or any(p.kind not in given_first for p in parameters[:inputs]):
        raise fail(f"{shown} must take the layer's input x as its first argument" if inputs == 1 else
                   f"{shown} must take the {inputs} inputs its node names in in: as its first {inputs} arguments")
    firsts, rest = parameters[:inputs], parameters[inputs:]
    x = firsts[0]
    named = [p for p in rest if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes = [p.name for p in named]
    any_keyword = any(p.kind == p.VAR_KEYWORD for p in rest)
    for key, given in (("params", params), ("args", args)):
        for name in given:
            if name == x.name:
                raise fail(f"{key}: {name!r} is the first argument of {shown}, the layer's input, which the stack "
                           "gives (the spec's input or the previous layer's output)")
            if name in [p.name for p in firsts[1:]]:
                raise fail(f"{key}: {name!r} is one of the {inputs} inputs of {shown}, which the node's in: gives")
            if name not in takes and not any_keyword:
                listed = f"it takes {', '.join([*(p.name for p in firsts), *takes])}"
                raise fail(f"{key}: {shown} takes no argument {name!r}{_hint(name, takes)}; {listed}")
    for name in params:
        if name in args:
            raise fail(f"{name!r} is in both params and args; an array of parameters goes in params, "
                       "any other argument in args")
    for p in named:
        if p.name not in params and p.name not in args and p.default is p.empty:
            raise fail(f"{shown} takes {p.name!r}, which is neither in params nor in args: give the shape of an "
                       f"array of parameters, params: {{{p.name}: [...]}}, or any other value, args: {{{p.name}: ...}}")
    order = [name for name in takes if name in params] + [name for name in params if name not in takes]
    positional = []
    for p in named:
        if p.kind != p.POSITIONAL_ONLY or (p.name not in params and p.name not in args):
            break
        positional.append(p.name)
    later = [p.name for p in named[len(positional):]
             if p.kind == p.POSITIONAL_ONLY and (p.name in params or p.name in args)]
    if later:
        raise fail(f"{shown}: {later[0]!r} is positional-only, and the argument before it is not given")
    return order, positional


class FunctionLayer:
    """A function pair under the checker's contract. Its parameters are the arrays `params` holds
    (the checker perturbs them in place; each call passes the dict's current arrays); backward
    fills `grads` from what the pair's backward returns. Slots: every array it holds is declared,
    nothing to discover among its attributes."""

    __slots__ = ("pair", "name", "index", "params", "grads", "_draws", "_args", "_positional", "_cache", "_ids",
                 "_inputs")

    def __init__(self, pair: FunctionPair, name: str, index: int, draws: dict, args: dict, positional: list[str],
                 inputs: int = 1):
        self.pair, self.name, self.index = pair, name, index
        self.params: dict = {}
        self.grads: dict = {}
        self._draws, self._args, self._positional, self._cache = draws, args, positional, None
        self._ids = False   # x is integer ids: backward may return the parameters' gradients alone
        self._inputs = inputs  # a graph node's (graph_functions.py); 1 in a stack

    def _fail(self, message: str) -> LayerError:
        return LayerError(self.name, message, index=self.index)

    def build(self, input_shape, rng) -> None:
        """Every array of `params`, in the forward's order: given, or drawn from the seed."""
        import numpy as np
        for name, draw in self._draws.items():
            if "value" in draw:  # given as an array (the Python API): a copy, which the checker may perturb
                value = np.array(draw["value"], copy=True)
                self.params[name] = value if np.issubdtype(value.dtype, np.floating) else value.astype(float)
            elif draw.get("init", "normal") == "zeros":
                self.params[name] = np.zeros(draw["shape"])
            elif draw.get("init", "normal") == "ones":
                self.params[name] = np.ones(draw["shape"])
            else:
                self.params[name] = draw.get("scale", 1.0) * rng.standard_normal(draw["shape"])

    def forward(self, x):
        self._ids = is_integer_input(x)
        result = self._call(x)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
            raise self._fail(f"{_name(self.pair.forward)} returned {got}, expected a tuple (out, cache)")
        out, self._cache = result
        return out

    def _call(self, *inputs):
        values = copy.deepcopy(self._args)  # what forward writes into them stays with this call
        values.update((name, self.params[name]) for name in self._draws)
        leading = [values.pop(name) for name in self._positional]
        return self.pair.forward(*inputs, *leading, **values)

    def backward(self, grad_out):
        import numpy as np
        kept = [(name, array.copy()) for name, array in self.params.items()]
        result = self.pair.backward(grad_out, self._cache)
        names, backward = list(self._draws), _name(self.pair.backward)
        for name, values in kept:  # a step w -= lr * dw inside backward: at any later call the weights differ
            if not np.array_equal(self.params[name], values, equal_nan=True):
                raise self._fail(f"{backward} changed the values of {name} in place{UPDATE_GUESS}; gradcheck checks "
                                 "gradients at fixed weights: backward must leave them as they are and return "
                                 "their gradients")
        expected = "dx, then the gradients of " + ", ".join(names) + ", in the forward's order" if names else ""
        if self._ids:
            return self._ids_backward(result, names, backward)
        if not names:
            if isinstance(result, (tuple, list)):
                if len(result) != 1:
                    raise self._fail(f"{backward} returned {len(result)} values, expected dx alone "
                                     f"({_name(self.pair.forward)} takes no arrays in params)")
                result = result[0]
            self.grads = {}
            return result
        if not isinstance(result, (tuple, list)):
            raise self._fail(f"{backward} returned {type(result).__name__}, expected a tuple of {len(names) + 1}: "
                             f"{expected}")
        if len(result) != len(names) + 1:
            raise self._fail(f"{backward} returned {len(result)} values, expected {len(names) + 1}: {expected}")
        self.grads = self._param_grads(names, result[1:], 2, len(result), backward)
        return result[0]

    def _ids_backward(self, result, names: list[str], backward: str):
        """x was integer ids, which have no gradient: backward returns the parameters' gradients
        alone (cs231n's word_embedding_backward returns dW), or after a dx, which is ignored."""
        self.grads = {}
        if not names:
            return None
        if len(names) == 1 and not isinstance(result, (tuple, list)):
            result = (result,)
        expected = f"the gradients of {', '.join(names)} in the forward's order (x is integer ids: no dx needed)"
        if not isinstance(result, (tuple, list)):
            raise self._fail(f"{backward} returned {type(result).__name__}, expected a tuple of {len(names)}: "
                             f"{expected}")
        if len(result) not in (len(names), len(names) + 1):
            raise self._fail(f"{backward} returned {len(result)} values, expected {len(names)}: {expected}")
        skip = len(result) - len(names)
        self.grads = self._param_grads(names, result[skip:], skip + 1, len(result), backward)
        return None

    def _param_grads(self, names: list[str], returned, first: int, count: int, backward: str) -> dict:
        """The parameters' gradients, by name; `first`: the position of the first among the `count`
        values backward returned, for messages."""
        import numpy as np

        from .arrays import EXPECTED, not_real_floats
        grads = {}
        for position, (name, grad) in enumerate(zip(names, returned), start=first):
            value = f"value {position} of {count}"
            if grad is None:
                raise self._fail(f"{backward} returned None as the gradient of {name} ({value})")
            grad = grad if isinstance(grad, np.ndarray) else np.asarray(grad)
            if not_real_floats(grad, integers=True):
                raise self._fail(f"{backward} returned the gradient of {name} ({value}) as "
                                 f"{not_real_floats(grad, integers=True)}, {EXPECTED}")
            shape = self.params[name].shape
            if grad.shape != shape:
                # cs231n's notebooks compare with broadcasting, so a dgamma of shape (1, D) goes unnoticed there
                hint = (f" (only axes of length 1 differ: return it in the shape of {name})"
                        if np.squeeze(grad).shape == np.squeeze(self.params[name]).shape else "")
                raise self._fail(f"{backward} returned the gradient of {name} ({value}) with shape {grad.shape}, "
                                 f"expected {shape}, the shape of {name}{hint}")
            grads[name] = grad
        return grads


def _hint(name: str, known: list[str]) -> str:
    """did_you_mean, where a difference of case counts as close (W for w)."""
    same = [k for k in known if k.lower() == name.lower()]
    return f" (did you mean {same[0]!r}?)" if same else did_you_mean(name, known)


def _name(function) -> str:
    return getattr(function, "__name__", "the function")
