"""A stack of activations that differ from one base activation in a single column each: what a
perturbed W[i, j] or b[j] of a linear layer produces (see stacked.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ColumnChange:
    """A stack of B activations equal to `base` except, in item b, last-axis column cols[b],
    which holds values[b]. base: (R, n) with the leading axes flattened to R rows."""

    base: np.ndarray
    shape: tuple
    cols: np.ndarray
    values: np.ndarray  # (B, R)

    def dense(self) -> np.ndarray:
        count = len(self.cols)
        out = np.repeat(self.base[None], count, axis=0)
        out[np.arange(count), :, self.cols] = self.values
        return out.reshape((count,) + self.shape)
