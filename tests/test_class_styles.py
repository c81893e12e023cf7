"""Class layers as people write them (tests/data/styles/classes.py): weights as attributes,
parameters/gradients dicts, sublayers, forward_pass/backward_pass, checked from spec keys
alone, and never a silent pass: an array forward reads is a parameter with its gradient, a
declared constant, or an error."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import invoke_cli
from gradcheck_cli.model.network import build_network
from gradcheck_cli.spec.load import load_spec

STYLES = Path(__file__).parent / "data" / "styles"


@pytest.fixture
def spec_of(tmp_path, write_spec):
    """`spec_of("- {type: ./classes.py:Affine}")` -> a spec beside a copy of classes.py: that
    layer, then tanh and a linear layer, so that the layer's own gradients flow from a loss."""
    shutil.copy(STYLES / "classes.py", tmp_path / "classes.py")

    def write(layer: str, dtype: str = "float64", input: str = "[5, 3]", name: str = "spec.yaml") -> Path:
        return write_spec(f"seed: 3\ndtype: {dtype}\ninput: {input}\nlayers:\n  {layer}\n  - tanh\n"
                          "  - {type: linear, out: 2}\n", name=name)

    return write


def _rows(report, layer=0):
    """(tensor, outcome) of every check of `layer`, in the table's order."""
    return [(c["tensor"], c["outcome"]) for c in report["specs"][0]["checks"] if c["layer"] == layer]


@pytest.mark.parametrize("cls, rows, exit_code", [
    ("Affine", [("input", "passed"), ("W", "passed"), ("b", "passed")], 0),
    ("AffineDwBug", [("input", "passed"), ("W", "failed"), ("b", "passed")], 1),
    ("AffineDbBug", [("input", "passed"), ("W", "passed"), ("b", "failed")], 1),
])
def test_the_issues_affine_gets_its_verdict_with_w_and_b_rows(spec_of, run_json, cls, rows, exit_code):
    """Formerly a silent pass: only `input` rows, `passed`, exit 0, with dW wrong by 2."""
    result, report = run_json(str(spec_of(f"- {{type: ./classes.py:{cls}}}")))
    assert result.exit_code == exit_code, result.output
    assert _rows(report) == rows
    assert report["specs"][0]["notes"][0] == \
        f"layer 0 (./classes.py:{cls}): parameters found by name: W (gradient dW), b (gradient db)"
    if exit_code:
        assert report["specs"][0]["suspect_layer"] == 0


def test_what_forward_keeps_for_backward_is_no_parameter(spec_of, run_json):
    """self.x (assigned anew at every forward) beside self.dx is a cache with its gradient,
    not a parameter x."""
    result, report = run_json(str(spec_of("- {type: ./classes.py:KeepsDx}")))
    assert result.exit_code == 0, result.output
    assert [t for t, _ in _rows(report)] == ["input", "W", "b"]


def test_the_calibration_cases_of_the_attribute_style(run_json, tmp_path):
    """The public calibration cases (copied from ../shared/calibration-styles): the correct one
    passes with W and b rows, the planted bug fails on layer 0's W."""
    for name in ("styles.py", "ok_attr_dense.yaml", "bug_attr_dense.yaml"):
        shutil.copy(STYLES / name, tmp_path / name)
    result, report = run_json(str(tmp_path / "ok_attr_dense.yaml"), str(tmp_path / "bug_attr_dense.yaml"))
    ok, bug = report["specs"]
    assert ok["outcome"] == "passed" and [c["tensor"] for c in ok["checks"] if c["layer"] == 0] == ["input", "W", "b"]
    assert bug["outcome"] == "failed"
    assert [(c["layer"], c["tensor"]) for c in bug["checks"] if c["outcome"] == "failed"] == [(0, "W")]
    assert bug["suspect_layer"] == 0


def test_an_array_forward_reads_without_a_gradient_is_an_error_naming_it(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:Unpaired}")))
    assert result.exit_code == 1
    (spec,) = report["specs"]
    assert spec["outcome"] == "error" and spec["checks"] == []
    assert spec["error"] == (
        "layer 0 (./classes.py:Unpaired): forward reads self.W, but gradcheck found no gradient for it (looked for "
        "dW, d_W, dL_dW, grad_W, W_grad after backward): declare a parameter with the attribute backward stores its "
        "gradient in, weights: {W: GRADIENT}, or an array that is fixed (a mask, a positional table) as a constant, "
        "constants: [W]")


def test_validate_reports_an_unpaired_weight_too(spec_of):
    result = invoke_cli("validate", spec_of("- {type: ./classes.py:Unpaired}"))
    assert result.exit_code == 1
    assert "layer 0 (./classes.py:Unpaired): forward reads self.W, but gradcheck found no gradient" in result.output


def test_a_declared_pairing_is_checked(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:Unpaired, weights: {W: update_for_W}}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed")]
    assert [n for n in report["specs"][0]["notes"] if "found by name" in n] == []   # declared, not found by name


def test_a_declared_gradient_backward_never_sets_is_an_error(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:Unpaired, weights: {W: dW}}")))
    assert report["specs"][0]["error"] == \
        "layer 0 (./classes.py:Unpaired): backward did not set self.dW (the gradient of self.W)"


def test_a_declared_weight_the_layer_lacks_is_a_spec_error(spec_of):
    result = invoke_cli("validate", spec_of("- {type: ./classes.py:Unpaired, weights: {V: dV}}"))
    assert result.exit_code == 2
    assert result.output.splitlines()[0].endswith(
        "spec.yaml:5: layers[0]: weights: the layer has no V after build and forward")


def test_constants_declared_pass_and_an_array_nobody_reads_is_left_alone(spec_of, run_json):
    """Positional adds a fixed table (read, declared) and holds an array nobody reads."""
    result, report = run_json(str(spec_of("- {type: ./classes.py:Positional}")))
    assert report["specs"][0]["error"].startswith("layer 0 (./classes.py:Positional): forward reads self.table, but")
    assert report["specs"][0]["error"].endswith("constants: [table]")
    result, report = run_json(str(spec_of("- {type: ./classes.py:Positional, constants: [table]}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("gain", "passed")]


def test_sublayers_in_a_list_have_their_weights_found_and_named_by_place(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:TwoDense}")))
    assert result.exit_code == 0, result.output
    assert [t for t, _ in _rows(report)] == ["input", "layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    assert report["specs"][0]["notes"][0] == (
        "layer 0 (./classes.py:TwoDense): parameters found by name: layers.0.W (gradient layers[0].dW), "
        "layers.0.b (gradient layers[0].db), layers.1.W (gradient layers[1].dW), layers.1.b (gradient layers[1].db)")
    result, report = run_json(str(spec_of("- {type: ./classes.py:TwoDense, bug: true}")))
    assert [t for t, outcome in _rows(report) if outcome == "failed"] == ["layers.1.W"]


def test_parameters_and_gradients_dicts_accumulated_into(spec_of, run_json):
    """The gradients are added (+=) into arrays made once: gradcheck zeroes them before each
    backward, as a training loop does between batches."""
    result, report = run_json(str(spec_of("- {type: ./classes.py:DictStyle}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed"), ("b", "passed")]
    assert report["specs"][0]["notes"][0] == ("layer 0 (./classes.py:DictStyle): parameters found by name: "
                                              "W (gradient gradients['W']), b (gradient gradients['b'])")


def test_forward_pass_backward_pass_with_a_training_flag(spec_of, run_json):
    """ML-From-Scratch's style. In training mode the running statistics are not read (left
    alone); in the other mode they are, and must be declared constants."""
    result, report = run_json(str(spec_of("- {type: ./classes.py:BatchNormalization, call: {training: true}}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("gamma", "passed"), ("beta", "passed")]
    result, report = run_json(str(spec_of("- {type: ./classes.py:BatchNormalization, call: {training: false}}")))
    assert report["specs"][0]["error"].startswith(
        "layer 0 (./classes.py:BatchNormalization): forward reads self.running_mean, self.running_var, but gradcheck "
        "found no gradient for them")
    result, report = run_json(str(spec_of("- {type: ./classes.py:BatchNormalization, call: {training: false}, "
                                          "constants: [running_mean, running_var]}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("gamma", "passed"), ("beta", "passed")]


@pytest.mark.parametrize("cls", ["Affine", "DictStyle", "TwoDense"])
def test_float32_specs_reach_attribute_weights(spec_of, run_json, cls):
    """The float32 cast and the float64 twin replace the parameters by new arrays: the
    attributes must follow, or the perturbations would not reach forward."""
    result, report = run_json(str(spec_of(f"- {{type: ./classes.py:{cls}}}", dtype="float32")))
    assert result.exit_code == 0, result.output
    assert len(_rows(report)) >= 3 and all(outcome == "passed" for _, outcome in _rows(report))
    assert report["specs"][0]["dtype"] == "float32" and report["specs"][0]["tolerance"]["rtol"] == 1e-5
    # and the layer computes in float32, as the spec says: its own arrays were cast
    net = build_network(load_spec(str(spec_of(f"- {{type: ./classes.py:{cls}}}", dtype="float32", name="b.yaml"))))
    layer = net.stack.entries[0].layer
    assert {str(a.dtype) for a in layer.params.values()} == {"float32"}
    assert net.stack.entries[0].forward(net.x).dtype == "float32"


def test_methods_named_otherwise_and_gradients_declared(spec_of, run_json):
    layer = ("- {type: ./classes.py:Renamed, methods: {forward: run, backward: gradient}, "
             "weights: {W: update_for_W, b: update_for_b}}")
    result, report = run_json(str(spec_of(layer)))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed"), ("b", "passed")]


def test_weights_in_slots_are_found(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:Slotted}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed")]


def test_dunder_call_is_a_forward(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:Callable}")))
    assert result.exit_code == 0, result.output
    assert [t for t, _ in _rows(report)] == ["input", "W", "b"]


@pytest.mark.parametrize("layer, message", [
    ("{type: ./classes.py:Renamed, methods: {forward: fwd, backward: gradient}}",
     "layers[0]: ./classes.py:Renamed has no method 'fwd' (methods: {forward: fwd}); "
     "its methods: build, gradient, run"),
    ("{type: ./classes.py:Renamed}",
     "layers[0]: ./classes.py:Renamed has no forward method (looked for forward, forward_pass, __call__); "
     "name it with methods: {forward: NAME}"),
    ("{type: ./classes.py:BatchNormalization, call: {trainig: true}}",
     "layers[0]: call: ./classes.py:BatchNormalization.forward_pass takes no argument 'trainig' (did you mean "
     "'training'?); it takes: X, training"),
    ("{type: ./classes.py:BatchNormalization}",
     "layers[0]: ./classes.py:BatchNormalization.forward_pass needs training besides x; give it with "
     "call: {training: ...}"),
    ("{type: ./classes.py:WithInit, scale: 2.0, init: {scale: 3.0}}",
     "layers[0]: 'scale' is given twice, as a key of the entry and in init; give it once"),
    ("{type: ./classes.py:ArrayAffine, W: 1, params: {W: [3, 2], b: [2]}}",
     "layers[0]: 'W' is given twice, as a key of the entry and in params; give it once"),
    ("{type: ./classes.py:Affine, args: {k: 1}}",
     "layers[0]: args is for function pairs; ./classes.py:Affine is a class: give its constructor's arguments as "
     "keys of the entry (or in init)"),
    ("{type: ./classes.py:KeepsInputs, methods: {reset: clear}}",
     "layers[0]: ./classes.py:KeepsInputs has no method 'clear' (methods: {reset: clear}); its methods: backward, "
     "build, flush, forward"),
    ("{type: ./classes.py:Positional, weights: {gain: grad_gain}, constants: [gain]}",
     "layers[0]: gain is declared both in weights and in constants; a parameter or a constant, not both"),
])
def test_bad_declarations_are_spec_errors_at_their_line(spec_of, layer, message):
    result = invoke_cli("validate", spec_of(f"- {layer}"))
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0].endswith(f"spec.yaml:5: {message}")
    assert "Traceback" not in result.output


def test_init_gives_a_constructor_argument_with_a_reserved_name(spec_of, run_json):
    """WithInit(weights="ones", scale=0.5): `weights` is a reserved key, so it goes in init."""
    result, report = run_json(str(spec_of("- {type: ./classes.py:WithInit, scale: 0.5, init: {weights: ones}}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed"), ("b", "passed")]
    net = build_network(load_spec(str(spec_of("- {type: ./classes.py:WithInit, scale: 0.5, init: {weights: ones}}",
                                              name="again.yaml"))))
    assert (net.stack.entries[0].layer.inner.W == 0.5).all()


def test_a_constructor_that_takes_arrays_gets_them_drawn_by_shape(spec_of, run_json):
    """deep-learning-from-scratch's Affine(W, b): `params:` gives the arrays' shapes."""
    layer = "- {type: ./classes.py:ArrayAffine, params: {W: {shape: [3, 4], scale: 0.5}, b: {shape: [4], init: zeros}}}"
    result, report = run_json(str(spec_of(layer)))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed"), ("b", "passed")]
    net = build_network(load_spec(str(spec_of(layer, name="again.yaml"))))
    inner = net.stack.entries[0].layer.inner
    assert inner.W.shape == (3, 4) and not inner.b.any()
    unscaled = build_network(load_spec(str(spec_of(layer.replace("scale: 0.5", "scale: 1"), name="third.yaml"))))
    assert (0.5 * unscaled.stack.entries[0].layer.inner.W == inner.W).all()     # the same draw, from the seed, scaled


def test_a_layer_that_keeps_every_input_until_flushed_gets_reset_before_each_forward(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:KeepsInputs}")))
    assert report["specs"][0]["error"] == \
        "layer 0 (./classes.py:KeepsInputs): backward returned list, expected dL/dx as a numpy array"
    result, report = run_json(str(spec_of("- {type: ./classes.py:KeepsInputs, methods: {reset: flush}}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed")]


@pytest.mark.parametrize("cls, verb", [("Updates", "changed the values of"), ("Replaces", "replaced")])
def test_a_backward_that_updates_the_weights_is_an_error(spec_of, run_json, cls, verb):
    result, report = run_json(str(spec_of(f"- {{type: ./classes.py:{cls}}}")))
    assert report["specs"][0]["error"] == (
        f"layer 0 (./classes.py:{cls}): backward {verb} self.W (an update step, like W -= lr * dW?); gradcheck "
        "checks gradients at fixed weights: backward must leave them as they are and store their gradients")


def test_a_contract_layer_with_a_weight_beside_params_has_it_checked(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:ContractPlusAttribute}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed"), ("gain", "passed")]
    assert report["specs"][0]["notes"][0] == \
        "layer 0 (./classes.py:ContractPlusAttribute): parameters found by name: gain (gradient dgain)"


def test_a_contract_layer_reading_an_undeclared_array_is_an_error(spec_of, run_json):
    result, report = run_json(str(spec_of("- {type: ./classes.py:ContractPlusMask}")))
    assert report["specs"][0]["error"].startswith(
        "layer 0 (./classes.py:ContractPlusMask): forward reads self.mask, but gradcheck found no gradient for it")
    result, report = run_json(str(spec_of("- {type: ./classes.py:ContractPlusMask, constants: [mask]}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed")]


# --- the reserved keys in `gradcheck schema` ----------------------------------------------------


def test_schema_describes_the_reserved_keys_of_a_custom_layer():
    import json

    from gradcheck_cli.spec.custom_keys import RESERVED
    schema = json.loads(invoke_cli("schema").stdout)
    (custom,) = [form for form in schema["$defs"]["layer"]["anyOf"]
                 if isinstance(form, dict) and "weights" in form.get("properties", {})]
    assert set(custom["properties"]) == {"type", *RESERVED}
    assert all(custom["properties"][key]["description"] for key in RESERVED)
    assert custom["additionalProperties"] is True          # constructor options stay free


@pytest.mark.parametrize("entry, valid", [
    ("{type: ./a.py:X, out: 3, weights: {W: dW, layers.0.W: layers.0.gW}, constants: [mask], "
     "methods: {forward: run}, call: {training: true}, init: {weights: ones}}", True),
    ("{type: ./a.py:x, params: {w: [4, 3], b: {shape: [3], init: zeros}}, args: {conv_param: {stride: 1}}}", True),
    ("{type: ./a.py:X, methods: {fwd: run}}", False),
    ("{type: ./a.py:X, constants: mask}", False),
    ("{type: ./a.py:X, weights: {W: 3}}", False),
    ("{type: ./a.py:X, call: [training]}", False),
    ("{type: ./a.py:x, params: {w: {shape: [4], init: uniform}}}", False),
])
def test_schema_and_validator_agree_on_the_reserved_keys(write_spec, entry, valid):
    """An editor must not flag what gradcheck takes, nor take what it refuses."""
    import json

    import yaml

    from gradcheck_cli.errors import SpecError
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(invoke_cli("schema").stdout))
    text = f"input: [2, 3]\nlayers:\n  - {entry}\n"
    assert validator.is_valid(yaml.safe_load(text)) == valid
    try:
        load_spec(str(write_spec(text)))
        loaded = True
    except SpecError:
        loaded = False
    assert loaded == valid
