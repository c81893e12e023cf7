"""Each top-level layer alone: its backward(G) against the central difference of <G, f(x)>
for a fixed random G. The first layer that fails alone is the suspect. Elements at a kink are
also checked jointly (check/ties.py): at a tie, each alone can pass where together they cannot.

A residual layer alone is itself a composition (its branch): where it fails alone, its branch's
layers are checked alone in turn, and if each passes, a mismatch whose move crosses a kink
inside one of them is a kink, as for the whole network (check/composition.py)."""
from __future__ import annotations

import numpy as np

from .backprop import Trace
from .composition import KinkFinder
from .jobs import TensorJob, check_job, stack_size
from .stacked import alone_losses
from .layer_probe import diagnose_layer
from ..model.network import Entry, Network, parameters
from .precision import Mode, Precision
from ..results import FAILED, PASSED, LayerCheck, TensorCheck
from .ties import check_ties


def check_layers_alone(net: Network, trace: Trace, precision: Precision, seed: int,
                       mode: Mode = Mode(), upstreams: list | None = None) -> list[LayerCheck]:
    """Each top-level layer alone, in the mode of the whole check: backward(G) against the
    central difference of <G, f(x)>, G random, or `upstreams[k]` for layer k."""
    results = []
    for k, entry in enumerate(net.stack.entries):
        x = trace.inputs[k]
        x = x.copy() if entry.integer_input else x.astype(precision.numeric_dtype, copy=True)  # ids stay ids
        layer_spec = net.spec.layers[k] if k < len(net.spec.layers) else None

        def diagnose(jobs, checks, weights, entry=entry, layer_spec=layer_spec, x=x, k=k):
            diagnose_layer(entry, layer_spec, x, weights, jobs, checks, precision, mode,
                           np.random.default_rng([seed, k, 2]))

        checks = _alone(entry, k, x, precision, mode, [seed, k], diagnose,
                        None if upstreams is None else upstreams[k])
        results.append(LayerCheck(k, entry.type, PASSED if all(c.passed for c in checks) else FAILED, checks))
    return results


def _alone(entry: Entry, k: int, x: np.ndarray, precision: Precision, mode: Mode, key: list[int],
           diagnose=None, upstream: np.ndarray | None = None) -> list[TensorCheck]:
    """One layer's input and parameter gradients alone; `key` seeds G and the mode's draws;
    `diagnose(jobs, checks, G)` (a top-level layer) says what kind of mistake its failures are."""
    y = entry.forward(x.copy())
    weights = np.random.default_rng(key).standard_normal(y.shape) if upstream is None else \
        np.asarray(upstream, dtype=np.float64)
    dx = entry.backward(weights.astype(y.dtype), x.shape)
    grads = {shown: owner.param_grads()[key_] for shown, owner, key_ in parameters(entry)}

    def evaluate(entry=entry, x=x, weights=weights):
        return float(np.sum(weights * entry.forward(x).astype(np.float64)))

    def alone(key_=None, owner=entry):
        """The job's numeric side: many perturbations per call where the layer has shortcuts
        (a built-in's, a probed custom layer's), else one call each."""
        losses_of = alone_losses(entry, x, y, weights, key_) if owner is entry else None
        width = y[0].size if getattr(losses_of, "row_parts", False) else y.size
        return dict(evaluate=evaluate, losses_of=losses_of, stack_size=stack_size(width) if losses_of else 1,
                    noise=0.0, twin=None)

    jobs = [] if entry.integer_input else [TensorJob(k, entry.type, "input", dx, x, **alone())]  # ids: no gradient
    jobs += [TensorJob(k, entry.type, shown, grads[shown], owner.params()[key_], **alone(key_, owner))
             for shown, owner, key_ in parameters(entry)]

    def draws(job):
        return np.random.default_rng(key + [sum(map(ord, job.name)), 1])

    checks = [check_job(job, precision, mode, draws(job)) for job in jobs]
    checks = [check_ties(check, job.analytic, job.theta, job.evaluate, lambda: entry.forward(x), precision)
              if check.kinks else check for check, job in zip(checks, jobs)]
    if diagnose is not None:
        diagnose(jobs, checks, weights.astype(y.dtype))
    if entry.branch is None or all(c.passed for c in checks):
        return checks
    # a residual: its branch's layers alone, each from the input the branch gives it
    branch, inputs = entry.branch.entries, [x]
    for sub in branch[:-1]:
        inputs.append(np.array(sub.forward(inputs[-1]), copy=True))
    if not all(c.passed for j, sub in enumerate(branch) for c in _alone(sub, j, inputs[j], precision, mode, key + [j])):
        return checks
    finder = KinkFinder(branch, inputs, precision, key)

    def crosses(job, where) -> bool:
        h = precision.step * max(1.0, abs(float(job.theta[where])))
        return finder.count_entering(job.name, job.theta, where, h) >= 2

    return [check if check.passed else check_job(job, precision, mode, draws(job),
                                                 crosses_kink=lambda where, job=job: crosses(job, where))
            for check, job in zip(checks, jobs)]
