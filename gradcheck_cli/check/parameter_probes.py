"""Probes of a custom layer's parameters (probing.py probes the layer): affine in P and acting on
output columns (U read off), affine and small (its Jacobian read off), or broadcast over a stack
of values of P. Each checked on the spec's data against forward at moved values of P."""
from __future__ import annotations

import numpy as np

from ..model.network import Entry
from .batched import Batched, forward_with
from .probe_checks import MAX_BASIS, MAX_JACOBIAN_ELEMENTS, MAX_READ_OFF, forward_or_none, same, scale_of


def probe_parameter(batched: Batched, entry: Entry, key: str, x, y, rng) -> None:
    param = entry.params()[key]
    if not (isinstance(param, np.ndarray) and np.issubdtype(param.dtype, np.floating)) or param.size == 0:
        return
    step = max(1.0, scale_of(param))
    direction = step * rng.standard_normal(param.shape).astype(param.dtype)
    moved_once = _forward_moved(entry, x, param, direction)
    moved_twice = _forward_moved(entry, x, param, 2 * direction)
    if moved_once is None or moved_twice is None:
        return
    change = moved_once - y
    if not same(moved_twice - y, 2 * change, scale_of(y, moved_twice)):
        _probe_parameter_stacks(batched, entry, key, x, y, param, direction, moved_once)
        return   # not affine in this parameter
    columns = _read_columns(entry, key, x, y, param, step, direction, change)
    if columns is not None:
        batched.columns[key] = columns
        batched.shown.append(f"{key} by columns")
        return
    if param.size <= MAX_JACOBIAN_ELEMENTS and param.size * y.size <= MAX_READ_OFF:
        jacobian = _read_jacobian(entry, x, y, param, step)
        if jacobian is not None and same(y + (direction.reshape(-1) @ jacobian).reshape(y.shape), moved_once,
                                         scale_of(y, moved_once)):
            batched.jacobians[key] = jacobian
            batched.shown.append(f"{key} read off")
            return
    _probe_parameter_stacks(batched, entry, key, x, y, param, direction, moved_once)


def _probe_parameter_stacks(batched: Batched, entry: Entry, key: str, x, y, param, direction, moved) -> None:
    """Whether forward broadcasts over a leading axis of values of params[key] (x @ W + b with W of
    shape (B, m, n)): the stack [P, P + D], with as many axes of 1 after B as broadcasting needs,
    gives [forward at P, forward at P + D]."""
    params = entry.params()
    if getattr(params, "views", {}).get(key) or key in getattr(entry.layer, "rebound", ()):
        return   # a value set in its place would not reach the views or pinned copies forward reads
    expected = np.stack([y, moved])
    for ones in range(max(0, y.ndim - param.ndim) + 1):
        stack = np.stack([param, param + direction]).reshape((2,) + (1,) * ones + param.shape)
        if same(forward_with(entry, key, stack, x), expected, scale_of(expected)):
            batched.param_stacks[key] = ones
            batched.shown.append(f"{key} stacked")
            return


def _forward_moved(entry: Entry, x, param, delta):
    """forward(x) with param moved by delta in place (the checker's own way), then put back."""
    old = param.copy()
    try:
        param += delta
        return forward_or_none(entry, x)
    finally:
        param[...] = old


def _read_columns(entry: Entry, key: str, x, y, param, step, direction, change):
    """(U, transposed) when forward = U·P + c on output columns (P (m, n) or (n,), or P stored
    as (n, m)), checked on the random direction already taken."""
    n = y.shape[-1] if y.ndim >= 2 else None
    if n is None or param.ndim > 2:
        return None
    rows_change = change.reshape(-1, n)
    for transposed in (False, True):
        if param.ndim == 1:
            if transposed or param.shape[0] != n:
                continue
            m = 1
        elif param.shape[1 - int(transposed)] == n:
            m = param.shape[int(transposed)]
        else:
            continue
        if m > MAX_BASIS or m * rows_change.shape[0] > MAX_READ_OFF:
            continue
        U = np.empty((rows_change.shape[0], m))
        for i in range(m):
            unit = np.zeros_like(param)
            unit[(i,) if param.ndim == 1 else ((0, i) if transposed else (i, 0))] = step
            moved = _forward_moved(entry, x, param, unit)
            if moved is None:
                return None
            U[:, i] = (moved - y).reshape(-1, n)[:, 0] / step
        along = direction.reshape(1, n) if param.ndim == 1 else (direction.T if transposed else direction)
        if same(U @ along, rows_change, scale_of(rows_change, y)):
            return U, transposed
    return None


def _read_jacobian(entry: Entry, x, y, param, step):
    jacobian = np.empty((param.size, y.size))
    for e in range(param.size):
        unit = np.zeros(param.size, dtype=param.dtype)
        unit[e] = step
        moved = _forward_moved(entry, x, param, unit.reshape(param.shape))
        if moved is None:
            return None
        jacobian[e] = (moved - y).reshape(-1) / step
    return jacobian
