"""Custom losses: `loss: {type: ./losses.py:softmax_loss}` (cs231n's `loss(x, y) -> (loss, dx)`) or a
class with forward(y, targets) and backward(). The losses of tests/data/losses pass from specs alone,
with the loss's own dx as a row of the table; the planted bugs of tests/data/losses_bugs are caught
and located at the loss, not at a layer."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from conftest import ROOT, lines
from gradcheck_cli import assert_gradients, check_layer, check_spec

LOSSES = ROOT / "tests" / "data" / "losses"
BUGS = ROOT / "tests" / "data" / "losses_bugs"
CS231N = ROOT / "tests" / "data" / "cs231n"

# spec -> (the number of layers, the loss's type as written)
SPECS = {
    "softmax.yaml": (3, "./losses.py:softmax_loss"),
    "svm.yaml": (1, "./losses.py:svm_loss"),
    "temporal.yaml": (1, "./losses.py:temporal_softmax_loss"),
    "hinge.yaml": (2, "./losses.py:Hinge"),
}


def loss_rows(spec: dict) -> list[dict]:
    return [c for c in spec["checks"] if c["node"] == "loss"]


@pytest.fixture
def losses_module():
    """tests/data/losses/losses.py, imported as a module of the test (the Python API's view)."""
    import importlib.util
    found = importlib.util.spec_from_file_location("custom_losses_under_test", LOSSES / "losses.py")
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


# --- correct losses pass, with a row of their own ------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_correct_custom_loss_passes_with_its_own_row_last(run_json, name):
    layers, loss_type = SPECS[name]
    result, report = run_json(LOSSES / name)
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed", spec["error"] or result.output
    assert result.exit_code == 0
    (row,) = loss_rows(spec)
    assert spec["checks"][-1] == row
    assert (row["layer"], row["type"], row["tensor"], row["outcome"]) == (layers, loss_type, "input", "passed")
    assert row["checked"] == row["elements"] > 0
    assert {c["layer"] for c in spec["checks"][:-1]} == set(range(layers))   # every layer's rows as well


def test_the_loss_row_is_in_the_table(invoke):
    result = invoke("run", LOSSES / "softmax.yaml")
    (row,) = [line for line in lines(result.output) if "softmax_loss" in line]
    assert row.split("│")[1:4] == ["     3 ", " softmax_loss ", " input  "]


def test_built_in_losses_get_no_row(run_json):
    """They are correct by construction: reports of built-in losses stay as they were."""
    _, report = run_json(ROOT / "specs" / "mlp.yaml")
    (spec,) = report["specs"]
    assert not loss_rows(spec) and all(c["layer"] < 3 for c in spec["checks"])


@pytest.mark.parametrize("name", ["mse", "cross_entropy", "bce_with_logits", "dot"])
def test_built_in_losses_pass_the_check_custom_losses_get(name):
    """What 'correct by construction' rests on (beside the hand calculations of test_layers.py)."""
    from gradcheck_cli.check.loss_check import check_loss, loss_precision
    from gradcheck_cli.model.registry import LOSSES as BUILT_IN

    loss = BUILT_IN[name].load()()
    loss.prepare((5, 4), np.random.default_rng(0))
    y = np.random.default_rng(1).standard_normal((5, 4))
    check = check_loss(loss, y, 2, loss_precision(None, None, None))
    assert check.passed and check.checked == 20 and check.max_rel_error < 1e-6


# --- planted bugs: caught, and located at the loss -----------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_planted_bug_in_a_loss_is_caught_and_located_at_the_loss(run_json, name):
    layers, loss_type = SPECS[name]
    result, report = run_json(BUGS / name)
    (spec,) = report["specs"]
    assert spec["outcome"] == "failed" and result.exit_code == 1
    (row,) = loss_rows(spec)
    assert row["outcome"] == "failed"
    # the wrong dx flows down: the network's rows before the loss look wrong too
    assert any(c["outcome"] == "failed" for c in spec["checks"] if c["node"] is None)
    assert spec["suspect_layer"] == layers
    alone = {(entry["layer"], entry["node"]): entry["outcome"] for entry in spec["layers"]}
    assert alone == {**{(k, None): "passed" for k in range(layers)}, (layers, "loss"): "failed"}
    correct = f"layer{'s' if layers > 1 else ''} {', '.join(map(str, range(layers)))} correct"
    assert f"  → loss ({loss_type}): backward wrong for input; {correct}" in lines(result.output)


def test_the_suspect_is_the_loss_in_every_report(tmp_path, invoke):
    out = tmp_path / "r.xml"
    result = invoke("run", BUGS / "softmax.yaml", "-q", "--junit-xml", out)
    assert lines(result.output)[0].endswith("loss input off; suspect loss")
    junit = out.read_text(encoding="utf-8")
    assert "loss (./losses.py:softmax_loss) input" in junit
    assert "suspect: loss (./losses.py:softmax_loss): backward wrong for input; layers 0, 1, 2 correct" in junit
    from gradcheck_cli.pytest_plugin import failure_text
    _, message = failure_text(check_spec(str(BUGS / "softmax.yaml")))
    assert message == "8 tensors off; suspect loss (./losses.py:softmax_loss) input"


def test_a_bug_in_a_layer_is_located_at_the_layer_and_the_loss_is_correct(write_spec, run_json):
    path = write_spec(f"""
        seed: 0
        input: [4, 4]
        layers:
          - {{type: {CS231N / 'layers.py'}:affine, params: {{w: [4, 4], b: [4]}}}}
          - {{type: {ROOT / 'tests/data/cs231n_bugs/layers.py'}:affine, params: {{w: [4, 3], b: [3]}}}}
        loss: {{type: {LOSSES / 'losses.py'}:softmax_loss}}
        """)
    result, report = run_json(path)
    (spec,) = report["specs"]
    assert spec["suspect_layer"] == 1
    assert loss_rows(spec)[0]["outcome"] == "passed"
    (line,) = [line.strip() for line in lines(result.output) if line.strip().startswith("→")]
    assert line.endswith(": backward wrong for w; layer 0 and the loss correct")


def test_a_bug_in_both_a_layer_and_the_loss_blames_the_loss_first(write_spec, run_json):
    path = write_spec(f"""
        seed: 0
        input: [4, 4]
        layers:
          - {{type: {ROOT / 'tests/data/cs231n_bugs/layers.py'}:affine, params: {{w: [4, 4], b: [4]}}}}
        loss: {{type: {BUGS / 'losses.py'}:softmax_loss}}
        """)
    result, report = run_json(path)
    (spec,) = report["specs"]
    assert spec["suspect_layer"] == 1
    (line,) = [line.strip() for line in lines(result.output) if line.strip().startswith("→")]
    assert line.startswith(f"→ loss ({BUGS / 'losses.py'}:softmax_loss): backward wrong for input; layer 0 (")
    assert line.endswith(": backward wrong for w")


# --- targets and args ------------------------------------------------------------------------------

class Recorder:
    """A loss class that keeps what it is given: L = sum(y²) / 2, dL/dy = y."""

    def __init__(self):
        self.seen = []

    def forward(self, y, targets):
        self.seen.append((y.dtype, targets.copy()))
        self.y = y
        targets[...] = 0           # the next call gets the drawn targets all the same
        return 0.5 * float(np.sum(y * y))

    def backward(self):
        return self.y.copy()


@pytest.mark.parametrize("targets, shape, expected", [
    (None, (6, 5), "classes"), ("classes", (6, 5), "classes"), ("classes", (2, 3, 4), "classes"),
    ("classes", (60, 3), "classes"),
    ("binary", (6, 5), "binary"), ("values", (6, 5), "values"),
])
def test_targets_are_drawn_from_the_seed_as_the_spec_says(targets, shape, expected):
    recorder = Recorder()
    loss = {"type": recorder} if targets is None else {"type": recorder, "targets": targets}
    result = check_layer("tanh", input_shape=shape, loss=loss)
    assert result.passed, result
    drawn = recorder.seen[0][1]
    assert all(np.array_equal(t, drawn) for _, t in recorder.seen)      # drawn once, a fresh copy each call
    if expected == "classes":
        assert drawn.shape == shape[:-1] and drawn.dtype.kind == "i"
        assert drawn.min() >= 0 and drawn.max() < shape[-1] and len(np.unique(drawn)) > 1
        if drawn.size >= 20 * shape[-1]:
            assert set(np.unique(drawn)) == set(range(shape[-1]))               # every class, the last too
    elif expected == "binary":
        assert drawn.shape == shape and set(np.unique(drawn)) == {0.0, 1.0}
    else:
        assert drawn.shape == shape and drawn.dtype == np.float64 and 0.3 < drawn.std() < 3.0
    other = Recorder()
    check_layer("tanh", input_shape=shape, loss={**loss, "type": other}, seed=1)
    assert not np.array_equal(other.seen[0][1], drawn)                   # another seed, other targets


def test_the_loss_gets_a_float64_copy_of_a_float32_output():
    recorder = Recorder()
    result = check_layer("tanh", input_shape=(4, 3), loss=recorder, dtype="float32")
    assert result.passed, result
    assert {dtype for dtype, _ in recorder.seen} == {np.dtype(np.float64)}


def test_args_are_given_by_name_and_a_fresh_copy_every_call():
    calls = []

    def weighted_loss(x, y, weights, config, names):
        calls.append((type(weights), type(names)))
        assert config == {"scale": 2.0, "sizes": [1, 2]}, config      # a call before did write into it
        config["scale"] = 0.0
        scale = 2.0 * weights[None, :]
        return float(np.sum(scale * x * x)) / 2, scale * x

    result = check_layer("tanh", input_shape=(4, 3), loss={"type": weighted_loss, "args": {
        "weights": [1.0, 2.0, 3.0], "config": {"scale": 2.0, "sizes": [1, 2]}, "names": ["a", "b"]}})
    assert result.passed, result.error
    assert set(calls) == {(np.ndarray, list)}      # a list of numbers arrives as an array, others as written


def test_a_temporal_loss_with_a_mask_in_args_from_python(losses_module):
    mask = np.array([[True, True, False], [True, False, False]])
    result = check_layer({"type": "linear", "out": 5}, input_shape=(2, 3, 4),
                         loss={"type": losses_module.temporal_softmax_loss, "args": {"mask": mask}})
    assert result.passed, result.error
    assert result.checks[-1].node == "loss" and result.checks[-1].shape == (2, 3, 5)


# --- float32 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPECS))
def test_float32_specs_pass_and_a_planted_bug_is_still_located(write_spec, name):
    layers, _ = SPECS[name]
    for folder, outcome in ((LOSSES, "passed"), (BUGS, "failed")):
        text = (folder / name).read_text(encoding="utf-8").replace("./losses.py", str(folder / "losses.py"))
        result = check_spec(str(write_spec("dtype: float32\n" + text, name=f"{folder.name}_{name}")))
        assert result.outcome == outcome, result
        assert result.checks[-1].node == "loss"
        assert result.checks[-1].max_rel_error < (1e-6 if outcome == "passed" else np.inf)
        assert result.suspect_layer == (None if outcome == "passed" else layers)


# --- the Python API -------------------------------------------------------------------------------

def test_check_layer_takes_a_loss_function(losses_module):
    result = check_layer({"type": "linear", "out": 4}, input_shape=(5, 3), loss=losses_module.svm_loss)
    assert result.passed, result.error
    assert [(c.layer, c.type, c.tensor, c.node) for c in result.checks][-1] == (1, "svm_loss", "input", "loss")


def test_check_layer_takes_a_loss_class_or_object(losses_module):
    for loss in (losses_module.Hinge, losses_module.Hinge()):
        result = check_layer("tanh", input_shape=(4, 3), loss={"type": loss, "targets": "binary"})
        assert result.passed, result.error
        assert result.checks[-1].type == "Hinge"


def test_a_wrong_loss_from_python_is_located_and_reported(losses_module):
    def softmax_loss(x, y):
        loss, dx = losses_module.softmax_loss(x, y)
        return loss, dx * len(x)                    # dx not divided by N

    result = check_layer([{"type": "linear", "out": 4}], input_shape=(5, 3), loss=softmax_loss)
    assert result.outcome == "failed" and result.suspect_layer == 1
    assert "→ loss (softmax_loss): backward wrong for input; layer 0 correct" in str(result)
    with pytest.raises(AssertionError, match=r"loss \(softmax_loss\): backward wrong for input"):
        assert_gradients({"type": "linear", "out": 4}, input_shape=(5, 3), loss=softmax_loss)


def test_check_spec_takes_a_mapping_with_a_loss_function(losses_module):
    result = check_spec({"input": (5, 3), "layers": [{"type": "linear", "out": 4}],
                         "loss": {"type": losses_module.softmax_loss, "targets": "classes"}})
    assert result.passed and result.checks[-1].node == "loss"


def test_a_mappings_loss_path_is_resolved_against_base():
    result = check_spec({"input": [5, 3], "layers": [{"type": "linear", "out": 4}],
                         "loss": "./losses.py:softmax_loss"}, base=LOSSES)
    assert result.passed and result.checks[-1].type == "./losses.py:softmax_loss"


# --- the engine: modes, threads ---------------------------------------------------------------------

@pytest.mark.parametrize("mode, field, count", [("sample", "checked", 5), ("fast", "directions", 4)])
def test_the_loss_row_is_checked_in_the_runs_mode(run_json, mode, field, count):
    _, report = run_json(LOSSES / "softmax.yaml", "--mode", mode, "--samples", "5")
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed"
    assert loss_rows(spec)[0][field] == count


class Exclusive:
    """A loss class that fails when two calls overlap (it keeps what forward saw for backward)."""

    def __init__(self):
        self.inside = 0

    def forward(self, y, targets):
        self.inside += 1
        try:
            if self.inside > 1:
                raise RuntimeError("called from two threads at once")
            time.sleep(0)          # let another thread in, if one could come
            self.y = y
            return 0.5 * float(np.sum(y * y))
        finally:
            self.inside -= 1

    def backward(self):
        return self.y.copy()


def test_a_custom_loss_is_called_from_one_thread_at_a_time(monkeypatch):
    """Built-in layers let the engine run chunks on several threads; the loss is not theirs to share."""
    import sys
    from gradcheck_cli.check import numeric
    monkeypatch.setattr(numeric.os, "cpu_count", lambda: 8)      # threads, on any machine
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)                                   # and switches between them, often
    try:
        result = check_layer([{"type": "linear", "out": 16}, "tanh"], input_shape=(64, 32), loss=Exclusive())
    finally:
        sys.setswitchinterval(interval)
    assert result.passed, result.error


def test_the_json_report_names_the_loss_node(run_json, tmp_path):
    _, report = run_json(BUGS / "svm.yaml")
    (spec,) = report["specs"]
    assert [entry["node"] for entry in spec["layers"]] == [None, "loss"]
    assert json.loads(json.dumps(spec["layers"][1]["checks"][0])) == loss_rows(spec)[0]


# --- the schema ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss, tool_accepts", [
    ("./losses.py:softmax_loss", True), ("{type: ./losses.py:Hinge, targets: binary}", True),
    ("{type: ./losses.py:temporal_softmax_loss, args: {mask: [[true, false, true]]}}", True),
    ("{type: ./losses.py:softmax_loss, targets: labels}", False), ("{type: ./losses.py:softmax_loss, mask: 1}", False),
    ("{type: mse, targets: values}", False), ("{type: ./losses.py:softmax_loss, args: [1]}", False),
])
def test_schema_and_validator_agree_on_custom_losses(write_spec, loss, tool_accepts):
    import shutil

    import yaml
    jsonschema = pytest.importorskip("jsonschema")
    from conftest import invoke_cli
    validator = jsonschema.Draft202012Validator(json.loads(invoke_cli("schema").stdout))
    shape = "[1, 3, 2]" if "temporal" in loss else "[1, 3]"      # its mask is (N, T)
    text = f"input: {shape}\nlayers: [{{type: linear, out: 4}}]\nloss: {loss}\n"
    path = write_spec(text)
    shutil.copy(LOSSES / "losses.py", path.parent / "losses.py")
    assert validator.is_valid(yaml.safe_load(text)) == tool_accepts
    assert (invoke_cli("validate", path).exit_code == 0) == tool_accepts
    for spec in sorted(LOSSES.glob("*.yaml")) + sorted(BUGS.glob("*.yaml")):
        assert validator.is_valid(yaml.safe_load(spec.read_text(encoding="utf-8"))), spec


def test_the_readme_example_passes(tmp_path):
    """The README's losses.py, with the first two `loss:` lines of its spec example."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Custom losses", 1)[1].split("\n## ", 1)[0]
    (tmp_path / "losses.py").write_text(section.split("```python\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    spec_lines = section.split("```yaml\n", 1)[1].split("```", 1)[0].splitlines()
    for i, loss in enumerate(spec_lines[:2]):
        (tmp_path / f"{i}.yaml").write_text(f"input: [5, 3]\nlayers: [{{type: linear, out: 4}}]\n{loss}\n",
                                            encoding="utf-8")
        result = check_spec(str(tmp_path / f"{i}.yaml"))
        assert result.passed, result
        assert result.checks[-1].node == "loss" and result.checks[-1].type in loss
