"""A custom layer as the fast engine (stacked.py) sees it once probing.py has shown, on the
spec's own data, what it can do. It offers the engine what a built-in offers, and only that:

- `stacked`: a stack of B inputs in one call. A row-independent layer gets the stack's items
  concatenated along the batch axis ((B, N, ...) -> (B·N, ...)); a layer whose forward itself
  broadcasts over a leading axis gets the stack as it is;
- `rowwise`: output row r depends on input row r only, the same way for any batch;
- a layer shown affine in its input (forward(X) = X·A + c, row by row) has A read off from its
  outputs on basis rows: a perturbed input row moves its output row by d·A[i]
  (`perturbed_input_rows`), a changed input column is a rank-1 update (`forward_columns`);
- an element-wise layer keeps a change of one column in one column (`keeps_column_changes`);
- a parameter shown to act on output columns (Y = U·P + c: x @ W + b, in either orientation)
  moves one column per perturbed element (`perturbed_outputs` gives a ColumnChange); one shown
  affine in the layer's output otherwise, its Jacobian read off element by element, moves the
  output by d·J[e] without a call.

Every call of the user's code still goes through its Entry: guarded, watched, named.
"""
from __future__ import annotations

import numpy as np

from ..model.columns import ColumnChange
from .footprints import forward_merged
from .numeric import STACK_BUDGET


class Batched:
    """What the probes showed a custom layer can do; see the module docstring."""

    thread_safe = False   # the user's layer keeps what forward saw in itself: one thread at a time

    def __init__(self, entry, rowwise: bool, native: bool):
        self.entry = entry
        self.rowwise = rowwise
        self.native = native and not rowwise   # concatenation is preferred: its meaning was probed
        self.stacked = rowwise or native
        self.keeps_column_changes = False
        self.matrix = None        # (p, q): forward(rows) = rows.reshape(-1, p) @ matrix + offset
        self.offset = None        # (q,)
        self.columns: dict[str, tuple[np.ndarray, bool]] = {}   # key -> (U (R, m), P stored as (n, m))
        self.jacobians: dict[str, np.ndarray] = {}               # key -> J (|P|, |Y|)
        self.param_stacks: dict[str, int] = {}   # key -> axes of 1 after B: forward broadcasts over P stacks
        self.footprints = None    # (p, q) bools: output elements each input element moves (footprints.py)
        self.shown: list[str] = []  # what the report says of it

    def forward(self, stack):
        """Layer output for each item of a stack (B, N, ...) -> (B, N, ...)."""
        count = len(stack)
        if self.native:
            return self.entry.forward(stack)
        ys = self.entry.forward(stack.reshape((-1,) + stack.shape[2:]))
        return ys.reshape((count, -1) + ys.shape[1:])

    def set_matrix(self, matrix, offset) -> None:
        self.matrix, self.offset = matrix, offset
        self.perturbed_input_rows = self._perturbed_input_rows
        self.forward_columns = self._rank_one_columns

    def forward_rows(self, stack, rows, inputs, outputs):
        """A stack (B, 1, ...) of perturbed rows, rows[b] of `inputs` each: rows that change few
        places share calls (footprints.py); else one call for all, as forward."""
        if self.footprints is None:
            return self.forward(stack)
        return forward_merged(self.entry.forward, self.footprints, stack, rows, inputs, outputs)

    def set_elementwise(self) -> None:
        self.keeps_column_changes = True
        self.forward_columns = self._elementwise_columns

    def covers(self, key: str) -> bool:
        """Whether perturbations of params[key] have a shortcut."""
        return key in self.columns or key in self.jacobians or key in self.param_stacks

    def perturbed_outputs(self, key, x, y, flat_indices, deltas):
        """Y for many single-element perturbations of params[key]: without calling the layer, or
        in calls that each take a stack of values of it."""
        if key in self.param_stacks:
            return self._through_param_stacks(key, x, y, flat_indices, deltas)
        if key in self.jacobians:
            moved = y.reshape(1, -1) + deltas[:, None] * self.jacobians[key][flat_indices]
            return moved.reshape((len(deltas),) + y.shape)
        U, transposed = self.columns[key]
        shape = self.entry.params()[key].shape
        if len(shape) == 1:
            i, j = np.zeros_like(flat_indices), flat_indices
        elif transposed:
            j, i = np.unravel_index(flat_indices, shape)
        else:
            i, j = np.unravel_index(flat_indices, shape)
        rows_y = y.reshape(-1, y.shape[-1])
        return ColumnChange(rows_y, y.shape, j, rows_y[:, j].T + deltas[:, None] * U[:, i].T)

    def _through_param_stacks(self, key, x, y, flat_indices, deltas):
        param = self.entry.params()[key]
        outputs = []
        chunk = max(1, STACK_BUDGET // max(param.size, y.size))   # a stack of P and one of Y stay in cache
        for start in range(0, len(deltas), chunk):
            flat, moved = flat_indices[start:start + chunk], deltas[start:start + chunk]
            stack = np.repeat(param[None], len(flat), axis=0)
            rows = stack.reshape(len(flat), -1)
            rows[np.arange(len(flat)), flat] = param.reshape(-1)[flat] + moved   # as the checker moves it in place
            got = forward_with(self.entry, key, stack.reshape((len(flat),) + (1,) * self.param_stacks[key]
                                                               + param.shape), x)
            if got is None or got.shape != (len(flat),) + y.shape:
                raise self.entry.fail(f"forward took a stack of {key} when probed, but not now")
            outputs.append(got)
        return np.concatenate(outputs)

    def _perturbed_input_rows(self, y_rows, positions, deltas):
        """Output rows for input rows moved at one position each: d·A[i] added."""
        moved = y_rows.reshape(len(positions), -1) + deltas[:, None] * self.matrix[positions]
        return moved.reshape(y_rows.shape)

    def _rank_one_columns(self, change: ColumnChange, y):
        """Inputs that differ in one last-axis column each: the changes through A (a rank-1
        update per item when the input is (N, m); one per position of that column otherwise)."""
        count, m = len(change.cols), change.base.shape[-1]
        p, q = self.matrix.shape
        positions = p // m
        moved = (change.values - change.base[:, change.cols].T).reshape(count, -1, positions)   # (B, N, a)
        picks = self.matrix[np.arange(positions)[None, :] * m + change.cols[:, None]]         # (B, a, q)
        out = np.einsum("bnt,btq->bnq", moved, picks) + y.reshape(1, -1, q)
        return out.reshape((count,) + y.shape)

    def _elementwise_columns(self, change: ColumnChange, y) -> ColumnChange:
        """Only the changed column changes: the layer on those values alone, as one column."""
        values = self.entry.forward(change.values.reshape(-1, 1)).reshape(change.values.shape)
        return ColumnChange(y.reshape(-1, y.shape[-1]), y.shape, change.cols, values)


def forward_with(entry, key: str, value, x):
    """forward(x) with params[key] replaced by `value` (a stack of values), then put back."""
    params = entry.params()
    original = params[key]
    try:
        params[key] = value
        return entry.run("forward", entry.layer.forward, x)
    except Exception:   # a probe's "no"
        return None
    finally:
        params[key] = original
