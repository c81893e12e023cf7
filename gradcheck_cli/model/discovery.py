"""A custom class layer's parameters, found once it is built and has run forward: what it
holds, which of it forward reads, and the gradient beside each parameter (objects.py says how
it is decided). Runs in the build, so `validate` reports an unpaired weight as `run` does."""
from __future__ import annotations

import numpy as np

from ..errors import LayerError
from ..spec.options import describe
from .aliases import view_of
from .holdings import GRADIENT_NAMES, MISSING, dotted, expression, gradient_places, place_of, resolve, shown_name, \
    survey
from .objects import UPDATE_GUESS, UPDATE_HINT, ObjectLayer, what_changed
from .probes import arrays_read, carried, numbers_read

GRADIENT_TYPES = (np.ndarray, float, np.floating)
STATE_KEPT = ("forward gave a different output for the same input after another input (state kept between calls, "
              "such as a running statistic?); gradients of such a layer cannot be checked")


def settle(entry, declared: dict, x, y, fail) -> bool:
    """Find the parameters of the custom layer of `entry`, whose first forward gave y; an
    attribute-style layer is wrapped in an ObjectLayer holding them. Returns whether
    parameters were found outside a `params` dict (they must then be cast, and forward run
    again). `fail(message)`: the SpecError at the entry's line."""
    layer = entry.layer
    adapter = layer if isinstance(layer, ObjectLayer) else None
    root = adapter.inner if adapter else layer
    if adapter is None and type(layer).__module__.startswith("gradcheck_cli"):
        return False  # gradcheck's own adapters (function pairs) hold nothing of the user's
    contract = isinstance(resolve(root, (("attr", "params"),)), dict)

    y = y.copy()  # a forward that returns a buffer it keeps would change y below
    first = survey(root)
    if not np.array_equal(entry.forward(x.copy()), y, equal_nan=True):
        return False  # not deterministic: the check says so, and nothing here could be judged
    between = _after_other_input(entry, root, x)
    anew = (between or survey(root)).arrays
    rebinds = carried(entry, root, [(p, a) for p, a in anew.items() if first.arrays.get(p) is not a
                                    and _same(first.arrays.get(p), a)], x)
    if not np.array_equal(entry.forward(x.copy()), y, equal_nan=True):
        raise entry.fail(STATE_KEPT)
    second = survey(root)
    state = _state(first, between, second, rebinds)
    before = {id(array): array.copy() for array in state.values()}
    rng = np.random.default_rng(0)
    entry.backward(rng.standard_normal(np.shape(y)).astype(y.dtype), x.shape)

    pairs = _declared_pairs(root, declared, contract, fail)
    constants = [_declared_place(root, "constants", name, fail) for name in declared.get("constants", [])]
    taken = {id(resolve(root, place)) for place in list(pairs) + constants}
    guessed = []
    for place, array in state.items():
        if id(array) in taken:
            continue
        grad_place = _gradient_place(root, place, array)
        if grad_place is not None:
            pairs[place] = grad_place
            guessed.append(place)
            taken.add(id(array))
    for place in list(pairs) + constants:
        held = second.arrays.get(place)
        problem = held is not None and id(held) in before and what_changed(resolve(root, place), held, before[id(held)])
        if problem:
            raise entry.fail(f"backward {problem} {expression(place)}{UPDATE_HINT}")

    skipped = taken | {id(resolve(root, place)) for place in pairs.values()}
    if contract:  # a stale copy of params["W"] kept as self.W: the check of W says so (its hint)
        keys = set(resolve(root, (("attr", "params"),)))
        skipped |= {id(array) for place, array in state.items() if len(place) == 1 and place[0][1] in keys}
    aliases = _aliases([(p, a) for p, a in state.items() if id(a) not in skipped], root, pairs, constants)
    unpaired = [(p, a) for p, a in state.items() if id(a) not in skipped and p not in aliases]
    read = arrays_read(entry, root, unpaired, x)
    if read:
        raise entry.fail(_unpaired_message(read, second.arrays))
    _refuse_numbers(entry, root, first, between, second, list(pairs) + constants, x)
    _say_what_was_not_searched(entry, first, second, list(pairs) + constants)

    rebound = [place for place in pairs if place in state and first.arrays.get(place) is not state[place]]
    if adapter is None:
        as_it_is = all(grad[0] == ("attr", "grads") for grad in pairs.values()) and not rebound and not aliases
        if contract and not guessed and not declared.get("weights") and as_it_is:
            return False  # a layer of the contract, used as it is
        if not pairs:
            return False
        adapter = ObjectLayer(root, "forward", "backward", {}, entry.name, int(entry.label.split(".")[0]))
        entry.layer = adapter
    _adopt(adapter, root, pairs, state, constants, aliases, rebound)
    if guessed:
        found = ", ".join(f"{_shown(adapter, p)} (gradient {expression(pairs[p]).removeprefix('self.')})"
                          for p in guessed)
        entry.notes.append(f"layer {entry.name}: parameters found by name: {found}")
    adapter.grads  # a gradient missing or of the wrong shape: said at build time (`validate` too)
    return bool(adapter.params)


def _after_other_input(entry, root, x):
    """What the layer holds after a forward of another input of the same shape and values
    (x with its last row replaced by another of its rows: a batch with other statistics; one row:
    its features reversed), or None when there is none or the layer cannot take it. What forward
    derives from its input (self.x = x) changes with it; a parameter it rebinds does not."""
    other = x.copy()
    rows = [i for i in range(len(x) - 1) if not np.array_equal(x[i], x[-1], equal_nan=True)]
    if rows:
        other[-1] = x[rows[0]]
    else:
        other = x[..., ::-1].copy()
    if np.array_equal(other, x, equal_nan=True):
        return None
    try:
        entry.forward(other)
    except LayerError:
        return None
    return survey(root)


def _same(a, b) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype \
        and np.array_equal(a, b, equal_nan=True)


def _state(first, between, second, rebinds: set) -> dict:
    """The arrays that stay from call to call: the same array in the same place after every
    forward, or one that forward rebinds at every call to itself (self.b = self.b.reshape(1, -1):
    the same values whatever the input, made from the array it finds there). What forward assigns
    anew from its input (self.x = x, a cache kept for backward) or derives from other arrays
    (self.W_eff = self.W * self.mask) is not state."""
    return {place: array for place, array in second.arrays.items()
            if first.arrays.get(place) is array
            or (place in rebinds and _same(first.arrays.get(place), array)
                and (between is None or _same(between.arrays.get(place), array)))}


def _gradient_place(root, place, value):
    """Where backward left the gradient of the value at `place`, by the names people use."""
    for candidate in gradient_places(place):
        grad = resolve(root, candidate)
        itself = grad is value and isinstance(value, np.ndarray)  # (two equal floats may be one object)
        if not itself and grad is not MISSING and (grad is None or isinstance(grad, GRADIENT_TYPES)):
            return candidate
    return None


def _declared_pairs(root, declared: dict, contract: bool, fail) -> dict:
    """Parameter place -> gradient place, for what needs no guessing: the contract's own
    params[name] with grads[name] (or the gradient dict backward fills: gradients, dparams,
    ...), and `weights:` of the spec (dotted paths from the layer)."""
    pairs = {}
    if contract:
        for key in resolve(root, (("attr", "params"),)):
            place = (("attr", "params"), ("item", key))
            filled = [g for g in gradient_places(place)[len(GRADIENT_NAMES) if isinstance(key, str) else 0:]
                      if resolve(root, g) is not MISSING and resolve(root, g) is not None]
            pairs[place] = filled[0] if filled else (("attr", "grads"), ("item", key))
    for name, gradient in declared.get("weights", {}).items():
        place = _declared_place(root, "weights", name, fail)
        parent, _, last = gradient.rpartition(".")
        owner = place_of(root, parent) if parent else ()
        if owner is None:
            raise fail(f"weights: the layer has no {parent} (for the gradient {gradient} of {name})")
        container = resolve(root, owner)
        pairs[place] = owner + ((("item", int(last) if isinstance(container, list) else last)
                                 if isinstance(container, (dict, list)) else ("attr", last)),)
    return pairs


def _declared_place(root, key: str, name: str, fail) -> tuple:
    place = place_of(root, name)
    if place is None:
        raise fail(f"{key}: the layer has no {name} after build and forward")
    value = resolve(root, place)
    number = key == "constants" and isinstance(value, (float, np.floating))
    if not (number or isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)):
        raise fail(f"{key}: {expression(place)} is {describe(value)}, expected a floating-point numpy array")
    return place


def _aliases(candidates: list, root, pairs: dict, constants: list) -> dict:
    """Place -> (the parameter's place, View) for each array that is a view of a parameter
    (self.WT = self.W.T): perturbing the parameter moves it, so it is no weight of its own.
    A view of a constant is a constant (its View None)."""
    owners = [(place, resolve(root, place), place in pairs) for place in list(pairs) + constants]
    found = {}
    for place, array in candidates:
        for owner_place, owner, is_parameter in owners:
            if isinstance(owner, np.ndarray) and owner is not array:
                view = view_of(array, owner)
                if view is not None:
                    found[place] = (owner_place, view if is_parameter else None)
                    break
    return found


def _refuse_numbers(entry, root, first, between, second, declared: list, x) -> None:
    """A float (self.b = 0.5) with a gradient beside it that forward reads is a parameter the
    checker cannot perturb in place: its gradient would never be compared. An error, unless
    declared a constant (an entry of a contract's `params` is made an array by the cast)."""
    candidates = []
    for place, value in second.numbers.items():
        kept = first.numbers.get(place) == value and (between is None or between.numbers.get(place) == value)
        if kept and place not in declared and _gradient_place(root, place, value) is not None:
            candidates.append((place, value))
    read = numbers_read(entry, root, candidates, x) if candidates else []
    if read:
        place, value = read[0]
        name, grad = dotted(place), expression(_gradient_place(root, place, value))
        what = f"a numpy {type(value).__name__} scalar" if isinstance(value, np.generic) else "a Python float"
        raise entry.fail(f"forward reads {expression(place)}, {what}, and backward stores its gradient in {grad}; "
                         f"gradcheck perturbs a parameter in place, which a number cannot be, so this gradient would "
                         f"never be compared: keep it in a numpy array ({expression(place)} = np.array({value!r}), or "
                         f"np.full(1, {value!r})), or, if it is fixed, declare it a constant, constants: [{name}]")


def _say_what_was_not_searched(entry, first, second, declared: list) -> None:
    """A part of the layer the search could not look into (too deep, too long) is said, never
    passed over: a parameter held there would not be checked. What forward replaces at every
    call (a cache) is left out, and so is a part below which a weight or constant is declared."""
    for place, (value, why) in second.unsearched.items():
        if first.unsearched.get(place, (None,))[0] is not value or any(d[:len(place)] == place for d in declared):
            continue
        name = dotted(place)
        entry.hazard("unsearched", f"layer {entry.name}: gradcheck did not search {expression(place)} ({why}): "
                     "a weight forward reads there would be neither checked nor refused; declare each one by its "
                     f"dotted path, weights: {{{name}.W: {name}.dW}}, or constants: [{name}.mask] for a fixed array")


def _unpaired_message(read: list, second: dict) -> str:
    if len(read) == 1:
        place = read[0][0]
        what, them = expression(place), "it"
        looked = ", ".join(dotted(p) for p in gradient_places(place))
    else:
        what, them = ", ".join(expression(place) for place, _ in read), "them"
        looked = ", ".join(pattern.format("NAME") for pattern in GRADIENT_NAMES)
    text = f"forward reads {what}, but gradcheck found no gradient for {them} (looked for {looked} after backward)"
    updated = [expression(p) for p, a in read if second.get(p) is not None and second.get(p) is not a]
    if updated:
        text += f"; backward replaced {', '.join(updated)}{UPDATE_GUESS}"
    names = [dotted(place) for place, _ in read]
    return (f"{text}: declare a parameter with the attribute backward stores its gradient in, "
            f"weights: {{{names[0]}: GRADIENT}}, or an array that is fixed (a mask, a positional table) as a "
            f"constant, constants: [{', '.join(names)}]")


def _adopt(adapter: ObjectLayer, root, pairs: dict, state: dict, constants: list, aliases: dict,
           rebound: list) -> None:
    """Hand the parameters to the adapter, each with every place that holds the same array,
    the views of it kept beside it, and whether forward rebinds it at every call."""
    params = type(adapter.params)(root)
    shown = {place: shown_name(place) for place in pairs}
    clash = {name for name in shown.values() if list(shown.values()).count(name) > 1}
    for place, grad_place in pairs.items():
        array = resolve(root, place)
        name = dotted(place) if shown[place] in clash else shown[place]
        places = [place] + [p for p, a in state.items() if a is array and p != place]
        params.adopt(name, array, places, [(p, view) for p, (owner, view) in aliases.items()
                                           if owner == place and view is not None])
        adapter.gradient_of[name] = grad_place
        if place in rebound:
            adapter.rebound.add(name)
    adapter.params = params
    adapter.constants = constants


def _shown(adapter: ObjectLayer, place: tuple) -> str:
    return next(name for name, places in adapter.params.places.items() if places[0] == place)
