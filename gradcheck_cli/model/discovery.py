"""A custom class layer's parameters, found once it is built and has run forward: what it
holds, which of it forward reads, and the gradient beside each parameter (objects.py says how
it is decided). Runs in the build, so `validate` reports an unpaired weight as `run` does."""
from __future__ import annotations

import numpy as np

from ..errors import LayerError
from ..spec.options import describe
from .holdings import GRADIENT_NAMES, assign, dotted, expression, floating_arrays, gradient_places, \
    place_of, resolve, shown_name
from .objects import UPDATE_GUESS, UPDATE_HINT, ObjectLayer, what_changed

# A perturbation this large relative to the array's entries moves any output that reads it.
READ_PROBE = 1e-2


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
    first = dict(floating_arrays(root))
    if not np.array_equal(entry.forward(x.copy()), y, equal_nan=True):
        return False  # not deterministic: the check says so, and nothing here could be judged
    second = dict(floating_arrays(root))
    # what forward assigns anew at every call (self.x = x, a cache) is not state it reads
    stable = {place: array for place, array in second.items() if first.get(place) is array}
    before = {id(array): array.copy() for array in stable.values()}
    rng = np.random.default_rng(0)
    entry.backward(rng.standard_normal(np.shape(y)).astype(y.dtype), x.shape)

    pairs = _declared_pairs(root, declared, contract, fail)
    constants = [_declared_place(root, "constants", name, fail) for name in declared.get("constants", [])]
    taken = {id(resolve(root, place)) for place in list(pairs) + constants}
    guessed = []
    for place, array in stable.items():
        if id(array) in taken:
            continue
        for candidate in gradient_places(place):
            grad = resolve(root, candidate)
            if grad is not array and (grad is None or isinstance(grad, (np.ndarray, float, np.floating))):
                pairs[place] = candidate
                guessed.append(place)
                taken.add(id(array))
                break
    for place in list(pairs) + constants:
        held = second.get(place)
        problem = held is not None and id(held) in before and what_changed(resolve(root, place), held, before[id(held)])
        if problem:
            raise entry.fail(f"backward {problem} {expression(place)}{UPDATE_HINT}")

    skipped = taken | {id(resolve(root, place)) for place in pairs.values()}
    if contract:  # a stale copy of params["W"] kept as self.W: the check of W says so (its hint)
        keys = set(resolve(root, (("attr", "params"),)))
        skipped |= {id(array) for place, array in stable.items() if len(place) == 1 and place[0][1] in keys}
    unpaired = [(place, array) for place, array in stable.items() if id(array) not in skipped]
    read = _read_by_forward(entry, root, unpaired, x)
    if read:
        raise entry.fail(_unpaired_message(read, second))

    if adapter is None:
        if contract and not guessed and not declared.get("weights"):
            return False  # a layer of the contract, used as it is
        if not pairs:
            return False
        adapter = ObjectLayer(root, "forward", "backward", {}, entry.name, int(entry.label.split(".")[0]))
        entry.layer = adapter
    _adopt(adapter, root, pairs, stable, constants)
    if guessed:
        found = ", ".join(f"{_shown(adapter, p)} (gradient {expression(pairs[p]).removeprefix('self.')})"
                          for p in guessed)
        entry.notes.append(f"layer {entry.name}: parameters found by name: {found}")
    adapter.grads  # a gradient missing or of the wrong shape: said at build time (`validate` too)
    return bool(adapter.params)


def _declared_pairs(root, declared: dict, contract: bool, fail) -> dict:
    """Parameter place -> gradient place, for what needs no guessing: the contract's own
    params[name] with grads[name], and `weights:` of the spec (dotted paths from the layer)."""
    pairs = {}
    if contract:
        for key in resolve(root, (("attr", "params"),)):
            pairs[(("attr", "params"), ("item", key))] = (("attr", "grads"), ("item", key))
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
    if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)):
        raise fail(f"{key}: {expression(place)} is {describe(value)}, expected a floating-point numpy array")
    return place


def _read_by_forward(entry, root, unpaired: list, x) -> list:
    """The unpaired arrays forward reads: its output moves when the array is moved along a
    random direction. Each array once, however many places hold it; restored exactly."""
    baseline = entry.forward(x.copy()).copy()
    rng = np.random.default_rng(1)
    groups: dict[int, list] = {}
    for place, _ in unpaired:
        now = resolve(root, place)
        if isinstance(now, np.ndarray) and np.issubdtype(now.dtype, np.floating):
            groups.setdefault(id(now), [now, []])[1].append(place)
    read = []
    for array, places in groups.values():
        original = array.copy()
        finite = np.abs(original[np.isfinite(original)])
        delta = READ_PROBE * (1.0 + float(finite.max(initial=0.0))) * rng.standard_normal(array.shape)
        in_place = array.flags.writeable
        try:
            if in_place:
                array += delta.astype(array.dtype)
            else:
                for place in places:
                    assign(root, place, (original + delta).astype(array.dtype))
            try:
                moved = not np.array_equal(entry.forward(x.copy()), baseline, equal_nan=True)
            except LayerError:
                moved = True
        finally:
            if in_place:
                array[...] = original
            else:
                for place in places:
                    assign(root, place, array)
        if moved:
            read.append((places[0], array))
    entry.forward(x.copy())  # the state backward will use: that of the unperturbed input
    return read


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


def _adopt(adapter: ObjectLayer, root, pairs: dict, stable: dict, constants: list) -> None:
    """Hand the parameters to the adapter, each with every place that holds the same array."""
    params = type(adapter.params)(root)
    shown = {place: shown_name(place) for place in pairs}
    clash = {name for name in shown.values() if list(shown.values()).count(name) > 1}
    for place, grad_place in pairs.items():
        array = resolve(root, place)
        name = dotted(place) if shown[place] in clash else shown[place]
        places = [place] + [p for p, a in stable.items() if a is array and p != place]
        params.adopt(name, array, places)
        adapter.gradient_of[name] = grad_place
    adapter.params = params
    adapter.constants = constants


def _shown(adapter: ObjectLayer, place: tuple) -> str:
    return next(name for name, places in adapter.params.places.items() if places[0] == place)
