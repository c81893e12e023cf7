"""Custom losses: the output of the network to a scalar, in the user's own code, in one of two forms:

- a function in the cs231n form, `softmax_loss(x, y) -> (loss, dx)`: x the output, y the targets;
- a class with `forward(y, targets) -> loss` and `backward() -> dL/dy` (built without arguments;
  the Python API may give an object).

Either gets a float64 copy of the output (custom losses are computed in float64, as the built-in
ones are), the targets drawn once from the seed as the spec says (`targets:`), and the spec's
`args` by name, a fresh deep copy at every call. What it returns is checked at every call: a
finite scalar loss, a finite dx of the output's shape; anything else is a LossError naming the
loss (and the user's line, when it raised). CustomLoss has the built-in losses' interface
(prepare, values, value, grad) and knows nothing of where its input comes from."""
from __future__ import annotations

import copy
import inspect
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LAYER_FAILURES, LossError, ShapeError, did_you_mean, raised
from ..spec.loss_keys import DEFAULT_TARGETS, LossSpec
from .custom import load_module
from ..errors import where
from .registry import LOSSES

FORM_HINT = "a loss function returns (loss, dx), cs231n's form; a loss class has forward(y, targets) and backward()"


def build_loss(loss_spec: LossSpec, output, rng, spec_file: Path, index: int | None, fail):
    """The loss `loss_spec` names with its targets drawn from `rng` for `output` (its input), tried
    once if it is custom (so `validate` finds a broken one); `index`: where reports put it (one past
    the last layer); `fail(message)` makes the SpecError at the loss's line."""
    if loss_spec.custom:
        target = loss_spec.target if loss_spec.target is not None else _find(loss_spec.type, spec_file, fail)
        loss = CustomLoss(loss_spec, target, index, fail)
    else:
        loss = LOSSES[loss_spec.type].load()(**loss_spec.options)
    try:
        loss.prepare(output.shape, rng)
    except ShapeError as exc:
        raise fail(str(exc)) from None
    if loss_spec.custom:
        loss.try_once(output)
    return loss


def _find(type_name: str, spec_file: Path, fail):
    module, shown, name = load_module(type_name, spec_file, fail)
    value = getattr(module, name, None)
    if value is None:
        defined = [key for key, item in vars(module).items()
                   if callable(item) and getattr(item, "__module__", None) == module.__name__]
        listed = f"; it defines: {', '.join(defined)}" if defined else ""
        raise fail(f"{shown} has no loss function or class {name!r}{did_you_mean(name, defined)}{listed}")
    return value


def _signature_after(call, skip: int, shown: str, first: str, args: dict, fail) -> None:
    """Spec errors for a call that does not take (first, then `args` by name) after its first `skip`
    parameters: what a loss takes is told before it runs."""
    try:
        parameters = list(inspect.signature(call).parameters.values())
    except (TypeError, ValueError):  # no signature to read (a builtin): called as written
        return
    given_first = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    leading = [p for p in parameters[:skip] if p.kind in given_first]
    if len(leading) < skip and not any(p.kind == p.VAR_POSITIONAL for p in parameters[:skip + 1]):
        raise fail(f"{shown} must take {first} first ({FORM_HINT})")
    rest = [p for p in parameters[len(leading):] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes = [p.name for p in rest]
    for name in args:
        if name in [p.name for p in leading]:
            raise fail(f"args: {name!r} is one of the arguments gradcheck gives {shown}: {first}")
        if name not in takes and not any(p.kind == p.VAR_KEYWORD for p in parameters):
            listed = ", ".join([p.name for p in leading] + takes)
            raise fail(f"args: {shown} takes no argument {name!r}{did_you_mean(str(name), takes)}; it takes {listed}")
        if name in takes and rest[takes.index(name)].kind == inspect.Parameter.POSITIONAL_ONLY:
            raise fail(f"args: {name!r} of {shown} is positional-only; args are given by name")
    for p in rest:
        if p.name not in args and p.default is p.empty:
            raise fail(f"{shown} takes {p.name!r}, which is not in args: give it, args: {{{p.name}: ...}}")


def _as_arrays(args: dict) -> dict:
    """Each argument that is a list of numbers (or of such lists) as a numpy array: a mask written in
    YAML. Anything else as it is."""
    return {name: _as_array(value) for name, value in args.items()}


def _as_array(value: Any) -> Any:
    if not (isinstance(value, list) and value):
        return value
    try:
        array = np.array(value)
    except ValueError:  # ragged
        return value
    return array if array.dtype.kind in "biuf" else value


class CustomLoss:
    """A custom loss under the built-in losses' interface; calls are serialised (a loss class keeps
    what forward saw for backward, and the engine may evaluate from several threads)."""

    custom = True

    def __init__(self, loss_spec: LossSpec, target: Any, index: int | None, fail):
        self.type, self.index = loss_spec.type, index
        self.kind = loss_spec.targets or DEFAULT_TARGETS
        self.args = _as_arrays(loss_spec.args)
        self._lock = threading.Lock()
        self.function = self.object = None
        if inspect.isclass(target) or hasattr(target, "forward") or hasattr(target, "backward"):
            for method in ("forward", "backward"):
                if not callable(getattr(target, method, None)):
                    raise fail(f"{self.type} has no {method}(): {FORM_HINT}")
            is_class = inspect.isclass(target)
            static = is_class and isinstance(inspect.getattr_static(target, "forward"), (staticmethod, classmethod))
            _signature_after(target.forward, 3 if is_class and not static else 2, f"forward of {self.type}",
                             "y (the output) and targets" if not is_class or static else "self, y and targets",
                             self.args, fail)
            self.object = self._construct(target, fail) if is_class else target
        elif callable(target):
            name = getattr(target, "__name__", self.type)
            _signature_after(target, 2, f"{name} ({where(target)})", "x (the output) and y (the targets)",
                             self.args, fail)
            self.function = target
        else:
            raise fail(f"{self.type} is {type(target).__name__}, neither a loss function nor a loss class "
                       f"({FORM_HINT})")

    def _fail(self, message: str) -> LossError:
        return LossError(self.type, message, index=self.index)

    def _construct(self, cls: type, fail):
        try:
            inspect.signature(cls).bind()
        except TypeError as exc:
            raise fail(f"a loss class is built without arguments, and {self.type} cannot be ({exc}): give its "
                       "arguments defaults") from None
        except ValueError:
            pass
        try:
            return cls()
        except LAYER_FAILURES as exc:
            raise self._fail(raised("constructor", exc)) from None

    def prepare(self, shape, rng) -> None:
        """Draw the targets, as `targets:` says, for an output of `shape`."""
        self.shape = tuple(shape)
        if self.kind == "classes":
            if len(shape) < 2:
                raise ShapeError(f"targets: classes needs an output with a class axis last, (N, C), got "
                                 f"{self.shape}; give targets: binary or values")
            self.targets = rng.integers(shape[-1], size=shape[:-1])
        elif self.kind == "binary":
            self.targets = rng.integers(0, 2, size=shape).astype(np.float64)
        else:
            self.targets = rng.standard_normal(shape)

    def try_once(self, output) -> None:
        """One call before any check, twice: a loss that misbehaves, or gives another answer for
        the same output (randomness, state kept between calls), is an error before it misleads."""
        first, again = self.value_and_grad(output), self.value_and_grad(output)
        if first[0] != again[0] or not np.array_equal(first[1], again[1]):
            raise self._fail("gave different results for the same output (randomness, or state kept between "
                             "calls?); its gradient cannot be checked")

    def values(self, ys):
        """One loss per output of a stack (a leading axis of perturbations), or the single one."""
        ys = np.asarray(ys)
        if ys.shape == self.shape:
            return np.float64(self.value(ys))
        flat = ys.reshape((-1,) + self.shape)
        return np.array([self.value(y) for y in flat]).reshape(ys.shape[:ys.ndim - len(self.shape)])

    def value(self, y) -> float:
        if self.function is not None:
            return self.value_and_grad(y, gradient=False)[0]
        with self._lock:
            x = np.array(y, dtype=np.float64)
            return self._scalar(self._call("forward", self.object.forward, x), "forward", x)

    def grad(self, y):
        return self.value_and_grad(y)[1]

    def value_and_grad(self, y, gradient: bool = True) -> tuple[float, Any]:
        x = np.array(y, dtype=np.float64)  # the loss's own copy: what it does to it stays there
        with self._lock:
            if self.object is not None:
                value = self._scalar(self._call("forward", self.object.forward, x), "forward", x)
                return value, self._gradient(self._call("backward", self.object.backward), "backward", x)
            name = getattr(self.function, "__name__", "the loss function")
            result = self._call(name, self.function, x)
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
                raise self._fail(f"{name} returned {got}, expected a tuple (loss, dx): {FORM_HINT}")
            value = self._scalar(result[0], name, x)
            return value, self._gradient(result[1], name, x) if gradient else None

    def _call(self, what: str, call, x=None):
        try:
            if x is None:
                return call()
            return call(x, self.targets.copy(), **copy.deepcopy(self.args))
        except LAYER_FAILURES as exc:
            raise self._fail(raised(what, exc)) from None

    def _scalar(self, value, what: str, x) -> float:
        if np.shape(value) != ():
            raise self._fail(f"{what} returned a loss of shape {np.shape(value)}, expected a scalar (the mean or "
                             "the sum over the rows)")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._fail(f"{what} returned {type(value).__name__} as the loss, expected a number") from None
        if not math.isfinite(number) and np.all(np.isfinite(x)):  # else the input was not finite: not its fault
            raise self._fail(f"{what} returned {'NaN' if math.isnan(number) else number} as the loss, for a finite "
                             "input")
        return number

    def _gradient(self, dx, what: str, x) -> np.ndarray:
        if dx is None:
            raise self._fail(f"{what} returned None as dx, expected dL/dx of shape {x.shape}")
        array = np.asarray(dx)
        if array.dtype.kind not in "biuf":
            raise self._fail(f"{what} returned dx as {type(dx).__name__}, expected a numpy array of shape {x.shape}")
        if array.shape != x.shape:
            raise self._fail(f"{what} returned dx of shape {array.shape}, expected {x.shape}, the shape of its input")
        if not np.all(np.isfinite(array)) and np.all(np.isfinite(x)):
            raise self._fail(f"{what} returned dx containing {'NaN' if np.any(np.isnan(array)) else 'Inf'}")
        return array.astype(np.float64, copy=True)
