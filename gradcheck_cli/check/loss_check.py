"""A custom loss's own dx, checked as a row of its own: the loss's dL/dx at its input against the
central differences of the loss's value there, in float64 (the loss computes in float64). The
network's other rows are backpropagated from that same dx, so a wrong one makes every tensor
before it look wrong; this row, exact and alone, is where the blame goes first.

Built-in losses get no row: they are correct by construction (tests/test_layers.py checks them by
hand, tests/test_custom_losses.py with this very check), and a row in every report would only
repeat that."""
from __future__ import annotations

import numpy as np

from .jobs import TensorJob, check_job
from .layer_probe import diagnose_numbers
from .numeric import default_step
from .precision import FLOAT64, Mode, Precision
from ..results import FAILED, PASSED, LayerCheck, TensorCheck
from .verdict import DEFAULT_TOLERANCES, Tolerance

NODE = "loss"


def loss_precision(rtol: float | None, atol: float | None, step: float | None) -> Precision:
    """float64's defaults, unless the user set a tolerance or a step."""
    default = DEFAULT_TOLERANCES["float64"]
    return Precision(False, FLOAT64, Tolerance(default.rtol if rtol is None else rtol,
                                               default.atol if atol is None else atol),
                     step or default_step(FLOAT64))


def check_loss(loss, y, layer: int, precision: Precision, mode: Mode = Mode(), seed: int = 0) -> TensorCheck:
    """The loss's dx at its input y against the central differences of its value: the row
    `loss` (tensor `input`; `layer`: where reports put it)."""
    theta = np.array(y, dtype=np.float64)
    analytic = loss.grad(theta)
    shown = getattr(loss, "type", type(loss).__name__)
    job = TensorJob(layer, shown, "input", analytic, theta, evaluate=lambda: loss.value(theta), losses_of=None,
                    stack_size=1, noise=0.0, twin=None)
    check = check_job(job, precision, mode, np.random.default_rng([seed, layer, sum(map(ord, NODE))]))
    check.node = NODE
    # what kind of mistake, from the numbers (a loss's upstream is dL/dL = 1; x its input, for 1/N)
    diagnose_numbers([check], {"input": analytic}, theta, np.ones(1), precision)
    check.compared = None
    return check


def loss_checks(loss, y, layer: int, mode: Mode, settings) -> list[TensorCheck]:
    """The loss row of a spec with a custom loss, at `y`, the value backprop started from (a
    stack's last output, a graph's loss node); none for a built-in loss."""
    if not getattr(loss, "custom", False):
        return []
    precision = loss_precision(settings.rtol, settings.atol, settings.step)
    return [check_loss(loss, y, layer, precision, mode, settings.seed)]


def loss_alone(checks: list[TensorCheck]) -> list[LayerCheck]:
    """The loss's row as its entry among the layers checked alone (it is alone already)."""
    return [LayerCheck(c.layer, c.type, PASSED if c.passed else FAILED, [c], node=NODE)
            for c in checks if c.node == NODE]


def first_suspect(layer_checks: list[LayerCheck]) -> int | None:
    """The loss if its dx is wrong (every gradient flows from it, and its check is exact), else the
    first layer whose own backward is wrong."""
    wrong = sorted((lc for lc in layer_checks if lc.outcome != PASSED), key=lambda lc: lc.node != NODE)
    return wrong[0].layer if wrong else None
