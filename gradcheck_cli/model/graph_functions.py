"""A function pair as a node of a graph spec (functions.py makes one when the node's `in` is given):
its forward takes the node's inputs as its first len(in) arguments and the spec's params after them;
its backward returns one gradient per input, then one per parameter.

Several outputs, the ways cs231n writes them: forward returns (out, cache) with `out` a tuple, or
(out_1, ..., out_k, cache) as lstm_step_forward returns (next_h, next_c, cache); backward then gets
the outputs' gradients as one tuple, or, when it takes more than two arguments, one by one before
the cache: lstm_step_backward(dnext_h, dnext_c, cache). An integer input's gradient may be left out
(word_embedding_backward returns dW alone): ids get none."""
from __future__ import annotations

import inspect

from .functions import FunctionLayer, _name


class NodeFunctionLayer(FunctionLayer):
    __slots__ = ("_integer",)

    def forward(self, *inputs):
        self._integer = [getattr(x, "dtype", None) is not None and x.dtype.kind in "iub" for x in inputs]
        result = self._call(*inputs)
        if not isinstance(result, (tuple, list)) or len(result) < 2:
            got = f"{len(result)} value" if isinstance(result, (tuple, list)) else type(result).__name__
            raise self._fail(f"{_name(self.pair.forward)} returned {got}, expected a tuple (out, cache), or "
                             "(out_1, ..., out_k, cache) for several outputs")
        *outputs, self._cache = result
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def backward(self, grad_out):
        spread = isinstance(grad_out, tuple) and _positional_count(self.pair.backward) > 2
        result = self.pair.backward(*grad_out, self._cache) if spread else self.pair.backward(grad_out, self._cache)
        names, backward, inputs = list(self._draws), _name(self.pair.backward), self._inputs
        full, floats = inputs + len(names), [i for i, integer in enumerate(self._integer) if not integer]
        expected = (f"one gradient per input ({inputs}), then one per array of params ({', '.join(names) or 'none'}), "
                    "in the forward's order")
        if not isinstance(result, (tuple, list)) and 1 in (full, len(floats) + len(names)):
            result = (result,)  # one array: the only gradient there is to give
        if not isinstance(result, (tuple, list)):
            raise self._fail(f"{backward} returned {type(result).__name__}, expected a tuple of {full}: {expected}")
        if len(result) == full:
            given = list(result[:inputs])
        elif len(result) == len(floats) + len(names) and len(floats) < inputs:  # ids' gradients left out
            given = [dict(zip(floats, result)).get(i) for i in range(inputs)]
        else:
            raise self._fail(f"{backward} returned {len(result)} values, expected {full}: {expected}")
        first = len(result) - len(names)
        self.grads = self._param_grads(names, result[first:], first + 1, len(result), backward)
        return given[0] if inputs == 1 else tuple(given)


def _positional_count(function) -> int:
    """How many arguments `function` takes by position (2 when it cannot be told; many, for *args)."""
    try:
        kinds = [p.kind for p in inspect.signature(function).parameters.values()]
    except (TypeError, ValueError):
        return 2
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return 1 << 20
    return sum(kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for kind in kinds)
