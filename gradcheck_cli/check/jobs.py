"""The list of tensors a network's check covers (the input of every top-level layer, then its
parameters), each with the evaluations its numeric side needs, and the check of each in the
mode's way."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import stacked
from .backprop import Trace
from ..model.network import Network, parameters
from .numeric import MAX_STACK, STACK_BUDGET
from .precision import Mode, Precision
from .probing import probe_network
from ..results import TensorCheck
from .tensor import check_tensor, check_tensor_directions

# Fast mode: a tensor whose random directions cross kinks is checked by coordinates instead,
# all of them up to this many, a random sample of this many beyond.
FAST_KINK_COORDINATES = 4096


@dataclass
class TensorJob:
    """One tensor to check and everything the numeric side needs for it."""

    layer: int
    type: str
    name: str
    analytic: np.ndarray
    theta: np.ndarray              # perturbed in place
    evaluate: object               # () -> L
    losses_of: object              # (flat, deltas) -> L per perturbation, many per call
    stack_size: int
    noise: object                  # rounding error of the analytic side (float32 specs)
    twin: np.ndarray | None        # the analytic gradient of the float64 twin, if any


def tensor_jobs(net: Network, precision: Precision, trace: Trace, shadow_trace: Trace | None,
                batching: bool = True) -> list[TensorJob]:
    """The input of every top-level layer, then its parameters, in order. `batching`: custom
    layers probed for what lets them take many perturbations per call (probing.py); without,
    each is called once per perturbation (the reference the probes must agree with)."""
    jobs = []
    numeric_trace = shadow_trace or trace
    outputs = [y.astype(precision.numeric_dtype) for y in numeric_trace.outputs()]
    inputs = [x if e.integer_input else x.astype(precision.numeric_dtype)
              for x, e in zip(numeric_trace.inputs, net.stack.entries)]
    if batching:
        probe_network(net, inputs, outputs, precision.numeric_dtype)
    else:
        for entry in net.stack.entries:
            entry.batched, entry.probed_on = None, None
    for k, entry in enumerate(net.stack.entries):
        x = numeric_trace.inputs[k]
        x = x.copy() if entry.integer_input else x.astype(precision.numeric_dtype, copy=True)  # ids stay ids
        evaluate = lambda k=k, x=x: net.loss_from(k, x)  # noqa: E731
        if not entry.integer_input:  # integer ids are never perturbed: no input row
            input_losses, rows_only = stacked.input_losses(net, k, x, outputs)
            # the widest activation one perturbation makes: a row of each output, or all of it
            widest = max(a[0].size if rows_only else a.size for a in [x] + outputs[k:])
            twin = shadow_trace.input_grads[k] if shadow_trace else None
            jobs.append(TensorJob(k, entry.type, "input", trace.input_grads[k], x, evaluate, input_losses,
                                  stack_size(widest), _noise(trace.input_grads[k], twin), twin))
        for shown, owner, key in parameters(entry):
            width = (stacked.param_stack_width(net, k, outputs) if stacked.param_shortcut(entry, owner, key)
                     else max(a.size for a in outputs[k:]))
            twin = shadow_trace.param_grads[k][shown] if shadow_trace else None
            jobs.append(TensorJob(k, entry.type, shown, trace.param_grads[k][shown], owner.params()[key], evaluate,
                                  stacked.param_losses(net, k, entry, owner, key, x, outputs), stack_size(width),
                                  _noise(trace.param_grads[k][shown], twin), twin))
    return jobs


def stack_size(width: int) -> int:
    return min(MAX_STACK, max(2, STACK_BUDGET // max(1, width)))


def check_network(net: Network, precision: Precision, trace: Trace, shadow_trace: Trace | None,
                  mode: Mode = Mode(), seed: int = 0, straightforward: bool = False,
                  batching: bool = True) -> list[TensorCheck]:
    """Every layer's input gradient and every parameter gradient, through the whole network.
    `straightforward`: one perturbation and one whole forward at a time (the reference the
    stacked engine must agree with; for tests and benchmarks). `batching`: see tensor_jobs."""
    return [check_job(job, precision, mode, job_rng(job, seed), straightforward)
            for job in tensor_jobs(net, precision, trace, shadow_trace, batching and not straightforward)]


def job_rng(job: TensorJob, seed: int):
    """The draws of one tensor's check (its sample, its directions): the same on a second look."""
    return np.random.default_rng([seed, job.layer, sum(map(ord, job.name))])


def check_job(job: TensorJob, precision: Precision, mode: Mode, rng, straightforward: bool = False,
              crosses_kink=None) -> TensorCheck:
    """One tensor, in the mode's way: every scalar, a sample of them, or random directions.
    `crosses_kink(index)`: see verdict.judge (the coordinates' check only: a direction that
    crosses a kink is never judged, its tensor is checked by coordinates instead)."""
    if mode.name == "fast":
        check = check_tensor_directions(job, precision, rng, mode.directions)
        if not check.kinks:
            return check
        # A direction crossed kinks and could not be judged: coordinates can be.
        sample = None if job.theta.size <= FAST_KINK_COORDINATES else \
            np.sort(rng.choice(job.theta.size, FAST_KINK_COORDINATES, replace=False))
    elif mode.name == "sample" and job.theta.size > mode.samples:
        sample = np.sort(rng.choice(job.theta.size, mode.samples, replace=False))
    else:
        sample = None
    return check_tensor(job.layer, job.type, job.name, job.analytic, job.theta, job.evaluate, precision,
                        job.noise, None if straightforward else job.losses_of, job.stack_size, sample,
                        crosses_kink=crosses_kink)


def _noise(low_precision, high_precision):
    """Rounding error of the analytic side, seen against its float64 twin (with a margin)."""
    if high_precision is None:
        return 0.0
    return 2.0 * np.abs(low_precision.astype(np.float64) - high_precision)
