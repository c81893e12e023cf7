"""What a run found, as plain data: the renderers (console, JSON) read these and nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASSED, FAILED, ERROR = "passed", "failed", "error"


@dataclass
class Diagnosis:
    """What kind of mistake a failed tensor's pattern points at (check/diagnosis.py lists the kinds)."""

    kind: str          # factor, sign, transpose, forward, ... (diagnosis.KINDS)
    detail: str        # what was seen, and the likely slip, in one sentence
    confidence: float  # in [0, 1]


@dataclass
class TensorCheck:
    """One tensor's analytic gradient against its numeric one."""

    layer: int | None          # top-level layer index; None in a graph spec (see node)
    type: str                  # that layer's type as written in the spec
    tensor: str                # "input" (dL/d of the layer's input), or a parameter name
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float            # at the worst index
    numeric: float
    outcome: str               # passed | failed
    elements: int
    mismatches: int = 0
    kinks: int = 0
    checked: int = 0           # elements (or directions) actually compared; < elements when sampled
    directions: int = 0        # fast mode: random directions instead of elements
    node: str | None = None    # graph specs: the node whose output or parameter this is ("h", "loss")
    rel_errors: Any = field(default=None, repr=False)  # per element, for the heatmap
    kink_at: Any = field(default=None, repr=False)     # flat indices of the elements accepted as kinks
    hint: str | None = None    # why a tensor failed where the numbers alone do not say (a tie: check/ties.py)
    diagnosis: Diagnosis | None = None  # a failed tensor of a layer checked alone: the likely kind of mistake
    # a failed tensor: (numeric values, mismatch flags, compared flat indices or None for all), for the diagnosis
    compared: Any = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def coverage(self) -> float | None:
        """The share of elements compared (1.0 in full mode); None in fast mode, which compares directions."""
        return round(self.checked / self.elements, 6) if self.elements and not self.directions else None


@dataclass
class LayerCheck:
    """A layer checked alone: backward(G) against the central difference of <G, f(x)>."""

    layer: int | None          # None in a graph spec, whose nodes have names
    type: str
    outcome: str
    checks: list[TensorCheck]
    node: str | None = None    # graph specs: the node checked alone; "loss" for a custom loss's own check

    @property
    def wrong_tensors(self) -> list[str]:
        return [c.tensor for c in self.checks if not c.passed]


@dataclass
class Warning:
    """A hazard in a layer that did not make a gradient wrong this time, but could (a backward
    that writes into its grad_out, a forward that returns an array it overwrites later).
    `--strict` makes any warning fail the spec."""

    layer: int | None
    kind: str          # a short fixed word: grad_out_modified, output_reused, dtype, global_random, unused, unsearched
    message: str
    node: str | None = None   # graph specs: the node (or input) it is about


@dataclass
class SpecResult:
    path: str
    name: str
    outcome: str                               # passed | failed | error
    error: str | None = None
    checks: list[TensorCheck] = field(default_factory=list)
    layer_checks: list[LayerCheck] = field(default_factory=list)
    suspect_layer: int | None = None
    suspect_node: str | None = None            # graph specs: the first node whose backward is wrong alone
    graph: bool = False                        # a graph spec: checks are named by node, not by layer index
    dtype: str = "float64"
    rtol: float | None = None
    atol: float | None = None
    step: float | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    taylor_order: float | None = None          # ≈ 2 for a correct gradient, ≈ 1 for a wrong one
    mode: str = "full"
    seconds: float = 0.0
    invalid: bool = False                      # the spec itself was bad (exit code 2)
    seeds: list[int] = field(default_factory=list)   # checked at these seeds (--seeds N)
    seed: int | None = None                    # the seed of the checks shown: the first of the worst outcome

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    # The Python API's views, rendered by report/ on demand (this module stays plain data).
    def __str__(self) -> str:
        """The terminal report without color: what `assert_gradients` raises."""
        from .report.text import plain_text
        return plain_text(self)

    def _repr_html_(self) -> str:
        """A table in Jupyter."""
        from .report.notebook import spec_html
        return spec_html(self)

    def __rich_console__(self, console, options):
        """The terminal report, on a rich console (rich.print(result))."""
        from .report.text import rich_renderables
        yield from rich_renderables(self, console, options)


@dataclass
class RunResult:
    specs: list[SpecResult]
    seconds: float = 0.0
    interrupted: bool = False                  # Ctrl-C: specs holds only those finished before

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.specs if s.outcome == outcome)

    @property
    def passed(self) -> bool:
        return not self.interrupted and all(s.outcome == PASSED for s in self.specs)

    @property
    def exit_code(self) -> int:
        if any(s.invalid for s in self.specs):
            return 2
        return 0 if self.passed else 1
