"""The graph form of a spec: named inputs, and nodes that name what they take.

    inputs:
      x: [4, 8]
      h0: [4, 16]
    graph:
      - {name: a, type: linear, in: x, out: 16}
      - {name: s, type: add, in: [a, h0]}        # an add gate
      - {name: h, type: tanh, in: s}
    loss: {type: mse, in: h}                      # the last node unless `in` says otherwise

A node named by several others is a copy gate. `in` names inputs and nodes, `lstm.0` one output
of a node that returns a tuple. Checked here, before anything runs: names (unique, no dots),
references, the number of inputs of built-ins and gates, and that there is no cycle; the nodes
come out in topological order. What needs the layers themselves (shapes meeting at a gate, how
many outputs a custom node returns) is checked when the graph is built (model/graph.py)."""
from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError, did_you_mean
from ..model.registry import GATES, LAYERS
from .inputs import InputSpec, parse_input
from .options import describe
from .targets import is_target

REFERENCE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\.([0-9]+))?$")
NODE_KEYS = ("name", "in")
LOSS_NAME = "loss"  # what reports call the loss's own row


@dataclass(frozen=True)
class Ref:
    """A value of the graph: an input, a node's output, or output `output` of a node returning a tuple."""

    node: str
    output: int | None = None

    def __str__(self) -> str:
        return self.node if self.output is None else f"{self.node}.{self.output}"


@dataclass
class NodeSpec:
    name: str
    layer: Any                   # load.LayerSpec: the type and options, as a stack's layer; path ("graph", i)
    inputs: list[Ref]
    in_paths: list[tuple]        # where each reference is written, for messages
    index: int                   # its place in the file's graph list

    @property
    def line(self) -> int | None:
        return self.layer.line


@dataclass
class GraphSpec:
    inputs: dict[str, InputSpec]
    nodes: list[NodeSpec]        # in topological order (the file's order where it is free)
    loss_in: Ref
    loss_in_path: tuple
    loss_value: Any              # the loss entry without its `in`, for load._parse_loss

    @property
    def layers(self) -> list:
        """The nodes' layer specs in the file's order (what --no-custom and the Python API walk)."""
        return [node.layer for node in sorted(self.nodes, key=lambda n: n.index)]

    @property
    def first_input(self) -> InputSpec:
        return next(iter(self.inputs.values()))


def parse_graph(data: dict, marks, path: str) -> GraphSpec:
    for key in ("input", "layers"):
        if key in data:
            raise marks.error((key,), f"{key} is for a stack of layers; a graph spec names its inputs under inputs: "
                                      "and its nodes under graph:", key=True)
    for key in ("inputs", "graph"):
        if key not in data:
            raise SpecError(f"missing required key '{key}': a graph spec has inputs: (name -> shape) and graph: "
                            "(its nodes)", path, marks.line(()))
    inputs = _parse_inputs(data["inputs"], marks)
    nodes = _parse_nodes(data["graph"], inputs, marks)
    loss_value, loss_in, loss_path = _split_loss(data.get("loss", "mse"), nodes, marks)
    known = {**{name: None for name in inputs}, **{node.name: node for node in nodes}}
    for node in nodes:
        for ref, where in zip(node.inputs, node.in_paths):
            _resolve(ref, where, known, inputs, marks)
    _resolve(loss_in, loss_path, known, inputs, marks)
    return GraphSpec(inputs, _topological(nodes, marks), loss_in, loss_path, loss_value)


def scalars(graph: GraphSpec) -> int:
    """The input scalars, and the parameters of built-in linear nodes whose features are known
    (followed through built-in layers that keep them; a custom node's are known when it runs)."""
    features = {name: form.shape[-1] for name, form in graph.inputs.items()}
    total = sum(math.prod(form.shape) for form in graph.inputs.values())
    keeps = {name for name in LAYERS if name not in ("flatten", "residual")} | {"add", "multiply"}
    for node in graph.nodes:
        given = features.get(str(node.inputs[0]))
        if node.layer.type == "linear" and given:
            out = node.layer.options["out"]
            total += given * out + (out if node.layer.options.get("bias", True) else 0)
            features[node.name] = out
        elif not node.layer.custom and node.layer.type in keeps and given:
            features[node.name] = given
    return total


def _parse_inputs(value: Any, marks) -> dict[str, InputSpec]:
    if not isinstance(value, dict) or not value:
        raise marks.error(("inputs",), "expected a mapping of input names to shapes, like {x: [4, 8], h0: [4, 16]}, "
                                       f"got {describe(value)}")
    inputs = {}
    for name, form in value.items():
        if not _is_name(name):
            raise marks.error(("inputs", name), f"expected an input name like x or h0 (letters, digits, _), got "
                                                f"{describe(name)}", key=True)
        inputs[name] = parse_input(form, ("inputs", name), marks)
    return inputs


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and value.isidentifier() and value.isascii()


def _parse_nodes(value: Any, inputs: dict, marks) -> list[NodeSpec]:
    from .load import _parse_layer  # load.py imports this module lazily, for graph specs only

    if not isinstance(value, list) or not value:
        raise marks.error(("graph",), "expected a list of nodes, like [{name: h, type: tanh, in: x}], "
                                      f"got {describe(value) if value != [] else 'an empty list'}")
    nodes: list[NodeSpec] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(value):
        path = ("graph", i)
        if not isinstance(entry, dict) or "type" not in entry:
            raise marks.error(path, f"expected a node as {{name: NAME, type: TYPE, in: INPUTS, ...options}}, "
                                    f"got {describe(entry)}")
        for key in NODE_KEYS:
            if key not in entry:
                raise marks.error(path, f"the node needs '{key}': " + (
                    "a name later nodes and the loss use, name: h" if key == "name" else
                    "what it takes, in: x (an input or a node), or in: [a, h0] for several"))
        name = entry["name"]
        if not _is_name(name):
            raise marks.error(path + ("name",), "expected a node name like h or lstm_1 (letters, digits, _; no dots: "
                                                f"lstm.0 names an output), got {describe(name)}")
        if name == LOSS_NAME:
            raise marks.error(path + ("name",), f"'{LOSS_NAME}' names the loss in reports; give the node another name")
        if name in inputs:
            raise marks.error(path + ("name",), f"duplicate name {name!r}: an input is named so (inputs.{name}, line "
                                                f"{marks.line(('inputs', name))}); give the node another name")
        if name in seen:
            raise marks.error(path + ("name",), f"duplicate name {name!r}: graph[{seen[name]}] (line "
                                                f"{marks.line(('graph', seen[name]))}) is named so too; every node "
                                                "needs a name of its own")
        seen[name] = i
        refs, in_paths = _parse_in(entry["in"], path + ("in",), marks)
        layer_entry = {key: item for key, item in entry.items() if key not in NODE_KEYS}
        layer = _parse_node_layer(layer_entry, path, marks, _parse_layer)
        _check_count(layer, len(refs), path + ("in",), marks)
        nodes.append(NodeSpec(name, layer, refs, in_paths, i))
    return nodes


def _parse_node_layer(entry: dict, path: tuple, marks, parse_layer):
    type_name = entry["type"]
    if isinstance(type_name, str) and ":" not in type_name and not is_target(type_name):
        if type_name == "residual":
            raise marks.error(path + ("type",), "residual is for stacks; in a graph, write its gates: the branch's "
                                                "nodes, then {type: add, in: [x, BRANCH]} (x feeding both is the "
                                                "copy gate)")
        if type_name not in LAYERS and type_name not in GATES:
            hint = did_you_mean(type_name, [*LAYERS, *GATES])
            raise marks.error(path + ("type",), f"unknown layer or gate {type_name!r}{hint}; layers: "
                                                f"{', '.join(name for name in LAYERS if name != 'residual')}; gates: "
                                                f"{', '.join(GATES)}; or a custom layer as module:Class or "
                                                "path/to/file.py:Class")
    return parse_layer(entry, path, marks, builtins={**LAYERS, **GATES})


def _parse_in(value: Any, path: tuple, marks) -> tuple[list[Ref], list[tuple]]:
    if isinstance(value, str):
        return [_parse_ref(value, path, marks)], [path]
    if isinstance(value, (list, tuple)) and value:
        return [_parse_ref(item, path + (i,), marks) for i, item in enumerate(value)], \
            [path + (i,) for i in range(len(value))]
    raise marks.error(path, f"expected an input or a node's name, or a list of them, got "
                            f"{describe(value) if value != [] else 'an empty list'}")


def _parse_ref(value: Any, path: tuple, marks) -> Ref:
    found = REFERENCE.match(value) if isinstance(value, str) else None
    if not found:
        raise marks.error(path, "expected a node or input name like h, or lstm.0 for one output of a node that "
                                f"returns a tuple, got {describe(value)}")
    return Ref(found.group(1), None if found.group(2) is None else int(found.group(2)))


def _check_count(layer, count: int, path: tuple, marks) -> None:
    """Built-in layers take one input; each gate says how many it takes. Custom layers: at build."""
    if layer.custom:
        return
    least, most = (GATES[layer.type] if layer.type in GATES else LAYERS[layer.type]).inputs
    if count < least or (most is not None and count > most):
        wanted = (f"{least}" if least == most else f"{least} or more" if most is None else f"{least} to {most}")
        what = "gate" if layer.type in GATES else "layer"
        raise marks.error(path, f"the {what} {layer.type} takes {wanted} input{'s' if wanted != '1' else ''}, "
                                f"got {count}")


def _split_loss(value: Any, nodes: list[NodeSpec], marks) -> tuple[Any, Ref, tuple]:
    """The loss entry without `in`, what it takes (the file's last node by default), and where that is written."""
    last = max(nodes, key=lambda n: n.index)
    if isinstance(value, dict) and "type" in value and "in" in value:
        rest = {key: item for key, item in value.items() if key != "in"}
        return rest, _parse_ref(value["in"], ("loss", "in"), marks), ("loss", "in")
    if isinstance(value, dict) and len(value) == 1:
        (name, options), = value.items()
        if isinstance(options, dict) and "in" in options:
            rest = {key: item for key, item in options.items() if key != "in"}
            return {name: rest}, _parse_ref(options["in"], ("loss", name, "in"), marks), ("loss", name, "in")
    return value, Ref(last.name), ("graph", last.index, "name")


def _resolve(ref: Ref, where: tuple, known: dict, inputs: dict, marks) -> None:
    if ref.node not in known:
        hint = did_you_mean(ref.node, known)
        nodes = [name for name in known if name not in inputs]
        raise marks.error(where, f"unknown node or input {ref.node!r}{hint}; inputs: {', '.join(inputs)}; "
                                 f"nodes: {', '.join(nodes)}")
    if ref.node in inputs and ref.output is not None:
        raise marks.error(where, f"{ref}: {ref.node} is an input, one array: name it {ref.node}")


def _topological(nodes: list[NodeSpec], marks) -> list[NodeSpec]:
    """Every node after the nodes it takes, the file's order kept where it is free (Kahn's
    algorithm, the lowest index first); a cycle is an error naming it."""
    by_name = {node.name: node for node in nodes}
    waiting = {node.name: {ref.node for ref in node.inputs if ref.node in by_name} for node in nodes}
    users: dict[str, list[str]] = {name: [] for name in by_name}
    for name, needs in waiting.items():
        for need in needs:
            users[need].append(name)
    ready = [node.index for node in nodes if not waiting[node.name]]
    heapq.heapify(ready)
    order = []
    while ready:
        node = nodes[heapq.heappop(ready)]
        order.append(node)
        for user in users[node.name]:
            waiting[user].discard(node.name)
            if not waiting[user]:
                heapq.heappush(ready, by_name[user].index)
    if len(order) < len(nodes):
        cycle = _a_cycle({name: needs for name, needs in waiting.items() if needs}, by_name)
        first = by_name[cycle[0]]
        closing = next(path for ref, path in zip(first.inputs, first.in_paths) if ref.node == cycle[-2])
        raise marks.error(closing, f"a cycle: {' -> '.join(cycle)}: a node cannot take its own output, however "
                                   "far round (unroll a recurrence into one node per step)")
    return order


def _a_cycle(waiting: dict[str, set], by_name: dict) -> list[str]:
    """One cycle among the nodes left waiting, from the earliest of it in the file, as the data
    flows: [s, h, s] for s -> h -> s (h takes s, s takes h)."""
    start = min(waiting, key=lambda name: by_name[name].index)
    path, at = [start], start
    while True:  # every waiting node waits on another waiting one: walking back must close a loop
        at = min(waiting[at], key=lambda name: by_name[name].index)
        if at in path:
            loop = path[path.index(at):] + [at]
            break
        path.append(at)
    loop.reverse()  # walking followed "takes"; the data flows the other way
    first = min(loop[:-1], key=lambda name: by_name[name].index)
    at = loop.index(first)
    return loop[at:-1] + loop[:at] + [first]
