"""A custom loss in a graph spec: its own dx is a row of its own (node `loss`), and a wrong one is
blamed on the loss, as in a stack spec."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import invoke_cli

DATA = Path(__file__).parent / "data"
GRAPH = """\
inputs:
  x: [4, 3]
graph:
  - {name: a, type: linear, in: x, out: 5}
  - {name: h, type: tanh, in: a}
loss: {type: ./losses.py:softmax_loss, in: h}
"""


@pytest.mark.parametrize("folder, outcome", [("losses", "passed"), ("losses_bugs", "failed")])
def test_a_custom_loss_in_a_graph_has_its_row_and_takes_the_blame(tmp_path, folder, outcome):
    shutil.copy(DATA / folder / "losses.py", tmp_path / "losses.py")
    (tmp_path / "g.yaml").write_text(GRAPH, encoding="utf-8")
    report = tmp_path / "r.json"
    result = invoke_cli("run", tmp_path / "g.yaml", "--json", report)
    (spec,) = json.loads(report.read_text(encoding="utf-8"))["specs"]
    assert spec["outcome"] == outcome, result.output
    rows = [(c["node"], c["tensor"], c["outcome"]) for c in spec["checks"]]
    assert rows[-1][:2] == ("loss", "input")
    if outcome == "failed":
        assert rows[-1][2] == "failed"
        assert spec["suspect_node"] == "loss"
        assert "→ loss (./losses.py:softmax_loss): backward wrong for input; nodes a, h correct" in result.output


def test_a_wrong_custom_loss_gets_a_diagnosis(tmp_path):
    """softmax_loss's dx not divided by N: analytic = N × numeric, said from the numbers alone."""
    shutil.copy(DATA / "losses_bugs" / "losses.py", tmp_path / "losses.py")
    (tmp_path / "s.yaml").write_text("input: [5, 3]\nlayers:\n  - {type: linear, out: 4}\n"
                                     "loss: {type: ./losses.py:softmax_loss}\n", encoding="utf-8")
    report = tmp_path / "r.json"
    result = invoke_cli("run", tmp_path / "s.yaml", "--json", report)
    (spec,) = json.loads(report.read_text(encoding="utf-8"))["specs"]
    (row,) = [c for c in spec["checks"] if c["node"] == "loss"]
    assert row["diagnosis"]["kind"] == "factor" and "N = 5 rows" in row["diagnosis"]["detail"]
    assert "likely: factor in the loss's input" in result.output


def test_a_graph_nodes_wrong_parameter_gradient_gets_a_diagnosis(tmp_path):
    """A node's db taken as a mean over the batch: factor 1/N on its row and under the table."""
    (tmp_path / "layers.py").write_text('''
import numpy as np


class Affine:
    def build(self, shape, rng):
        self.W = rng.standard_normal((shape[-1], 3))
        self.b = np.zeros(3)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.dW, self.db = self.x.T @ g, g.mean(axis=0)
        return g @ self.W.T
''', encoding="utf-8")
    (tmp_path / "g.yaml").write_text("inputs: {x: [4, 2]}\ngraph:\n  - {name: a, type: ./layers.py:Affine, in: x}\n"
                                     "  - {name: h, type: tanh, in: a}\n", encoding="utf-8")
    report = tmp_path / "r.json"
    result = invoke_cli("run", tmp_path / "g.yaml", "--json", report)
    (spec,) = json.loads(report.read_text(encoding="utf-8"))["specs"]
    assert spec["suspect_node"] == "a"
    (row,) = [c for c in spec["checks"] if (c["node"], c["tensor"]) == ("a", "b")]
    assert row["diagnosis"]["kind"] == "factor" and "1/N with N = 4 rows" in row["diagnosis"]["detail"]
    assert "likely: factor in node a b" in result.output
