"""Where the numeric side of a check runs, what counts as a match, and how many scalars are
checked (the mode)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..defaults import DIRECTIONS, SAMPLES
from .backprop import Trace
from .numeric import default_step
from .verdict import DEFAULT_TOLERANCES, Tolerance
from ..model.network import Network

FLOAT64 = np.dtype(np.float64)


@dataclass(frozen=True)
class Mode:
    """How many scalars are checked: all (full), N random ones per tensor (sample), or k random
    directions per tensor (fast: a directional derivative against <grad, v>)."""

    name: str = "full"
    samples: int = SAMPLES
    directions: int = DIRECTIONS


@dataclass
class Precision:
    """How the numeric side is computed for this spec, and what counts as a match."""

    shadow: bool          # float32 spec, numeric side on a float64 twin of the network
    numeric_dtype: np.dtype
    tolerance: Tolerance
    step: float


def choose_precision(net: Network, trace: Trace, twin: bool, rtol, atol, step) -> tuple[Precision, list[str]]:
    """Where the numeric side runs and what counts as a match. `twin`: a float64 twin of a
    lower-precision network is available (every layer keeps the dtype it is given)."""
    notes = []
    dtype_name = net.dtype.name
    if net.dtype != FLOAT64:
        notes.append(f"{dtype_name}: numeric side computed in float64 on a float64 twin of the network" if twin else
                     f"{dtype_name}: a layer does not keep float64, so the numeric side runs in {dtype_name}")
        notes += [f"layer {k} ({net.stack.entries[k].type}) returns a wider dtype than {dtype_name}, "
                  "so the layers after it do not run in the spec's dtype" for k in trace.upcasting]
    elif trace.lowest_dtype != FLOAT64:
        dtype_name = trace.lowest_dtype.name
        notes.append(f"a layer returns {dtype_name} for float64 input: checked with {dtype_name} tolerances")
    numeric_dtype = FLOAT64 if twin else np.dtype(dtype_name)
    # A layer computing in float16 gets float32's tolerance: the loosest there is.
    key = "float32, float64 twin" if twin else dtype_name if dtype_name in DEFAULT_TOLERANCES else "float32"
    default = DEFAULT_TOLERANCES[key]
    tolerance = Tolerance(default.rtol if rtol is None else rtol, default.atol if atol is None else atol)
    return Precision(twin, numeric_dtype, tolerance, step or default_step(numeric_dtype)), notes
