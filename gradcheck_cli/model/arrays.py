"""What a layer hands back — an output, dL/dx, a parameter's gradient — must be a plain numpy
array of real floating-point numbers. Anything else is said, naming the layer, rather than
compared: complex numbers would be compared by their real part, or by a magnitude that hides
the sign; a masked array's mask and np.matrix's 2-D algebra are lost on the way; booleans,
strings and Python objects are no derivatives at all."""
from __future__ import annotations

import numpy as np

_KINDS = {"c": "complex numbers", "b": "booleans", "O": "Python objects", "U": "strings", "S": "bytes",
          "V": "structured records", "M": "dates", "m": "time spans", "i": "integers", "u": "integers"}
EXPECTED = "expected a numpy array of real floating-point numbers"


def not_real_floats(value, integers: bool = False) -> str | None:
    """What makes `value` no plain ndarray of real floats, in words (`an array of complex numbers
    (complex128)`); None when it is one. `integers`: integers are fine too (a gradient, compared
    by its values). What is no ndarray at all is the caller's to judge (or to convert first)."""
    if isinstance(value, np.ma.MaskedArray):
        return "a masked array (numpy.ma.MaskedArray; its mask would be dropped)"
    if isinstance(value, np.matrix):
        return "a numpy.matrix (always 2-D, * is a matrix product)"
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        return f"a {type(value).__name__}, a subclass of numpy.ndarray"
    if not isinstance(value, np.ndarray):
        return None
    kind = value.dtype.kind
    if kind == "f" or (integers and kind in "iu"):
        return None
    return f"an array of {_KINDS.get(kind, 'values')} ({value.dtype})"
