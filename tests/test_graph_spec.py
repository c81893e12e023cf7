"""The graph form of a spec (inputs: and graph:), as the parser and the builder see it: every mistake
is one line naming file:line, exit code 2, never a traceback; an input or an output nothing takes is a
warning, not an error; references, tuple outputs and topological order."""
from __future__ import annotations

import pytest

from conftest import ROOT, invoke_cli, lines

GRAPH = ROOT / "tests" / "data" / "graph"

TWO_OUT = '''
import numpy as np


class Split:
    """x -> (2x, x²): two outputs."""

    def forward(self, x):
        self.x = x
        return 2 * x, x * x

    def backward(self, grads):
        g2, gsq = grads
        return 2 * g2 + 2 * self.x * gsq


class Pair:
    """forward(a, b) -> a·b, element-wise."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.a
'''

CASES = [
    ("cycle", """
        inputs: {x: [4, 3]}
        graph:
          - {name: a, type: linear, in: x, out: 3}
          - {name: s, type: add, in: [a, h]}
          - {name: h, type: tanh, in: s}
        """, "spec.yaml:4: graph[1].in[1]: a cycle: s -> h -> s: a node cannot take its own output, however far "
             "round (unroll a recurrence into one node per step)"),
    ("self_cycle", """
        inputs: {x: [4, 3]}
        graph:
          - {name: h, type: tanh, in: h}
        """, "spec.yaml:3: graph[0].in: a cycle: h -> h: a node cannot take its own output, however far round "
             "(unroll a recurrence into one node per step)"),
    ("unknown_name", """
        inputs: {x: [4, 3], h0: [4, 3]}
        graph:
          - {name: a, type: linear, in: x, out: 3}
          - {name: s, type: add, in: [a, hh0]}
        """, "spec.yaml:4: graph[1].in[1]: unknown node or input 'hh0' (did you mean 'h0'?); inputs: x, h0; "
             "nodes: a, s"),
    ("unknown_name_in_loss", """
        inputs: {x: [4, 3]}
        graph:
          - {name: a, type: linear, in: x, out: 3}
        loss: {type: mse, in: aa}
        """, "spec.yaml:4: loss.in: unknown node or input 'aa' (did you mean 'a'?); inputs: x; nodes: a"),
    ("duplicate_node_name", """
        inputs: {x: [4, 3]}
        graph:
          - {name: a, type: linear, in: x, out: 3}
          - {name: a, type: tanh, in: a}
        """, "spec.yaml:4: graph[1].name: duplicate name 'a': graph[0] (line 3) is named so too; every node needs "
             "a name of its own"),
    ("duplicate_input_name", """
        inputs:
          x: [4, 3]
        graph:
          - {name: x, type: tanh, in: x}
        """, "spec.yaml:4: graph[0].name: duplicate name 'x': an input is named so (inputs.x, line 2); give the "
             "node another name"),
    ("add_shapes_do_not_meet", """
        inputs: {x: [4, 3], h0: [4, 5]}
        graph:
          - {name: a, type: linear, in: x, out: 4}
          - {name: s, type: add, in: [a, h0]}
        """, "spec.yaml:4: graph[1]: add needs inputs of one shape (no broadcasting), got a: (4, 4) and h0: (4, 5)"),
    ("multiply_never_broadcasts", """
        inputs: {x: [4, 3], m: [4, 1]}
        graph:
          - {name: s, type: multiply, in: [x, m]}
        """, "spec.yaml:3: graph[0]: multiply needs inputs of one shape (no broadcasting), got x: (4, 3) and "
             "m: (4, 1)"),
    ("matmul_shapes_do_not_meet", """
        inputs: {q: [2, 4, 3], k: [2, 4, 3]}
        graph:
          - {name: s, type: matmul, in: [q, k]}
        """, "spec.yaml:3: graph[0]: matmul needs (..., n, k) and (..., k, m) with the same leading axes, got "
             "q: (2, 4, 3) and k: (2, 4, 3)"),
    ("concat_shapes_do_not_meet", """
        inputs: {a: [4, 3], b: [5, 3]}
        graph:
          - {name: s, type: concat, in: [a, b]}
        """, "spec.yaml:3: graph[0]: concat along axis -1 needs inputs that agree on every other axis, got "
             "a: (4, 3) and b: (5, 3)"),
    ("concat_axis_out_of_range", """
        inputs: {a: [4, 3], b: [4, 3]}
        graph:
          - {name: s, type: concat, in: [a, b], axis: 2}
        """, "spec.yaml:3: graph[0]: concat: axis 2 is out of range for inputs of 2 dimensions"),
    ("gate_takes_two", """
        inputs: {a: [4, 3]}
        graph:
          - {name: s, type: add, in: a}
        """, "spec.yaml:3: graph[0].in: the gate add takes 2 or more inputs, got 1"),
    ("layer_takes_one", """
        inputs: {a: [4, 3], b: [4, 3]}
        graph:
          - {name: s, type: tanh, in: [a, b]}
        """, "spec.yaml:3: graph[0].in: the layer tanh takes 1 input, got 2"),
    ("tuple_output_without_index", """
        inputs: {x: [4, 3]}
        graph:
          - {name: sp, type: ./two.py:Split, in: x}
          - {name: h, type: tanh, in: sp}
        """, "spec.yaml:4: graph[1].in: node sp returns 2 outputs (a tuple): name one, sp.0 or sp.1"),
    ("index_on_single_output", """
        inputs: {x: [4, 3]}
        graph:
          - {name: a, type: tanh, in: x}
          - {name: h, type: tanh, in: a.0}
        """, "spec.yaml:4: graph[1].in: a.0: node a returns one array, not a tuple: name it a"),
    ("index_out_of_range", """
        inputs: {x: [4, 3]}
        graph:
          - {name: sp, type: ./two.py:Split, in: x}
          - {name: h, type: tanh, in: sp.2}
        """, "spec.yaml:4: graph[1].in: sp.2: node sp returns 2 outputs, sp.0 to sp.1"),
    ("loss_takes_a_tuple", """
        inputs: {x: [4, 3]}
        graph:
          - {name: sp, type: ./two.py:Split, in: x}
        """, "spec.yaml:3: graph[0].name: node sp returns 2 outputs (a tuple): name one, sp.0 or sp.1"),
    ("index_on_an_input", """
        inputs: {x: [4, 3]}
        graph:
          - {name: h, type: tanh, in: x.0}
        """, "spec.yaml:3: graph[0].in: x.0: x is an input, one array: name it x"),
    ("ids_into_a_builtin", """
        inputs: {ids: {shape: [4, 3], integers: 5}}
        graph:
          - {name: h, type: tanh, in: ids}
        """, "spec.yaml:3: graph[0]: ids is an integer tensor (ids); the built-in tanh takes floats (a custom "
             "layer, such as an embedding, takes ids)"),
    ("custom_layer_takes_fewer_inputs", """
        inputs: {a: [4, 3], b: [4, 3], c: [4, 3]}
        graph:
          - {name: p, type: ./two.py:Pair, in: [a, b, c]}
        """, "spec.yaml:3: graph[0]: ./two.py:Pair.forward cannot take the 3 inputs its node names in in:; it "
             "takes: a, b"),
    ("residual_in_a_graph", """
        inputs: {x: [4, 3]}
        graph:
          - {name: r, type: residual, in: x, layers: [tanh]}
        """, "spec.yaml:3: graph[0].type: residual is for stacks; in a graph, write its gates: the branch's nodes, "
             "then {type: add, in: [x, BRANCH]} (x feeding both is the copy gate)"),
    ("unknown_gate", """
        inputs: {x: [4, 3]}
        graph:
          - {name: s, type: ad, in: [x, x]}
        """, "spec.yaml:3: graph[0].type: unknown layer or gate 'ad' (did you mean 'add'?); layers: linear, "
             "sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, silu, softmax, log_softmax, flatten; gates: add, "
             "multiply, concat, matmul, transpose; or a custom layer as module:Class or path/to/file.py:Class"),
    ("node_without_in", """
        inputs: {x: [4, 3]}
        graph:
          - {name: h, type: tanh}
        """, "spec.yaml:3: graph[0]: the node needs 'in': what it takes, in: x (an input or a node), or in: "
             "[a, h0] for several"),
    ("node_without_name", """
        inputs: {x: [4, 3]}
        graph:
          - {type: tanh, in: x}
        """, "spec.yaml:3: graph[0]: the node needs 'name': a name later nodes and the loss use, name: h"),
    ("dotted_name", """
        inputs: {x: [4, 3]}
        graph:
          - {name: h.1, type: tanh, in: x}
        """, "spec.yaml:3: graph[0].name: expected a node name like h or lstm_1 (letters, digits, _; no dots: "
             "lstm.0 names an output), got 'h.1'"),
    ("a_stack_key_in_a_graph", """
        input: [4, 3]
        inputs: {x: [4, 3]}
        graph:
          - {name: h, type: tanh, in: x}
        """, "spec.yaml:1: input: input is for a stack of layers; a graph spec names its inputs under inputs: and "
             "its nodes under graph:"),
    ("graph_without_inputs", """
        graph:
          - {name: h, type: tanh, in: x}
        """, "spec.yaml:1: missing required key 'inputs': a graph spec has inputs: (name -> shape) and graph: "
             "(its nodes)"),
    ("unknown_option_of_a_gate", """
        inputs: {a: [4, 3], b: [4, 3]}
        graph:
          - {name: s, type: concat, in: [a, b], axs: 0}
        """, "spec.yaml:3: graph[0].axs: unknown option for concat (did you mean 'axis'?); expected one of: axis"),
    ("bad_option_of_a_gate", """
        inputs: {a: [4, 3], b: [4, 3]}
        graph:
          - {name: s, type: concat, in: [a, b], axis: first}
        """, "spec.yaml:3: graph[0].axis: expected an integer, got 'first'"),
]


def stripped(output: str) -> list[str]:
    return [line.strip() for line in lines(output)]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch, write_file):
    monkeypatch.chdir(tmp_path)
    write_file("two.py", TWO_OUT)
    return tmp_path


@pytest.mark.parametrize("name, text, message", CASES, ids=[case[0] for case in CASES])
def test_a_bad_graph_is_one_line_naming_file_and_line(in_tmp, write_spec, run_json, name, text, message):
    write_spec(text)
    result, report = run_json("spec.yaml")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message in stripped(result.output), result.output
    (spec,) = report["specs"]
    assert (spec["outcome"], spec["error"], spec["checks"]) == ("error", message, [])


@pytest.mark.parametrize("name, text, message", CASES[:10], ids=[case[0] for case in CASES[:10]])
def test_validate_says_the_same(in_tmp, write_spec, name, text, message):
    write_spec(text)
    result = invoke_cli("validate", "spec.yaml")
    assert result.exit_code == 2
    assert lines(result.output) == [message, "0 of 1 spec valid"]


def test_an_input_or_output_nothing_takes_is_a_warning(in_tmp, write_spec, run_json):
    write_spec("""
        inputs: {x: [4, 3], unused: [4, 2]}
        graph:
          - {name: sp, type: ./two.py:Split, in: x}
          - {name: spare, type: tanh, in: x}
          - {name: h, type: tanh, in: sp.0}
        """)
    result, report = run_json("spec.yaml")
    assert result.exit_code == 0, result.output
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed"
    assert spec["warnings"] == [
        {"layer": None, "node": "unused", "kind": "unused",
         "message": "input unused: no node takes it, nor the loss: its gradient is zero"},
        {"layer": None, "node": "sp", "kind": "unused",
         "message": "node sp (./two.py:Split): no node takes output 1 (sp.1), nor the loss: its gradient is zero"},
        {"layer": None, "node": "spare", "kind": "unused",
         "message": "node spare (tanh): no node takes its output, nor the loss: its gradient is zero"}]
    unused = next(c for c in spec["checks"] if c["node"] == "unused")
    assert (unused["analytic"], unused["numeric"], unused["outcome"]) == (0.0, 0.0, "passed")
    assert "warning: input unused: no node takes it, nor the loss: its gradient is zero" in stripped(result.output)
    strict = invoke_cli("run", "spec.yaml", "--strict", "-q")
    assert strict.exit_code == 1
    valid = invoke_cli("validate", "spec.yaml")
    assert valid.exit_code == 0
    assert "  warning: node spare (tanh): no node takes its output, nor the loss: its gradient is zero" in \
        valid.output.splitlines()


def test_nodes_run_in_topological_order_whatever_the_files_order(in_tmp, write_spec, run_json):
    write_spec("""
        inputs: {x: [4, 3]}
        graph:
          - {name: out, type: linear, in: s, out: 2}
          - {name: s, type: add, in: [f, g]}
          - {name: g, type: sigmoid, in: x}
          - {name: f, type: tanh, in: x}
        loss: {type: mse, in: out}
        """)
    from gradcheck_cli.spec.load import load_spec
    spec = load_spec("spec.yaml")
    assert [node.name for node in spec.graph.nodes] == ["g", "f", "s", "out"]
    assert [layer.type for layer in spec.layers] == ["linear", "add", "sigmoid", "tanh"]  # the file's order
    result, report = run_json("spec.yaml")
    assert result.exit_code == 0, result.output
    assert [(c["node"], c["tensor"]) for c in report["specs"][0]["checks"]] == [
        ("x", "out"), ("g", "out"), ("f", "out"), ("s", "out"), ("out", "out"), ("out", "W"), ("out", "b")]


def test_the_loss_takes_the_files_last_node_by_default(in_tmp, write_spec):
    write_spec("""
        inputs: {x: [4, 3]}
        graph:
          - {name: b, type: sigmoid, in: a}
          - {name: a, type: tanh, in: x}
        """)
    from gradcheck_cli.spec.load import load_spec
    assert str(load_spec("spec.yaml").graph.loss_in) == "a"


def test_no_custom_refuses_a_custom_node(in_tmp, write_spec):
    write_spec("""
        inputs: {x: [4, 3]}
        graph:
          - {name: sp, type: ./two.py:Split, in: x}
        loss: {type: mse, in: sp.0}
        """)
    result = invoke_cli("run", "spec.yaml", "--no-custom")
    assert result.exit_code == 2
    assert "spec.yaml:3: graph[0]: custom layer ./two.py:Split refused: --no-custom is set (custom layers are Python " \
           "code and would run)" in stripped(result.output)


def test_max_elements_counts_the_inputs_and_linear_nodes(in_tmp, write_spec):
    write_spec("""
        inputs: {x: [4, 3], y: [4, 3]}
        graph:
          - {name: a, type: linear, in: x, out: 5}
          - {name: t, type: tanh, in: a}
          - {name: b, type: linear, in: t, out: 2}
        """)
    # 24 input scalars, 3·5 + 5 and 5·2 + 2 parameters: 56
    assert invoke_cli("run", "spec.yaml", "--max-elements", "56", "-q").exit_code == 0
    result = invoke_cli("run", "spec.yaml", "--max-elements", "55")
    assert result.exit_code == 2
    assert "spec.yaml:1: inputs: about 56 scalars in the input and parameters (0.0 GB, checked one by one); the " \
           "limit is 55: raise it with --max-elements" in stripped(result.output)


def test_the_example_graph_specs_pass():
    result = invoke_cli("run", ROOT / "specs" / "graph", GRAPH / "rnn.yaml", GRAPH / "attention.yaml",
                        GRAPH / "lstm.yaml", GRAPH / "embedding.yaml", GRAPH / "branches.yaml", "-q")
    assert result.exit_code == 0, result.output
