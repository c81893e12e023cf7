"""What every probe of probing.py and parameter_probes.py shares: the comparison, the limits,
and forward called so that any failure is a probe's "no"."""
from __future__ import annotations

import numpy as np

from ..model.network import Entry

PROBE_TOLERANCE = 1e-12     # of the output's scale (its largest magnitude)
MAX_ROWS_ALONE = 256        # rows given alone; beyond, a sample of them
MAX_BASIS = 2048            # input row size up to which A and footprints are read off (eye: 32 MB)
MAX_READ_OFF = 1 << 22      # floats in one matrix read off (32 MB in float64)
MAX_JACOBIAN_ELEMENTS = 1024  # parameters up to this size get their Jacobian read off


def same(a, b, scale: float) -> bool:
    """a equals b within PROBE_TOLERANCE of `scale`, shape for shape; never for NaN."""
    if not (isinstance(a, np.ndarray) and a.shape == np.shape(b)):
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(a - b) <= PROBE_TOLERANCE * scale))


def scale_of(*arrays) -> float:
    return max(float(np.max(np.abs(a))) if np.size(a) else 0.0 for a in arrays)


def forward_or_none(entry: Entry, x):
    """forward(x) guarded: None for an exception, a wrong shape, a non-finite output."""
    try:
        y = entry.forward(x)
    except Exception:   # a probe's "no": the layer goes one at a time
        return None
    return y if np.all(np.isfinite(y)) else None


def noise(like, rng, relative: float):
    return relative * (1.0 + scale_of(like)) * rng.standard_normal(like.shape)
