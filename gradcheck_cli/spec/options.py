"""Declarative option types: one place says what a value may be, for the validator and for
the messages it prints ("expected a positive integer, got 'three'")."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

REQUIRED = object()


@dataclass(frozen=True)
class Option:
    """One option of a layer, a loss or the spec itself."""

    kind: str  # a key of CHECKERS
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def describe(value: Any) -> str:
    """How a user's value is quoted back in an error message."""
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# kind -> (test, what the message says was expected)
CHECKERS: dict[str, tuple] = {
    "integer": (_is_int, "an integer"),
    "positive_int": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "non_negative_int": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "number": (_is_number, "a number"),
    "positive_number": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "non_negative_number": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "string": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
}


def check_value(option: Option, value: Any) -> str | None:
    """None when `value` is acceptable, else the message to print."""
    if option.choices:
        if value in option.choices:
            return None
        return f"expected one of {', '.join(map(str, option.choices))}, got {describe(value)}"
    test, expected = CHECKERS[option.kind]
    if test(value):
        return None
    return f"expected {expected}, got {describe(value)}"
