"""The Python API, for notebooks and test suites. Its arguments make a spec, checked in this process
exactly as `gradcheck run` checks a file, on the caller's own objects (a class defined in a notebook
cell works: nothing is imported by name), which are left as they were found."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import defaults
from .errors import SpecError
from .results import SpecResult

if TYPE_CHECKING:
    import numpy as np

__all__ = ["assert_gradients", "check_function", "check_layer", "check_spec"]

# A spec path -> the argument that gave it, for messages: `check_layer: rtol: ...`, not `tolerance.rtol`.
ARGUMENT_NAMES = {"tolerance.": "", "input": "input_shape"}


def check_layer(layer: Any, x: np.ndarray | None = None, *, input_shape: tuple[int, ...] | None = None,
                loss: Any = defaults.LOSS, seed: int = defaults.SEED, dtype: str = defaults.DTYPE,
                rtol: float | None = None, atol: float | None = None, mode: str | None = None,
                samples: int = defaults.SAMPLES, directions: int = defaults.DIRECTIONS,
                strict: bool = False, seeds: int = defaults.SEEDS) -> SpecResult:
    """Check the gradients of `layer` (an object, a class, a built-in name like "tanh", a spec entry like
    {"type": "linear", "out": 3}) or of a list of them (a stack, first layer first) on input `x`, or on
    an input of `input_shape` drawn from `seed`. Several inputs as a tuple, x=(q, k, v) or
    input_shape=((4, 8), (4, 8), (4, 8)), for a layer whose forward takes several: a graph spec, named by
    node. `loss`: a built-in name, or a custom loss (a function `loss(x, y) -> (loss, dx)`, a class or an
    object with forward(y, targets) and backward(), or a mapping {"type": ..., "targets": ..., "args": ...}).
    An invalid argument raises SpecError (a ValueError)."""
    from .api_graph import graph_mapping, several_inputs

    single = not isinstance(layer, list)
    layers = [layer] if single else layer
    options = _options("check_layer", mode, samples, directions, strict, seeds)
    if several_inputs(x, input_shape):
        data = _spec("check_layer", x, input_shape, layers, loss, seed, dtype, rtol, atol, several=True)
        graph, arrays, renames = graph_mapping(layers, x, input_shape, len(x if x is not None else input_shape))
        return _run("check_layer", {**data, **graph}, arrays or None, {**renames, **ARGUMENT_NAMES}, options)
    data = _spec("check_layer", x, input_shape, layers, loss, seed, dtype, rtol, atol)
    renames = {"layers[0]" if single else "layers": "layer", **ARGUMENT_NAMES}
    return _run("check_layer", data, x, renames, options)


def check_function(forward: Callable, backward: Callable, x: np.ndarray | None = None, *,
                   input_shape: tuple[int, ...] | None = None, params: Mapping | None = None,
                   args: Mapping | None = None, loss: Any = defaults.LOSS, seed: int = defaults.SEED,
                   dtype: str = defaults.DTYPE, rtol: float | None = None, atol: float | None = None,
                   mode: str | None = None, samples: int = defaults.SAMPLES, directions: int = defaults.DIRECTIONS,
                   strict: bool = False, seeds: int = defaults.SEEDS) -> SpecResult:
    """Check a function pair, cs231n style: `forward(x, *arrays, **args) -> (out, cache)` and
    `backward(dout, cache) -> (dx, *one gradient per array)`. `params` maps the names of the arrays
    after x to an array or a shape (drawn from `seed`); `args` gives forward's other arguments."""
    for name, function in (("forward", forward), ("backward", backward)):
        if not callable(function) or isinstance(function, type):
            raise SpecError(f"expected a function, got {type(function).__name__}", "check_function", where=name)
    entry: dict[str, Any] = {"type": (forward, backward)}
    if params is not None:
        entry["params"] = params
    if args is not None:
        entry["args"] = args
    data = _spec("check_function", x, input_shape, [entry], loss, seed, dtype, rtol, atol)
    renames = {"layers[0].": "", "layers[0]": "forward", **ARGUMENT_NAMES}
    return _run("check_function", data, x, renames,
                _options("check_function", mode, samples, directions, strict, seeds))


def check_spec(path_or_mapping: str | os.PathLike | Mapping, *, base: str | os.PathLike | None = None,
               strict: bool = False, mode: str | None = None, samples: int = defaults.SAMPLES,
               directions: int = defaults.DIRECTIONS, seeds: int = defaults.SEEDS) -> SpecResult:
    """Check a spec file, or a mapping of the same structure; a mapping's relative layer paths
    (./layers.py:Affine) are resolved against `base`, the current folder by default, and its `type`
    may also be a class, an object or a function (a pair's forward; or a (forward, backward) tuple)."""
    options = _options("check_spec", mode, samples, directions, strict, seeds)
    if isinstance(path_or_mapping, Mapping):
        return _run("<mapping>", dict(path_or_mapping), None, {}, options, Path(base) if base else Path.cwd())
    if not isinstance(path_or_mapping, (str, os.PathLike)):
        raise SpecError(f"expected a spec file's path or a mapping, got {type(path_or_mapping).__name__}",
                        "check_spec")
    if base is not None:
        raise SpecError("base is for a mapping; the layer paths of a spec file are relative to the file", "check_spec")
    from .spec.load import load_spec

    try:
        spec = load_spec(os.fspath(path_or_mapping))
    except SpecError as exc:
        raise _renamed(exc, {}) from None
    return _checked(spec, {}, options)


def assert_gradients(layer: Any, x: np.ndarray | None = None, *, input_shape: tuple[int, ...] | None = None,
                     loss: Any = defaults.LOSS, seed: int = defaults.SEED, dtype: str = defaults.DTYPE,
                     rtol: float | None = None, atol: float | None = None, mode: str | None = None,
                     samples: int = defaults.SAMPLES, directions: int = defaults.DIRECTIONS,
                     strict: bool = False, seeds: int = defaults.SEEDS) -> SpecResult:
    """check_layer, for a test: AssertionError with the report unless every gradient matches; each
    warning of a result that passes is a GradcheckWarning (with strict=True, the result fails)."""
    __tracebackhide__ = True  # pytest shows the test's line, not this one
    import warnings

    from .errors import GradcheckWarning

    result = check_layer(layer, x, input_shape=input_shape, loss=loss, seed=seed, dtype=dtype, rtol=rtol, atol=atol,
                         mode=mode, samples=samples, directions=directions, strict=strict, seeds=seeds)
    if not result.passed:
        raise AssertionError(str(result))
    for warning in result.warnings:
        warnings.warn(GradcheckWarning(warning.message), stacklevel=2)
    return result


def _spec(where: str, x, input_shape, layers: list, loss, seed, dtype, rtol, atol, several: bool = False) -> dict:
    """The spec the arguments describe, as the mapping a YAML file would hold (`several`: without its input and
    layers, which api_graph makes a graph of)."""
    import numpy as np

    if (x is None) == (input_shape is None):
        raise SpecError("give x (an array) or input_shape (an input drawn from the seed), "
                        + ("not both" if x is not None else "one of them"), where)
    if not isinstance(dtype, str):
        try:
            dtype = np.dtype(dtype).name  # np.float32 as well as "float32"
        except TypeError:
            pass
    data: dict[str, Any] = {"seed": seed, "dtype": dtype, "layers": layers, "loss": loss}
    if rtol is not None or atol is not None:
        data["tolerance"] = {key: value for key, value in (("rtol", rtol), ("atol", atol)) if value is not None}
    if several:
        del data["layers"]
        return data
    if x is not None:
        data["input"] = list(np.shape(x))
    else:
        data["input"] = list(input_shape) if isinstance(input_shape, (list, tuple)) else input_shape
    return data


def _options(where: str, mode, samples, directions, strict, seeds):
    from .run.batch import RunOptions
    from .spec.options import Option, check_value

    checks = [("mode", Option("string", choices=defaults.MODES), mode), ("samples", Option("positive_int"), samples),
              ("directions", Option("positive_int"), directions), ("strict", Option("bool"), strict),
              ("seeds", Option("positive_int"), seeds)]
    values = {}
    for name, option, value in checks:
        value = _python(value)
        problem = None if name == "mode" and value is None else check_value(option, value)
        if problem:
            raise SpecError(problem, where, where=name)
        values[name] = value
    return RunOptions(**values)


def _run(where: str, data: dict, x, renames: dict, options, base: Path | None = None) -> SpecResult:
    """Parse the mapping (errors name the argument: `check_layer: layer[1].out: ...`), then check it."""
    from . import api_spec
    from .spec.load import parse_spec
    from .spec.yaml_marks import Marks

    try:
        if isinstance(x, dict):  # a graph's inputs, by name
            x = {name: api_spec.input_array(value, where) for name, value in x.items()}
        elif x is not None:
            x = api_spec.input_array(x, where)
        plain, arrays = api_spec.plain_spec(data)
        spec = parse_spec(plain, Marks(where), where, (base or Path.cwd()) / where)
        if where != "<mapping>":  # check_layer's result is named after its layers
            spec.name = ", ".join(layer.type for layer in spec.layers)
        spec.x = x
        api_spec.attach(spec, arrays)
    except SpecError as exc:
        raise _renamed(exc, renames) from None
    return _checked(spec, renames, options)


def _checked(spec, renames: dict, options) -> SpecResult:
    from . import api_spec
    from .run.batch import check_loaded

    start = time.perf_counter()
    try:
        with api_spec.left_as_found(spec):
            return check_loaded(spec, options, start)
    except SpecError as exc:
        raise _renamed(exc, renames) from None


def _renamed(exc: SpecError, renames: dict) -> SpecError:
    """The error with its place in the spec said as the caller's arguments: layers[0].out -> layer.out."""
    where = exc.where
    for old, new in renames.items():
        if where == old or (where.startswith(old) and (old.endswith(".") or where[len(old)] in ".[")):
            where = new + where[len(old):]
            break
    return SpecError(exc.message, exc.file, exc.line, where)


def _python(value):
    """A numpy scalar as the Python number it holds (np.int64(3) is not an int)."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value
