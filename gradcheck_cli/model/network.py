"""The stack of layers a spec describes, built and run with every layer call guarded: whatever
a layer does wrong (raises, wrong shape, missing gradient, NaN) becomes a LayerError that
names it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .arrays import EXPECTED, not_real_floats
from . import watch
from .custom_layer import custom_layer
from .custom_loss import build_loss
from .discovery import settle
from ..errors import LAYER_FAILURES, LayerError, ShapeError, SpecError, raised
from .building import build_arguments, cast_params, swapped_params
from .random_state import GlobalRandom, seeded_build
from .registry import LAYERS
from ..spec.inputs import is_integer_input
from ..spec.load import LayerSpec, Spec


@dataclass
class Entry:
    """One layer of a stack, with what the checker needs to name it."""

    label: str          # "2", or "2.0" for the first layer of the branch of layer 2
    type: str           # as written in the spec
    layer: Any
    line: int | None
    branch: "Stack | None" = None
    input_shape: tuple = ()
    random: GlobalRandom | None = None   # numpy's global random state around its calls (custom layers)
    copies_output: bool = False          # forward overwrites the array it returned: each output is copied
    hazards: list = field(default_factory=list)  # (kind, message): what backprop reports as warnings
    notes: list[str] = field(default_factory=list)   # what the report should say about it
    integer_input: bool = False          # layer 0 fed integer ids: what backward returns for them is ignored
    batched: Any = None                  # check/batched.py: what probes showed a custom layer can do
    batching_note: str | None = None     # why a probed custom layer runs one perturbation at a time
    probed_on: Any = None                # what the probes saw (input and parameters), not to probe twice

    @property
    def ability(self):
        """What the fast engine may ask of this layer: a built-in's own declarations, a probed
        custom layer's Batched, else the custom layer itself (one perturbation at a time)."""
        return self.layer if self.batched is None else self.batched

    def hazard(self, kind: str, message: str) -> None:
        if (kind, message) not in self.hazards:
            self.hazards.append((kind, message))

    @property
    def name(self) -> str:
        return f"{self.label} ({self.type})"

    def fail(self, message: str) -> LayerError:
        return LayerError(self.name, message, index=int(self.label.split(".")[0]))

    def require_finite(self, array, what: str) -> None:
        if not np.all(np.isfinite(array)):
            raise self.fail(f"{what} contains {'NaN' if np.any(np.isnan(array)) else 'Inf'}")

    def params(self) -> dict:
        params = getattr(self.layer, "params", None)
        return params if isinstance(params, dict) else {}

    def run(self, what: str, method, argument):
        """method(argument): a custom layer's code watched while it runs (watch.py), a built-in's as it is."""
        return method(argument) if self.random is None else watch.call(self, what, method, argument)

    def forward(self, x):
        try:
            y = self.run("forward", self.layer.forward, x)
        except LayerError:
            raise
        except LAYER_FAILURES as exc:
            raise self.fail(raised("forward", exc)) from None
        if not isinstance(y, np.ndarray):
            raise self.fail(f"forward returned {type(y).__name__}, expected a numpy array")
        if not_real_floats(y):  # complex, bool, object, np.matrix, masked: said, never compared
            raise self.fail(f"forward returned {not_real_floats(y)}, {EXPECTED}")
        if y.ndim == 0 or y.shape[0] != x.shape[0]:
            raise self.fail(f"forward returned shape {y.shape} for input {x.shape}: "
                            "the first axis (rows, data points) must be kept")
        return y.copy() if self.copies_output else y

    def backward(self, g, x_shape):
        given = g.copy()
        try:
            dx = self.run("backward", self.layer.backward, g)
        except LayerError:
            raise
        except LAYER_FAILURES as exc:
            raise self.fail(raised("backward", exc)) from None
        if not np.array_equal(g, given, equal_nan=True):
            self.hazard("grad_out_modified", f"layer {self.name}: backward wrote into the grad_out array it was "
                        "given; in training, the layer after it may still hold that array: compute dL/dx into a "
                        "new one (dx = grad_out * mask, not grad_out[...] = 0)")
        if self.integer_input:
            return None  # ids have no gradient: whatever backward returned for them (None, zeros) is not compared
        if not isinstance(dx, np.ndarray):
            raise self.fail(f"backward returned {type(dx).__name__}, expected dL/dx as a numpy array")
        if not_real_floats(dx, integers=True):
            raise self.fail(f"backward returned dL/dx as {not_real_floats(dx, integers=True)}, {EXPECTED}")
        if dx.shape != x_shape:
            raise self.fail(f"backward returned dL/dx of shape {dx.shape}, expected {x_shape} (the shape of x)")
        return dx

    def param_grads(self) -> dict[str, np.ndarray]:
        """Copies of the gradients backward stored, checked against the parameters."""
        grads = getattr(self.layer, "grads", None)
        grads = grads if isinstance(grads, dict) else {}
        result = {}
        for name, value in self.params().items():
            if name not in grads:
                raise self.fail(f"backward did not set grads[{name!r}]")
            grad = grads[name] if isinstance(grads[name], np.ndarray) else np.asarray(grads[name])
            if not_real_floats(grad, integers=True):
                raise self.fail(f"grads[{name!r}] is {not_real_floats(grad, integers=True)}, {EXPECTED}")
            if grad.shape != np.shape(value):
                raise self.fail(f"grads[{name!r}] has shape {grad.shape}, expected {np.shape(value)} "
                                f"(the shape of params[{name!r}])")
            result[name] = grad.copy()
        return result


@dataclass
class Stack:
    """Layers applied in order; a residual's branch is a Stack too."""

    entries: list[Entry] = field(default_factory=list)

    def forward(self, x, start: int = 0):
        for entry in self.entries[start:]:
            x = entry.forward(x)
        return x

    def backward(self, g):
        for entry in reversed(self.entries):
            g = entry.backward(g, entry.input_shape)
        return g

    def walk(self) -> Iterator[Entry]:
        """Every entry, nested ones right after their residual."""
        for entry in self.entries:
            yield entry
            if entry.branch is not None:
                yield from entry.branch.walk()


def parameters(entry: Entry) -> list[tuple[str, Entry, str]]:
    """(shown name, owning entry, key in its params) for a top-level entry and its branch.
    Parameters inside a residual branch are named by position: "0.W" is W of its layer 0."""
    found = [(name, entry, name) for name in entry.params()]
    if entry.branch is not None:
        for child in entry.branch.entries:
            prefix = child.label[len(entry.label) + 1:]
            found += [(f"{prefix}.{shown}", owner, key) for shown, owner, key in parameters(child)]
    return found


@dataclass
class Network:
    """The built spec: input X, the stack, the loss with its fixed targets."""

    spec: Spec
    stack: Stack
    loss: Any
    x: np.ndarray
    dtype: np.dtype

    @property
    def notes(self) -> list[str]:
        """What was found while building (parameters found by name), for the report."""
        return [note for entry in self.stack.walk() for note in entry.notes]

    def loss_from(self, k: int, x) -> float:
        """L as a function of the input of top-level layer k (layer 0: the network input)."""
        return self.loss.value(self.stack.forward(x, start=k))

    def params_as(self, dtype):
        """Every parameter swapped for a copy in `dtype` while the block runs (the float64 twin);
        yields whether the swap took (building.swapped_params)."""
        return swapped_params(self.stack.walk(), dtype)


def build_network(spec: Spec) -> Network:
    """Instantiate and build every layer, running the input through to learn each shape."""
    if spec.graph is not None:  # the graph form (inputs: and graph:) is built by graph.py
        from .graph import build_graph
        return build_graph(spec)
    dtype = np.dtype(spec.dtype)
    watch.begin()
    input_seed, layer_seed, target_seed = np.random.SeedSequence(spec.seed).spawn(3)
    x = spec.input_spec.draw(np.random.default_rng(input_seed), dtype) if spec.x is None else np.asarray(spec.x)
    # a copy: an array the Python API was given is never touched; integer ids stay integers
    x = np.array(x, dtype=x.dtype if is_integer_input(x) else dtype)
    stack, y = _build_stack(spec.layers, x, layer_seed, "", spec, dtype)
    return Network(spec, stack, make_loss(spec, y, target_seed, len(stack.entries)), x, dtype)


def make_loss(spec: Spec, y, seed, index: int) -> Any:
    """The spec's loss (built-in or custom), its targets drawn for the output `y` (a stack's last
    layer's, a graph's loss node's); `index`: where a custom loss sits in reports."""
    return build_loss(spec.loss, y, np.random.default_rng(seed), spec.file, index,
                      lambda message: SpecError(message, spec.path, spec.loss.line, where="loss"))


def _build_stack(layer_specs: list[LayerSpec], x, seed: np.random.SeedSequence, prefix: str,
                 spec: Spec, dtype) -> tuple[Stack, np.ndarray]:
    stack = Stack()
    for i, (layer_spec, layer_seed) in enumerate(zip(layer_specs, seed.spawn(len(layer_specs)))):
        ids = is_integer_input(x) and not prefix and i == 0
        if ids and not layer_spec.custom:
            raise SpecError(f"layer 0 ({layer_spec.type}) takes floats; input is integer ids: put an embedding "
                            "layer first", spec.path, layer_spec.line, where=_where(layer_spec))
        entry = _make_entry(layer_spec, f"{prefix}{i}", x, layer_seed, spec, dtype)
        entry.random = GlobalRandom(spec.seed, entry.label) if layer_spec.custom else None
        rng = np.random.default_rng(layer_seed.spawn(1)[0])
        entry.input_shape = x.shape
        if ids:
            entry.integer_input = True
            entry.notes.append(f"layer {entry.name}: its input is integer ids, not perturbed: no input row")
        build = getattr(entry.layer, "build", None)
        if callable(build):
            try:
                with seeded_build(entry.random), watch.around_entry(entry, "build"):
                    build(*build_arguments(build, x.shape, rng))
            except LayerError:  # a constructor made at build (params: of a class) names itself
                raise
            except LAYER_FAILURES as exc:
                raise entry.fail(raised("build", exc)) from None
        cast_params(entry, dtype)
        try:
            y = entry.forward(x)
        except LayerError as exc:
            if not layer_spec.custom and isinstance(exc.__context__, ShapeError):
                raise SpecError(str(exc.__context__), spec.path, layer_spec.line,
                                where=_where(layer_spec)) from None
            raise
        entry.require_finite(y, "the output of forward")  # `validate` says so too, not only `run`
        # a custom layer's parameters are found here, so that `validate` reports an unpaired one too
        if layer_spec.custom and settle(entry, layer_spec.declared, x, y, _fail_at(spec, layer_spec)):
            cast_params(entry, dtype)
            y = entry.forward(x)
            entry.require_finite(y, "the output of forward")
        stack.entries.append(entry)
        x = y
    return stack, x


def _where(layer_spec: LayerSpec) -> str:
    from ..spec.yaml_marks import format_path
    return format_path(layer_spec.path)


def _fail_at(spec: Spec, layer_spec: LayerSpec):
    def fail(message: str) -> SpecError:
        return SpecError(message, spec.path, layer_spec.line, where=_where(layer_spec))
    return fail


def _make_entry(layer_spec: LayerSpec, label: str, x, seed, spec: Spec, dtype) -> Entry:
    if layer_spec.custom:
        with watch.around(f"{label} ({layer_spec.type})", label, "import or constructor"):
            layer = custom_layer(layer_spec, spec.file, label, _fail_at(spec, layer_spec))
        return Entry(label, layer_spec.type, layer, layer_spec.line)
    options = dict(layer_spec.options)
    branch = None
    if layer_spec.children:
        branch, y = _build_stack(layer_spec.children, x, seed.spawn(1)[0], f"{label}.", spec, dtype)
        if y.shape != x.shape:
            raise SpecError(f"the residual branch maps shape {x.shape} to {y.shape}; y = x + f(x) needs f "
                            "to keep the shape", spec.path, layer_spec.line, where=_where(layer_spec))
        options["layers"] = branch
    return Entry(label, layer_spec.type, LAYERS[layer_spec.type].load()(**options), layer_spec.line, branch)
