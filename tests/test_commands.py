"""The other commands and run options of `gradcheck`, through typer's CliRunner."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import pytest
import yaml

from conftest import ROOT, SPECS, SUMMARY, invoke_cli, lines, strip_seconds

BAD_OUT = """
name: bad
seed: 0
input: [4, 3]
layers:
  - {type: linear, out: three}
loss: mse
"""


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# --- validate ---------------------------------------------------------------------------------


def test_validate_example_specs(at_root):
    paths = sorted(str(p.relative_to(ROOT)) for p in SPECS.glob("*.yaml"))
    result = invoke_cli("validate", *paths)
    assert result.exit_code == 0, result.output


def test_validate_invalid_spec_names_file_and_line(write_spec):
    path = write_spec(BAD_OUT)
    result = invoke_cli("validate", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:5:" in result.output
    assert "out" in result.output


def test_validate_tells_an_invalid_spec_from_a_layer_that_errors(write_spec, write_file):
    """As in `run`: exit 2 for the spec's own mistakes, 1 for a layer that raises or overflows
    while the network is built; the other specs are still validated, and no numpy warning leaks out."""
    write_file("raising.py", """
        import numpy as np


        class Raises:
            def forward(self, x):
                raise ValueError("no forward today")

            def backward(self, g):
                return g


        class Overflows:
            def forward(self, x):
                return np.exp(1e4 * x)

            def backward(self, g):
                return g
        """)
    raising = write_spec("input: [2, 3]\nlayers: [./raising.py:Raises]\n", name="raising.yaml")
    overflow = write_spec("input: [2, 3]\nlayers: [./raising.py:Overflows]\n", name="overflow.yaml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke_cli("validate", raising, overflow)
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert result.exit_code == 1, result.output
    assert f"{raising}: error: layer 0 (./raising.py:Raises): {raising.parent / 'raising.py'}:6: forward raised " \
        "ValueError: no forward today" in result.output
    # as in `run`, where an output with Inf is an error naming the layer
    assert f"{overflow}: error: layer 0 (./raising.py:Overflows): the output of forward contains Inf" in result.output
    invalid = write_spec(BAD_OUT, name="invalid.yaml")
    assert invoke_cli("validate", raising, invalid).exit_code == 2


def test_validate_refuses_what_run_would_refuse_as_too_big(write_spec):
    path = write_spec("input: [4, 3]\nlayers:\n  - {type: linear, out: 50000000}\n")
    result = invoke_cli("validate", path)
    assert result.exit_code == 2, result.output
    assert "the limit is 20,000,000: raise it with --max-elements" in result.output


# --- schema -----------------------------------------------------------------------------------


def test_schema_is_a_valid_schema_that_accepts_the_examples(write_spec):
    jsonschema = pytest.importorskip("jsonschema")
    result = invoke_cli("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    specs = sorted(SPECS.glob("**/*.yaml"))
    assert specs
    for path in specs:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(doc))
        assert not errors, (path, [e.message for e in errors])
    bad = yaml.safe_load(BAD_OUT)
    assert not validator.is_valid(bad)


@pytest.mark.parametrize("extra, tool_accepts", [
    ("name: null", True), ("tolerance: null", True), ("step: null", True), ("step: 1e-5", True),
    ("step: -1e-5", False), ("step: 0", False), ("tolerance: {rtol: -1e-3}", False),
])
def test_schema_and_validator_agree(write_spec, extra, tool_accepts):
    """`gradcheck schema` is generated from the validator's declarations: on edge values too,
    an editor must not flag what gradcheck takes, nor take what it refuses."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(invoke_cli("schema").stdout))
    text = f"input: [2, 3]\nlayers: [tanh]\n{extra}\n"
    assert validator.is_valid(yaml.safe_load(text)) == tool_accepts
    assert (invoke_cli("validate", write_spec(text)).exit_code == 0) == tool_accepts


# --- layers -----------------------------------------------------------------------------------


def test_layers_lists_every_builtin():
    result = invoke_cli("layers")
    assert result.exit_code == 0, result.output
    for name in ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "silu",
                 "softmax", "log_softmax", "residual", "mse", "cross_entropy", "bce_with_logits", "dot"]:
        assert re.search(rf"\b{name}\b", result.output), name


def _table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table as cells, a cell folded over several lines joined again."""
    rows = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0] or not rows:
            rows.append(cells)
        else:  # a folded row goes on below, with an empty first cell
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells)]
    return rows


def test_layers_matches_the_registry():
    """`gradcheck layers` shows every built-in of the registry, and nothing else: its kind, its
    options (with their defaults) and its summary, in the registry's order."""
    from gradcheck_cli.model.registry import GATES, LAYERS, LOSSES

    result = invoke_cli("layers", env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    shown = [[" ".join(cell.split()) for cell in row] for row in _table_rows(result.output)]
    expected = []
    for kind, table in (("layer", LAYERS), ("gate", GATES), ("loss", LOSSES)):
        for name, builtin in table.items():
            options = ", ".join(key if option.required else f"{key}={option.default}"
                                for key, option in builtin.options.items())
            expected.append([name, kind, options or "—", " ".join(builtin.summary.split())])
    assert len(expected) >= 21
    assert shown == expected


# --- init -------------------------------------------------------------------------------------


def test_init_writes_a_spec_that_passes_and_never_overwrites(tmp_path):
    target = tmp_path / "starter"
    result = invoke_cli("init", target)
    assert result.exit_code == 0, result.output
    files = sorted(p for p in target.rglob("*") if p.is_file())
    assert files
    specs = [p for p in files if p.suffix in (".yaml", ".yml")]
    assert specs
    for spec in specs:
        run = invoke_cli("run", spec)
        assert run.exit_code == 0, run.output
    before = {p: p.read_bytes() for p in files}
    again = invoke_cli("init", target)
    assert again.exit_code == 2, again.output
    assert "exist" in again.output
    after = {p: p.read_bytes() for p in sorted(p for p in target.rglob("*") if p.is_file())}
    assert after == before


# --- jacobian ---------------------------------------------------------------------------------


def test_jacobian_of_a_correct_layer(at_root):
    result = invoke_cli("jacobian", "specs/mlp.yaml", "--layer", "1")
    assert result.exit_code == 0, result.output
    assert "analytic" in result.output
    assert "numeric" in result.output
    assert "agree" in result.output


def test_jacobian_of_a_broken_layer(at_root):
    result = invoke_cli("jacobian", "specs/broken/no_transpose.yaml", "--layer", "1")
    assert result.exit_code == 1, result.output
    assert "analytic" in result.output and "numeric" in result.output
    assert re.search(r"\d+ of \d+ entries differ", result.output), result.output


# --- run options ------------------------------------------------------------------------------


def _paths(report):
    return [s["path"] for s in report["specs"]]


def test_shards_are_disjoint_and_cover_everything(at_root, tmp_path):
    reports = []
    for k in ("1/2", "2/2"):
        out = tmp_path / f"shard{k[0]}.json"
        result = invoke_cli("run", "specs", "--shard", k, "--json", out)
        assert result.exit_code in (0, 1), result.output
        reports.append(json.loads(out.read_text(encoding="utf-8")))
    full_out = tmp_path / "full.json"
    result = invoke_cli("run", "specs", "--json", full_out)
    assert result.exit_code in (0, 1), result.output
    full = _paths(json.loads(full_out.read_text(encoding="utf-8")))
    first, second = _paths(reports[0]), _paths(reports[1])
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(full)
    assert len(first + second) == len(set(first + second))


def test_jobs_give_the_same_report(at_root, tmp_path):
    out1, out2 = tmp_path / "j1.json", tmp_path / "j2.json"
    r1 = invoke_cli("run", "specs", "--jobs", "1", "--json", out1)
    r2 = invoke_cli("run", "specs", "--jobs", "2", "--json", out2)
    assert r1.exit_code == r2.exit_code, (r1.output, r2.output)
    a = json.loads(out1.read_text(encoding="utf-8"))
    b = json.loads(out2.read_text(encoding="utf-8"))
    assert strip_seconds(a) == strip_seconds(b)


def test_junit_xml_has_one_testcase_per_spec(at_root, tmp_path):
    xml_out, json_out = tmp_path / "r.xml", tmp_path / "r.json"
    result = invoke_cli("run", "specs", "--junit-xml", xml_out, "--json", json_out)
    assert result.exit_code in (0, 1), result.output
    tree = ET.parse(xml_out)
    cases = list(tree.getroot().iter("testcase"))
    report = json.loads(json_out.read_text(encoding="utf-8"))
    assert len(cases) == len(report["specs"]) > 0


def test_python_dash_m_version():
    proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("gradcheck ")


def test_quiet_prints_the_summary_line(at_root):
    result = invoke_cli("run", "specs/mlp.yaml", "-q")
    assert result.exit_code == 0, result.output
    assert SUMMARY.match(lines(result.output)[-1]), result.output
    assert "┃" not in result.output


def test_quiet_gives_one_line_per_spec_not_passed(at_root, write_spec):
    invalid = write_spec(BAD_OUT)
    result = invoke_cli("run", "specs/mlp.yaml", "specs/broken/bias_mean.yaml", invalid, "-q")
    assert result.exit_code == 2, result.output
    assert lines(result.output)[:2] == [
        "specs/broken/bias_mean.yaml: failed: layer 0 b off; suspect layer 0",
        f"{invalid}:5: layers[0].out: expected a positive integer, got 'three'",
    ]


def test_no_custom_refuses_custom_layers(at_root):
    result = invoke_cli("run", "specs/custom", "--no-custom")
    assert result.exit_code == 2, result.output
    assert "Swish" in result.output and "LayerNorm" in result.output
    assert "--no-custom" in result.output
