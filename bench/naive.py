"""The naive loop: every scalar of X and of every parameter set to θ ± h in place, the whole
forward run each time: in plain numpy for built-in layers, the user's own forward code for custom
ones (what a notebook's numerical-gradient loop calls). Run in a child process (`compare.py
--part naive SPEC`)."""
from __future__ import annotations

import functools
import math
import time

import numpy as np

from bench.harness import best_seconds, load_network, tensors_of

ELEMENTWISE = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
}


def plain_ops(net) -> list | None:
    """Each layer as (W, b) or an elementwise function, holding the network's own parameter
    arrays (so an in-place perturbation of a weight is seen); None for a layer not written here."""
    ops = []
    for entry in net.stack.entries:
        if entry.type == "linear":
            params = entry.params()
            ops.append((params["W"], params.get("b")))
        elif entry.type in ELEMENTWISE:
            ops.append(ELEMENTWISE[entry.type])
        else:
            return None
    return ops


def plain_loss_of_output(loss):
    from gradcheck_cli.model.losses import MSE, CrossEntropy, Dot
    if isinstance(loss, MSE):
        target = loss.target
        return lambda y: float(np.mean((y - target) ** 2))
    if isinstance(loss, Dot):
        weights = loss.weights
        return lambda y: float(np.sum(weights * y))
    if isinstance(loss, CrossEntropy):
        labels = loss.labels
        return functools.partial(cross_entropy, labels=labels)
    return None


def cross_entropy(y, labels) -> float:
    """mean over rows of -log softmax(y)[label], the softmax shifted by each row's max."""
    shifted = y - np.max(y, axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(-np.mean(log_softmax[np.arange(len(labels)), labels]))


def user_forward(net, entry):
    """The forward a user's own loop calls for a custom layer, with no gradcheck in between: a
    function pair's forward given the layer's arrays (the very ones perturbed in place) and its
    spec `args`, out of (out, cache); a class's own forward method. None for a built-in."""
    from gradcheck_cli.model.functions import FunctionLayer
    from gradcheck_cli.model.objects import ObjectLayer
    layer = entry.layer
    if isinstance(layer, FunctionLayer):
        forward, params = layer.pair.forward, layer.params
        args = net.spec.layers[int(entry.label)].declared.get("args") or {}
        return lambda x: forward(x, **params, **args)[0]
    if isinstance(layer, ObjectLayer):
        return functools.partial(getattr(layer.inner, layer.forward_name), **layer.call)
    if type(layer).__module__.startswith("gradcheck_cli"):
        return None
    return layer.forward


def custom_loss(net):
    """L(X) through the user's own layer code and the loss in plain numpy, or None when a layer
    is built in or nested (a residual) or the loss is not written here."""
    calls = [user_forward(net, entry) for entry in net.stack.entries]
    loss_of = plain_loss_of_output(net.loss)
    if loss_of is None or any(call is None for call in calls) or any(e.branch for e in net.stack.entries):
        return None

    def loss(x):
        for call in calls:
            x = call(x)
        return loss_of(x)

    return loss


def plain_loss(net):
    """L(X) written out in plain numpy, or None when the spec has a layer or loss not written here."""
    ops, loss_of = plain_ops(net), plain_loss_of_output(net.loss)
    if ops is None or loss_of is None:
        return None

    def loss(x):
        for op in ops:
            if isinstance(op, tuple):
                W, b = op
                x = x @ W if b is None else x @ W + b
            else:
                x = op(x)
        return loss_of(x)

    return loss


def chosen_forward(net):
    """(loss function of X, how it is described): plain numpy for built-in layers, the user's own
    forward for custom ones, else the network's own (through gradcheck's guards)."""
    loss = plain_loss(net)
    if loss is not None:
        return loss, "plain numpy forward"
    loss = custom_loss(net)
    if loss is not None:
        return loss, "the user's forward code"
    return (lambda x: net.loss_from(0, x)), "net.loss_from(0, x)"


def chosen_indices(tensors, per_forward: float, budget: float) -> tuple[list[np.ndarray], bool, float]:
    """Every flat index of every tensor when two forwards per scalar fit in the budget, else a
    random subset of the same fraction of each tensor: (indices per tensor, sampled, estimate)."""
    total = sum(t.size for _, t in tensors)
    estimate = 2 * total * per_forward
    if estimate <= budget:
        return [np.arange(t.size) for _, t in tensors], False, estimate
    rng = np.random.default_rng(0)
    fraction = budget / estimate
    chosen = [np.sort(rng.choice(t.size, max(1, math.ceil(fraction * t.size)), replace=False))
              for _, t in tensors]
    return chosen, True, estimate


def central_differences_in_place(loss, x, theta: np.ndarray, indices: np.ndarray, step: float) -> np.ndarray:
    flat = theta.reshape(-1)           # a view: the network sees every change
    assert np.shares_memory(flat, theta)
    values = np.empty(len(indices))
    for n, i in enumerate(indices.tolist()):
        old = flat[i]
        h = step * max(1.0, abs(float(old)))
        flat[i] = old + h
        up = loss(x)
        flat[i] = old - h
        down = loss(x)
        flat[i] = old
        values[n] = (up - down) / (2.0 * h)
    return values


def max_relative_error(net, numeric, chosen) -> float:
    """The loop's derivatives against backpropagation: max |numeric - analytic| / max |analytic|
    over the tensors (NaN when the tensors do not line up)."""
    from gradcheck_cli.check.backprop import backprop
    trace = backprop(net, net.x)
    analytic = [trace.input_grads[0]]
    for k, _ in enumerate(net.stack.entries):
        analytic += list(trace.param_grads[k].values())
    if len(analytic) != len(numeric):
        return float("nan")
    worst = 0.0
    for a, n, indices in zip(analytic, numeric, chosen):
        a = a.reshape(-1)[indices]
        scale = max(float(np.max(np.abs(a), initial=0.0)), 1e-30)
        worst = max(worst, float(np.max(np.abs(a - n), initial=0.0)) / scale)
    return worst


def naive_part(spec_path: str, budget: float) -> dict:
    build_start = time.perf_counter()
    _, net = load_network(spec_path)
    build_seconds = time.perf_counter() - build_start
    loss, forward = chosen_forward(net)
    x = net.x
    assert abs(loss(x) - net.loss_from(0, x)) <= 1e-12 * max(1.0, abs(net.loss_from(0, x)))
    tensors = tensors_of(net)
    step = float(np.finfo(net.dtype).eps) ** (1.0 / 3.0)

    extra_start = time.perf_counter()   # the estimate is the benchmark's own work, not the loop's
    # BLAS with its own threads or with one, whichever runs this loop's forward faster here (on a
    # quiet machine its threads help a little; on a busy one they spin, up to 8x slower): the
    # loop is timed at its best, so a slow loop never flatters gradcheck
    from threadpoolctl import threadpool_limits
    per_forward = best_seconds(lambda: [loss(x) for _ in range(20)], 3) / 20
    with threadpool_limits(limits=1, user_api="blas"):
        one_thread = best_seconds(lambda: [loss(x) for _ in range(20)], 3) / 20
    threads = None if per_forward <= one_thread else 1
    per_forward = min(per_forward, one_thread)
    chosen, sampled, estimate = chosen_indices(tensors, per_forward, budget)
    extra = time.perf_counter() - extra_start

    with threadpool_limits(limits=threads, user_api="blas"):
        start = time.perf_counter()
        numeric = [central_differences_in_place(loss, x, theta, indices, step)
                   for (_, theta), indices in zip(tensors, chosen)]
        loop_seconds = time.perf_counter() - start

    extra_start = time.perf_counter()   # sanity, not timed
    worst = max_relative_error(net, numeric, chosen)
    extra += time.perf_counter() - extra_start
    total, count = sum(t.size for _, t in tensors), sum(len(c) for c in chosen)
    return {"loop_seconds": loop_seconds, "extra_seconds": extra, "seconds": loop_seconds * total / count,
            "checked": count, "scalars": total, "sampled": sampled, "estimate": estimate, "forward": forward,
            "build_seconds": build_seconds, "max_rel_error": worst,
            "blas_threads": "1" if threads == 1 else "default"}
