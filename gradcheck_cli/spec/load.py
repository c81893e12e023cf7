"""The spec format: a declarative schema, and a validator that turns a YAML file into a Spec
or raises one SpecError that says `file:line: where: what`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import defaults
from . import stdin, yaml_marks
from ..errors import SpecError, did_you_mean
from .custom_keys import RESERVED, parse_reserved
from .inputs import InputSpec, parse_input
from .loss_keys import LossSpec, custom_loss_spec
from .options import Option, check_value, describe
from .reading import read_spec_file
from .targets import is_target, target_name
from ..model.registry import LAYERS, LOSSES

DTYPES = ("float64", "float32")

# The top level of a spec. `layers`, `loss` and `tolerance` have structure of their own below.
TOP_LEVEL = {
    "name": Option("string", None, doc="shown in reports; defaults to the file's stem"),
    "seed": Option("non_negative_int", defaults.SEED, doc="seeds every random draw: input, parameters, targets"),
    "dtype": Option("string", defaults.DTYPE, choices=DTYPES, doc="dtype of the input and parameters"),
    "input": Option("shape", doc="shape of X: N rows (data points) x features"),
    "layers": Option("layers", doc="the stack, first layer first"),
    "loss": Option("loss", defaults.LOSS, doc="scalar loss on the last layer's output"),
    "tolerance": Option("tolerance", None, doc="overrides the dtype's default rtol/atol"),
    "step": Option("positive_number", None, doc="finite-difference step factor h/max(1,|θ|)"),
    # The graph form (spec/graph.py), in place of input and layers.
    "inputs": Option("inputs", None, doc="a graph's inputs: name -> shape, or {shape, integers} or {shape, low, high}"),
    "graph": Option("graph", None, doc="a graph's nodes: {name, type, in, ...options}; in names inputs and nodes"),
}
TOLERANCE = {
    "rtol": Option("non_negative_number", None, doc="relative tolerance"),
    "atol": Option("non_negative_number", None, doc="absolute tolerance"),
}
MAX_DIMS = 6



@dataclass
class LayerSpec:
    type: str                    # a registry name, or "module:Class" / "path/file.py:Class"
    options: dict[str, Any]
    path: tuple                  # where it sits in the document: ("layers", 2)
    line: int | None
    children: list["LayerSpec"] = field(default_factory=list)  # a residual's branch
    # A custom layer's reserved keys (RESERVED below), apart from the options its constructor gets.
    declared: dict[str, Any] = field(default_factory=dict)
    # The Python API may give the layer itself (a class, a function, an object) instead of a name.
    target: Any = None

    @property
    def custom(self) -> bool:
        return self.target is not None or ":" in self.type


@dataclass
class Spec:
    path: str                    # as the user gave it
    file: Path                   # resolved, for custom layer paths
    name: str
    seed: int
    dtype: str
    input_spec: InputSpec        # the shape of X and how its values are drawn
    layers: list[LayerSpec]
    loss: LossSpec
    rtol: float | None
    atol: float | None
    step: float | None
    marks: yaml_marks.Marks
    x: Any = None                # the Python API's own input array, of shape `input`; else drawn from the seed
    graph: Any = None            # a graph spec's graph.GraphSpec (then `layers` are its nodes, in the file's order)

    @property
    def input(self) -> tuple[int, ...]:
        """The shape of X."""
        return self.input_spec.shape


def load_spec(path: str, allow_custom: bool = True) -> Spec:
    """Read and validate one spec file; `allow_custom=False` refuses custom layers (their
    code would run), for specs from untrusted sources. The path `-` is standard input."""
    file = Path(path)
    try:
        if path == stdin.STDIN:
            path = stdin.STDIN_NAME  # in messages, from here on
            text, file = stdin.read_stdin()
        else:
            text = read_spec_file(path).decode("utf-8")  # a regular file, read within the size limit
    except UnicodeDecodeError:
        raise SpecError("not a text file (it is not valid UTF-8)", path) from None
    except OSError as exc:  # standard input that cannot be read (a folder given as `< /`)
        raise SpecError(f"cannot read: {exc.strerror or exc}", path) from None
    data, marks = yaml_marks.load(text, path)
    spec = parse_spec(data, marks, path, file)
    if not allow_custom:
        for layer in walk(spec.layers):
            if layer.custom:
                raise marks.error(layer.path, f"custom layer {layer.type} refused: --no-custom is set "
                                              "(custom layers are Python code and would run)")
        if spec.loss.custom:
            raise marks.error(spec.loss.path, f"custom loss {spec.loss.type} refused: --no-custom is set "
                                              "(custom losses are Python code and would run)")
    return spec


def walk(layers: list[LayerSpec]):
    """Every layer spec, nested ones right after their residual."""
    for layer in layers:
        yield layer
        yield from walk(layer.children)


def layer_sizes(layers: list[LayerSpec], features: int) -> list[int]:
    """Parameter counts of the built-in linear layers, following the features through."""
    sizes = []
    for layer in layers:
        if layer.type == "linear":
            out = layer.options["out"]
            sizes.append(features * out + (out if layer.options.get("bias", True) else 0))
            features = out
        elif layer.children:
            sizes += layer_sizes(layer.children, features)
    return sizes


def parse_spec(data: Any, marks: yaml_marks.Marks, path: str, file: Path) -> Spec:
    if data is None:
        raise SpecError("the file is empty; a spec needs at least 'input' and 'layers'", path, 1)
    if not isinstance(data, dict):
        raise marks.error((), f"expected a mapping with 'input' and 'layers', got {describe(data)}")
    _reject_unknown(data, TOP_LEVEL, (), marks, "a spec")
    graph = None
    if "graph" in data or "inputs" in data:
        from .graph import parse_graph  # here: graph.py parses its nodes with this module's _parse_layer
        graph = parse_graph(data, marks, path)
    for key, option in TOP_LEVEL.items():
        if option.required and key not in data and graph is None:
            raise SpecError(f"missing required key '{key}'", path, marks.line(()))
    for key in ("name", "seed", "dtype", "step"):
        nullable = TOP_LEVEL[key].default is None
        if key in data and not (nullable and data[key] is None):
            _check((key,), TOP_LEVEL[key], data[key], marks)

    tolerance = data.get("tolerance") or {}
    if not isinstance(tolerance, dict):
        raise marks.error(("tolerance",),
                          f"expected a mapping like {{rtol: 1e-6, atol: 1e-9}}, got {describe(tolerance)}")
    _reject_unknown(tolerance, TOLERANCE, ("tolerance",), marks, "tolerance")
    for key, value in tolerance.items():
        _check(("tolerance", key), TOLERANCE[key], value, marks)

    return Spec(
        path=path,
        file=file,
        name=data.get("name") or file.stem,
        seed=data.get("seed", defaults.SEED),
        dtype=data.get("dtype", defaults.DTYPE),
        input_spec=graph.first_input if graph else parse_input(data["input"], ("input",), marks),
        layers=graph.layers if graph else _parse_layers(data["layers"], ("layers",), marks),
        loss=_parse_loss(graph.loss_value if graph else data.get("loss", defaults.LOSS), marks),
        rtol=tolerance.get("rtol"),
        atol=tolerance.get("atol"),
        step=data.get("step"),
        marks=marks,
        graph=graph,
    )


def _check(path: tuple, option: Option, value: Any, marks) -> None:
    problem = check_value(option, value)
    if problem:
        raise marks.error(path, problem)


def _reject_unknown(mapping: dict, known: dict, path: tuple, marks, what: str) -> None:
    for key in mapping:
        if key not in known:
            hint = did_you_mean(str(key), known)
            raise marks.error(path + (key,), f"unknown key for {what}{hint}; expected one of: {', '.join(known)}",
                              key=True)


def _split_entry(entry: Any, path: tuple, marks) -> tuple[str, dict, tuple]:
    """The three layer forms -> (type, options, path of the options mapping)."""
    if isinstance(entry, str):
        return entry, {}, path
    if isinstance(entry, dict):
        if "type" in entry:
            options = {k: v for k, v in entry.items() if k != "type"}
            if not isinstance(entry["type"], str):
                raise marks.error(path + ("type",), f"expected a layer name, got {describe(entry['type'])}")
            return entry["type"], options, path
        if len(entry) == 1:
            (name, options), = entry.items()
            if options is None:
                options = {}
            if not isinstance(options, dict):
                raise marks.error(path + (name,),
                                  f"expected the options of {name} as a mapping, got {describe(options)}")
            return str(name), options, path + (name,)
        raise marks.error(path, "expected 'type:' or a single layer name as the key, "
                                f"got keys {', '.join(map(str, entry))}")
    raise marks.error(path, f"expected a layer name or a mapping, got {describe(entry)}")


def _parse_layers(value: Any, path: tuple, marks) -> list[LayerSpec]:
    if not isinstance(value, list):
        raise marks.error(path, f"expected a list of layers, got {describe(value)}")
    if not value:
        raise marks.error(path, "expected at least one layer, got an empty list")
    return [_parse_layer(entry, path + (i,), marks) for i, entry in enumerate(value)]


def _parse_layer(entry: Any, path: tuple, marks, builtins: dict = LAYERS) -> LayerSpec:
    target = entry.get("type") if isinstance(entry, dict) else entry
    if is_target(target):  # the Python API's layer given as itself
        options = {key: value for key, value in entry.items() if key != "type"} if isinstance(entry, dict) else {}
        declared = {key: parse_reserved(key, options[key], path + (key,), marks) for key in RESERVED if key in options}
        rest = {key: value for key, value in options.items() if key not in RESERVED}
        return LayerSpec(target_name(target), rest, path, marks.line(path), declared=declared, target=target)
    type_name, options, options_path = _split_entry(entry, path, marks)
    line = marks.line(path)
    if ":" in type_name:
        module, _, cls = type_name.rpartition(":")
        if not module or not cls.isidentifier():
            raise marks.error(path, f"custom layer type {type_name!r} must look like "
                                    "package.module:ClassName or path/to/file.py:ClassName")
        declared = {key: parse_reserved(key, options[key], options_path + (key,), marks)
                    for key in RESERVED if key in options}
        rest = {key: value for key, value in options.items() if key not in RESERVED}
        return LayerSpec(type_name, rest, path, line, declared=declared)
    if type_name not in builtins:
        hint = did_you_mean(type_name, LAYERS)
        raise marks.error(path, f"unknown layer {type_name!r}{hint}; known layers: {', '.join(LAYERS)}, "
                                "or a custom layer as module:Class or path/to/file.py:Class")
    known = builtins[type_name].options
    for key in options:
        if key not in known:
            expected = f"expected one of: {', '.join(known)}" if known else f"{type_name} takes no options"
            raise marks.error(options_path + (key,), f"unknown option for {type_name}{did_you_mean(str(key), known)}; "
                                                     f"{expected}", key=True)
    children: list[LayerSpec] = []
    checked = {}
    for key, option in known.items():
        if key not in options:
            if option.required:
                raise marks.error(path, f"{type_name} needs option '{key}'")
            continue
        if option.kind == "layers":
            children = _parse_layers(options[key], options_path + (key,), marks)
        else:
            _check(options_path + (key,), option, options[key], marks)
            checked[key] = options[key]
    return LayerSpec(type_name, checked, path, line, children)


def _parse_loss(value: Any, marks) -> LossSpec:
    path = ("loss",)
    if isinstance(value, dict) and "type" not in value and len(value) != 1:
        raise marks.error(path, "expected a loss name, {type: NAME} or {NAME: {}}")
    target = value.get("type") if isinstance(value, dict) else value
    if is_target(target):  # the Python API's loss given as itself
        options = {key: item for key, item in value.items() if key != "type"} if isinstance(value, dict) else {}
        return custom_loss_spec(target_name(target), options, path, marks, target)
    type_name, options, options_path = _split_entry(value, path, marks)
    if ":" in type_name:
        return custom_loss_spec(type_name, options, options_path, marks)
    if type_name not in LOSSES:
        raise marks.error(path, f"unknown loss {type_name!r}{did_you_mean(type_name, LOSSES)}; "
                                f"known losses: {', '.join(LOSSES)}, or a custom loss as module:name or "
                                "path/to/file.py:name")
    known = LOSSES[type_name].options
    for key, option_value in options.items():
        if key not in known:
            custom_only = f"{key} is for custom losses; {type_name} draws its own targets; " \
                if key in ("targets", "args") else ""
            raise marks.error(options_path + (key,), f"unknown option for loss {type_name}; {custom_only}"
                              + (f"expected one of: {', '.join(known)}" if known else f"{type_name} takes no options"),
                              key=True)
        _check(options_path + (key,), known[key], option_value, marks)
    return LossSpec(type_name, dict(options), marks.line(path))
