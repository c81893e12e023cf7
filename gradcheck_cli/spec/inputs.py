"""An input tensor as a spec describes it: a shape, and how its values are drawn from the seed.

    input: [4, 3]                                  floats, standard normal
    input: {shape: [4, 3], low: 0.1, high: 2.0}    floats, uniform in [low, high) (for log, sqrt)
    input: {shape: [4, 7], integers: 50}           integer ids in [0, 50): never perturbed, no gradient

The same form names each entry of a graph spec's `inputs:`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import did_you_mean
from .options import Option, check_value, describe

MAX_DIMS = 6
KEYS = ("shape", "integers", "low", "high")


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]
    integers: int | None = None      # ids in [0, integers): an integer tensor
    low: float | None = None         # uniform floats in [low, high) when both are given
    high: float | None = None

    @property
    def is_integer(self) -> bool:
        return self.integers is not None

    def draw(self, rng, dtype):
        """The tensor, drawn from `rng` (a numpy Generator); floats in `dtype`."""
        if self.is_integer:
            return rng.integers(0, self.integers, size=self.shape)
        if self.low is not None:
            return rng.uniform(self.low, self.high, size=self.shape).astype(dtype)
        return rng.standard_normal(self.shape).astype(dtype)


def is_integer_input(x) -> bool:
    """Integer ids (an embedding's input): never perturbed, no gradient of their own to check."""
    return getattr(getattr(x, "dtype", None), "kind", None) in ("i", "u")


def parse_input(value: Any, path: tuple, marks, min_dims: int = 2) -> InputSpec:
    """`[4, 3]` or `{shape: [4, 3], ...}` at `path` of the document -> InputSpec, or the SpecError
    that says file:line."""
    if isinstance(value, dict):
        for key in value:
            if key not in KEYS:
                raise marks.error(path + (key,), f"unknown key {key!r}{did_you_mean(str(key), KEYS)}; expected "
                                                 f"one of: {', '.join(KEYS)}", key=True)
        if "shape" not in value:
            raise marks.error(path, "missing 'shape': expected {shape: [4, 3]} with integers, or low and high")
        shape = _parse_shape(value["shape"], path + ("shape",), marks, min_dims)
        integers, low, high = value.get("integers"), value.get("low"), value.get("high")
        if integers is not None:
            problem = check_value(Option("positive_int"), integers)
            if problem:
                raise marks.error(path + ("integers",), problem)
            if low is not None or high is not None:
                raise marks.error(path + ("integers",), "integers draws ids in [0, integers); low and high are "
                                                        "for float inputs: give one or the other")
        if (low is None) != (high is None):
            raise marks.error(path + ("low" if low is not None else "high",), "give both low and high")
        if low is not None:
            for key in ("low", "high"):
                problem = check_value(Option("number"), value[key])
                if problem:
                    raise marks.error(path + (key,), problem)
            if not low < high:
                raise marks.error(path + ("high",), f"expected high > low ({describe(low)}), got {describe(high)}")
            low, high = float(low), float(high)
        return InputSpec(shape, integers, low, high)
    return InputSpec(_parse_shape(value, path, marks, min_dims))


def _parse_shape(value: Any, where: tuple, marks, min_dims: int) -> tuple[int, ...]:
    ok = (isinstance(value, list) and min_dims <= len(value) <= MAX_DIMS
          and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value))
    if not ok:
        if isinstance(value, list):
            for i, v in enumerate(value):
                if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
                    raise marks.error(where + (i,), f"expected a positive integer, got {describe(v)}")
        raise marks.error(where, f"expected a list of {min_dims} to {MAX_DIMS} positive integers "
                                 f"(rows, then features), like [4, 3], got {describe(value)}"
                          + (f" of length {len(value)}" if isinstance(value, list) else ""))
    return tuple(value)
