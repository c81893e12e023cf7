"""A built network's whole check, in order: backprop, the float64 twin of a float32 network,
precision and mode, every tensor through the network, the Taylor test, and, when something
failed, every layer alone to name the guilty one."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

from .. import defaults
from .backprop import Trace, backprop
from .jobs import check_network
from .layer_probe import share_diagnoses
from .layers_alone import check_layers_alone
from .precision import FLOAT64, Mode, Precision, choose_precision
from .taylor import taylor_order
from ..errors import LayerError
from ..model.network import Network
from ..model.random_state import keeps_caller_state
from .numeric import default_step
from ..results import FAILED, PASSED, LayerCheck, TensorCheck, Warning
from .verdict import DEFAULT_TOLERANCES, Tolerance



@dataclass(frozen=True)
class Settings:
    """What the user chose; None: the spec's value, else the default."""

    rtol: float | None = None
    atol: float | None = None
    step: float | None = None
    mode: str | None = None          # full | fast | sample; None: full up to defaults.FULL_MODE_LIMIT
    samples: int = defaults.SAMPLES
    directions: int = defaults.DIRECTIONS
    seed: int = defaults.SEED


@dataclass
class Findings:
    outcome: str
    precision: Precision
    mode: Mode
    checks: list[TensorCheck]
    layer_checks: list[LayerCheck] = field(default_factory=list)
    suspect_layer: int | None = None
    taylor_order: float | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)


def float64_twin(net: Network) -> Trace | None:
    """Backprop on a float64 copy of a lower-precision network, when every layer keeps the
    dtype it is given (else None: the numeric side must then stay in the network's dtype)."""
    if net.dtype == FLOAT64:
        return None
    try:
        with net.params_as(FLOAT64) as took:
            if not took:
                return None
            twin = backprop(net, net.x.astype(FLOAT64))
    except LayerError:
        return None
    # Every layer's output, not just the last one: a layer that computes in float32 inside
    # the twin would bring float32 rounding back into the numeric side.
    return twin if twin.lowest_dtype == FLOAT64 else None


def choose_mode(settings: Settings, trace: Trace, notes: list[str]) -> Mode:
    if settings.mode is not None:
        return Mode(settings.mode, settings.samples, settings.directions)
    scalars = sum(x.size for x in trace.inputs) + sum(g.size for grads in trace.param_grads for g in grads.values())
    if scalars <= defaults.FULL_MODE_LIMIT:
        return Mode("full")
    notes.append(f"{scalars:,} scalars, above the {defaults.FULL_MODE_LIMIT:,} checked one by one by default: "
                 "fast mode "
                 f"({settings.directions} random directions per tensor); --mode full checks every scalar")
    return Mode("fast", settings.samples, settings.directions)


@keeps_caller_state
def check_built(net: Network, settings: Settings) -> Findings:
    trace = backprop(net, net.x)
    twin = float64_twin(net)
    precision, notes = choose_precision(net, trace, twin is not None, settings.rtol, settings.atol, settings.step)
    notes = net.notes + notes  # parameters found by name, while building
    mode = choose_mode(settings, trace, notes)
    numeric_trace = twin or trace
    with net.params_as(FLOAT64) if twin else nullcontext():
        checks = check_network(net, precision, trace, twin, mode, settings.seed)
        findings = Findings(PASSED, precision, mode, checks, notes=notes, warnings=trace.warnings,
                            taylor_order=taylor_order(net, numeric_trace, settings.seed))
        if all(c.passed for c in checks):
            return findings
        findings.outcome = FAILED
        findings.layer_checks = check_layers_alone(net, numeric_trace, _alone(precision, settings), settings.seed,
                                                   mode)
    share_diagnoses(findings.checks, findings.layer_checks)
    wrong = [lc.layer for lc in findings.layer_checks if lc.outcome != PASSED]
    findings.suspect_layer = wrong[0] if wrong else None
    return findings


def _alone(precision: Precision, settings: Settings) -> Precision:
    """Alone, on the float64 twin, a layer is held to float64's tolerance, unless the user set one."""
    if not precision.shadow:
        return precision
    default = DEFAULT_TOLERANCES["float64"]
    return Precision(False, FLOAT64, Tolerance(default.rtol if settings.rtol is None else settings.rtol,
                                               default.atol if settings.atol is None else settings.atol),
                     settings.step or default_step(FLOAT64))
