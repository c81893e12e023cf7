"""The check: analytic gradients by backpropagation against central differences, for the input
of every layer and every parameter; when the spec fails, every layer alone to find the guilty one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import stacked
from .backprop import Trace
from .errors import LayerError
from .network import Network, parameters
from .numeric import (MAX_STACK, STACK_BUDGET, central_differences, central_differences_stacked, closer_look,
                      default_step, directional_differences, element_shift)
from .results import FAILED, PASSED, LayerCheck, TensorCheck
from .verdict import DEFAULT_TOLERANCES, ElementVerdicts, Tolerance, judge

FLOAT64 = np.dtype(np.float64)


@dataclass(frozen=True)
class Mode:
    """How many scalars are checked: all (full), N random ones per tensor (sample), or k random
    directions per tensor (fast: a directional derivative against <grad, v>)."""

    name: str = "full"
    samples: int = 64
    directions: int = 4


# Fast mode: a tensor whose random directions cross kinks is checked by coordinates instead,
# all of them up to this many, a random sample of this many beyond.
FAST_KINK_COORDINATES = 4096


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
        notes += [f"layer {k} ({net.stack.entries[k].type}) returns a wider dtype than its {dtype_name} input, "
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


def check_tensor(layer: int, type_: str, tensor: str, analytic, theta, evaluate, precision: Precision,
                 analytic_noise=0.0, losses_of=None, stack_size: int = 1, sample: np.ndarray | None = None
                 ) -> TensorCheck:
    """Compare one tensor's analytic gradient with finite differences of evaluate() over theta
    (or of `losses_of`, the same function evaluated for many perturbations per call).
    `sample`: flat indices of the only elements to check."""
    if losses_of is None:
        numeric = central_differences(evaluate, theta, precision.step, sample)
    else:
        numeric = central_differences_stacked(losses_of, theta, precision.step, stack_size, sample)
    if not np.all(np.isfinite(numeric)):
        where = int(np.argwhere(~np.isfinite(numeric.ravel()))[0][0])
        idx = np.unravel_index(where if sample is None else int(sample[where]), theta.shape)
        raise LayerError(f"{layer} ({type_})", f"the loss is not finite when {tensor}{[int(i) for i in idx]} "
                         "is perturbed by a small step", index=layer)
    chosen = analytic if sample is None else analytic.ravel()[sample]
    noise = analytic_noise if sample is None or np.ndim(analytic_noise) == 0 else analytic_noise.ravel()[sample]

    def full_index(idx):
        return idx if sample is None else np.unravel_index(int(sample[idx[0]]), theta.shape)

    def look(idx, scale):
        where = full_index(idx)
        h = scale * precision.step * max(1.0, abs(float(theta[where])))
        return closer_look(element_shift(evaluate, theta, where), h, loss_here, eps)

    loss_here = evaluate()
    eps = float(np.finfo(precision.numeric_dtype).eps)
    verdicts = judge(chosen, numeric, precision.tolerance, noise, look)
    mismatches = int(verdicts.mismatch.sum())
    hint = None
    if mismatches and tensor != "input" and not np.any(numeric) and np.any(chosen):
        hint = (f"moving params[{tensor.rpartition('.')[2]!r}] does not change the loss at all: does forward "
                "read self.params at every call? The checker perturbs the array in the params dict in place")
    return _summary(layer, type_, tensor, analytic.shape, chosen, verdicts,
                    lambda flat: full_index(np.unravel_index(flat, chosen.shape)),
                    rel_errors=verdicts.rel_error if sample is None else None, checked=int(chosen.size), hint=hint)


def _summary(layer, type_, tensor, shape, analytic, verdicts: ElementVerdicts, index_of, **extra) -> TensorCheck:
    """A TensorCheck from per-element verdicts; `index_of(flat)` names the worst element."""
    mismatches = int(verdicts.mismatch.sum())
    worst = int(np.argmax(verdicts.excess)) if analytic.size else None
    return TensorCheck(
        layer=layer, type=type_, tensor=tensor, shape=tuple(shape),
        max_abs_error=float(verdicts.abs_error.max(initial=0.0)),
        max_rel_error=float(verdicts.rel_error.max(initial=0.0)),
        worst_index=() if worst is None else tuple(int(i) for i in index_of(worst)),
        analytic=0.0 if worst is None else float(np.ravel(analytic)[worst]),
        numeric=0.0 if worst is None else float(verdicts.numeric.ravel()[worst]),
        outcome=FAILED if mismatches else PASSED,
        elements=int(np.prod(shape)), mismatches=mismatches, kinks=int(verdicts.kink.sum()), **extra,
    )


def check_tensor_directions(job: "TensorJob", precision: Precision, rng, count: int) -> TensorCheck:
    """Fast mode: k random unit directions v; the directional derivative against <grad, v>.
    A wrong gradient g' escapes only if every projection <g' - g, v> falls within tolerance."""
    directions = []
    for _ in range(count):
        v = rng.standard_normal(job.analytic.shape)
        directions.append(v / max(np.linalg.norm(v), 1e-300))

    def along(v, t):
        original = job.theta.copy()
        job.theta += (t * v).astype(job.theta.dtype)
        try:
            return job.evaluate()
        finally:
            job.theta[...] = original

    numeric = directional_differences(along, directions, precision.step)
    if not np.all(np.isfinite(numeric)):
        raise LayerError(f"{job.layer} ({job.type})", f"the loss is not finite when {job.name} is perturbed",
                         index=job.layer)
    analytic = job.analytic.astype(np.float64)
    projected = np.array([float(np.sum(analytic * v)) for v in directions])
    noise = 0.0 if job.twin is None else \
        2.0 * np.abs(projected - np.array([float(np.sum(job.twin * v)) for v in directions]))
    loss_here = job.evaluate()
    eps = float(np.finfo(precision.numeric_dtype).eps)

    def look(idx, scale):
        v = directions[idx[0]]
        return closer_look(lambda t: (along(v, t), t), scale * precision.step, loss_here, eps)

    verdicts = judge(projected, numeric, precision.tolerance, noise, look, kinks_inconclusive=True)
    return _summary(job.layer, job.type, job.name, job.analytic.shape, projected, verdicts, lambda flat: (flat,),
                    checked=count, directions=count)


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


def tensor_jobs(net: Network, precision: Precision, trace: Trace, shadow_trace: Trace | None) -> list[TensorJob]:
    """The input of every top-level layer, then its parameters, in order."""
    jobs = []
    numeric_trace = shadow_trace or trace
    outputs = [y.astype(precision.numeric_dtype) for y in numeric_trace.outputs()]
    for k, entry in enumerate(net.stack.entries):
        x = numeric_trace.inputs[k].astype(precision.numeric_dtype, copy=True)
        evaluate = lambda k=k, x=x: net.loss_from(k, x)  # noqa: E731
        input_losses, rows_only = stacked.input_losses(net, k, x, outputs)
        # the widest activation one perturbation makes: a row of each output, or all of it
        widest = max(a[0].size if rows_only else a.size for a in [x] + outputs[k:])
        twin = shadow_trace.input_grads[k] if shadow_trace else None
        jobs.append(TensorJob(k, entry.type, "input", trace.input_grads[k], x, evaluate, input_losses,
                              _stack_size(widest), _noise(trace.input_grads[k], twin), twin))
        width = (stacked.param_stack_width(net, k, outputs) if hasattr(entry.layer, "perturbed_outputs")
                 else max(a.size for a in outputs[k:]))
        for shown, owner, key in parameters(entry):
            twin = shadow_trace.param_grads[k][shown] if shadow_trace else None
            jobs.append(TensorJob(k, entry.type, shown, trace.param_grads[k][shown], owner.params()[key], evaluate,
                                  stacked.param_losses(net, k, entry, owner, key, x, outputs), _stack_size(width),
                                  _noise(trace.param_grads[k][shown], twin), twin))
    return jobs


def _stack_size(width: int) -> int:
    return min(MAX_STACK, max(2, STACK_BUDGET // max(1, width)))


def check_network(net: Network, precision: Precision, trace: Trace, shadow_trace: Trace | None,
                  mode: Mode = Mode(), seed: int = 0, straightforward: bool = False) -> list[TensorCheck]:
    """Every layer's input gradient and every parameter gradient, through the whole network.
    `straightforward`: one perturbation and one whole forward at a time (the reference the
    stacked engine must agree with; for tests and benchmarks)."""
    return [check_job(job, precision, mode, np.random.default_rng([seed, job.layer, sum(map(ord, job.name))]),
                      straightforward) for job in tensor_jobs(net, precision, trace, shadow_trace)]


def check_job(job: TensorJob, precision: Precision, mode: Mode, rng, straightforward: bool = False) -> TensorCheck:
    """One tensor, in the mode's way: every scalar, a sample of them, or random directions."""
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
                        job.noise, None if straightforward else job.losses_of, job.stack_size, sample)


def _noise(low_precision, high_precision):
    """Rounding error of the analytic side, seen against its float64 twin (with a margin)."""
    if high_precision is None:
        return 0.0
    return 2.0 * np.abs(low_precision.astype(np.float64) - high_precision)


def check_layers_alone(net: Network, trace: Trace, precision: Precision, seed: int,
                       mode: Mode = Mode()) -> list[LayerCheck]:
    """Each top-level layer alone, in the mode of the whole check: backward(G) against the
    central difference of <G, f(x)>."""
    results = []
    for k, entry in enumerate(net.stack.entries):
        x = trace.inputs[k].astype(precision.numeric_dtype, copy=True)
        y = entry.forward(x.copy())
        weights = np.random.default_rng([seed, k]).standard_normal(y.shape)
        dx = entry.backward(weights.astype(y.dtype), x.shape)
        grads = {shown: owner.param_grads()[key] for shown, owner, key in parameters(entry)}

        def evaluate(entry=entry, x=x, weights=weights):
            return float(np.sum(weights * entry.forward(x).astype(np.float64)))

        alone = dict(evaluate=evaluate, losses_of=None, stack_size=1, noise=0.0, twin=None)  # one call each
        jobs = [TensorJob(k, entry.type, "input", dx, x, **alone)]
        jobs += [TensorJob(k, entry.type, shown, grads[shown], owner.params()[key], **alone)
                 for shown, owner, key in parameters(entry)]
        checks = [check_job(job, precision, mode, np.random.default_rng([seed, k, sum(map(ord, job.name)), 1]))
                  for job in jobs]
        results.append(LayerCheck(k, entry.type, PASSED if all(c.passed for c in checks) else FAILED, checks))
    return results


TAYLOR_STEPS = 0.1 * 0.5 ** np.arange(8)


def taylor_order(net: Network, trace: Trace, seed: int) -> float | None:
    """A second opinion without a step size: along a random direction v of all tensors at once,
    r(t) = |L(θ + t·v) - L(θ) - t·<g, v>| shrinks like t² when g is the gradient, like t when
    it is not. Returns the observed order (the slope of log r against log t), or None when
    the remainder is lost in rounding (L is linear along v)."""
    x = trace.inputs[0].copy()
    tensors = [(x, trace.input_grads[0])]
    for k, entry in enumerate(net.stack.entries):
        tensors += [(owner.params()[key], trace.param_grads[k][shown]) for shown, owner, key in parameters(entry)]
    rng = np.random.default_rng([seed, 2])
    directions = [rng.standard_normal(t.shape) for t, _ in tensors]
    norm = np.sqrt(sum(float(np.sum(d * d)) for d in directions))
    directions = [d / norm for d in directions]
    slope = sum(float(np.sum(g.astype(np.float64) * d)) for (_, g), d in zip(tensors, directions))
    originals = [t.copy() for t, _ in tensors]
    loss_here = net.loss_from(0, x)
    remainders = []
    try:
        for t in TAYLOR_STEPS:
            for (tensor, _), original, d in zip(tensors, originals, directions):
                tensor[...] = original + t * d
            remainders.append(abs(net.loss_from(0, x) - loss_here - t * slope))
    finally:
        for (tensor, _), original in zip(tensors, originals):
            tensor[...] = original
    eps = float(np.finfo(x.dtype).eps)
    floor = 1e3 * eps * max(1.0, abs(loss_here))
    keep = [(t, r) for t, r in zip(TAYLOR_STEPS, remainders) if r > floor and np.isfinite(r)]
    if len(keep) < 3:
        return None
    steps, values = zip(*keep)
    return float(np.polyfit(np.log(steps), np.log(values), 1)[0])
