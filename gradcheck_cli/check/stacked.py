"""Many perturbations per numpy call: the engine behind a full check.

A single-scalar perturbation has structure that a plain "perturb, run the whole forward"
loop throws away, and the engine keeps it as long as the layers allow:
 - a perturbed input row of layer k changes only that row further on, when every layer from
   k on acts row by row (`rowwise`): one row goes through, and only that row's part of the
   loss is compared (the other rows cancel exactly in L(θ+h) - L(θ-h)); a linear layer k
   moves its output row by d·W[i, :] instead of a row-vector product;
 - a perturbed W[i, j] or b[j] of a linear layer changes only column j of its output
   (a ColumnChange): an element-wise layer then recomputes that column alone, and the next
   linear layer turns it into a rank-1 update instead of a matrix product.
Everything else is a dense stack with a leading axis of perturbations, run through layers
that take stacks (`stacked`) in one call and through the others one item at a time.
"""
from __future__ import annotations

import numpy as np

from ..model.columns import ColumnChange
from ..model.network import Entry, Network


def _takes_stacks(layer) -> bool:
    return getattr(layer, "stacked", False) is True


def _rowwise(layer) -> bool:
    return getattr(layer, "rowwise", False) is True


def _thread_safe(entries) -> bool:
    """Built-in layers return what they compute, whatever they remember for backward, so
    several stacks may go through them at once. A custom layer is called from one thread."""
    return all(getattr(e.ability, "thread_safe", False) is True for e in entries)


def _forward_stack(entry: Entry, stack):
    """A stack through a layer that takes stacks: a built-in (or a custom layer that declares
    it) in one call of its forward; a probed custom layer as its Batched says."""
    if entry.batched is not None:
        return entry.batched.forward(stack)
    return entry.run("forward", entry.layer.forward, stack)


def param_shortcut(entry: Entry, owner: Entry, key: str):
    """perturbed_outputs of layer k for params[key], when it has one (else one forward per
    perturbation): a built-in linear layer's, or what probes read off a custom layer."""
    if owner is not entry:
        return None
    shortcut = getattr(entry.ability, "perturbed_outputs", None)
    covers = getattr(entry.ability, "covers", None)
    return shortcut if shortcut is not None and (covers is None or covers(key)) else None


def run_stack(net: Network, k: int, stack, outputs: list[np.ndarray], rows=None, first_input=None):
    """Layers k, k+1, ... on a stack (dense, or a ColumnChange of layer k's input); `outputs[j]`
    is layer j's unperturbed output. Returns the dense stack of final outputs. With `rows`, the
    stack is (B, 1, ...): item b is row rows[b] of layer k's input `first_input`, perturbed."""
    for j in range(k, len(net.stack.entries)):
        entry: Entry = net.stack.entries[j]
        if isinstance(stack, ColumnChange):
            columns = getattr(entry.ability, "forward_columns", None)
            if columns is not None:
                stack = columns(stack, outputs[j])
                continue
            stack = stack.dense()
        if rows is not None and entry.batched is not None:
            stack = entry.batched.forward_rows(stack, rows, first_input if j == k else outputs[j - 1], outputs[j])
        elif _takes_stacks(entry.ability):
            stack = _forward_stack(entry, stack)
        else:
            stack = np.stack([entry.forward(item) for item in stack])
    return stack.dense() if isinstance(stack, ColumnChange) else stack


def param_stack_width(net: Network, k: int, outputs: list[np.ndarray]) -> int:
    """The widest dense activation that perturbing layer k's parameters creates: column
    changes stay narrow through layers that keep them, and densify after."""
    for j in range(k + 1, len(net.stack.entries)):
        layer = net.stack.entries[j].ability
        if getattr(layer, "keeps_column_changes", False):
            continue
        first_dense = j if hasattr(layer, "forward_columns") else j - 1
        return max(a.size for a in outputs[first_dense:])
    return outputs[-1].size


def moved_copies(copies: np.ndarray, positions, deltas) -> np.ndarray:
    """copies (B, ...), a fresh array of the callers' (x[rows], np.repeat), each moved in place by
    deltas[b] at flat position positions[b]; returned."""
    copies.reshape(len(copies), -1)[np.arange(len(copies)), positions] += deltas
    return copies


def input_losses(net: Network, k: int, x: np.ndarray, outputs: list[np.ndarray]):
    """losses_of(flat, deltas) for single-scalar perturbations of layer k's input x."""
    rows_only = all(_rowwise(e.ability) and _takes_stacks(e.ability) for e in net.stack.entries[k:]) \
        and hasattr(net.loss, "row_values")
    per_row = x[0].size

    first = net.stack.entries[k].ability

    def losses_of(flat, deltas):
        count = len(flat)
        if rows_only:
            rows = flat // per_row
            if hasattr(first, "perturbed_input_rows"):
                moved = first.perturbed_input_rows(outputs[k][rows], flat % per_row, deltas)
                ys = run_stack(net, k + 1, moved[:, None], outputs, rows, outputs[k])
            else:
                xs = moved_copies(x[rows], flat % per_row, deltas)   # (B, ...): one row each
                ys = run_stack(net, k, xs[:, None], outputs, rows, x)       # (B, 1, ...)
            return net.loss.row_values(ys, rows)
        xs = moved_copies(np.repeat(x[None], count, axis=0), flat, deltas)
        return net.loss.values(run_stack(net, k, xs, outputs))

    losses_of.thread_safe = _thread_safe(net.stack.entries[k:])
    losses_of.row_parts = rows_only   # only the moved row's part of L ...
    if rows_only:                     # ... and that row's part of L(θ), to compare them with
        every_row = np.arange(len(x))
        here = net.loss.row_values(outputs[-1][:, None], every_row)   # once per row, not per element
        losses_of.row_here = lambda flat: here[np.asarray(flat) // per_row]
    return losses_of, rows_only


def param_losses(net: Network, k: int, entry: Entry, owner: Entry, key: str, x: np.ndarray,
                 outputs: list[np.ndarray]):
    """losses_of(flat, deltas) for single-scalar perturbations of params[key] of `owner`
    (top-level layer k, or a layer inside its residual branch)."""
    y = outputs[k]
    shortcut = param_shortcut(entry, owner, key)

    def losses_of(flat, deltas):
        if shortcut is not None:
            changed = shortcut(key, x, y, flat, deltas)
        else:
            changed = _one_by_one(entry, owner, key, x, flat, deltas)
        return net.loss.values(run_stack(net, k + 1, changed, outputs))

    losses_of.thread_safe = shortcut is not None and _thread_safe(net.stack.entries[k:])
    return losses_of


def _one_by_one(entry: Entry, owner: Entry, key: str, x, flat, deltas) -> np.ndarray:
    """Layer k's output for each perturbation of a parameter, one forward each (black boxes)."""
    param = owner.params()[key]
    outputs = []
    for i, delta in zip(flat, deltas):
        idx = np.unravel_index(i, param.shape)
        old = param[idx].copy()
        param[idx] = old + delta
        try:
            outputs.append(entry.forward(x))
        finally:
            param[idx] = old
    return np.stack(outputs)


def alone_losses(entry: Entry, x: np.ndarray, y: np.ndarray, weights: np.ndarray, key: str | None = None):
    """losses_of(flat, deltas) for a layer alone, L = <G, f(x)> (layers_alone.py), for its input
    (key None) or params[key], by the layer's own shortcuts; None where it has none (a black box:
    one call per perturbation)."""
    ability = entry.ability
    if not _takes_stacks(ability) or entry.integer_input:
        return None
    weights = np.asarray(weights, dtype=np.float64)
    if key is not None:
        shortcut = param_shortcut(entry, entry, key)
        if shortcut is None:
            return None

        def param_losses_of(flat, deltas):
            changed = shortcut(key, x, y, flat, deltas)
            changed = changed.dense() if isinstance(changed, ColumnChange) else changed
            return _weighted(weights[None], changed)

        param_losses_of.thread_safe = _thread_safe([entry])
        return param_losses_of
    per_row, rowwise = x[0].size, _rowwise(ability)

    def losses_of(flat, deltas):
        count = len(flat)
        if not rowwise:
            xs = moved_copies(np.repeat(x[None], count, axis=0), flat, deltas)
            return _weighted(weights[None], _forward_stack(entry, xs))
        rows = flat // per_row
        if hasattr(ability, "perturbed_input_rows"):
            ys = ability.perturbed_input_rows(y[rows], flat % per_row, deltas)
        else:
            xs = moved_copies(x[rows], flat % per_row, deltas)
            ys = (entry.batched.forward_rows(xs[:, None], rows, x, y) if entry.batched is not None
                  else _forward_stack(entry, xs[:, None]))[:, 0]
        return _weighted(weights[rows], ys)

    losses_of.thread_safe = _thread_safe([entry])
    losses_of.row_parts = rowwise
    here = _weighted(weights, y)   # each row's part of <G, y>, once per row
    losses_of.row_here = lambda flat: here[np.asarray(flat) // per_row]
    return losses_of


def _weighted(weights, ys) -> np.ndarray:
    """<G, y> for each item of a stack: sum(G * y) over all but the first axis."""
    return np.sum((weights * ys.astype(np.float64)).reshape(len(ys), -1), axis=1)
