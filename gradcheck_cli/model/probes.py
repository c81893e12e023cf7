"""What forward reads, found by moving it: an array or a number of the layer's is read when
forward's output moves as it is moved along a random direction. Each is restored exactly, and
put back in its places before every call, so that a forward that rebinds it (self.W =
self.W.astype(x.dtype)) starts from the moved one, as it starts from the checker's."""
from __future__ import annotations

import numpy as np

from ..errors import LayerError
from .holdings import assign, resolve

# A perturbation this large relative to the array's entries moves any output that reads it.
READ_PROBE = 1e-2


def pin(root, places: list, value) -> None:
    """Put `value` in each of `places` that holds something else now."""
    for place in places:
        if resolve(root, place) is not value:
            assign(root, place, value)


def arrays_read(entry, root, unpaired: list, x) -> list:
    """The arrays of `unpaired` ((place, array) pairs) that forward reads: [(first place, array)].
    Each array once, however many places hold it."""
    baseline = entry.forward(x.copy()).copy()
    rng = np.random.default_rng(1)
    groups: dict[int, list] = {}
    for place, held in unpaired:
        now = resolve(root, place)
        now = held if not isinstance(now, np.ndarray) else now  # rebound since: the one it holds now
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
            pin(root, places, array if in_place else (original + delta).astype(array.dtype))
            moved = _moves(entry, x, baseline)
        finally:
            if in_place:
                array[...] = original
            pin(root, places, array)
        if moved:
            read.append((places[0], array))
    entry.forward(x.copy())  # the state backward will use: that of the unperturbed input
    return read


def carried(entry, root, candidates: list, x) -> set:
    """The places among `candidates` ((place, array): arrays forward put there anew) whose array
    forward makes from the one it finds there (self.W = self.W.astype(x.dtype)): a moved array
    put there comes out of forward moved alike. An array forward derives from others (self.W_eff
    = self.W * self.mask) or from its input comes out as before. Each place is put back."""
    rng = np.random.default_rng(2)
    found = set()
    for place, _ in candidates:
        now = resolve(root, place)
        if not isinstance(now, np.ndarray):
            continue
        finite = np.abs(now[np.isfinite(now)])
        moved = (now + READ_PROBE * (1.0 + float(finite.max(initial=0.0))) * rng.standard_normal(now.shape))
        moved = moved.astype(now.dtype)
        try:
            assign(root, place, moved)
            try:
                entry.forward(x.copy())
                after = resolve(root, place)
                kept = isinstance(after, np.ndarray) and after.shape == moved.shape \
                    and np.array_equal(after, moved.astype(after.dtype)) \
                    and not np.array_equal(after, now.astype(after.dtype))
            except LayerError:  # what forward cannot take, it reads
                kept = True
        finally:
            assign(root, place, now)
        if kept:
            found.add(place)
    return found


def numbers_read(entry, root, numbers: list, x) -> list:
    """The numbers of `numbers` ((place, value) pairs: Python floats, numpy scalars) that
    forward reads, moved by setting another value of their type."""
    baseline = entry.forward(x.copy()).copy()
    read = []
    for place, value in numbers:
        try:
            assign(root, place, type(value)(value + READ_PROBE * (1.0 + abs(float(value)))))
            moved = _moves(entry, x, baseline)
        finally:
            assign(root, place, value)
        if moved:
            read.append((place, value))
    entry.forward(x.copy())
    return read


def _moves(entry, x, baseline) -> bool:
    try:
        return not np.array_equal(entry.forward(x.copy()), baseline, equal_nan=True)
    except LayerError:  # what forward cannot take, it reads
        return True
