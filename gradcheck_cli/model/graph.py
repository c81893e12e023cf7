"""A graph spec built: its inputs drawn, its nodes made and built in topological order (built-in
layers, gates, custom classes and function pairs), the loss with its targets. Shapes are learnt by
running the inputs through, so shapes that do not meet at a gate are a spec error at its line.

Nothing here is a stack: a value that feeds several nodes (a copy gate) is one array, and
model.network's speed-ups (stacks of perturbations, rows, columns) are not used."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LAYER_FAILURES, LayerError, ShapeError, SpecError, raised
from ..results import Warning
from ..spec.graph import GraphSpec, NodeSpec, Ref
from ..spec.load import Spec
from ..spec.yaml_marks import format_path
from .custom_layer import custom_layer
from .discovery import settle
from .graph_nodes import Node, SettleView, is_float, pack
from .building import build_arguments, cast_params, swapped_params
from .network import make_loss
from .random_state import GlobalRandom, seeded_build
from .registry import GATES, LAYERS


@dataclass
class GraphNetwork:
    spec: Spec
    graph: GraphSpec
    nodes: list[Node]                      # topological order
    inputs: dict[Ref, np.ndarray]          # the graph's inputs, by Ref(name)
    loss: Any
    dtype: np.dtype
    warnings: list[Warning] = field(default_factory=list)
    _after: dict = field(default_factory=dict, repr=False)

    @property
    def notes(self) -> list[str]:
        return [note for node in self.nodes for note in node.notes]

    @property
    def loss_in(self) -> Ref:
        return self.graph.loss_in

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def values(self, inputs: dict[Ref, np.ndarray] | None = None) -> dict[Ref, np.ndarray]:
        """Every input and node output, one forward through the graph."""
        values = dict(self.inputs if inputs is None else inputs)
        self._run(values, self.nodes)
        return values

    def _run(self, values: dict, nodes: list[Node]) -> None:
        for node in nodes:
            ys = node.forward([values[ref] for ref in node.inputs])
            values.update(zip(output_refs(node), ys))

    def after(self, start: str) -> list[Node]:
        """The nodes that a change of `start` (an input's or a node's name) reaches, in order; a
        node's own name includes it (its parameters change its outputs)."""
        if start not in self._after:
            reached, found = {start}, []
            for node in self.nodes:
                if node.name == start or any(ref.node in reached for ref in node.inputs):
                    reached.add(node.name)
                    found.append(node)
            self._after[start] = found
        return self._after[start]

    def loss_with(self, values: dict, changed: dict, nodes: list[Node]) -> float:
        """L with the values in `changed` in place of the cached ones, running only `nodes` again."""
        local = {**values, **changed}
        self._run(local, nodes)
        return self.loss.value(local[self.loss_in])

    def params_as(self, dtype):
        """Every parameter swapped for a copy in `dtype` while the block runs (the float64 twin);
        yields whether the swap took (building.swapped_params)."""
        return swapped_params(self.nodes, dtype)


def output_refs(node: Node) -> list[Ref]:
    return [Ref(node.name)] if node.outputs is None else [Ref(node.name, k) for k in range(node.outputs)]


def build_graph(spec: Spec) -> GraphNetwork:
    """Draw the inputs, make and build every node in order, running the inputs through."""
    graph, dtype = spec.graph, np.dtype(spec.dtype)
    input_seed, layer_seed, target_seed = np.random.SeedSequence(spec.seed).spawn(3)
    given = spec.x if isinstance(spec.x, dict) else {}   # the Python API's own arrays, by input name
    inputs = {}
    for (name, form), seed in zip(graph.inputs.items(), input_seed.spawn(len(graph.inputs))):
        kind = np.int64 if form.is_integer else dtype
        inputs[Ref(name)] = np.array(given[name], dtype=kind) if name in given else \
            form.draw(np.random.default_rng(seed), dtype)
    seeds = dict(zip(sorted(n.index for n in graph.nodes), layer_seed.spawn(len(graph.nodes))))
    values, nodes = dict(inputs), []
    for node_spec in graph.nodes:
        nodes.append(_build_node(spec, node_spec, values, nodes, seeds[node_spec.index], dtype))
    y = _take(spec, values, nodes, graph.loss_in, graph.loss_in_path)
    if not is_float(y):
        raise _fail_at(spec, graph.loss_in_path)(f"the loss takes {graph.loss_in}, an integer tensor; a loss takes "
                                                 "floats")
    loss = make_loss(spec, y, target_seed, len(graph.nodes))
    return GraphNetwork(spec, graph, nodes, inputs, loss, dtype, _unused(graph, nodes))


def _fail_at(spec: Spec, path: tuple):
    def fail(message: str) -> SpecError:
        return SpecError(message, spec.path, spec.marks.line(path), where=format_path(path))
    return fail


def _take(spec: Spec, values: dict, nodes: list[Node], ref: Ref, path: tuple) -> np.ndarray:
    """The value `ref` names, once its node is built; a spec error for an output it does not have."""
    fail = _fail_at(spec, path)
    node = next((n for n in nodes if n.name == ref.node), None)
    if node is not None and node.outputs is not None and ref.output is None:
        named = " or ".join(f"{ref.node}.{k}" for k in range(node.outputs))
        raise fail(f"node {ref.node} returns {node.outputs} outputs (a tuple): name one, {named}")
    if node is not None and ref.output is not None:
        if node.outputs is None:
            raise fail(f"{ref}: node {ref.node} returns one array, not a tuple: name it {ref.node}")
        if ref.output >= node.outputs:
            raise fail(f"{ref}: node {ref.node} returns {node.outputs} outputs, {ref.node}.0 to "
                       f"{ref.node}.{node.outputs - 1}")
    return values[ref]


def _build_node(spec: Spec, node_spec: NodeSpec, values: dict, built: list[Node], seed, dtype) -> Node:
    layer_spec, where = node_spec.layer, ("graph", node_spec.index)
    fail = _fail_at(spec, where)
    xs = [_take(spec, values, built, ref, path) for ref, path in zip(node_spec.inputs, node_spec.in_paths)]
    integer = [not is_float(x) for x in xs]
    if layer_spec.custom:
        layer = custom_layer(layer_spec, spec.file, str(node_spec.index), fail, inputs=len(xs))
    else:
        if any(integer):
            ref = node_spec.inputs[integer.index(True)]
            raise fail(f"{ref} is an integer tensor (ids); the built-in {layer_spec.type} takes floats (a custom "
                       "layer, such as an embedding, takes ids)")
        layer = (GATES.get(layer_spec.type) or LAYERS[layer_spec.type]).load()(**layer_spec.options)
        try:
            if hasattr(layer, "check"):  # a gate: do the shapes of its inputs meet?
                layer.check(list(zip(map(str, node_spec.inputs), (x.shape for x in xs))))
        except ShapeError as exc:
            raise fail(str(exc)) from None
    node = Node(node_spec.name, layer_spec.type, layer, layer_spec.line, node_spec.inputs, node_spec.index,
                [x.shape for x in xs], integer)
    node.random = GlobalRandom(spec.seed, str(node_spec.index)) if layer_spec.custom else None
    build = getattr(node.layer, "build", None)
    if callable(build):
        rng = np.random.default_rng(seed.spawn(1)[0])
        shapes = xs[0].shape if len(xs) == 1 else tuple(x.shape for x in xs)
        try:
            with seeded_build(node.random):
                build(*build_arguments(build, shapes, rng))
        except LayerError as exc:
            raise node.fail(exc.message) from None
        except LAYER_FAILURES as exc:
            raise node.fail(raised("build", exc)) from None
    cast_params(node, dtype)
    ys = _first_forward(node, xs)
    if layer_spec.custom:
        view = SettleView(node, xs, ys)
        found = settle(view, layer_spec.declared, pack(xs), pack(ys), fail)
        view.finish()
        if found:
            cast_params(node, dtype)
            ys = node.forward([x.copy() for x in xs])
    values.update(zip(output_refs(node), ys))
    return node


def _first_forward(node: Node, xs: list) -> list:
    """Forward on the real inputs, learning how many outputs the node returns; a layer that
    changes its inputs or gives other outputs for the same inputs cannot be checked."""
    kept = [x.copy() for x in xs]
    ys = node.forward(xs)
    if not all(np.array_equal(x, k, equal_nan=True) for x, k in zip(xs, kept)):
        raise node.fail("forward modified an input array in place; it must leave its inputs unchanged (another "
                        "node may take them too)")
    for k, y in enumerate(ys):
        node.require_finite(y, "the output of forward" + (f" (output {k})" if node.outputs is not None else ""))
    again = node.forward([x.copy() for x in kept])  # the last call: the state backward will use
    if not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(ys, again)):
        raise node.fail("forward gave different outputs for the same inputs (randomness or hidden state?); "
                        "gradients of such a layer cannot be checked")
    return ys


def _unused(graph: GraphSpec, nodes: list[Node]) -> list[Warning]:
    """An input or an output that nothing takes: its gradient is zero. Said, not refused."""
    used = {ref for node in graph.nodes for ref in node.inputs} | {graph.loss_in}
    found = [Warning(None, "unused", f"input {name}: no node takes it, nor the loss: its gradient is zero", name)
             for name in graph.inputs if Ref(name) not in used]
    for node in nodes:
        for ref in output_refs(node):
            if ref not in used:
                which = f"output {ref.output} ({ref})" if ref.output is not None else "its output"
                found.append(Warning(None, "unused", f"node {node.label}: no node takes {which}, nor the loss: "
                                     "its gradient is zero", node.name))
    return found
