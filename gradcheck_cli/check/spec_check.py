"""A built network's whole check, in order: backprop, the float64 twin of a float32 network,
precision and mode, every tensor through the network, the Taylor test, and, when something
failed, every layer alone to name the guilty one."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

from .. import defaults
from .backprop import Trace, backprop
from .composition import recheck_across_kinks
from .jobs import check_network
from .layer_probe import share_diagnoses
from .layers_alone import check_layers_alone
from .loss_check import first_suspect, loss_alone, loss_checks
from .probing import batching_notes
from .precision import FLOAT64, Mode, Precision, choose_precision
from .taylor import taylor_order
from ..errors import LayerError, SpecError
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
    suspect_node: str | None = None       # graph specs
    taylor_order: float | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)


def float64_twin(net: Network) -> Trace | None:
    """Backprop on a float64 copy of a lower-precision network (twin_trace)."""
    return twin_trace(net, lambda: backprop(net, net.x if net.stack.entries[0].integer_input
                                            else net.x.astype(FLOAT64)))


def twin_trace(net, run_backprop):
    """`run_backprop()` on a float64 copy of a lower-precision stack or graph, when every layer
    keeps the dtype it is given (else None: the numeric side must then stay in the network's dtype)."""
    if net.dtype == FLOAT64:
        return None
    try:
        with net.params_as(FLOAT64) as took:
            if not took:
                return None
            twin = run_backprop()
    except LayerError:
        return None
    # Every layer's output, not just the last one: a layer that computes in float32 inside
    # the twin would bring float32 rounding back into the numeric side.
    return twin if twin.lowest_dtype == FLOAT64 else None


def choose_mode(settings: Settings, trace: Trace, notes: list[str]) -> Mode:
    if settings.mode is not None:
        return Mode(settings.mode, settings.samples, settings.directions)
    grads = getattr(trace, "input_grads", None)  # a stack's; a graph's trace counts every value it checks
    checked = trace.inputs if grads is None else [x for x, g in zip(trace.inputs, grads) if g is not None]
    scalars = sum(x.size for x in checked) + sum(g.size for grads in trace.param_grads for g in grads.values())
    if scalars <= defaults.FULL_MODE_LIMIT:
        return Mode("full")
    notes.append(f"{scalars:,} scalars, above the {defaults.FULL_MODE_LIMIT:,} checked one by one by default: "
                 "fast mode "
                 f"({settings.directions} random directions per tensor); --mode full checks every scalar")
    return Mode("fast", settings.samples, settings.directions)


@keeps_caller_state
def check_built(net: Network, settings: Settings) -> Findings:
    if not isinstance(net, Network):  # a graph spec's GraphNetwork: its own check, node by node
        from .graph_check import check_graph
        return check_graph(net, settings)
    trace = backprop(net, net.x)
    twin = float64_twin(net)
    precision, notes = choose_precision(net, trace, twin is not None, settings.rtol, settings.atol, settings.step)
    notes = net.notes + notes  # parameters found by name, while building
    mode = choose_mode(settings, trace, notes)
    numeric_trace = twin or trace
    with net.params_as(FLOAT64) if twin else nullcontext():
        checks = check_network(net, precision, trace, twin, mode, settings.seed)
        notes = notes + batching_notes(net)
        # a custom loss's own dx, a row of its own
        checks += loss_checks(net.loss, trace.output, len(net.stack.entries), mode, settings)
        if not checks:  # integer ids into layers without parameters: nothing was compared, which is no pass
            raise SpecError("nothing to check: the input is integer ids, which have no gradient, and no layer has "
                            "parameters", net.spec.path, net.spec.marks.line(("input",)), where="input")
        findings = Findings(PASSED, precision, mode, checks, notes=notes, warnings=trace.warnings,
                            taylor_order=taylor_order(net, numeric_trace, settings.seed))
        if all(c.passed for c in checks) and not any(c.kinks for c in checks):
            return findings
        # With kinks, each layer alone even when every tensor passed: a layer that is wrong only at
        # a tie (its gradient given to every tied element) passes element by element in the network.
        layer_checks = check_layers_alone(net, numeric_trace, alone_precision(precision, settings), settings.seed,
                                          mode) + loss_alone(checks)
        wrong = [lc.layer for lc in layer_checks if lc.outcome != PASSED]
        if not wrong and not all(c.passed for c in checks):
            # Before a mismatch is excused as a crossing of kinks, each layer alone once more with
            # the upstream gradient the network gives it: a backward wrong only for that one (where
            # it is exactly 0 after a ReLU at its kink, say) is right for a random G.
            given = check_layers_alone(net, numeric_trace, alone_precision(precision, settings), settings.seed, mode,
                                       upstreams=_upstreams(net, numeric_trace))
            if any(lc.outcome != PASSED for lc in given):
                layer_checks = given + loss_alone(checks)
                wrong = [lc.layer for lc in layer_checks if lc.outcome != PASSED]
        if not wrong and not all(c.passed for c in checks):
            findings.checks, excused = recheck_across_kinks(net, precision, trace, twin, mode, settings.seed, checks)
            findings.notes = findings.notes + excused
        if not wrong and all(c.passed for c in findings.checks):
            return findings
        findings.outcome, findings.layer_checks = FAILED, layer_checks
        if all(c.passed for c in findings.checks):  # wrong only alone: say how, or the table shows nothing off
            findings.notes = findings.notes + [f"layer {lc.layer} ({lc.type}) alone, {c.tensor}: {c.hint}"
                                               for lc in layer_checks for c in lc.checks if not c.passed and c.hint]
    share_diagnoses(findings.checks, findings.layer_checks)
    findings.suspect_layer = first_suspect(layer_checks)
    return findings


def _upstreams(net: Network, trace: Trace) -> list:
    """dL/dy of each top-level layer, as backprop gave it: the next layer's dL/dx, the loss's."""
    return list(trace.input_grads[1:]) + [net.loss.grad(trace.output)]


def alone_precision(precision: Precision, settings: Settings) -> Precision:
    """Alone, on the float64 twin, a layer is held to float64's tolerance, unless the user set one."""
    if not precision.shadow:
        return precision
    default = DEFAULT_TOLERANCES["float64"]
    return Precision(False, FLOAT64, Tolerance(default.rtol if settings.rtol is None else settings.rtol,
                                               default.atol if settings.atol is None else settings.atol),
                     settings.step or default_step(FLOAT64))
