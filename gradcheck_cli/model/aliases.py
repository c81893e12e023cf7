"""A view of a parameter that a layer keeps beside it (self.WT = self.W.T in build, self.W0 =
self.W[0]) is no array of its own: perturbing W in place moves it too, so the check of W covers
what forward reads through it. When the parameter itself is replaced (the float32 cast, the
float64 twin), the view is made again on the new array, the same elements in the same places,
or forward would go on reading the old one.

How the view sits in its parameter is found by writing into the parameter's memory (restored
right after): which element of the parameter each element of the view is, along each axis.
A view whose position is affine in its index (any slicing, transposing, broadcasting) can be
made again on an array of another dtype."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided


@dataclass(frozen=True)
class View:
    """array[i] is owner[start + steps @ i], for every index i of an array of `shape`."""

    start: tuple[int, ...]          # the owner's index of the view's first element
    steps: tuple[tuple[int, ...], ...]  # steps[k][j]: along owner axis j, per step of view axis k
    shape: tuple[int, ...]
    writeable: bool

    def on(self, owner: np.ndarray) -> np.ndarray:
        """The same view, of `owner` (of the parameter's shape, any dtype and memory order)."""
        strides = tuple(sum(step * stride for step, stride in zip(axis, owner.strides)) for axis in self.steps)
        first = owner[tuple(slice(index, None) for index in self.start) + (Ellipsis,)]
        return as_strided(first, shape=self.shape, strides=strides, writeable=self.writeable)


def view_of(array: np.ndarray, owner: np.ndarray) -> View | None:
    """How `array` sits in `owner`, when every element of it is an element of `owner` and its
    place is affine in its index; else None (a copy, an array only partly inside, or one whose
    owner cannot be written to find out)."""
    if array.dtype != owner.dtype or array.size == 0 or owner.ndim == 0 or not owner.flags.writeable \
            or not np.may_share_memory(array, owner) or owner.dtype.itemsize not in (2, 4, 8):
        return None
    kind = np.dtype(f"i{owner.dtype.itemsize}")
    mine, theirs = owner.view(kind), array.view(kind)
    saved = mine.copy()
    found = []
    try:
        for axis_index in np.indices(owner.shape, dtype=kind):
            mine[...] = axis_index
            read = theirs.copy()
            mine[...] = -1 - axis_index
            if not np.array_equal(theirs, -1 - read):  # an element outside the owner kept its value
                return None
            found.append(read.astype(np.int64))
    finally:
        mine[...] = saved
    start = tuple(int(index.flat[0]) for index in found)
    steps = tuple(tuple(_step(index, k) for index in found) for k in range(array.ndim))
    grid = np.indices(array.shape)
    for j, index in enumerate(found):
        if not np.array_equal(index, start[j] + sum(steps[k][j] * grid[k] for k in range(array.ndim))):
            return None
    return View(start, steps, array.shape, bool(array.flags.writeable))


def _step(index: np.ndarray, axis: int) -> int:
    if index.shape[axis] < 2:
        return 0
    first = (0,) * index.ndim
    second = tuple(1 if k == axis else 0 for k in range(index.ndim))
    return int(index[second]) - int(index[first])
