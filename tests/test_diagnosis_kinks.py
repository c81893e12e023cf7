"""The diagnosis says nothing about a mismatch that sits on a kink: its numeric value is a central
difference across the kink, and a pattern read from it would be a wrong kind (relu'(0) = 2
against a difference of 0.5 reads as "a factor 4", 1/N for N = 4 rows)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import invoke_cli

LAYERS = Path(__file__).parent / "data" / "kinks" / "layers.py"


@pytest.mark.parametrize("rows", [4, 5])
def test_a_wrong_choice_at_a_kink_is_located_but_not_given_a_kind(tmp_path, rows):
    spec = tmp_path / "relu.yaml"
    spec.write_text(f"seed: 0\ninput: [{rows}, 3]\nlayers:\n  - {{type: linear, out: 4, init: zeros, bias: false}}\n"
                    f"  - {{type: {LAYERS}:ReLU, at_zero: 2.0}}\n  - {{type: linear, out: 2}}\nloss: mse\n",
                    encoding="utf-8")
    report = tmp_path / "r.json"
    result = invoke_cli("run", spec, "--json", report)
    (checked,) = json.loads(report.read_text(encoding="utf-8"))["specs"]
    assert (checked["outcome"], checked["suspect_layer"]) == ("failed", 1)
    alone = [c for lc in checked["layers"] if lc["layer"] == 1 for c in lc["checks"] if c["outcome"] == "failed"]
    assert [c["tensor"] for c in alone] == ["input"] and alone[0]["diagnosis"] is None
    assert "likely:" not in result.output
