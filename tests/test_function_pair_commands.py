"""The commands around function pairs: `gradcheck init --style function|class` and the schema's
`params` and `args`."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from conftest import ROOT, invoke_cli

CS231N = ROOT / "tests" / "data" / "cs231n"


@pytest.mark.parametrize("style, layer_text", [
    ("function", "def affine_forward(x, w, b):"),
    ("class", "class Swish:"),
    (None, "class Swish:"),       # the default
])
def test_init_writes_a_passing_starter_in_the_style_asked(tmp_path, style, layer_text):
    target = tmp_path / "starter"
    result = invoke_cli("init", target, *(["--style", style] if style else []))
    assert result.exit_code == 0, result.output
    assert layer_text in (target / "example_layers.py").read_text(encoding="utf-8")
    spec = target / "example.gradcheck.yaml"
    _, report = run_report(tmp_path, spec)
    (checked,) = report["specs"]
    assert checked["outcome"] == "passed", checked["error"]
    if style == "function":  # every array of params is checked
        assert [(c["layer"], c["tensor"]) for c in checked["checks"]][:4] == [(0, "input"), (0, "w"), (0, "b"),
                                                                               (1, "input")]


def run_report(tmp_path, spec):
    report = tmp_path / "report.json"
    result = invoke_cli("run", spec, "--json", report)
    assert result.exit_code == 0, result.output
    return result, json.loads(report.read_text(encoding="utf-8"))


def test_init_in_another_style_never_overwrites(tmp_path):
    assert invoke_cli("init", tmp_path, "--style", "class").exit_code == 0
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    again = invoke_cli("init", tmp_path, "--style", "function")
    assert again.exit_code == 2
    assert "already exists; gradcheck init never overwrites files" in again.output
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_init_refuses_an_unknown_style(tmp_path):
    result = invoke_cli("init", tmp_path / "x", "--style", "functions")
    assert result.exit_code == 2
    assert "Invalid value for --style: expected function or class, got 'functions'" in result.output
    assert not (tmp_path / "x").exists()


@pytest.fixture
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(invoke_cli("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_the_cs231n_specs(validator):
    specs = sorted(CS231N.glob("*.yaml")) + sorted((ROOT / "tests" / "data" / "cs231n_bugs").glob("*.yaml"))
    assert len(specs) > 10
    for path in specs:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert not errors, (path, errors)


@pytest.mark.parametrize("params, accepted", [
    ("{w: [6, 5], b: [5]}", True),
    ("{w: {shape: [6, 5], init: normal, scale: 1e-2}, b: {shape: [5], init: zeros}}", True),
    ("{w: [6, 0], b: [5]}", False),
    ("{w: [6, 5], b: {shape: [5], init: uniform}}", False),
    ("{w: [6, 5], b: {shape: [5], scale: 0}}", False),
    ("{w: [6, 5], b: {shape: [5], sacle: 2}}", False),
    ("{w: [6, 5], b: []}", False),
    ("[6, 5]", False),
])
def test_schema_and_validator_agree_on_params(tmp_path, validator, params, accepted):
    shutil.copy(CS231N / "layers.py", tmp_path / "layers.py")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"input: [3, 2, 3]\nlayers:\n  - {{type: ./layers.py:affine, params: {params}}}\n",
                    encoding="utf-8")
    assert validator.is_valid(yaml.safe_load(spec.read_text(encoding="utf-8"))) == accepted
    result = invoke_cli("validate", spec)
    assert (result.exit_code == 0) == accepted, result.output


def test_schema_describes_params_and_args():
    schema = json.loads(invoke_cli("schema").stdout)
    (custom,) = [form for form in schema["$defs"]["layer"]["anyOf"]
                 if form.get("type") == "object" and "pattern" in form.get("properties", {}).get("type", {})]
    assert "function pairs" in custom["properties"]["params"]["description"]
    assert "fresh copy" in custom["properties"]["args"]["description"]


def test_the_readme_example_of_function_pairs_passes(tmp_path):
    """The README's layers.py and spec.yaml, as written there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layers as you write them — function pairs", 1)[1].split("\n## ", 1)[0]
    python = section.split("```python\n", 1)[1].split("```", 1)[0]
    spec = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "layers.py").write_text(python, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(spec, encoding="utf-8")
    _, report = run_report(tmp_path, tmp_path / "spec.yaml")
    (checked,) = report["specs"]
    assert checked["outcome"] == "passed", checked["error"]
    assert [(c["layer"], c["tensor"]) for c in checked["checks"]][:6] == [
        (0, "input"), (0, "w"), (0, "b"), (1, "input"), (1, "gamma"), (1, "beta")]
