"""The Taylor test: a second opinion on the whole gradient that needs no step size."""
from __future__ import annotations

import numpy as np

from .backprop import Trace
from ..model.network import Network, parameters

TAYLOR_STEPS = 0.1 * 0.5 ** np.arange(8)


def taylor_order(net: Network, trace: Trace, seed: int) -> float | None:
    """A second opinion without a step size: along a random direction v of all tensors at once,
    r(t) = |L(θ + t·v) - L(θ) - t·<g, v>| shrinks like t² when g is the gradient, like t when
    it is not. Returns the observed order (the slope of log r against log t), or None when
    the remainder is lost in rounding (L is linear along v)."""
    x = trace.inputs[0].copy()
    ids = net.stack.entries[0].integer_input  # integer ids are not moved: the direction leaves them out
    tensors = [] if ids else [(x, trace.input_grads[0])]
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
    return fitted_order(remainders, loss_here, float(np.finfo(trace.output.dtype if ids else x.dtype).eps))


def fitted_order(remainders: list[float], loss_here: float, eps: float) -> float | None:
    """The slope of log r against log t over TAYLOR_STEPS, from the points above the rounding floor."""
    floor = 1e3 * eps * max(1.0, abs(loss_here))
    keep = [(t, r) for t, r in zip(TAYLOR_STEPS, remainders) if r > floor and np.isfinite(r)]
    if len(keep) < 3:
        return None
    steps, values = zip(*keep)
    return float(np.polyfit(np.log(steps), np.log(values), 1)[0])
