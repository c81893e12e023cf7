"""torch.autograd.gradcheck in slow mode on a torch module equivalent to the spec's network, with
the same weights, X and every weight being gradcheck inputs. Run in a child process
(`compare.py --part torch SPEC`). torch is optional: without it the part says it was skipped.
(Not named torch.py: the script's folder is on sys.path and would shadow torch itself.)"""
from __future__ import annotations

import time

import numpy as np

from bench.harness import best_seconds, load_network


def torch_activations(torch, F) -> dict:
    return {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "silu": F.silu,
            "softplus": F.softplus, "gelu": lambda x: F.gelu(x, approximate="tanh"),
            "softmax": lambda x: torch.softmax(x, -1), "log_softmax": lambda x: torch.log_softmax(x, -1)}


def torch_layers(net, torch, activations) -> tuple[list, list] | str:
    """(ops as (kind, has bias), the weights in torch's layout), or why there is no equivalent."""
    ops, weights = [], []
    for entry in net.stack.entries:
        if entry.type == "linear":
            W = entry.params()["W"]
            b = entry.params().get("b")
            ops.append(("linear", b is not None))
            weights.append(torch.from_numpy(W.T.copy()))     # torch keeps W as (out, in)
            if b is not None:
                weights.append(torch.from_numpy(b.copy()))
        elif entry.type in activations:
            ops.append((entry.type, False))
        else:
            return f"no torch equivalent written for layer {entry.name}"
    return ops, weights


def torch_loss(loss, torch, F):
    """The spec's loss as a function of the output in torch, or None when none is written."""
    from gradcheck_cli.model.losses import MSE, BCEWithLogits, CrossEntropy, Dot
    if isinstance(loss, MSE):
        target = torch.from_numpy(loss.target)
        return lambda y: F.mse_loss(y, target)
    if isinstance(loss, Dot):
        dot_weights = torch.from_numpy(loss.weights)
        return lambda y: (dot_weights * y).sum()
    if isinstance(loss, CrossEntropy):
        labels = torch.from_numpy(loss.labels)
        return lambda y: F.cross_entropy(y, labels)
    if isinstance(loss, BCEWithLogits):
        target = torch.from_numpy(loss.target)
        return lambda y: F.binary_cross_entropy_with_logits(y, target)
    return None


def equivalent_module(ops, activations, loss_fn):
    from torch import nn
    from torch.nn import functional as F

    class Equivalent(nn.Module):
        """The spec's network in torch, its weights passed in (so gradcheck perturbs them)."""

        def forward(self, x, *params):
            params = iter(params)
            for kind, bias in ops:
                if kind == "linear":
                    x = F.linear(x, next(params), next(params) if bias else None)
                else:
                    x = activations[kind](x)
            return loss_fn(x)

    return Equivalent()


def fastest_threads(torch, module, inputs) -> tuple[int, float, int]:
    """Small tensors: torch's intra-op threads can cost more than they give (badly so on a busy
    machine). Sets whichever of 1 thread and torch's default is faster for this network:
    (threads, seconds per forward with them, torch's default)."""
    default_threads = torch.get_num_threads()
    per_call = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        with torch.no_grad():
            per_call[threads] = best_seconds(lambda: [module(*inputs) for _ in range(20)], 3) / 20
    threads = min(per_call, key=per_call.get)
    torch.set_num_threads(threads)
    return threads, per_call[threads], default_threads


def restrict_to_budget(inputs, per_call: float, budget: float) -> int:
    """Over budget, only some tensors keep requires_grad (gradcheck perturbs just those, each scalar
    costing two forwards of the whole network), smallest first: the scalars left to check."""
    scalars = sum(t.numel() for t in inputs)
    if 2 * scalars * per_call <= budget:
        return scalars
    checked = 0
    for t in sorted(inputs, key=lambda t: t.numel()):
        if checked and 2 * (checked + t.numel()) * per_call > budget:
            t.requires_grad_(False)
        else:
            checked += t.numel()
    return checked


def torch_part(spec_path: str, budget: float) -> dict:
    start = time.perf_counter()
    try:
        import torch
    except ImportError as exc:
        return {"skipped": f"torch is not importable ({exc})"}
    import_seconds = time.perf_counter() - start
    from torch.nn import functional as F

    _, net = load_network(spec_path)
    activations = torch_activations(torch, F)
    layers, loss_fn = torch_layers(net, torch, activations), torch_loss(net.loss, torch, F)
    if isinstance(layers, str):
        return {"skipped": layers}
    if loss_fn is None:
        return {"skipped": f"no torch equivalent written for loss {type(net.loss).__name__}"}
    ops, weights = layers
    module = equivalent_module(ops, activations, loss_fn)
    inputs = [t.clone().requires_grad_() for t in [torch.from_numpy(net.x.astype(np.float64).copy())] + weights]
    scalars = sum(t.numel() for t in inputs)

    extra_start = time.perf_counter()   # the benchmark's own work, not gradcheck's
    with torch.no_grad():
        loss_difference = abs(float(module(*inputs)) - net.loss_from(0, net.x))
    threads, per_call, default_threads = fastest_threads(torch, module, inputs)
    checked = restrict_to_budget(inputs, per_call, budget)
    extra = time.perf_counter() - extra_start
    start = time.perf_counter()
    passed = torch.autograd.gradcheck(module, tuple(inputs), fast_mode=False, raise_exception=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds * scalars / checked, "call_seconds": seconds, "checked": checked,
            "sampled": checked < scalars, "extra_seconds": extra, "import_seconds": import_seconds,
            "passed": bool(passed), "scalars": scalars, "version": torch.__version__, "threads": threads,
            "default_threads": default_threads, "loss_difference": loss_difference}
