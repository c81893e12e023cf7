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
from .batched import Batched
from .footprints import forward_merged, read_footprints
from .parameter_probes import probe_parameter
from .stacked import moved_copies
from .probe_checks import MAX_BASIS, MAX_READ_OFF, MAX_ROWS_ALONE, forward_or_none, noise, same, scale_of


def probe_network(net: Network, inputs: list[np.ndarray], outputs: list[np.ndarray], dtype) -> None:
    """Set entry.batched for each top-level custom layer that probes show can take batches;
    entry.batched = None for the others (one perturbation at a time). `inputs[k]`,
    `outputs[k]`: layer k's unperturbed input and output, in the numeric side's dtype."""
    for k, entry in enumerate(net.stack.entries):
        if not _probed(entry) or np.dtype(dtype) != np.float64:
            entry.batched, entry.batching_note = None, None
            continue
        # probed already on this very data (the re-check across kinks asks again): keep the answer
        seen = (hash(inputs[k].tobytes()), inputs[k].shape,
                tuple((id(v), hash(v.tobytes()) if isinstance(v, np.ndarray) else v)
                      for v in entry.params().values()))
        if entry.probed_on == seen:
            continue
        entry.batched, entry.batching_note, entry.probed_on = None, None, seen
        rng = np.random.default_rng([7, k])
        try:
            with np.errstate(all="ignore"):   # a probe's far rows may overflow: a "no", not a warning
                entry.batched = probe_layer(entry, inputs[k], outputs[k], rng)
        finally:
            forward_or_none(entry, inputs[k])  # the layer keeps what forward(x) keeps, as before


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
        probe_parameter(batched, entry, key, x, y, rng)
    return batched


def _rows_independent(entry: Entry, x, y, rng) -> bool:
    """Each row alone gives its row; a concatenation of two changed copies of the batch gives
    each copy's own output."""
    rows = np.arange(len(x)) if len(x) <= MAX_ROWS_ALONE else np.sort(rng.choice(len(x), MAX_ROWS_ALONE, False))
    scale = scale_of(y)
    for r in rows:
        if not same(forward_or_none(entry, x[r:r + 1].copy()), y[r:r + 1], scale):
            return False
    first = x + noise(x, rng, 1e-3)
    second = x[::-1] + noise(x, rng, 1e-3)
    parts = [forward_or_none(entry, first), forward_or_none(entry, second)]
    joined = forward_or_none(entry, np.concatenate([first, second]))
    if any(p is None for p in parts) or joined is None:
        return False
    scale = scale_of(*parts)
    return same(joined, np.concatenate(parts), scale)


def _takes_stacks(entry: Entry, x, y, rng) -> bool:
    other = x[::-1] + noise(x, rng, 1e-3)
    alone = forward_or_none(entry, other)
    both = forward_or_none(entry, np.stack([x, other]))
    return alone is not None and same(both, np.stack([y, alone]), scale_of(y, alone))


def _elementwise(entry: Entry, x, y) -> bool:
    """Each element alone, as a (K, 1) column, gives its output: nothing but its own value counts."""
    return same(forward_or_none(entry, x.reshape(-1, 1).copy()), y.reshape(-1, 1), scale_of(y))


def _read_matrix(batched: Batched, entry: Entry, x, y, rng) -> None:
    """A and c of forward(Z) = Z·A + c, from basis rows, checked on the input and on random rows."""
    p, q = x[0].size, y[0].size
    if p > MAX_BASIS or p * q > MAX_READ_OFF:
        return
    if not _superposes(entry, x[:1], rng):   # a cheap "no" before p basis rows
        return
    step = max(1.0, scale_of(x))
    on_basis = forward_or_none(entry, (step * np.eye(p, dtype=x.dtype)).reshape((p,) + x.shape[1:]))
    offset = forward_or_none(entry, np.zeros((1,) + x.shape[1:], dtype=x.dtype))
    if on_basis is None or offset is None:
        return
    offset = offset.reshape(q)
    matrix = (on_basis.reshape(p, q) - offset) / step
    far = np.concatenate([x + noise(x, rng, 1.0), noise(x, rng, 1.0)])
    for z in (x, far):
        got = forward_or_none(entry, z)
        if got is None or not same((z.reshape(-1, p) @ matrix + offset).reshape(got.shape), got, scale_of(got)):
            return
    batched.set_matrix(matrix, offset)
    batched.shown.append("affine")


def _read_local(batched: Batched, entry: Entry, x, y, rng) -> None:
    """Footprints (footprints.py) read off on the first row, checked on the first and last rows:
    single elements moved a little and far, merged as the check merges them, against one call each."""
    p, q = x[0].size, y[0].size
    if p > MAX_BASIS or p * q > MAX_READ_OFF or p < 2:
        return
    far = 2.0 * (1.0 + scale_of(x))
    calls = lambda z: forward_or_none(entry, z)  # noqa: E731
    footprints = read_footprints(calls, x[:1], y[0].reshape(-1), far)
    if footprints is None:
        return
    chosen = rng.choice(p, size=min(p, 24), replace=False)
    rows = np.repeat(np.unique([0, len(x) - 1]), 2 * len(chosen))
    steps = np.tile(np.concatenate([1e-3 * far * np.ones(len(chosen)), -far * np.ones(len(chosen))]),
                    len(np.unique(rows)))
    positions = np.tile(np.concatenate([chosen, chosen]), len(np.unique(rows)))
    items = moved_copies(x[rows], positions, steps)
    try:
        merged = forward_merged(entry.forward, footprints, items[:, None], rows, x, y)
    except Exception:   # a probe's "no"
        return
    alone = [calls(item[None]) for item in items]
    if any(a is None for a in alone) or not same(merged, np.stack(alone), scale_of(y, *alone)):
        return
    batched.footprints = footprints
    batched.shown.append(f"local (at most {int(footprints.sum(axis=1).max())} outputs per input)")


def _superposes(entry: Entry, row, rng) -> bool:
    """f(x + d1 + d2) - f(x + d1) - f(x + d2) + f(x) = 0 for one row and random d1, d2 of its scale."""
    d1, d2 = noise(row, rng, 1.0), noise(row, rng, 1.0)
    outputs = [forward_or_none(entry, z) for z in (row + d1 + d2, row + d1, row + d2, row.copy())]
    if any(o is None for o in outputs):
        return False
    return same(outputs[0] - outputs[1] - outputs[2] + outputs[3], np.zeros_like(outputs[0]), scale_of(*outputs))


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
