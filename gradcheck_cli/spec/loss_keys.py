"""The keys of a custom loss entry, `loss: {type: ./layers.py:softmax_loss, targets: classes, args: {...}}`:
how its targets are drawn and what else it is given. Checked here for form; what the loss takes
is checked against its signature when it is loaded (model/custom_loss.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import did_you_mean
from .custom_keys import parse_reserved
from .options import Option, describe



@dataclass
class LossSpec:
    type: str                    # a registry name, or "module:name" / "path/file.py:name" (a custom loss)
    options: dict[str, Any]
    line: int | None
    targets: str | None = None   # a custom loss: how its targets are drawn (TARGET_KINDS)
    args: dict[str, Any] = field(default_factory=dict)   # a custom loss: its other arguments
    target: Any = None           # the Python API's loss given as itself (a function, a class, an object)
    path: tuple = ("loss",)

    @property
    def custom(self) -> bool:
        return self.target is not None or ":" in self.type


# How the targets a custom loss gets are drawn from the seed, for an output Y of shape (..., C).
TARGET_KINDS = {
    "classes": "integers in [0, C), of Y's shape without its last axis (cs231n's y for softmax_loss)",
    "binary": "0.0 or 1.0, of Y's shape",
    "values": "standard normal, of Y's shape",
}
DEFAULT_TARGETS = "classes"

CUSTOM_LOSS_KEYS = {
    "targets": Option("string", DEFAULT_TARGETS, choices=tuple(TARGET_KINDS),
                      doc="how the targets are drawn from the seed: classes (integers in [0, C), C the last axis "
                          "of the output), binary ({0, 1}, the output's shape) or values (standard normal)"),
    "args": Option("mapping", None, doc="the loss's other arguments by name (a mask); a list of numbers arrives "
                                        "as a numpy array; a fresh copy at every call"),
}


def custom_loss_spec(type_name: str, options: dict, path: tuple, marks, target: Any = None) -> LossSpec:
    """A custom loss entry: `type_name` (or the Python API's `target`), its other keys `options` at `path`."""
    module, _, name = type_name.rpartition(":")
    if target is None and (not module or not name.isidentifier()):
        raise marks.error(("loss",), f"custom loss type {type_name!r} must look like package.module:name or "
                                     "path/to/file.py:name")
    for key in options:
        if key not in CUSTOM_LOSS_KEYS:
            raise marks.error(path + (key,), f"unknown key for the custom loss {type_name}"
                                             f"{did_you_mean(str(key), CUSTOM_LOSS_KEYS)}; expected one of: type, "
                                             f"{', '.join(CUSTOM_LOSS_KEYS)}", key=True)
    targets = options.get("targets", DEFAULT_TARGETS)
    if targets not in TARGET_KINDS:
        raise marks.error(path + ("targets",), f"expected one of {', '.join(TARGET_KINDS)}, got {describe(targets)}")
    args = parse_reserved("args", options["args"], path + ("args",), marks) if options.get("args") is not None else {}
    return LossSpec(type_name, {}, marks.line(("loss",)), targets, args, target=target)
