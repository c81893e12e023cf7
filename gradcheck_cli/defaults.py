"""Every default the user can change, declared once. Plain numbers (no numpy), so that the CLI,
the batch runner, the checker, the pytest plugin and the Python API all read the same values
without paying for an import."""
from __future__ import annotations

# What a spec says when it says nothing.
SEED = 0
DTYPE = "float64"
LOSS = "mse"

# How much is checked. Full mode compares every scalar; above FULL_MODE_LIMIT scalars (the
# inputs of every layer and the parameters) the check switches to fast mode by itself.
MODES = ("full", "fast", "sample")
FULL_MODE_LIMIT = 200_000
SAMPLES = 64           # sample mode: random coordinates per tensor
DIRECTIONS = 4         # fast mode: random unit directions per tensor
SEEDS = 1              # --seeds N: each spec at N seeds (its own, then the next), for branches one draw misses

# Tolerances keyed by the precision of the check (rtol, atol); a spec's `tolerance:` and
# --rtol/--atol override them. A float32 spec is normally checked against a float64 twin of the
# network, its float32 rounding measured and allowed for element by element: hence a tolerance
# close to float64's. Only a layer that forces float32 leaves float32 differences, and 1e-3.
TOLERANCES = {
    "float64": (1e-6, 1e-9),
    "float32, float64 twin": (1e-5, 1e-8),
    "float32": (1e-3, 1e-5),
}

# Guards against what would not fit or never end.
MAX_ELEMENTS = 20_000_000      # scalars in the input and the parameters: ~160 MB in float64
MAX_SPEC_BYTES = 1_000_000     # a spec file (or standard input) is at most this large
JOBS = 1

# Hazards (a backward writing into its grad_out, a layer reading np.random, ...) are warnings;
# strict mode (--strict, the plugin's gradcheck_strict) makes any warning fail its spec.
STRICT = False
