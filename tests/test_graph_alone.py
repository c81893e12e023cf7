"""A graph spec checks each node alone even when every row of the graph matches: at a copy gate
the branches' gradients are summed before any row compares them, so two wrong backwards can
cancel; and a max that gives every tied element the whole gradient is wrong only jointly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import invoke_cli

DATA = Path(__file__).parent / "data" / "graph_alone"
CANCEL = """\
seed: 0
inputs: {{x: [4, 3]}}
graph:
  - {{name: a, type: {layers}:Scaled, k: {k_a}, in: x}}
  - {{name: b, type: {layers}:Scaled, k: {k_b}, in: x}}
  - {{name: s, type: add, in: [a, b]}}
  - {{name: y, type: linear, in: s, out: 2}}
loss: mse
"""
TIES = """\
seed: 0
inputs: {{x: [4, 6]}}
graph:
  - {{name: c, type: {layers}:Constant, in: x}}
  - {{name: p, type: {layers}:PairMax, route: {route}, in: c}}
  - {{name: y, type: linear, in: p, out: 2}}
loss: mse
"""


def _run(tmp_path, text: str, **fields) -> dict:
    spec = tmp_path / "g.yaml"
    spec.write_text(text.format(layers=DATA / "layers.py", **fields), encoding="utf-8")
    report = tmp_path / "r.json"
    invoke_cli("run", spec, "--json", report)
    (result,) = json.loads(report.read_text(encoding="utf-8"))["specs"]
    return result


@pytest.mark.parametrize("k_a, k_b, outcome, suspect", [(1.0, 1.0, "passed", None), (2.0, 0.0, "failed", "a")])
def test_wrong_backwards_that_cancel_at_a_copy_gate_are_found_alone(tmp_path, k_a, k_b, outcome, suspect):
    result = _run(tmp_path, CANCEL, k_a=k_a, k_b=k_b)
    assert (result["outcome"], result["suspect_node"]) == (outcome, suspect)
    if outcome == "failed":
        assert all(c["outcome"] == "passed" for c in result["checks"])  # every row matches: the sums are right
        assert [lc["node"] for lc in result["layers"] if lc["outcome"] == "failed"] == ["a", "b"]
        assert any("a node's own backward is wrong" in note for note in result["notes"])


@pytest.mark.parametrize("route, outcome", [("first", "passed"), ("split", "passed"), ("all", "failed")])
def test_a_max_giving_every_tied_element_the_gradient_fails_in_a_graph(tmp_path, route, outcome):
    result = _run(tmp_path, TIES, route=route)
    assert result["outcome"] == outcome
    if outcome == "failed":
        assert result["suspect_node"] == "p"
