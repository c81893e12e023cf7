"""The Python API (gradcheck_cli.check_layer, check_function, check_spec, assert_gradients), called as a
user's test suite calls it: on classes defined right here, never imported by name."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import re

import pytest

import gradcheck_cli
from gradcheck_cli import SpecError, SpecResult, TensorCheck, assert_gradients, check_function, check_layer, check_spec

from conftest import SPECS



class Affine:
    """The contract: weights in a params dict, gradients in a grads dict. `w_factor` plants a bug."""

    def __init__(self, out=2, w_factor=1.0):
        self.out, self.w_factor = out, w_factor
        self.params, self.grads = {}, {}
        self.inputs_seen = []

    def build(self, input_shape, rng):
        self.params["W"] = rng.standard_normal((input_shape[-1], self.out))
        self.params["b"] = rng.standard_normal(self.out)

    def forward(self, x):
        self.inputs_seen.append(x.copy())
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_out):
        self.grads["W"] = self.w_factor * self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0)
        return grad_out @ self.params["W"].T


class Prebuilt:
    """Weights made in the constructor (no build), kept as an alias of params too: self.W."""

    def __init__(self):
        self.W = np.arange(6, dtype=np.float64).reshape(3, 2) / 7
        self.params, self.grads = {"W": self.W}, {}

    def forward(self, x):
        self.x = x
        return np.tanh(x @ self.W)

    def backward(self, grad_out):
        g = grad_out * (1 - np.tanh(self.x @ self.W) ** 2)
        self.grads["W"] = self.x.T @ g
        return g @ self.W.T


def _tensors(result: SpecResult) -> list[tuple[int, str, str]]:
    return [(c.layer, c.type, c.tensor, c.outcome) for c in result.checks]


def test_a_correct_layer_passes_with_a_row_per_tensor():
    result = check_layer(Affine(), input_shape=(4, 3))
    assert result.passed and result.outcome == "passed"
    assert _tensors(result) == [(0, "Affine", "input", "passed"), (0, "Affine", "W", "passed"),
                                (0, "Affine", "b", "passed")]
    assert all(isinstance(c, TensorCheck) for c in result.checks)
    assert result.checks[1].shape == (3, 2) and result.checks[1].elements == 6 == result.checks[1].checked
    assert result.suspect_layer is None and result.warnings == []


def test_a_wrong_weight_gradient_fails_and_names_the_tensor():
    result = check_layer(Affine(w_factor=2.0), input_shape=(4, 3))
    assert not result.passed and result.outcome == "failed"
    assert _tensors(result) == [(0, "Affine", "input", "passed"), (0, "Affine", "W", "failed"),
                                (0, "Affine", "b", "passed")]
    assert result.suspect_layer == 0


def test_a_stack_mixes_objects_classes_built_in_names_and_entries():
    result = check_layer([{"type": "linear", "out": 3}, "tanh", Affine(w_factor=0.5), Affine], input_shape=(5, 4))
    assert result.outcome == "failed"
    assert [(c.layer, c.type) for c in result.checks if c.tensor == "input"] == [
        (0, "linear"), (1, "tanh"), (2, "Affine"), (3, "Affine")]
    assert [(c.layer, c.tensor) for c in result.checks if not c.passed][-1] == (2, "W")
    assert result.suspect_layer == 2
    assert result.name == "linear, tanh, Affine, Affine"
    assert check_layer([{"type": "linear", "out": 3}, "tanh", Affine(), Affine], input_shape=(5, 4)).passed


def test_a_class_defined_in_a_test_function_works():
    class Scale:  # local: no module could import it by name
        def __init__(self, factor=3.0):
            self.factor = factor

        def forward(self, x):
            return self.factor * x

        def backward(self, grad_out):
            return grad_out  # wrong: forgets the factor

    assert check_layer({"type": Scale, "factor": 2.0}, input_shape=(2, 3)).outcome == "failed"
    assert check_layer(Scale(factor=1.0), input_shape=(2, 3)).passed


def test_x_given_is_the_input_the_layer_sees_and_is_left_untouched():
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    before = x.copy()
    layer = Affine()
    result = check_layer(layer, x)
    assert result.passed and result.checks[0].shape == (4, 3)
    assert np.array_equal(layer.inputs_seen[0], x)  # the first forward, while the network is built
    assert np.array_equal(x, before) and x.flags.writeable


def test_input_shape_draws_the_input_from_the_seed():
    def first_input(seed):
        layer = Affine()
        check_layer(layer, input_shape=(4, 3), seed=seed)
        return layer.inputs_seen[0]

    assert first_input(0).shape == (4, 3)
    assert np.array_equal(first_input(0), first_input(0))
    assert not np.array_equal(first_input(0), first_input(1))


def test_float32():
    layer = Prebuilt()
    for dtype in ("float32", np.float32):
        result = check_layer(layer, input_shape=(4, 3), dtype=dtype)
        assert result.passed and result.dtype == "float32"
    assert check_layer(Affine(w_factor=1.01), input_shape=(4, 3), dtype="float32").outcome == "failed"


def test_the_callers_object_keeps_its_arrays_after_the_check():
    layer = Prebuilt()
    weights, values = layer.W, layer.W.copy()
    check_layer(layer, input_shape=(4, 3), dtype="float32")  # the check casts params to float32 copies
    assert layer.W is weights and layer.params["W"] is weights
    assert layer.W.dtype == np.float64 and np.array_equal(layer.W, values)

    built = Affine()
    built.build((4, 3), np.random.default_rng(42))
    own = dict(built.params)
    own_values = {name: value.copy() for name, value in own.items()}
    check_layer(built, input_shape=(4, 3))  # build is called again, with the seed's generator
    assert all(built.params[name] is own[name] for name in own)
    assert all(np.array_equal(built.params[name], own_values[name]) for name in own)


def test_a_layer_that_builds_into_its_own_arrays_gets_their_values_back():
    class FillsInPlace(Prebuilt):
        def build(self, input_shape, rng):
            self.W[...] = rng.standard_normal(self.W.shape)  # writes into the caller's array

    layer = FillsInPlace()
    values = layer.W.copy()
    assert check_layer(layer, input_shape=(4, 3)).passed
    assert np.array_equal(layer.W, values) and layer.params["W"] is layer.W


def test_numpys_global_random_stream_goes_on_where_it_was():
    class Noisy(Affine):
        def forward(self, x):
            np.random.standard_normal()
            return super().forward(x)

    np.random.seed(7)
    expected = np.random.random_sample()
    np.random.seed(7)
    check_layer(Noisy(), input_shape=(4, 3))
    assert np.random.random_sample() == expected


def test_sample_mode_compares_that_many_scalars_per_tensor():
    result = check_layer(Affine(out=30), input_shape=(20, 10), mode="sample", samples=5)
    assert result.passed and result.mode == "sample"
    assert [(c.tensor, c.checked, c.elements) for c in result.checks] == [("input", 5, 200), ("W", 5, 300),
                                                                          ("b", 5, 30)]
    fast = check_layer(Affine(), input_shape=(4, 3), mode="fast", directions=3)
    assert fast.mode == "fast" and all(c.directions == 3 for c in fast.checks)


def test_tolerances_and_loss_are_passed_on():
    result = check_layer(Affine(w_factor=1.001), input_shape=(4, 3), rtol=1e-2, atol=1e-3, loss="dot")
    assert result.passed and (result.rtol, result.atol) == (1e-2, 1e-3)
    assert check_layer(Affine(w_factor=1.001), input_shape=(4, 3), loss={"type": "dot"}).outcome == "failed"


def test_a_layer_that_raises_is_an_error_outcome_not_an_exception():
    class Boom(Affine):
        def backward(self, grad_out):
            raise ValueError("no <gradient> here")

    result = check_layer(Boom(), input_shape=(4, 3))
    assert result.outcome == "error" and result.checks == []
    raised_at = re.escape(f"{Path(__file__).name}:{Boom.backward.__code__.co_firstlineno + 1}")
    assert re.fullmatch(rf"layer 0 \(Boom\): \S*{raised_at}: backward raised ValueError: no <gradient> here",
                        result.error)
    assert f"error: {result.error}" in str(result)
    assert "no &lt;gradient&gt; here" in result._repr_html_() and "<gradient>" not in result._repr_html_()
    with pytest.raises(AssertionError, match="backward raised ValueError"):
        assert_gradients(Boom(), input_shape=(4, 3))


def test_assert_gradients_raises_the_plain_text_report_of_what_failed():
    assert assert_gradients(Affine(), input_shape=(4, 3)).passed  # returns the result when it passes
    with pytest.raises(AssertionError) as failure:
        assert_gradients([Affine(w_factor=2.0), "tanh"], input_shape=(4, 3))
    message = str(failure.value)
    assert message.startswith("check_layer  Affine, tanh  float64  failed")
    assert "│     0 │ Affine │ W      │ 3×2   │" in message and "FAILED" in message
    assert "layer 0 (Affine) W: 6 of 6 elements off; worst" in message
    assert "→ layer 0 (Affine): backward wrong for W; layer 1 correct" in message
    assert "\x1b" not in message


def test_str_is_the_terminal_report_without_color_whatever_the_environment(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "40")
    text = str(check_layer(Affine(w_factor=2.0), input_shape=(4, 3)))
    assert "\x1b" not in text and "[bold" not in text and "[red" not in text
    lines = text.splitlines()
    assert lines[0].startswith("check_layer  Affine  float64  failed  (")
    assert lines[2] == "┃ layer ┃ type   ┃ tensor ┃ shape ┃ max abs err ┃ max rel err ┃ status ┃"
    assert [line for line in lines if line.startswith("  Taylor test:")]


def test_the_html_view_is_a_table_with_the_verdict_in_color():
    html = check_layer([Affine(w_factor=2.0), "tanh"], input_shape=(4, 3))._repr_html_()
    assert html.count("<tr>") == 1 + 4  # the header and a row per tensor
    assert "<th" in html and ">max rel err</th>" in html
    assert 'color:#cf222e;font-weight:bold;">failed</span>' in html
    assert 'color:#cf222e;font-weight:bold;">FAILED</span>' in html
    assert "→ layer 0 (Affine): backward wrong for W; layer 1 correct" in html
    assert "layer 0 (Affine) W: 6 of 6 elements off" in html
    passed = check_layer(Affine(), input_shape=(4, 3))._repr_html_()
    assert 'color:#1a7f37;font-weight:bold;">passed</span>' in passed and "FAILED" not in passed


def test_rich_renders_the_report_in_color():
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=120)
    console.print(check_layer(Affine(w_factor=2.0), input_shape=(4, 3)))
    out = console.file.getvalue()
    assert "\x1b[1;31mfailed\x1b[0m" in out  # the verdict in bold red
    assert "FAILED" in out and "max rel err" in out and "━━━━━━━┳━━━━━━━━┳" in out
    plain = Console(file=io.StringIO(), width=120, color_system=None)
    plain.print(check_layer(Affine(), input_shape=(4, 3)))
    assert "\x1b" not in plain.file.getvalue() and "passed" in plain.file.getvalue()


def test_a_mapping_spec_may_name_a_class_object_and_spells_shapes_as_tuples():
    data = {"seed": np.int64(3), "input": (4, 3), "layers": [{"type": Affine, "out": 3}, "tanh", Affine(out=2)],
            "tolerance": {"rtol": np.float32(1e-6)}}
    result = check_spec(data)
    assert result.passed and result.path == "<mapping>" and result.name == "<mapping>"
    assert [c.type for c in result.checks if c.tensor == "input"] == ["Affine", "tanh", "Affine"]
    assert data["input"] == (4, 3) and data["layers"][0] == {"type": Affine, "out": 3}  # the caller's, untouched
    buggy = check_spec({"name": "mine", "input": [4, 3], "layers": [{"type": Affine, "w_factor": 2.0}]})
    assert buggy.outcome == "failed" and buggy.name == "mine" and buggy.suspect_layer == 0


def test_a_mappings_relative_layer_paths_are_resolved_against_base(tmp_path, monkeypatch):
    (tmp_path / "layers.py").write_text(
        "class Double:\n    def forward(self, x):\n        return 2 * x\n"
        "    def backward(self, grad_out):\n        return 2 * grad_out\n", encoding="utf-8")
    data = {"input": [2, 3], "layers": [{"type": "./layers.py:Double"}]}
    assert check_spec(data, base=tmp_path).passed
    monkeypatch.chdir(tmp_path)
    assert check_spec(data).passed  # base defaults to the current folder
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(SpecError) as error:
        check_spec(data)
    assert str(error.value) == (f"<mapping>: layers[0]: no such file: ./layers.py "
                                f"(looked for {tmp_path.parent.resolve() / 'layers.py'})")


def test_a_spec_file():
    assert check_spec(SPECS / "mlp.yaml").passed
    assert check_spec(str(SPECS / "mlp.yaml"), mode="sample", samples=2).mode == "sample"


def test_strict_on_a_layer_without_warnings_changes_nothing():
    assert check_layer(Affine(), input_shape=(4, 3), strict=True).passed


def test_strict_fails_a_spec_that_passed_with_warnings():
    from gradcheck_cli.results import Warning
    from gradcheck_cli.run.batch import apply_strict

    result = SpecResult(path="p", name="n", outcome="passed", warnings=[Warning(0, "dtype", "returns float32")])
    apply_strict(result)
    assert result.outcome == "failed"
    clean = SpecResult(path="p", name="n", outcome="passed")
    apply_strict(clean)
    assert clean.outcome == "passed"


def test_strict_fails_a_layer_that_writes_into_its_grad_out():
    class Scribbler(Affine):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            grad_out *= 2.0  # writes into the array it was given: a hazard, not a wrong gradient
            return dx

    lenient = check_layer(Scribbler(), input_shape=(4, 3))
    assert lenient.passed and [w.kind for w in lenient.warnings] == ["grad_out_modified"]
    strict = check_layer(Scribbler(), input_shape=(4, 3), strict=True)
    assert strict.outcome == "failed"
    assert "strict mode fails a spec with any warning: 1 warning (grad_out_modified)" in str(strict)


def test_the_checks_have_the_fields_of_the_json_reports_checks():
    from gradcheck_cli.report.json_report import tensor_dict

    for check in check_layer(Affine(), input_shape=(4, 3), mode="sample", samples=3).checks:
        for key, value in tensor_dict(check).items():
            attribute = getattr(check, key)
            assert value == (list(attribute) if isinstance(attribute, tuple) else attribute or value), key


INVALID = [
    (dict(input_shape=(4, -1)), "check_layer: input_shape[1]: expected a positive integer, got -1"),
    (dict(input_shape=3), "check_layer: input_shape: expected a list of 2 to 6 positive integers (rows, then "
                          "features), like [4, 3], got 3"),
    (dict(), "check_layer: give x (an array) or input_shape (an input drawn from the seed), one of them"),
    (dict(x=np.ones((2, 3)), input_shape=(2, 3)), "check_layer: give x (an array) or input_shape (an input drawn "
                                                   "from the seed), not both"),
    (dict(x=np.ones(3)), "check_layer: x: expected an array of 2 to 6 non-empty dimensions (rows, then features), "
                         "got shape (3,) (one row: x[None])"),
    (dict(x=np.array([[1.0, np.nan]])), "check_layer: x: contains NaN or Inf"),
    (dict(x=[["a", "b"]]), "check_layer: x: expected an array of real numbers, got list"),
    (dict(input_shape=(2, 3), seed=-1), "check_layer: seed: expected a non-negative integer, got -1"),
    (dict(input_shape=(2, 3), dtype="float16"), "check_layer: dtype: expected one of float64, float32, got 'float16'"),
    (dict(input_shape=(2, 3), loss="nope"), "check_layer: loss: unknown loss 'nope'; known losses: mse, "
                                            "cross_entropy, bce_with_logits, dot, or a custom loss as "
                                            "module:name or path/to/file.py:name"),
    (dict(input_shape=(2, 3), rtol=-1), "check_layer: rtol: expected a non-negative number, got -1"),
    (dict(input_shape=(2, 3), mode="quick"), "check_layer: mode: expected one of full, fast, sample, got 'quick'"),
    (dict(input_shape=(2, 3), samples=0), "check_layer: samples: expected a positive integer, got 0"),
]


@pytest.mark.parametrize("arguments, message", INVALID)
def test_invalid_arguments_raise_one_clear_line(arguments, message):
    with pytest.raises(SpecError) as error:
        check_layer(Affine(), **arguments)
    assert str(error.value) == message
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("call, message", [
    (lambda: check_layer([Affine(), {"type": "linear", "out": "three"}], input_shape=(2, 3)),
     "check_layer: layer[1].out: expected a positive integer, got 'three'"),
    (lambda: check_layer({"type": Affine, "outt": 3}, input_shape=(2, 3)),
     "check_layer: layer: unknown option 'outt' for Affine (did you mean 'out'?); it takes: out, w_factor"),
    (lambda: check_layer(object, input_shape=(2, 3)),
     "check_layer: layer: object has no forward method (looked for forward, forward_pass, __call__); "
     "name it with methods: {forward: NAME}"),
    (lambda: check_spec({"input": [2, 3], "layers": ["tanh", {"type": "linear", "out": "three"}]}),
     "<mapping>: layers[1].out: expected a positive integer, got 'three'"),
    (lambda: check_spec({"input": [2, 3]}), "<mapping>: missing required key 'layers'"),
    (lambda: check_spec(3), "check_spec: expected a spec file's path or a mapping, got int"),
    (lambda: check_spec(SPECS / "mlp.yaml", base="."),
     "check_spec: base is for a mapping; the layer paths of a spec file are relative to the file"),
    (lambda: check_spec("nowhere.yaml"), "nowhere.yaml: no such file"),
    (lambda: check_function(3, np.tanh, input_shape=(2, 3)), "check_function: forward: expected a function, got int"),
])
def test_invalid_specs_raise_one_clear_line(call, message):
    with pytest.raises(SpecError) as error:
        call()
    assert str(error.value) == message


# Function pairs, the cs231n style. The pair's layer (model/functions.py) is merged separately.

def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def twice_w_backward(dout, cache):
    x, w = cache
    return dout @ w.T, 2 * x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return dout * (x > 0)


def lonely_forward(x):
    return x, None


def test_check_function_passes_a_correct_pair_and_fails_a_wrong_one():
    result = check_function(affine_forward, affine_backward, input_shape=(4, 3), params={"w": (3, 2), "b": [2]})
    assert result.passed and [c.tensor for c in result.checks] == ["input", "w", "b"]
    wrong = check_function(affine_forward, twice_w_backward, input_shape=(4, 3), params={"w": (3, 2), "b": (2,)})
    assert wrong.outcome == "failed" and [c.tensor for c in wrong.checks if not c.passed] == ["w"]


def test_check_function_uses_the_callers_arrays_and_leaves_them_untouched():
    w, b = np.linspace(-1, 1, 6).reshape(3, 2), np.zeros(2)
    before = w.copy()
    x = np.ones((4, 3))
    assert check_function(affine_forward, affine_backward, x, params={"w": w, "b": b}).passed
    assert np.array_equal(w, before) and np.array_equal(b, np.zeros(2))


def test_a_function_forward_finds_its_backward_beside_it():
    result = check_layer([{"type": affine_forward, "params": {"w": (3, 4), "b": (4,)}}, relu_forward, "tanh"],
                         input_shape=(5, 3))
    assert result.passed and [c.type for c in result.checks if c.tensor == "input"] == ["affine", "relu", "tanh"]
    paired = check_spec({"input": [5, 3], "layers": [{"type": (affine_forward, twice_w_backward),
                                                       "params": {"w": [3, 2], "b": [2]}}]})
    assert paired.outcome == "failed" and paired.suspect_layer == 0


def test_a_function_without_its_backward_is_a_clear_error():
    with pytest.raises(SpecError) as error:
        check_layer(lonely_forward, input_shape=(2, 3))
    assert str(error.value) == (f"check_layer: layer: no function lonely_backward beside lonely_forward "
                                f"(in {__name__}); name it so, or give the pair as (forward, backward)")


def test_check_function_refuses_arrays_that_are_not_float():
    with pytest.raises(SpecError) as error:
        check_function(affine_forward, affine_backward, input_shape=(4, 3),
                       params={"w": np.ones((3, 2), dtype=int), "b": (2,)})
    assert str(error.value) == ("check_function: params.w: expected a float array of 1 to 6 dimensions, or a shape, "
                                "got an array of int64 and shape (3, 2)")


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_importing_the_api_is_light():
    assert not _imported_after("import gradcheck_cli") & {"numpy", "rich", "yaml"}
    assert not _imported_after("from gradcheck_cli import check_layer, SpecResult") & {"numpy", "rich"}
    assert set(gradcheck_cli.__all__) >= {"check_layer", "check_function", "check_spec", "assert_gradients",
                                          "SpecResult", "TensorCheck", "SpecError"}
    with pytest.raises(AttributeError):
        gradcheck_cli.check_everything  # noqa: B018


def test_the_package_says_it_is_typed():
    assert (Path(gradcheck_cli.__file__).parent / "py.typed").is_file()
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'gradcheck_cli = ["py.typed"]' in pyproject
