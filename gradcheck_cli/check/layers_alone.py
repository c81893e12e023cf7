"""Each top-level layer alone: its backward(G) against the central difference of <G, f(x)>
for a fixed random G. The first layer that fails alone is the suspect."""
from __future__ import annotations

import numpy as np

from .backprop import Trace
from .jobs import TensorJob, check_job
from .layer_probe import diagnose_layer
from ..model.network import Network, parameters
from .precision import Mode, Precision
from ..results import FAILED, PASSED, LayerCheck


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
        layer_spec = net.spec.layers[k] if k < len(net.spec.layers) else None
        diagnose_layer(entry, layer_spec, x, weights.astype(y.dtype), jobs, checks, precision, mode,
                       np.random.default_rng([seed, k, 2]))
        results.append(LayerCheck(k, entry.type, PASSED if all(c.passed for c in checks) else FAILED, checks))
    return results
