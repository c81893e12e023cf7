"""Bad specs, run through the CLI: exit code 2, the exact one-line message `FILE:LINE: where: what`,
never a traceback. Each spec is written to a temporary folder and named by a relative path, as a
user in that folder would type it, so the messages are short and exact."""
from __future__ import annotations


import pytest

from conftest import SUMMARY, lines

GOOD = """
    input: [4, 3]
    layers:
      - {type: linear, out: 2}
    """

MY_LAYERS = '''
    import numpy as np


    class Scale:
        """y = factor * x."""

        def __init__(self, factor=2.0):
            self.factor = factor

        def forward(self, x):
            return x * self.factor

        def backward(self, grad_out):
            return grad_out * self.factor
    '''

# (id, spec text, expected message with "spec.yaml" as the path)
CASES = [
    ("yaml_syntax_mapping_in_value", """
        input: [4, 3]
        layers:
          - tanh
        loss: mse: 2
        """, "spec.yaml:4: YAML syntax error: mapping values are not allowed here"),
    ("yaml_syntax_tab", """
        input: [4, 3]
        layers:
        \t- tanh
        """, "spec.yaml:3: YAML syntax error: found character '\\t' that cannot start any token"),
    ("unknown_layer", """
        input: [4, 3]
        layers:
          - {type: linear, out: 2}
          - tanhh
        """, "spec.yaml:4: layers[1]: unknown layer 'tanhh' (did you mean 'tanh'?); known layers: linear, "
             "sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, silu, softmax, log_softmax, flatten, residual, "
             "or a custom layer as module:Class or path/to/file.py:Class"),
    ("unknown_layer_one_key_form", """
        input: [4, 3]
        layers:
          - lineer: {out: 2}
        """, "spec.yaml:3: layers[0]: unknown layer 'lineer' (did you mean 'linear'?); known layers: linear, "
             "sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu, silu, softmax, log_softmax, flatten, residual, "
             "or a custom layer as module:Class or path/to/file.py:Class"),
    ("unknown_loss", """
        input: [4, 3]
        layers:
          - {type: linear, out: 2}
        loss: mae
        """, "spec.yaml:4: loss: unknown loss 'mae' (did you mean 'mse'?); known losses: mse, cross_entropy, "
             "bce_with_logits, dot, or a custom loss as module:name or path/to/file.py:name"),
    ("out_three", """
        input: [4, 3]
        layers:
          - tanh
          - {type: linear, out: three}
        """, "spec.yaml:4: layers[1].out: expected a positive integer, got 'three'"),
    ("out_zero_one_key_form", """
        input: [4, 3]
        layers:
          - linear: {out: 0}
        """, "spec.yaml:3: layers[0].linear.out: expected a positive integer, got 0"),
    ("linear_without_out", """
        input: [4, 3]
        layers:
          - linear
        """, "spec.yaml:3: layers[0]: linear needs option 'out'"),
    ("no_layers_key", """
        input: [4, 3]
        loss: mse
        """, "spec.yaml:1: missing required key 'layers'"),
    ("no_input_key", """
        layers: [tanh]
        """, "spec.yaml:1: missing required key 'input'"),
    ("empty_layers", """
        input: [4, 3]
        layers: []
        """, "spec.yaml:2: layers: expected at least one layer, got an empty list"),
    ("layers_not_a_list", """
        input: [4, 3]
        layers: tanh
        """, "spec.yaml:2: layers: expected a list of layers, got 'tanh'"),
    ("empty_file", "", "spec.yaml:1: the file is empty; a spec needs at least 'input' and 'layers'"),
    ("unknown_top_level_key", """
        seeed: 3
        input: [4, 3]
        layers: [tanh]
        """, "spec.yaml:1: seeed: unknown key for a spec (did you mean 'seed'?); expected one of: name, seed, "
             "dtype, input, layers, loss, tolerance, step, inputs, graph"),
    ("unknown_option_of_builtin", """
        input: [4, 3]
        layers:
          - {type: linear, out: 2, bais: false}
        """, "spec.yaml:3: layers[0].bais: unknown option for linear (did you mean 'bias'?); "
             "expected one of: out, bias, init"),
    ("option_for_layer_without_options", """
        input: [4, 3]
        layers:
          - tanh: {slope: 2}
        """, "spec.yaml:3: layers[0].tanh.slope: unknown option for tanh; tanh takes no options"),
    ("bias_wrong_type", """
        input: [4, 3]
        layers:
          - {type: linear, out: 2, bias: "false"}
        """, "spec.yaml:3: layers[0].bias: expected true or false, got 'false'"),
    ("slope_wrong_type", """
        input: [4, 3]
        layers:
          - {type: leaky_relu, slope: steep}
        """, "spec.yaml:3: layers[0].slope: expected a number, got 'steep'"),
    ("unknown_dtype", """
        dtype: float16
        input: [4, 3]
        layers: [tanh]
        """, "spec.yaml:1: dtype: expected one of float64, float32, got 'float16'"),
    ("negative_seed", """
        seed: -1
        input: [4, 3]
        layers: [tanh]
        """, "spec.yaml:1: seed: expected a non-negative integer, got -1"),
    ("negative_rtol", """
        input: [4, 3]
        layers: [tanh]
        tolerance: {rtol: -1}
        """, "spec.yaml:3: tolerance.rtol: expected a non-negative number, got -1"),
    ("input_not_a_list", """
        input: 4
        layers: [tanh]
        """, "spec.yaml:1: input: expected a list of 2 to 6 positive integers (rows, then features), "
             "like [4, 3], got 4"),
    ("input_one_dim", """
        input: [4]
        layers: [tanh]
        """, "spec.yaml:1: input: expected a list of 2 to 6 positive integers (rows, then features), "
             "like [4, 3], got a list of length 1"),
    ("input_zero_dim", """
        input: [4, 0]
        layers: [tanh]
        """, "spec.yaml:1: input[1]: expected a positive integer, got 0"),
    ("input_negative_dim", """
        input: [-4, 3]
        layers: [tanh]
        """, "spec.yaml:1: input[0]: expected a positive integer, got -4"),
    ("cross_entropy_on_3d_output", """
        input: [4, 3, 2]
        layers:
          - tanh
        loss: cross_entropy
        """, "spec.yaml:4: loss: cross_entropy needs logits of shape (N, classes), got (4, 3, 2)"),
    ("duplicate_top_level_key", """
        input: [4, 3]
        layers: [tanh]
        input: [2, 2]
        """, "spec.yaml:3: duplicate key 'input'"),
    ("duplicate_option", """
        input: [4, 3]
        layers:
          - {type: linear, out: 2, out: 3}
        """, "spec.yaml:3: layers[0]: duplicate key 'out'"),
    ("python_name_tag", """
        name: !!python/name:os.system ''
        input: [4, 3]
        layers: [tanh]
        """, "spec.yaml:1: name: cannot read value: could not determine a constructor for the tag "
             "'tag:yaml.org,2002:python/name:os.system'"),
    ("custom_class_missing", """
        input: [4, 3]
        layers:
          - {type: ./mylayers.py:Swish}
        """, "spec.yaml:3: layers[0]: ./mylayers.py has no class 'Swish'; it defines: Scale"),
    ("custom_constructor_rejects_option", """
        input: [4, 3]
        layers:
          - {type: ./mylayers.py:Scale, beta: 2}
        """, "spec.yaml:3: layers[0]: unknown option 'beta' for ./mylayers.py:Scale; it takes: factor"),
    ("custom_option_misspelt", """
        input: [4, 3]
        layers:
          - {type: ./mylayers.py:Scale, factr: 2}
        """, "spec.yaml:3: layers[0]: unknown option 'factr' for ./mylayers.py:Scale (did you mean 'factor'?); "
             "it takes: factor"),
    ("custom_type_malformed", """
        input: [4, 3]
        layers:
          - {type: "./mylayers.py:"}
        """, "spec.yaml:3: layers[0]: custom layer type './mylayers.py:' must look like "
             "package.module:ClassName or path/to/file.py:ClassName"),
]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch, write_file):
    """Work in tmp_path, with mylayers.py beside the spec."""
    monkeypatch.chdir(tmp_path)
    write_file("mylayers.py", MY_LAYERS)
    return tmp_path


def check_invalid(run_json, path: str, expected: str) -> list[str]:
    """Run one bad spec; assert exit 2, no traceback, the exact message; return the output lines."""
    result, report = run_json(path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert report["passed"] is False
    assert report["summary"] == {**report["summary"], "specs": 1, "passed": 0, "failed": 0, "errors": 1}
    (spec,) = report["specs"]
    assert spec["path"] == path
    assert spec["outcome"] == "error"
    assert spec["checks"] == []
    assert spec["error"] == expected
    # The console: the spec's header, the message on one line of its own, the summary line.
    out = lines(result.output)
    assert len(out) == 3, result.output
    assert out[0].split()[0] == path
    assert out[1].strip() == expected
    match = SUMMARY.match(out[-1])
    assert match and match.groups() == ("1", "0", "0", "1"), out[-1]
    return out


@pytest.mark.parametrize("text, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_spec_exact_message(in_tmp, write_spec, run_json, text, expected):
    write_spec(text)
    check_invalid(run_json, "spec.yaml", expected)


def test_short_message_layout(in_tmp, write_spec, invoke):
    """What the user sees, line by line: the spec's header, its one-line error, the summary."""
    write_spec(CASES[5][1])
    result = invoke("run", "spec.yaml")
    assert result.exit_code == 2
    out = lines(result.output)
    assert len(out) == 3, result.output
    assert out[0].split() == ["spec.yaml", "error"]
    assert out[1].strip() == "spec.yaml:4: layers[1].out: expected a positive integer, got 'three'"
    assert SUMMARY.match(out[2]).groups() == ("1", "0", "0", "1")


def test_long_message_is_one_line_when_piped(in_tmp, write_spec, invoke):
    """Piped to a file or a CI log the console is 80 columns wide; the error must still be one
    line (formerly a BUG: rich hard-wrapped it over four lines, so it could not be grepped)."""
    write_spec(CASES[2][1])
    result = invoke("run", "spec.yaml", env={"COLUMNS": "80"})
    assert result.exit_code == 2
    assert CASES[2][2] in [line.strip() for line in result.output.splitlines()], result.output


def test_missing_spec_file(in_tmp, run_json):
    check_invalid(run_json, "nothere.yaml", "nothere.yaml: no such file or folder")


def test_missing_spec_folder(in_tmp, run_json):
    check_invalid(run_json, "nowhere/", "nowhere/: no such file or folder")


def test_custom_layer_file_missing(in_tmp, write_spec, run_json):
    write_spec("""
        input: [4, 3]
        layers:
          - {type: ./nothere.py:Swish}
        """)
    looked = in_tmp.resolve() / "nothere.py"
    check_invalid(run_json, "spec.yaml", f"spec.yaml:3: layers[0]: no such file: ./nothere.py (looked for {looked})")


def test_custom_module_missing(in_tmp, write_spec, run_json):
    write_spec("""
        input: [4, 3]
        layers:
          - {type: "no_such_package_xyz.layers:Swish"}
        """)
    check_invalid(run_json, "spec.yaml", "spec.yaml:3: layers[0]: no module named 'no_such_package_xyz.layers' "
                                         f"(looked in {in_tmp.resolve()} and the Python path)")


def test_custom_layer_in_subfolder_is_relative_to_the_spec(in_tmp, write_spec, write_file, run_json):
    """A relative custom path is resolved from the spec's folder, not from the working directory."""
    write_file("sub/other.py", MY_LAYERS)
    write_spec("""
        input: [4, 3]
        layers:
          - {type: ./mylayers.py:Scale}
        """, name="sub/spec.yaml")
    looked = (in_tmp / "sub" / "mylayers.py").resolve()
    check_invalid(run_json, "sub/spec.yaml",
                  f"sub/spec.yaml:3: layers[0]: no such file: ./mylayers.py (looked for {looked})")


RESIDUAL = """
    input: [4, 3]
    layers:
      - type: residual
        layers:
          - {{type: linear, out: {out}}}
    """


@pytest.mark.parametrize("out", [5, 1])
def test_residual_branch_that_changes_the_shape(in_tmp, write_spec, run_json, out):
    """An invalid spec (exit 2) at the residual's line (formerly a BUG: x + f(x) raised a numpy
    broadcast error first, or broadcast silently for out: 1, and the outcome was a layer error)."""
    write_spec(RESIDUAL.format(out=out))
    check_invalid(run_json, "spec.yaml", f"spec.yaml:3: layers[0]: the residual branch maps shape (4, 3) to "
                                         f"(4, {out}); y = x + f(x) needs f to keep the shape")


def test_python_object_tag_is_refused_and_never_run(in_tmp, write_spec, run_json):
    marker = in_tmp / "PWNED"
    write_spec(f"""
        input: [4, 3]
        layers:
          - !!python/object/apply:os.system ["touch {marker}"]
        """)
    result, report = run_json("spec.yaml")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert not marker.exists()
    assert report["specs"][0]["error"] == ("spec.yaml:3: layers[0]: YAML tag !!python/object/apply:os.system "
                                           "is not allowed: a spec holds plain data only")


TAGGED = [
    ("tagged_top_level_mapping", """
        !!python/object:argparse.Namespace
        input: [4, 3]
        layers: [tanh]
        """, "spec.yaml:1: YAML tag !!python/object:argparse.Namespace is not allowed: a spec holds plain data only"),
    ("tagged_layer_entry", """
        input: [4, 3]
        layers:
          - !!python/object/apply:os.getcwd []
        """, "spec.yaml:3: layers[0]: YAML tag !!python/object/apply:os.getcwd is not allowed: "
             "a spec holds plain data only"),
    ("set_tag", """
        input: !!set {4, 3}
        layers: [tanh]
        """, "spec.yaml:1: input: YAML tag !!set is not allowed: a spec holds plain data only"),
]


@pytest.mark.parametrize("text, expected", [t[1:] for t in TAGGED], ids=[t[0] for t in TAGGED])
def test_yaml_tag_on_a_mapping_or_list_is_refused(in_tmp, write_spec, run_json, text, expected):
    """Formerly a BUG: tags on mappings and lists were dropped silently, so a spec tagged
    !!python/object:... passed as plain data and a tagged layer entry was 'got a list'."""
    write_spec(text)
    check_invalid(run_json, "spec.yaml", expected)


def test_batch_with_one_invalid_spec_checks_the_others(in_tmp, write_spec, run_json):
    write_spec(GOOD, name="a_good.yaml")
    write_spec(CASES[5][1], name="b_bad.yaml")
    write_spec(GOOD, name="c_good.yaml")
    result, report = run_json("a_good.yaml", "b_bad.yaml", "c_good.yaml")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    outcomes = {s["path"]: s["outcome"] for s in report["specs"]}
    assert outcomes == {"a_good.yaml": "passed", "b_bad.yaml": "error", "c_good.yaml": "passed"}
    assert report["summary"]["specs"] == 3
    assert (report["summary"]["passed"], report["summary"]["failed"], report["summary"]["errors"]) == (2, 0, 1)
    bad = next(s for s in report["specs"] if s["path"] == "b_bad.yaml")
    assert bad["error"] == "b_bad.yaml:4: layers[1].out: expected a positive integer, got 'three'"
    assert SUMMARY.match(lines(result.output)[-1]).groups() == ("3", "2", "0", "1")


def test_folder_batch_with_one_invalid_spec(in_tmp, write_spec, run_json):
    write_spec(GOOD, name="specs/good.yaml")
    write_spec("input: [4, 3]\n", name="specs/nolayers.yml")
    result, report = run_json("specs")
    assert result.exit_code == 2
    outcomes = {s["path"]: s["outcome"] for s in report["specs"]}
    assert outcomes == {"specs/good.yaml": "passed", "specs/nolayers.yml": "error"}


def test_unclosed_bracket_names_the_line_that_opened_it(in_tmp, write_spec, run_json):
    write_spec("""
        seed: 0
        input: [4, 3
        layers: [tanh]
        """)
    check_invalid(run_json, "spec.yaml", "spec.yaml:2: YAML syntax error: the '[' opened on this line is not "
                                         "closed (expected ',' or ']', but got ':' on line 3)")


def test_paths_are_reported_in_the_order_given(in_tmp, write_spec, run_json):
    write_spec("input: [4, 3]\nlayers: [tanh]\n", name="a.yaml")
    write_spec("input: [4, 3]\nlayers: [tanh]\n", name="c.yaml")
    result, report = run_json("a.yaml", "missing.yaml", "c.yaml")
    assert result.exit_code == 2
    assert [(s["path"], s["outcome"]) for s in report["specs"]] == [
        ("a.yaml", "passed"), ("missing.yaml", "error"), ("c.yaml", "passed")]
    assert report["specs"][1]["error"] == "missing.yaml: no such file or folder"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_shards_split_missing_paths_too(in_tmp, write_spec, run_json, jobs):
    """Every path, a missing one included, lands in exactly one of the shards."""
    for name in ("a.yaml", "c.yaml", "d.yaml"):
        write_spec("input: [4, 3]\nlayers: [tanh]\n", name=name)
    seen = []
    for shard in ("1/2", "2/2"):
        _, report = run_json("a.yaml", "missing.yaml", "c.yaml", "d.yaml", "--shard", shard, "--jobs", jobs)
        seen += [s["path"] for s in report["specs"]]
    assert sorted(seen) == ["a.yaml", "c.yaml", "d.yaml", "missing.yaml"]
