"""Probe, instead of asking: what a custom layer without declarations can do for the engine.

Nobody writes `stacked = True` on their own Affine, so the engine would call it once per
perturbation (180,000 calls for bench/mlp.yaml). Each probe here tries one ability on the
spec's real data (its input to the layer, the network's weights) and compares with calls of
forward one input at a time: every row, every output, equal within PROBE_TOLERANCE of the
output's scale. Any difference, exception or shape change means "no", and the layer is
called one perturbation at a time, as before. What a probe shows holds for the data it saw;
the verification is on that data, and the check perturbs that data by h only.

Not probed (one at a time): layers that declare `stacked` themselves (True is tried in
backprop.py, False opts out), layers that draw from np.random, residual branches, and any
spec whose numeric side is not float64 (a shortcut's rounding would then be visible).

The abilities (batched.py says how the engine uses each):
 rows        each row alone, then a concatenation of changed copies of the batch, give the
             rows of one call: the layer is row-independent and takes any batch size;
 stacks      forward of a stack (2, N, ...) is forward of each item;
 element-wise  forward(X.reshape(-1, 1)) is forward(X) element by element;
 affine in x forward(Z) = Z·A + c for Z the input, and for rows far from it (random, of the
             input's scale): A read off from basis rows;
 parameters  P ↦ forward: affine (along P + D and P + 2D, D random of P's scale), acting on
             output columns (U read off from one column, then checked on D) or, for small P,
             with its Jacobian read off element by element.
"""
from __future__ import annotations

import numpy as np

from ..model.network import Entry, Network
from .batched import Batched, forward_with
from .footprints import forward_merged, read_footprints

PROBE_TOLERANCE = 1e-12     # of the output's scale (its largest magnitude)
MAX_ROWS_ALONE = 256        # rows given alone; beyond, a sample of them
MAX_BASIS = 4096            # input row size up to which A is read off
MAX_READ_OFF = 1 << 22      # floats in one matrix read off (32 MB in float64)
MAX_JACOBIAN_ELEMENTS = 1024  # parameters up to this size get their Jacobian read off


def probe_network(net: Network, inputs: list[np.ndarray], outputs: list[np.ndarray], dtype) -> None:
    """Set entry.batched for each top-level custom layer that probes show can take batches;
    entry.batched = None for the others (one perturbation at a time). `inputs[k]`,
    `outputs[k]`: layer k's unperturbed input and output, in the numeric side's dtype."""
    for k, entry in enumerate(net.stack.entries):
        entry.batched = None
        entry.batching_note = None
        if not _probed(entry) or np.dtype(dtype) != np.float64:
            continue
        rng = np.random.default_rng([7, k])
        try:
            with np.errstate(all="ignore"):   # a probe's far rows may overflow: a "no", not a warning
                entry.batched = probe_layer(entry, inputs[k], outputs[k], rng)
        finally:
            _forward_or_none(entry, inputs[k])  # the layer keeps what forward(x) keeps, as before


def _probed(entry: Entry) -> bool:
    if entry.random is None or entry.branch is not None:   # a built-in, or a residual's branch
        return False
    if entry.random.reads or entry.integer_input:
        return False
    return _declared(entry.layer, "stacked") is None


def _declared(layer, name: str):
    """The layer's own declaration of `name`, on the object the spec names or the one it wraps."""
    for holder in (layer, getattr(layer, "inner", None)):
        value = getattr(holder, name, None)
        if isinstance(value, bool):
            return value
    return None


def probe_layer(entry: Entry, x, y, rng) -> Batched | None:
    if len(x) < 1 or not np.issubdtype(y.dtype, np.floating):
        return None
    rowwise = _rows_independent(entry, x, y, rng)
    native = not rowwise and _takes_stacks(entry, x, y, rng)
    if not (rowwise or native):
        entry.batching_note = "one at a time (its rows are not independent, and it does not take stacks)"
        return None
    batched = Batched(entry, rowwise, native)
    batched.shown.append("rows" if rowwise else "stacks")
    if rowwise and y.shape == x.shape and _elementwise(entry, x, y):
        batched.set_elementwise()
        batched.shown.append("element-wise")
    elif rowwise:
        _read_matrix(batched, entry, x, y, rng)
        if batched.matrix is None:
            _read_local(batched, entry, x, y, rng)
    for key in list(entry.params()):
        _probe_parameter(batched, entry, key, x, y, rng)
    return batched


def same(a, b, scale: float) -> bool:
    """a equals b within PROBE_TOLERANCE of `scale`, shape for shape; never for NaN."""
    if not (isinstance(a, np.ndarray) and a.shape == np.shape(b)):
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(a - b) <= PROBE_TOLERANCE * scale))


def _scale(*arrays) -> float:
    return max(float(np.max(np.abs(a))) if np.size(a) else 0.0 for a in arrays)


def _forward_or_none(entry: Entry, x):
    """forward(x) guarded: None for an exception, a wrong shape, a non-finite output."""
    try:
        y = entry.forward(x)
    except Exception:   # a probe's "no": the layer goes one at a time
        return None
    return y if np.all(np.isfinite(y)) else None


def _rows_independent(entry: Entry, x, y, rng) -> bool:
    """Each row alone gives its row; a concatenation of two changed copies of the batch gives
    each copy's own output."""
    rows = np.arange(len(x)) if len(x) <= MAX_ROWS_ALONE else np.sort(rng.choice(len(x), MAX_ROWS_ALONE, False))
    scale = _scale(y)
    for r in rows:
        if not same(_forward_or_none(entry, x[r:r + 1].copy()), y[r:r + 1], scale):
            return False
    first = x + _noise(x, rng, 1e-3)
    second = x[::-1] + _noise(x, rng, 1e-3)
    parts = [_forward_or_none(entry, first), _forward_or_none(entry, second)]
    joined = _forward_or_none(entry, np.concatenate([first, second]))
    if any(p is None for p in parts) or joined is None:
        return False
    scale = _scale(*parts)
    return same(joined, np.concatenate(parts), scale)


def _takes_stacks(entry: Entry, x, y, rng) -> bool:
    other = x[::-1] + _noise(x, rng, 1e-3)
    alone = _forward_or_none(entry, other)
    both = _forward_or_none(entry, np.stack([x, other]))
    return alone is not None and same(both, np.stack([y, alone]), _scale(y, alone))


def _elementwise(entry: Entry, x, y) -> bool:
    """Each element alone, as a (K, 1) column, gives its output: nothing but its own value counts."""
    return same(_forward_or_none(entry, x.reshape(-1, 1).copy()), y.reshape(-1, 1), _scale(y))


def _noise(like, rng, relative: float):
    return relative * (1.0 + _scale(like)) * rng.standard_normal(like.shape)


def _read_matrix(batched: Batched, entry: Entry, x, y, rng) -> None:
    """A and c of forward(Z) = Z·A + c, from basis rows, checked on the input and on random rows."""
    p, q = x[0].size, y[0].size
    if p > MAX_BASIS or p * q > MAX_READ_OFF:
        return
    if not _superposes(entry, x[:1], rng):   # a cheap "no" before p basis rows
        return
    step = max(1.0, _scale(x))
    on_basis = _forward_or_none(entry, (step * np.eye(p, dtype=x.dtype)).reshape((p,) + x.shape[1:]))
    offset = _forward_or_none(entry, np.zeros((1,) + x.shape[1:], dtype=x.dtype))
    if on_basis is None or offset is None:
        return
    offset = offset.reshape(q)
    matrix = (on_basis.reshape(p, q) - offset) / step
    far = np.concatenate([x + _noise(x, rng, 1.0), _noise(x, rng, 1.0)])
    for z in (x, far):
        got = _forward_or_none(entry, z)
        if got is None or not same((z.reshape(-1, p) @ matrix + offset).reshape(got.shape), got, _scale(got)):
            return
    batched.set_matrix(matrix, offset)
    batched.shown.append("affine")


def _read_local(batched: Batched, entry: Entry, x, y, rng) -> None:
    """Footprints (footprints.py) read off on the first row, checked on the first and last rows:
    single elements moved a little and far, merged as the check merges them, against one call each."""
    p, q = x[0].size, y[0].size
    if p > MAX_BASIS or p * q > MAX_READ_OFF or p < 2:
        return
    far = 2.0 * (1.0 + _scale(x))
    calls = lambda z: _forward_or_none(entry, z)  # noqa: E731
    footprints = read_footprints(calls, x[:1], y[0].reshape(-1), far)
    if footprints is None:
        return
    chosen = rng.choice(p, size=min(p, 24), replace=False)
    rows = np.repeat(np.unique([0, len(x) - 1]), 2 * len(chosen))
    items = x[rows].copy()
    steps = np.tile(np.concatenate([1e-3 * far * np.ones(len(chosen)), -far * np.ones(len(chosen))]),
                    len(np.unique(rows)))
    positions = np.tile(np.concatenate([chosen, chosen]), len(np.unique(rows)))
    items.reshape(len(items), -1)[np.arange(len(items)), positions] += steps
    try:
        merged = forward_merged(entry.forward, footprints, items[:, None], rows, x, y)
    except Exception:   # a probe's "no"
        return
    alone = [calls(item[None]) for item in items]
    if any(a is None for a in alone) or not same(merged, np.stack(alone), _scale(y, *alone)):
        return
    batched.footprints = footprints
    batched.shown.append(f"local (at most {int(footprints.sum(axis=1).max())} outputs per input)")


def _superposes(entry: Entry, row, rng) -> bool:
    """f(x + d1 + d2) - f(x + d1) - f(x + d2) + f(x) = 0 for one row and random d1, d2 of its scale."""
    d1, d2 = _noise(row, rng, 1.0), _noise(row, rng, 1.0)
    outputs = [_forward_or_none(entry, z) for z in (row + d1 + d2, row + d1, row + d2, row.copy())]
    if any(o is None for o in outputs):
        return False
    return same(outputs[0] - outputs[1] - outputs[2] + outputs[3], np.zeros_like(outputs[0]), _scale(*outputs))


def _probe_parameter(batched: Batched, entry: Entry, key: str, x, y, rng) -> None:
    param = entry.params()[key]
    if not (isinstance(param, np.ndarray) and np.issubdtype(param.dtype, np.floating)) or param.size == 0:
        return
    step = max(1.0, _scale(param))
    direction = step * rng.standard_normal(param.shape).astype(param.dtype)
    moved_once = _forward_moved(entry, x, param, direction)
    moved_twice = _forward_moved(entry, x, param, 2 * direction)
    if moved_once is None or moved_twice is None:
        return
    change = moved_once - y
    if not same(moved_twice - y, 2 * change, _scale(y, moved_twice)):
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
                                         _scale(y, moved_once)):
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
        if same(forward_with(entry, key, stack, x), expected, _scale(expected)):
            batched.param_stacks[key] = ones
            batched.shown.append(f"{key} stacked")
            return



def _forward_moved(entry: Entry, x, param, delta):
    """forward(x) with param moved by delta in place (the checker's own way), then put back."""
    old = param.copy()
    try:
        param += delta
        return _forward_or_none(entry, x)
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
        if same(U @ along, rows_change, _scale(rows_change, y)):
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


BATCHED_NOTE = "custom layers batched after probes on this data, each verified against one call per input: "


def batching_notes(net: Network) -> list[str]:
    """What the report says: which custom layers were batched, and how; which were not, and why."""
    batched, alone = [], []
    for entry in net.stack.entries:
        if entry.batched is not None:
            batched.append(f"{entry.label} ({', '.join(entry.batched.shown)})")
        elif entry.batching_note:
            alone.append(f"custom layer {entry.name} {entry.batching_note}")
    return ([BATCHED_NOTE + "; ".join(batched)] if batched else []) + alone
