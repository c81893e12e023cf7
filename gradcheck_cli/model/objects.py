"""Class layers as people write them: methods named forward_pass or __call__, weights kept as
attributes (self.W with its gradient in self.dW), in a `parameters` dict with a `gradients`
dict beside it, or inside sublayers. ObjectLayer makes such a layer fit the checker's contract;
settle() finds its parameters once it is built, and refuses an array that forward reads when
it is neither a parameter nor declared a constant: a weight whose gradient is never compared
would be a silent pass.

How settle() decides, after build and a first forward (docs: README "Layers as you write them"):
- arrays that forward assigns anew at every call from its input (self.x = x) are what it keeps
  for backward: left alone; one it rebinds to the same values whatever the input (self.b =
  self.b.reshape(1, -1)) is state, and as a parameter is put back before every forward;
- the others are paired with a gradient, by the names in holdings.GRADIENT_NAMES or by
  `weights:` in the spec; a paired array is a parameter, and checked; a view of one is that one;
- an unpaired one is perturbed along a random direction: if forward's output moves, forward
  reads it, and it must be declared (a parameter with its gradient, or a constant); if not
  (a running mean in training mode), it is left alone; a float with a gradient that forward
  reads cannot be perturbed in place: an error;
- what the search could not look into (holdings.MAX_DEPTH, MAX_ITEMS) is a warning naming it.
"""
from __future__ import annotations

import copy
import inspect

import numpy as np

from ..errors import LayerError, did_you_mean
from .arrays import EXPECTED, not_real_floats
from .holdings import MISSING, assign, expression, resolve
from .probes import pin

FORWARD_NAMES = ("forward", "forward_pass", "__call__")
BACKWARD_NAMES = ("backward", "backward_pass")


class Parameters(dict):
    """The parameters found, by shown name: the user's own arrays, so that the checker's
    in-place perturbations reach forward. Setting one (the float32 cast, the float64 twin)
    puts the new array in every place the layer holds it."""

    def __init__(self, root):
        super().__init__()
        self.root = root
        self.places: dict[str, list[tuple]] = {}
        self.views: dict[str, list[tuple]] = {}   # name -> (place, aliases.View): self.WT = self.W.T

    def adopt(self, name: str, array, places: list[tuple], views: list[tuple] = ()) -> None:
        self.places[name] = places
        self.views[name] = list(views)
        dict.__setitem__(self, name, array)

    def __setitem__(self, name, value) -> None:
        for place in self.places[name]:
            assign(self.root, place, value)
        for place, view in self.views.get(name, ()):
            assign(self.root, place, view.on(value))
        dict.__setitem__(self, name, value)


class ObjectLayer:
    """A user's class layer driven through the contract: its own method names, keyword
    arguments for forward (`call:`), its parameters wherever it keeps them."""

    def __init__(self, inner, forward: str, backward: str, call: dict, name: str, index: int,
                 reset: str | None = None, make=None):
        self.inner = inner
        self.forward_name, self.backward_name, self.reset_name = forward, backward, reset
        self.call = call
        self.name, self.index = name, index
        self.params = Parameters(inner)
        self.gradient_of: dict[str, tuple] = {}   # shown name -> place of its gradient
        self.constants: list[tuple] = []          # places of declared constants
        self.rebound: set[str] = set()            # parameters forward rebinds (self.b = self.b.reshape(1, -1))
        self.make = make            # make(rng) -> the layer, for a constructor that takes arrays
        if make is not None:
            self.build = self._construct
        elif callable(getattr(inner, "build", None)):
            self.build = inner.build

    def _construct(self, input_shape, rng) -> None:
        """A constructor that takes arrays (their shapes in `params:`) is called here, with
        arrays drawn from the layer's seed; then the layer's own build, if it has one."""
        from .building import build_arguments
        self.inner = self.make(rng)
        self.params = Parameters(self.inner)
        build = getattr(self.inner, "build", None)
        if callable(build):
            build(*build_arguments(build, input_shape, rng))

    def fail(self, message: str) -> LayerError:
        return LayerError(self.name, message, index=self.index)

    def forward(self, x, *more):
        """more: the other inputs of a graph node that takes several."""
        if self.reset_name:  # a fresh pass: what the last one kept would be backpropagated too
            getattr(self.inner, self.reset_name)()
        for name in self.rebound:  # each call starts from the parameter the checker perturbs
            pin(self.inner, self.params.places[name], self.params[name])
        # a fresh copy each call: a forward that writes into its keyword arguments cannot
        # change the next call
        return getattr(self.inner, self.forward_name)(x, *more, **copy.deepcopy(self.call))

    def backward(self, grad_out):
        self._zero_gradients()
        kept = [(place, array, np.array(array, copy=True)) for place, array in self._guarded()]
        dx = getattr(self.inner, self.backward_name)(grad_out)
        for place, array, values in kept:
            problem = what_changed(resolve(self.inner, place), array, values)
            if problem:
                raise self.fail(f"backward {problem} {expression(place)}{UPDATE_HINT}")
        return dx

    @property
    def grads(self) -> dict:
        grads = {}
        for name, place in self.gradient_of.items():
            param_place = self.params.places[name][0]
            value = resolve(self.inner, place)
            if value is MISSING or value is None:
                raise self.fail(f"backward did not set {expression(place)} (the gradient of {expression(param_place)})")
            value = value if isinstance(value, np.ndarray) else np.asarray(value)
            if not_real_floats(value, integers=True):
                raise self.fail(f"{expression(place)} is {not_real_floats(value, integers=True)}, {EXPECTED}")
            if value.shape != np.shape(self.params[name]):
                raise self.fail(f"{expression(place)} has shape {value.shape}, expected {np.shape(self.params[name])} "
                                f"(the shape of {expression(param_place)})")
            grads[name] = value
        return grads

    def _guarded(self):
        """The arrays forward read, which backward must leave as they are (as forward left them:
        a parameter it rebinds is another array after every call)."""
        yield from ((places[0], resolve(self.inner, places[0])) for places in self.params.places.values())
        yield from ((place, resolve(self.inner, place)) for place in self.constants)

    def _zero_gradients(self) -> None:
        """What a training loop's zero_grad does, so that a backward that adds to its gradient
        arrays (dW += ...) gives the gradient of one pass."""
        params = list(self.params.values())
        for place in self.gradient_of.values():
            grad = resolve(self.inner, place)
            if isinstance(grad, np.ndarray) and grad.flags.writeable \
                    and not any(np.shares_memory(grad, p) for p in params):
                grad[...] = 0


UPDATE_GUESS = " (an update step, like W -= lr * dW?)"
UPDATE_HINT = (UPDATE_GUESS + "; gradcheck checks gradients at fixed weights: backward must leave them as they are "
               "and store their gradients")


def what_changed(now, array, values) -> str | None:
    if now is not array:
        return "replaced"
    if not np.array_equal(array, values, equal_nan=True):
        return "changed the values of"
    return None


def adapt(layer, declared: dict, name: str, index: int, type_name: str, fail, make=None, inputs: int = 1):
    """The layer as the checker drives it: itself when its methods are forward(x) and
    backward(grad_out), else an ObjectLayer calling its own. With `make(rng)`, `layer` is the
    class, made at build. `fail(message)`: the SpecError at the entry's line. `inputs`: how many
    arrays forward takes (a graph node's `in`)."""
    methods = declared.get("methods", {})
    names = method_names(layer, methods, type_name, fail)
    reset = methods.get("reset")
    if reset is not None and not has_method(layer, reset):
        raise fail(f"{type_name} has no method {reset!r} (methods: {{reset: {reset}}}); "
                   f"its methods: {', '.join(_method_names(layer)) or 'none'}")
    call = declared.get("call", {})
    _check_call(getattr(layer, names["forward"]), names["forward"], call, type_name, fail, isinstance(layer, type),
                inputs)
    both = set(declared.get("weights", {})) & set(declared.get("constants", []))
    if both:
        raise fail(f"{sorted(both)[0]} is declared both in weights and in constants; "
                   "a parameter or a constant, not both")
    if names == {"forward": "forward", "backward": "backward"} and not call and not reset and make is None:
        return layer
    return ObjectLayer(None if make else layer, names["forward"], names["backward"], call, name, index, reset, make)


def method_names(layer, methods: dict, type_name: str, fail) -> dict[str, str]:
    """{"forward": name, "backward": name} of `layer`, an object or a class (then seen on the
    class, before any instance is made); a spec error when one is missing."""
    names = {}
    for role, usual in (("forward", FORWARD_NAMES), ("backward", BACKWARD_NAMES)):
        method = methods.get(role)
        if method is not None and not has_method(layer, method):
            listed = ", ".join(_method_names(layer)) or "none"
            raise fail(f"{type_name} has no method {method!r} (methods: {{{role}: {method}}}); its methods: {listed}")
        method = method or next((n for n in usual if has_method(layer, n)), None)
        if method is None:
            raise fail(f"{type_name} has no {role} method (looked for {', '.join(usual)}); "
                       f"name it with methods: {{{role}: NAME}}")
        names[role] = method
    return names


def has_method(layer, name: str) -> bool:
    """Whether `layer`, or the instances of `layer` when it is a class, have a method `name`
    (every class is callable; its instances only when it defines __call__)."""
    if isinstance(layer, type) and name == "__call__":
        return any("__call__" in vars(cls) for cls in layer.__mro__ if cls is not object)
    return callable(getattr(layer, name, None))


def seen_on_class(cls: type) -> bool:
    """Whether what a class's instances can do is seen on the class: not when it makes its
    attributes on demand (__getattr__)."""
    return not any("__getattr__" in vars(klass) for klass in cls.__mro__ if klass is not object)


def draw_arrays(shapes: dict, rng) -> dict:
    """`params:` of a class entry: name -> {shape, init, scale}, drawn (normal: scale·N(0, 1),
    ones: scale, zeros)."""
    drawn = {}
    for name, spec in shapes.items():
        if spec["init"] == "normal":
            drawn[name] = spec["scale"] * rng.standard_normal(spec["shape"])
        else:
            drawn[name] = (spec["scale"] if spec["init"] == "ones" else 0.0) * np.ones(spec["shape"])
    return drawn


def _method_names(layer) -> list[str]:
    cls = layer if isinstance(layer, type) else type(layer)
    return [n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n, None))]


def _check_call(method, method_name: str, call: dict, type_name: str, fail, unbound: bool, inputs: int = 1) -> None:
    """forward(x, **call) must fit the method's signature: said now, at the entry's line,
    rather than as a TypeError from inside the first forward."""
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return
    parameters = list(signature.parameters.values())[1 if unbound else 0:]
    taken = ", ".join(p.name for p in parameters)
    if not any(p.kind == p.VAR_KEYWORD for p in parameters):
        named = [p.name for p in parameters[inputs:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for name in call:
            if name not in named:
                raise fail(f"call: {type_name}.{method_name} takes no argument {name!r}{did_you_mean(name, named)}; "
                           f"it takes: {taken}")
    try:
        signature.bind(*[None] * (inputs + unbound), **call)
    except TypeError:
        needed = [p.name for p in parameters[inputs:] if p.default is p.empty and p.name not in call
                  and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if inputs > 1 and not needed:
            raise fail(f"{type_name}.{method_name} cannot take the {inputs} inputs its node names in in:; it takes: "
                       f"{taken}") from None
        if not needed:
            raise fail(f"{type_name}.{method_name} cannot take x as its first argument; it takes: {taken}") from None
        example = ", ".join(f"{name}: ..." for name in needed)
        raise fail(f"{type_name}.{method_name} needs {', '.join(needed)} besides x; give "
                   f"{'it' if len(needed) == 1 else 'them'} with call: {{{example}}}") from None
