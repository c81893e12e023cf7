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
