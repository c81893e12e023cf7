"""A graph spec's check. Backprop runs through the graph in reverse topological order, and a value
that feeds several nodes (a copy gate) gets the sum of the gradients its uses send back. Then
every float input, every node output and every parameter is compared with central differences
of the loss as a function of that tensor, running again only the nodes it reaches; when one
fails, each node alone names the suspect. Correctness over speed: one perturbation and one
partial forward at a time, through check/tensor.py and the verdict of a stack's check."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from ..errors import LayerError
from ..model.graph import GraphNetwork, output_refs
from ..model.graph_nodes import is_float
from ..results import FAILED, PASSED, LayerCheck, TensorCheck, Warning
from ..spec.graph import Ref
from .loss_check import NODE, loss_alone, loss_checks
from .jobs import TensorJob, _noise, check_job
from .precision import FLOAT64, Mode, Precision, choose_precision
from .layer_probe import diagnose_numbers, share_diagnoses
from .ties import check_ties
from .taylor import TAYLOR_STEPS, fitted_order


@dataclass
class GraphTrace:
    """One forward and backward pass through the graph."""

    values: dict[Ref, np.ndarray]                 # every input and node output
    grads: dict[Ref, np.ndarray]                  # dL/d each float value (at a copy gate, the sum)
    node_grads: dict[str, dict[str, np.ndarray]]  # node -> parameter -> dL/dθ
    lowest_dtype: np.dtype
    warnings: list[Warning] = field(default_factory=list)
    upcasting: list = field(default_factory=list)  # a stack's notes about layers that widen; none here

    @property
    def inputs(self) -> list[np.ndarray]:
        """What choose_mode counts: every value checked (and the ids, which are few)."""
        return list(self.values.values())

    @property
    def param_grads(self) -> list[dict[str, np.ndarray]]:
        return list(self.node_grads.values())


def graph_backprop(net: GraphNetwork, inputs: dict[Ref, np.ndarray]) -> GraphTrace:
    values = net.values(inputs)
    floats = [v.dtype for v in values.values() if is_float(v)]
    lowest = min(floats, key=lambda d: d.itemsize) if floats else net.dtype
    y = values[net.loss_in]
    grads = {net.loss_in: net.loss.grad(y).astype(y.dtype)}
    node_grads = {}
    for node in reversed(net.nodes):
        upstream = [grads[ref] if ref in grads else np.zeros_like(values[ref]) for ref in output_refs(node)]
        for ref, dx in zip(node.inputs, node.backward(upstream)):
            if dx is not None:  # the copy gate: what each use sends back is summed
                grads[ref] = grads[ref] + dx if ref in grads else dx.copy()
        node_grads[node.name] = node.param_grads()
    return GraphTrace(values, grads, {node.name: node_grads[node.name] for node in net.nodes}, lowest,
                      net.warnings + _settle(net))


def _settle(net: GraphNetwork) -> list[Warning]:
    """The first pass is over: stop watching for np.random; every node's hazards as warnings."""
    for node in net.nodes:
        if node.random is not None:
            node.random.settle()
            if node.random.reads:
                node.hazard("global_random", f"node {node.label}: {node.random.reads} reads numpy's global random "
                            "state (np.random); it was seeded for this node before every call, so the check is "
                            "reproducible; a Generator passed via build(input_shape, rng) is better")
    return [Warning(None, kind, message, node.name) for node in net.nodes for kind, message in node.hazards]


def graph_twin(net: GraphNetwork) -> GraphTrace | None:
    """Backprop on a float64 copy of a float32 graph (spec_check.twin_trace)."""
    from .spec_check import twin_trace

    return twin_trace(net, lambda: graph_backprop(
        net, {ref: v.astype(FLOAT64) if is_float(v) else v for ref, v in net.inputs.items()}))


def graph_jobs(net: GraphNetwork, precision: Precision, trace: GraphTrace,
               twin: GraphTrace | None) -> list[tuple[str, TensorJob]]:
    """(node or input name, job): every float input, then each node's outputs and parameters, in
    topological order. An integer input is never perturbed and has no row."""
    numeric = twin or trace
    cache = {ref: v.astype(precision.numeric_dtype) if is_float(v) else v for ref, v in numeric.values.items()}
    jobs: list[tuple[str, TensorJob]] = []

    def job(owner, type_, name, gradient_in, theta, evaluate):
        analytic, high = gradient_in(trace), gradient_in(twin) if twin else None
        jobs.append((owner, TensorJob(len(jobs), type_, name, analytic, theta, evaluate, None, 1,
                                      _noise(analytic, high), high)))

    def value_job(owner, type_, ref, name, reached):
        theta = cache[ref].copy()
        job(owner, type_, name, lambda t: t.grads.get(ref, np.zeros_like(t.values[ref])), theta,
            lambda: net.loss_with(cache, {ref: theta}, reached))

    for name in net.graph.inputs:
        if is_float(cache[Ref(name)]):
            value_job(name, "input", Ref(name), "out", net.after(name))
    for node in net.nodes:
        reached = [n for n in net.after(node.name) if n is not node]
        for ref, shown in zip(output_refs(node), node.output_names()):
            if is_float(cache[ref]):
                value_job(node.name, node.type, ref, shown, reached)
        for key, theta in node.params().items():
            job(node.name, node.type, key, lambda t, node=node, key=key: t.node_grads[node.name][key], theta,
                lambda node=node: net.loss_with(cache, {}, net.after(node.name)))
    return jobs


def _named(check: TensorCheck, node: str) -> TensorCheck:
    check.layer, check.node = None, node
    return check


def _checked(node_name: str, type_: str, job: TensorJob, precision: Precision, mode: Mode, rng) -> TensorCheck:
    try:
        return _named(check_job(job, precision, mode, rng), node_name)
    except LayerError as exc:  # a loss that is not finite when the tensor moves: said of the node
        from ..errors import NodeError
        raise NodeError(node_name, type_, exc.message) from None


def check_graph(net: GraphNetwork, settings):
    """The whole check of a built graph spec (spec_check.check_built for a GraphNetwork)."""
    from .spec_check import Findings, alone_precision, choose_mode

    trace = graph_backprop(net, net.inputs)
    twin = graph_twin(net)
    precision, notes = choose_precision(net, trace, twin is not None, settings.rtol, settings.atol, settings.step)
    notes = net.notes + notes
    mode = choose_mode(settings, trace, notes)
    with net.params_as(FLOAT64) if twin else nullcontext():
        checks = []
        for name, job in graph_jobs(net, precision, trace, twin):
            rng = np.random.default_rng([settings.seed, job.layer, sum(map(ord, name + job.name))])
            checks.append(_checked(name, job.type, job, precision, mode, rng))
        checks += _loss_row(net, trace, mode, settings)
        findings = Findings(PASSED, precision, mode, checks, notes=notes, warnings=trace.warnings,
                            taylor_order=graph_taylor(net, twin or trace, settings.seed))
        # Each node alone, always: at a copy gate the gradients of the branches are summed before
        # any row compares them, so two wrong backwards can cancel (2g and 0g for g and g) and every
        # row of the graph match. Alone, each node's backward is compared input by input.
        layer_checks = nodes_alone(net, twin or trace, alone_precision(precision, settings), settings.seed,
                                   mode) + loss_alone(checks)
        wrong = [lc for lc in layer_checks if lc.outcome != PASSED]
        if all(c.passed for c in checks) and not wrong:
            return findings
        findings.outcome, findings.layer_checks = FAILED, layer_checks
        if all(c.passed for c in checks):
            findings.notes = findings.notes + [
                "every row of the graph matches, but a node's own backward is wrong (below): at a copy gate "
                "the errors of its branches cancel in the sum, or a tie shares its gradient wrongly"]
    share_diagnoses(findings.checks, findings.layer_checks)  # a node's parameter row: its diagnosis alone
    # the loss first when its dx is wrong: every gradient flows from it (check/loss_check.py)
    wrong = [lc.node for lc in sorted(findings.layer_checks, key=lambda lc: lc.node != NODE) if lc.outcome != PASSED]
    findings.suspect_node = wrong[0] if wrong else None
    return findings


def _loss_row(net: GraphNetwork, trace: GraphTrace, mode: Mode, settings) -> list[TensorCheck]:
    """A custom loss's own dx at the value it takes, as in a stack spec (named by node only)."""
    rows = loss_checks(net.loss, trace.values[net.graph.loss_in], len(net.nodes), mode, settings)
    for row in rows:
        row.layer = None
    return rows


def nodes_alone(net: GraphNetwork, trace: GraphTrace, precision: Precision, seed: int, mode: Mode) -> list[LayerCheck]:
    """Each node alone: its backward(G), for fixed random G on its outputs, against central
    differences of <G, f(inputs)> in each float input and each parameter."""
    results = []
    for node in net.nodes:
        xs = [trace.values[ref].astype(precision.numeric_dtype) if is_float(trace.values[ref]) else trace.values[ref]
              for ref in node.inputs]
        ys = node.forward([x.copy() for x in xs])
        rng = np.random.default_rng([seed, node.index])
        weights = [rng.standard_normal(y.shape) if is_float(y) else np.zeros(y.shape) for y in ys]
        dxs = node.backward([w.astype(y.dtype) if is_float(y) else w for w, y in zip(weights, ys)])
        grads = node.param_grads()

        def evaluate(node=node, xs=xs, weights=weights):
            return float(sum(np.sum(w * y.astype(np.float64)) for w, y in zip(weights, node.forward(xs))))

        jobs = [TensorJob(node.index, node.type, "input" if len(xs) == 1 else f"input.{i}", dx, xs[i], evaluate,
                          None, 1, 0.0, None) for i, dx in enumerate(dxs) if dx is not None]
        jobs += [TensorJob(node.index, node.type, key, grads[key], theta, evaluate, None, 1, 0.0, None)
                 for key, theta in node.params().items()]
        checks = [_checked(node.name, node.type, job, precision, mode,
                           np.random.default_rng([seed, node.index, sum(map(ord, job.name)), 1])) for job in jobs]

        def outputs(node=node, xs=xs):
            return np.concatenate([np.ravel(y).astype(np.float64) for y in node.forward(xs)])

        # tied elements jointly too (check/ties.py): at a tie each alone can pass where together they cannot
        checks = [check_ties(check, job.analytic, job.theta, job.evaluate, outputs, precision) if check.kinks
                  else check for check, job in zip(checks, jobs)]
        first = next((x for x in xs if is_float(x)), None)
        if first is not None:  # what kind of mistake, from the numbers (the node's own backward is not probed)
            diagnose_numbers(checks, {job.name: job.analytic for job in jobs}, first,
                             weights[0] if len(weights) == 1 else np.ones(1), precision)
        results.append(LayerCheck(None, node.type, PASSED if all(c.passed for c in checks) else FAILED, checks,
                                  node=node.name))
    return results


def graph_taylor(net: GraphNetwork, trace: GraphTrace, seed: int) -> float | None:
    """The Taylor test of taylor.py, along one random direction of every float input and parameter."""
    inputs = {ref: value.copy() for ref, value in trace.values.items() if ref in net.inputs}
    tensors = [(inputs[ref], trace.grads.get(ref, np.zeros_like(inputs[ref]))) for ref in inputs if
               is_float(inputs[ref])]
    tensors += [(theta, trace.node_grads[node.name][key]) for node in net.nodes for key, theta in node.params().items()]
    rng = np.random.default_rng([seed, 2])
    directions = [rng.standard_normal(t.shape) for t, _ in tensors]
    norm = np.sqrt(sum(float(np.sum(d * d)) for d in directions)) or 1.0
    directions = [d / norm for d in directions]
    slope = sum(float(np.sum(g.astype(np.float64) * d)) for (_, g), d in zip(tensors, directions))
    originals = [t.copy() for t, _ in tensors]
    loss_here = net.loss_with(inputs, {}, net.nodes)
    remainders = []
    try:
        for t in TAYLOR_STEPS:
            for (tensor, _), original, d in zip(tensors, originals, directions):
                tensor[...] = original + t * d
            remainders.append(abs(net.loss_with(inputs, {}, net.nodes) - loss_here - t * slope))
    finally:
        for (tensor, _), original in zip(tensors, originals):
            tensor[...] = original
    return fitted_order(remainders, loss_here, float(np.finfo(trace.lowest_dtype).eps))
