"""Local layers: where each output element depends on a few input elements only (a max pool's
window, a convolution's neighbourhood), rows that differ from their unperturbed row in a few
places can share one call of forward.

A row-independent layer that is neither affine nor element-wise (a pool written with loops)
would otherwise be called on one row per perturbation. Its footprints are read off on one row:
the row with element i moved far (up, then down where up moved nothing) changes the outputs
D[i] and no others. Perturbed rows whose changed inputs and footprints do not overlap are then
merged into one row, forward is called once per merged row, and each perturbed row's output is
its unperturbed row with its own footprint taken from the merged row's output. That is the same
number forward gives for the row alone, as long as D holds: probing.py verifies it on the
spec's data (merged rows against one call per row) before it is used.
"""
from __future__ import annotations

import numpy as np

DENSE_SHARE = 0.125   # footprints wider than this share of a row's outputs: no gain from merging


def read_footprints(forward, row, base, far: float) -> np.ndarray | None:
    """D (p, q): which outputs move when each input element of `row` (1, ...) moves far.
    `forward(rows)` returns outputs (or None); `base` is forward(row), flattened."""
    p = row[0].size
    rows = np.repeat(row, p, axis=0)
    flat = rows.reshape(p, p)
    flat[np.arange(p), np.arange(p)] += far
    up = forward(rows)
    if up is None:
        return None
    moved = up.reshape(p, -1) != base
    still = np.flatnonzero(~moved.any(axis=1))
    if len(still):    # a min pool, a clipped input: down may move what up did not
        rows = np.repeat(row, len(still), axis=0)
        rows.reshape(len(still), p)[np.arange(len(still)), still] -= far
        down = forward(rows)
        if down is None:
            return None
        moved[still] |= down.reshape(len(still), -1) != base
    if moved.sum(axis=1).mean() > max(1.0, DENSE_SHARE * moved.shape[1]):
        return None
    return moved


def forward_merged(forward, footprints: np.ndarray, items, rows, inputs, outputs):
    """Outputs of perturbed rows (B, 1, ...): items[b] is inputs[rows[b]] changed in a few places;
    outputs[r] = forward(inputs)[r]. Items that touch disjoint inputs and outputs share a call."""
    count, p = len(items), inputs[0].size
    items_flat = items.reshape(count, p)
    bases = inputs.reshape(len(inputs), p)[rows]
    changed = items_flat != bases
    which, where = np.nonzero(changed)
    touched = np.zeros((count, footprints.shape[1]), dtype=bool)
    if len(which):
        starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
        touched[which[starts]] = np.logical_or.reduceat(footprints[where], starts, axis=0)
    group = _groups(rows, changed, touched)
    merged = bases[_first_of_each(group)].copy()          # (G, p): the unperturbed row of each group
    merged[group[which], where] = items_flat[which, where]
    out = forward(merged.reshape((len(merged),) + inputs.shape[1:])).reshape(len(merged), -1)
    result = outputs.reshape(len(outputs), -1)[rows].copy()
    result[touched] = out[group][touched]
    return result.reshape((count, 1) + outputs.shape[1:])


def _groups(rows, changed, touched) -> np.ndarray:
    """A group per item: items of the same row whose changed inputs and touched outputs are
    disjoint share one; greedy, in order."""
    group = np.empty(len(rows), dtype=np.intp)
    open_groups: dict[int, list] = {}    # row -> [(group id, inputs used, outputs used)]
    count = 0
    for b in range(len(rows)):
        for gid, used_in, used_out in open_groups.setdefault(int(rows[b]), []):
            if not (used_out & touched[b]).any() and not (used_in & changed[b]).any():
                used_in |= changed[b]
                used_out |= touched[b]
                group[b] = gid
                break
        else:
            open_groups[int(rows[b])].append((count, changed[b].copy(), touched[b].copy()))
            group[b] = count
            count += 1
    return group


def _first_of_each(group: np.ndarray) -> np.ndarray:
    """For each group id 0..G-1, the item that opened it (its row gives the group's base row)."""
    ids, first = np.unique(group, return_index=True)
    return first[np.argsort(ids)]
