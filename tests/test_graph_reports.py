"""Graph specs in every report and entry point: the JSON report (version 2: `node`, `suspect_node`),
the terminal, JUnit, HTML and the notebook table, the pytest plugin, the schema, `validate`, `jacobian`
and the Python API (check_spec with a graph mapping, check_layer with several inputs as a tuple)."""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml

from conftest import ROOT, invoke_cli, lines
from gradcheck_cli import SpecError, check_layer, check_spec

GRAPH = ROOT / "tests" / "data" / "graph"

pytest_plugins = ["pytester"]


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_json_version_2_names_nodes(at_root, run_json):
    result, report = run_json("tests/data/graph/lstm_bug.yaml", "specs/mlp.yaml")
    assert result.exit_code == 1
    assert report["version"] == 2
    graph, stack = report["specs"]
    assert (graph["suspect_node"], graph["suspect_layer"]) == ("step2", None)
    first = graph["checks"][0]
    assert {key: first[key] for key in ("layer", "node", "type", "tensor", "shape")} == \
        {"layer": None, "node": "x", "type": "input", "tensor": "out", "shape": [3, 4]}
    assert [(c["node"], c["tensor"]) for c in graph["checks"] if c["outcome"] == "failed"] == [
        ("x", "out"), ("h0", "out"), ("c0", "out"), ("step", "out.1"), ("step", "Wx"), ("step", "Wh"), ("step", "b")]
    alone = {entry["node"]: entry for entry in graph["layers"]}
    assert list(alone) == ["step", "step2", "y", "both", "z"]
    assert alone["step2"]["layer"] is None and alone["step2"]["outcome"] == "failed"
    assert [c["tensor"] for c in alone["step2"]["checks"] if c["outcome"] == "failed"] == ["input.2"]
    # a stack spec: the same fields, node null
    assert (stack["suspect_node"], stack["suspect_layer"]) == (None, None)
    assert {c["node"] for c in stack["checks"]} == {None} and stack["checks"][0]["layer"] == 0


def test_an_earlier_report_of_either_version_is_replaced(at_root, tmp_path):
    for version in (1, 2):
        target = tmp_path / "report.json"
        earlier = {"version": version, "passed": True, "summary": {"specs": 0}, "specs": []}
        target.write_text(json.dumps(earlier, indent=2))
        result = invoke_cli("run", "specs/graph/gated.yaml", "--json", target)
        assert result.exit_code == 0, result.output
        assert json.loads(target.read_text())["version"] == 2


def test_the_terminal_names_nodes(at_root):
    result = invoke_cli("run", "tests/data/graph/branches_bug.yaml")
    assert result.exit_code == 1
    out = lines(result.output)
    header = next(line for line in out if "tensor" in line)
    assert header.split("┃")[1].strip() == "node"
    assert any(line.startswith("│ g_lin") and "│ W " in line and "FAILED" in line for line in out)
    assert any(line.startswith("  g_lin.W (linear): 12 of 12 elements off; worst [") for line in out)
    assert "  → node g (./layers.py:Sigmoid): backward wrong for input; nodes f_lin, f, g_lin, s, y correct" in out
    quiet = invoke_cli("run", "tests/data/graph/branches_bug.yaml", "-q")
    assert lines(quiet.output)[0] == ("tests/data/graph/branches_bug.yaml: failed: x.out, g_lin.out, g_lin.W, g_lin.b "
                                      "off; suspect node g")


def test_junit_html_and_notebook_name_nodes(at_root, tmp_path):
    junit, html = tmp_path / "r.xml", tmp_path / "r.html"
    invoke_cli("run", "tests/data/graph/attention_bug.yaml", "--junit-xml", junit, "--html", html)
    failure = ET.parse(junit).getroot().find(".//failure")
    assert failure.get("message") == "1 tensor off: att.Wk (./layers.py:Attention)"
    assert "suspect: node att (./layers.py:Attention): backward wrong for Wk; node y correct" in failure.text
    page = html.read_text(encoding="utf-8")
    assert "node att (./layers.py:Attention): backward wrong for Wk" in page
    table = check_spec(GRAPH / "attention_bug.yaml")._repr_html_()
    assert "text-align:left\">node</th>" in table
    assert "att.Wk (./layers.py:Attention): 12 of 16" in table  # a transpose leaves the diagonal right


def test_the_pytest_plugin_collects_a_graph_spec(pytester):
    for name in ("layers.py", "rnn.yaml", "rnn_bug.yaml"):
        target = name if name.endswith(".py") else name.replace(".yaml", ".gradcheck.yaml")
        shutil.copy(GRAPH / name, pytester.path / target)
    result = pytester.runpytest("-p", "gradcheck", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "6 tensors off; suspect node h2 (./layers.py:RNNStep) input.1" in output
    assert "suspect: node h2 (./layers.py:RNNStep): backward wrong for input.1; nodes h1, y correct" in output


@pytest.fixture
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(invoke_cli("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_takes_every_graph_spec(validator):
    specs = sorted((ROOT / "specs" / "graph").glob("*.yaml")) + sorted(GRAPH.glob("*.yaml"))
    assert len(specs) > 10
    for path in specs:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert not errors, (path, errors)


@pytest.mark.parametrize("change", [
    lambda spec: spec.update(input=[4, 3]),                            # a stack's key in a graph
    lambda spec: spec["graph"][1].update(oot=16),                      # an option linear does not take
    lambda spec: spec["graph"][0].pop("in"),                           # a node without in
    lambda spec: spec["graph"][2].update(name="s.0"),                  # a dotted name
    lambda spec: spec["graph"][2].update(type="residual", layers=["tanh"]),
    lambda spec: spec.update(loss={"type": "mse", "in": "out", "scale": 2}),
])
def test_the_schema_refuses_what_the_validator_refuses(validator, change):
    spec = yaml.safe_load((ROOT / "specs" / "graph" / "graph.yaml").read_text(encoding="utf-8"))
    change(spec)
    assert list(validator.iter_errors(spec))


def test_the_schema_refuses_a_loss_in_for_a_stack(validator):
    spec = yaml.safe_load((ROOT / "specs" / "mlp.yaml").read_text(encoding="utf-8"))
    assert not list(validator.iter_errors(spec))
    spec["loss"] = {"type": "mse", "in": "x"}
    assert list(validator.iter_errors(spec))


def test_validate_a_graph_spec(at_root):
    result = invoke_cli("validate", "specs/graph", "tests/data/graph/lstm_bug.yaml")
    assert result.exit_code == 0, result.output
    assert lines(result.output)[-1] == "4 of 4 specs valid"


def test_the_jacobian_of_an_add_gate_is_two_identities(at_root):
    result = invoke_cli("jacobian", "specs/graph/graph.yaml", "--layer", "s")
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert out[0] == "node s (add), row 0: J[j, i] = dy_j/dx_i, 16 outputs × 32 inputs"
    first = out[2].split()
    assert first[:16] == ["1"] + ["0"] * 15 and first[16:32] == ["1"] + ["0"] * 15
    assert out[-1] == "the Jacobians agree"


def test_the_jacobian_of_a_node_with_two_outputs_and_a_bug(at_root):
    result = invoke_cli("jacobian", "tests/data/graph/lstm_bug.yaml", "--layer", "step2", "--row", "1")
    assert result.exit_code == 1
    out = lines(result.output)
    assert out[0] == "node step2 (./layers.py:lstm_bug_step), row 1: J[j, i] = dy_j/dx_i, 10 outputs × 14 inputs"
    assert out[-1] == "10 of 140 entries differ"   # d next_h/d prev_c and d next_c/d prev_c: two diagonals without f


@pytest.mark.parametrize("args, message", [
    (["specs/graph/graph.yaml", "--layer", "hh"], "specs/graph/graph.yaml: --layer hh: the graph has no node 'hh'; "
                                                  "its nodes: e, a, s, h, out"),
    (["specs/graph/graph.yaml", "--layer", "e"], "specs/graph/graph.yaml: --layer e: the node takes integer tensors "
                                                 "only: it has no Jacobian to show"),
    (["specs/mlp.yaml", "--layer", "tanh"], "specs/mlp.yaml: --layer tanh: expected a layer index, 0 to 2 (a node's "
                                            "name is for graph specs)"),
])
def test_jacobian_layer_errors(at_root, args, message):
    result = invoke_cli("jacobian", *args)
    assert result.exit_code == 2
    assert lines(result.output) == [message]


def test_jacobian_of_a_node_that_does_not_keep_rows(write_spec):
    path = write_spec("""
        inputs: {x: [4, 3]}
        graph:
          - {name: t, type: transpose, in: x}
          - {name: y, type: tanh, in: t}
        """)
    result = invoke_cli("jacobian", path, "--layer", "t")
    assert result.exit_code == 2
    assert lines(result.output) == [f"{path}: --layer t: its inputs and outputs do not share their first axis (rows: "
                                    "3, 4), so a row's Jacobian is not defined"]
    assert invoke_cli("jacobian", path, "--layer", "y").exit_code == 0


class Attend:
    """Two inputs: h (N, D) attends over e (N, T, D)."""

    def forward(self, h, e):
        self.h, self.e = h, e
        s = np.einsum("nd,ntd->nt", h, e)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        self.p = p / p.sum(axis=1, keepdims=True)
        return np.einsum("nt,ntd->nd", self.p, e)

    def backward(self, g):
        dp = np.einsum("nd,ntd->nt", g, self.e)
        ds = self.p * (dp - (dp * self.p).sum(axis=1, keepdims=True))
        return np.einsum("nt,ntd->nd", ds, self.e), \
            np.einsum("nt,nd->ntd", self.p, g) + np.einsum("nt,nd->ntd", ds, self.h)


class AttendNoSoftmaxBackward(Attend):
    def backward(self, g):
        return np.einsum("nt,ntd->nd", self.p, self.e) * 0 + g, np.einsum("nt,nd->ntd", self.p, g)


def test_check_layer_with_several_inputs_as_a_tuple():
    result = check_layer(Attend(), input_shape=((4, 3), (4, 5, 3)))
    assert result.passed, str(result)
    assert [(c.node, c.tensor, c.shape) for c in result.checks] == [
        ("h", "out", (4, 3)), ("e", "out", (4, 5, 3)), ("Attend", "out", (4, 3))]
    rng = np.random.default_rng(1)
    h, e = rng.standard_normal((4, 3)), rng.standard_normal((4, 5, 3))
    kept = h.copy(), e.copy()
    result = check_layer([Attend(), "tanh", {"type": "linear", "out": 2}], x=(h, e))
    assert result.passed and result.name == "Attend, tanh, linear"
    assert np.array_equal(h, kept[0]) and np.array_equal(e, kept[1])  # the caller's arrays, untouched
    buggy = check_layer(AttendNoSoftmaxBackward(), x=(h, e))
    assert (buggy.outcome, buggy.suspect_node) == ("failed", "AttendNoSoftmaxBackward")


def test_check_layer_with_integer_ids_in_the_tuple():
    class Embed:
        def __init__(self):
            self.W = np.random.default_rng(0).standard_normal((7, 3))

        def forward(self, ids, x):
            self.ids = ids
            return self.W[ids] + x

        def backward(self, g):
            self.dW = np.zeros_like(self.W)
            np.add.at(self.dW, self.ids, g)
            return None, g

    ids = np.array([[1, 2], [6, 0]])
    result = check_layer(Embed(), x=(ids, np.zeros((2, 2, 3))))
    assert result.passed, str(result)
    assert [(c.node, c.tensor) for c in result.checks] == [("x", "out"), ("Embed", "out"), ("Embed", "W")]


def test_check_layer_errors_name_its_arguments():
    with pytest.raises(SpecError) as error:
        check_layer(Attend(), input_shape=((4, 3), (4, 0, 3)))
    assert str(error.value) == "check_layer: input_shape[1][1]: expected a positive integer, got 0"


def test_check_spec_with_a_graph_mapping():
    weights = np.random.default_rng(2).standard_normal((10, 3))
    kept = weights.copy()
    spec = {
        "inputs": {"x": (4, 3), "ids": {"shape": (4, 5), "integers": 10}},
        "graph": [
            {"name": "e", "type": "./layers.py:word_embedding", "in": "ids", "params": {"W": weights}},
            {"name": "a", "type": "linear", "in": "x", "out": 3},
            {"name": "att", "type": Attend, "in": ("a", "e")},
        ],
        "loss": {"type": "mse", "in": "att"},
    }
    result = check_spec(spec, base=GRAPH)
    assert result.passed, str(result)
    assert [(c.node, c.tensor) for c in result.checks] == [
        ("x", "out"), ("e", "out"), ("e", "W"), ("a", "out"), ("a", "W"), ("a", "b"), ("att", "out")]
    assert np.array_equal(weights, kept)  # the caller's array was copied, never perturbed
    spec["graph"][2]["type"] = AttendNoSoftmaxBackward
    buggy = check_spec(spec, base=GRAPH)
    assert (buggy.outcome, buggy.suspect_node) == ("failed", "att")
    spec["graph"][2]["in"] = ["a", "ee"]
    with pytest.raises(SpecError) as error:
        check_spec(spec, base=GRAPH)
    assert str(error.value) == "<mapping>: graph[2].in[1]: unknown node or input 'ee' (did you mean 'e'?); inputs: " \
                               "x, ids; nodes: e, a, att"
