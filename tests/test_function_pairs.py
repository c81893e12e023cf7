"""Function pairs, the cs231n style: `type: ./layers.py:affine` checks affine_forward /
affine_backward, with the arrays after x given by shape in `params` and the other arguments in
`args`. The cs231n-style layers in tests/data/cs231n are checked from specs alone, and the
planted bugs of tests/data/cs231n_bugs caught and located."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT, lines

CS231N = ROOT / "tests" / "data" / "cs231n"
BUGS = ROOT / "tests" / "data" / "cs231n_bugs"


def checked(spec: dict) -> list[tuple[int, str]]:
    return [(c["layer"], c["tensor"]) for c in spec["checks"]]


def failing(spec: dict) -> set[tuple[int, str]]:
    return {(c["layer"], c["tensor"]) for c in spec["checks"] if c["outcome"] == "failed"}


# --- the cs231n-style layers, checked from specs alone --------------------------------------

CORRECT = {
    "affine.yaml": [(0, "input"), (0, "w"), (0, "b")],
    "relu.yaml": [(0, "input")],
    "conv.yaml": [(0, "input"), (0, "w"), (0, "b")],
    "max_pool.yaml": [(0, "input")],
    "batchnorm.yaml": [(0, "input"), (0, "gamma"), (0, "beta")],
    "batchnorm_float32.yaml": [(0, "input"), (0, "gamma"), (0, "beta")],
    "dropout.yaml": [(0, "input")],
    "rnn_step.yaml": [(0, "input"), (0, "prev_h"), (0, "Wx"), (0, "Wh"), (0, "b")],
    "conv_net.yaml": [(0, "input"), (0, "w"), (0, "b"), (1, "input"), (2, "input"), (3, "input"), (3, "w"),
                      (3, "b")],
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_cs231n_layer_passes_with_every_array_checked(run_json, name):
    """Every array of params is a row of the table: none is left unchecked."""
    result, report = run_json(CS231N / name)
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed", spec["error"] or result.output
    assert checked(spec) == CORRECT[name]
    assert result.exit_code == 0


def test_cs231n_dropout_drawing_from_the_global_random_state_passes(run_json):
    _, report = run_json(CS231N / "dropout_unseeded.yaml")
    assert report["specs"][0]["outcome"] == "passed", report["specs"][0]["error"]


def test_the_cs231n_folder_runs_as_one_batch(invoke):
    """The specs as a user runs them: all of the folder, the one needing seeded np.random left out."""
    specs = sorted(str(p) for p in CS231N.glob("*.yaml") if p.name != "dropout_unseeded.yaml")
    result = invoke("run", *specs, "-q")
    assert result.exit_code == 0, result.output
    assert lines(result.output)[-1].startswith(f"{len(specs)} specs: {len(specs)} passed, 0 failed, 0 errors")


# --- planted bugs, one per layer: caught and located -----------------------------------------

BUGGY = {
    # spec: (suspect layer, the tensors that fail; a wrong dL/dx of layer k makes those before k fail too)
    "affine.yaml": (1, {(1, "w")}),
    "relu.yaml": (1, {(1, "input"), (0, "input"), (0, "w"), (0, "b")}),
    "conv.yaml": (0, {(0, "input"), (0, "w")}),
    "max_pool.yaml": (0, {(0, "input")}),
    # b of the affine before batch norm has no effect (the mean is taken out): its gradient is 0 either way
    "batchnorm.yaml": (1, {(1, "input"), (0, "input"), (0, "w")}),
    "dropout.yaml": (1, {(1, "input"), (0, "input"), (0, "w"), (0, "b")}),
    "rnn_step.yaml": (0, {(0, "input"), (0, "prev_h"), (0, "Wx"), (0, "Wh"), (0, "b")}),
}


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_cs231n_planted_bug_is_caught_and_located(run_json, name):
    result, report = run_json(BUGS / name)
    (spec,) = report["specs"]
    suspect, wrong = BUGGY[name]
    assert spec["outcome"] == "failed", spec["error"] or result.output
    assert spec["suspect_layer"] == suspect
    assert failing(spec) == wrong
    assert result.exit_code == 1


def test_cs231n_dropout_bug_with_the_global_random_state_is_caught(run_json):
    _, report = run_json(BUGS / "dropout_unseeded.yaml")
    (spec,) = report["specs"]
    assert spec["outcome"] == "failed", spec["error"]
    assert (spec["suspect_layer"], failing(spec)) == BUGGY["dropout.yaml"]


# --- what a spec names -----------------------------------------------------------------------

PAIRS = '''
    import numpy as np


    def scale_forward(x, w):
        """x: (N, D), w: (D,) -> out: (N, D)."""
        return x * w, (x, w)


    def scale_backward(dout, cache):
        x, w = cache
        return dout * w, np.sum(dout * x, axis=0)


    def square_forward_naive(x):
        return x * x, x


    def square_backward_naive(dout, cache):
        return 2 * cache * dout


    def lonely_forward(x):
        return x, None


    def helper(x):
        return x


    class Scale:
        def forward(self, x):
            return x

        def backward(self, g):
            return g


    def Scale_forward(x):
        return x, None


    def Scale_backward(dout, cache):
        return dout
'''


@pytest.fixture
def pairs(tmp_path, monkeypatch, write_file):
    monkeypatch.chdir(tmp_path)
    return write_file("pairs.py", PAIRS)


def run_one(run_json, write_spec, layer: str, input_shape="[4, 3]"):
    write_spec(f"input: {input_shape}\nlayers:\n  - {layer}\n")
    result, report = run_json("spec.yaml")
    return result, report["specs"][0]


@pytest.mark.parametrize("layer, tensors", [
    ("{type: ./pairs.py:scale, params: {w: [3]}}", ["input", "w"]),
    ("{type: ./pairs.py:scale_forward, params: {w: [3]}}", ["input", "w"]),
    ("{type: ./pairs.py:square_forward_naive}", ["input"]),   # pairs with square_backward_naive
])
def test_a_pair_is_named_by_its_stem_or_by_its_forward(pairs, write_spec, run_json, layer, tensors):
    _, spec = run_one(run_json, write_spec, layer)
    assert spec["outcome"] == "passed", spec["error"]
    assert [c["tensor"] for c in spec["checks"]] == tensors


@pytest.mark.parametrize("layer, message", [
    ("./pairs.py:Scale",
     "./pairs.py:Scale names both the class Scale (pairs.py:30) and the function pair Scale_forward/Scale_backward "
     "(pairs.py:38); which one? Write ./pairs.py:Scale_forward for the pair, or rename one of them"),
    ("./pairs.py:lonely",
     "./pairs.py defines lonely_forward (pairs.py:22) but no lonely_backward: a function pair needs both "
     "(looked for lonely_backward, the backward of lonely_forward)"),
    ("./pairs.py:scale_backward",
     "./pairs.py:scale_backward is a backward; name the pair by its forward or its stem, like ./pairs.py:scale"),
    ("./pairs.py:helper",
     "./pairs.py:helper is a function, neither a class nor a function pair (looked for helper_forward and "
     "helper_backward)"),
    ("./pairs.py:scal",
     "./pairs.py has no class or function pair 'scal' (did you mean 'scale'?); it defines classes: Scale; "
     "function pairs: scale, square_forward_naive, Scale"),
])
def test_what_a_spec_names_is_one_thing_or_an_error_saying_why(pairs, write_spec, run_json, layer, message):
    from test_spec_errors import check_invalid
    write_spec(f"input: [4, 3]\nlayers:\n  - {{type: '{layer}'}}\n")
    check_invalid(run_json, "spec.yaml", f"spec.yaml:3: layers[0]: {message}")


# --- params and args against the forward's signature -----------------------------------------

SIGNATURES = '''
    import numpy as np


    def conv_forward(x, w, b, conv_param, groups=1):
        return x @ w + b, (x, w)


    def conv_backward(dout, cache):
        x, w = cache
        return dout @ w.T, x.T @ dout, dout.sum(0)
'''


@pytest.mark.parametrize("keys, message", [
    ("params: {w: [3, 2], b: [2]}",
     "conv_forward (sig.py:4) takes 'conv_param', which is neither in params nor in args: give the shape of an "
     "array of parameters, params: {conv_param: [...]}, or any other value, args: {conv_param: ...}"),
    ("params: {W: [3, 2], b: [2]}, args: {conv_param: {}}",
     "params: conv_forward (sig.py:4) takes no argument 'W' (did you mean 'w'?); it takes x, w, b, conv_param, "
     "groups"),
    ("params: {w: [3, 2], b: [2]}, args: {conv_param: {}, group: 2}",
     "args: conv_forward (sig.py:4) takes no argument 'group' (did you mean 'groups'?); it takes x, w, b, "
     "conv_param, groups"),
    ("params: {x: [4, 3], w: [3, 2], b: [2]}, args: {conv_param: {}}",
     "params: 'x' is the first argument of conv_forward (sig.py:4), the layer's input, which the stack gives "
     "(the spec's input or the previous layer's output)"),
    ("params: {w: [3, 2], b: [2]}, args: {conv_param: {}, b: 1}",
     "'b' is in both params and args; an array of parameters goes in params, any other argument in args"),
    ("params: {w: [3, 2], b: [2]}, args: {conv_param: {}}, stride: 2",
     "unknown key 'stride' for the function pair ./sig.py:conv; it takes params (the arrays after x, by shape) "
     "and args (its other arguments)"),
    ("parms: {w: [3, 2], b: [2]}, args: {conv_param: {}}",
     "unknown key 'parms' (did you mean 'params'?) for the function pair ./sig.py:conv; it takes params (the "
     "arrays after x, by shape) and args (its other arguments)"),
])
def test_params_and_args_must_fit_the_forward(tmp_path, monkeypatch, write_file, write_spec, run_json, keys,
                                              message):
    from test_spec_errors import check_invalid
    monkeypatch.chdir(tmp_path)
    write_file("sig.py", SIGNATURES)
    write_spec(f"input: [4, 3]\nlayers:\n  - {{type: ./sig.py:conv, {keys}}}\n")
    check_invalid(run_json, "spec.yaml", f"spec.yaml:3: layers[0]: {message}")


def test_validate_reports_a_bad_params_name_at_its_line(tmp_path, monkeypatch, write_file, write_spec, invoke):
    monkeypatch.chdir(tmp_path)
    write_file("sig.py", SIGNATURES)
    write_spec("input: [4, 3]\nlayers:\n  - relu\n  - {type: ./sig.py:conv, params: {w: [3, 2], bias: [2]}}\n")
    result = invoke("validate", "spec.yaml")
    assert result.exit_code == 2, result.output
    assert ("spec.yaml:4: layers[1]: params: conv_forward (sig.py:4) takes no argument 'bias'; it takes x, w, b, "
            "conv_param, groups") == lines(result.output)[0]


def test_gradients_follow_the_forward_order_not_the_spec_order(tmp_path, monkeypatch, write_file, write_spec,
                                                               run_json):
    """backward returns dx, dw, db for forward(x, w, b), however the spec lists params."""
    monkeypatch.chdir(tmp_path)
    write_file("sig.py", SIGNATURES)
    write_spec("input: [4, 3]\nlayers:\n  - {type: ./sig.py:conv, params: {b: [2], w: [3, 2]}, "
               "args: {conv_param: {}, groups: 3}}\n")
    _, report = run_json("spec.yaml")
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed", spec["error"]
    assert [(c["tensor"], c["shape"]) for c in spec["checks"]] == [("input", [4, 3]), ("w", [3, 2]), ("b", [2])]


MISBEHAVING = '''
    import numpy as np


    def short_forward(x, w, b):
        return x @ w + b, (x, w)


    def short_backward(dout, cache):
        x, w = cache
        return dout @ w.T, x.T @ dout


    def flipped_forward(x, w, b):
        return x @ w + b, (x, w)


    def flipped_backward(dout, cache):
        x, w = cache
        return dout @ w.T, dout.T @ x, dout.sum(0)


    def nobias_forward(x, w, b):
        return x @ w + b, (x, w)


    def nobias_backward(dout, cache):
        x, w = cache
        return dout @ w.T, x.T @ dout, None


    def kept_forward(x, gamma):
        return x * gamma, (x, gamma)


    def kept_backward(dout, cache):
        x, gamma = cache
        return dout * gamma, np.sum(dout * x, axis=0, keepdims=True)


    def bare_forward(x, w):
        return x * w, (x, w)


    def bare_backward(dout, cache):
        return dout * cache[1]


    def nocache_forward(x):
        return 2 * x


    def nocache_backward(dout, cache):
        return 2 * dout


    def extra_forward(x):
        return 2 * x, None


    def extra_backward(dout, cache):
        return 2 * dout, dout
'''


@pytest.mark.parametrize("layer, message", [
    ("{type: ./bad.py:short, params: {w: [3, 2], b: [2]}}",
     "short_backward returned 2 values, expected 3: dx, then the gradients of w, b, in the forward's order"),
    ("{type: ./bad.py:flipped, params: {w: [3, 2], b: [2]}}",
     "flipped_backward returned the gradient of w (value 2 of 3) with shape (2, 3), expected (3, 2), the shape of w"),
    ("{type: ./bad.py:kept, params: {gamma: [3]}}",
     "kept_backward returned the gradient of gamma (value 2 of 2) with shape (1, 3), expected (3,), the shape of "
     "gamma (only axes of length 1 differ: return it in the shape of gamma)"),
    ("{type: ./bad.py:nobias, params: {w: [3, 2], b: [2]}}",
     "nobias_backward returned None as the gradient of b (value 3 of 3)"),
    ("{type: ./bad.py:bare, params: {w: [3]}}",
     "bare_backward returned ndarray, expected a tuple of 2: dx, then the gradients of w, in the forward's order"),
    ("{type: ./bad.py:nocache}", "nocache_forward returned ndarray, expected a tuple (out, cache)"),
    ("{type: ./bad.py:extra}",
     "extra_backward returned 2 values, expected dx alone (extra_forward takes no arrays in params)"),
])
def test_a_misbehaving_pair_is_a_layer_error_naming_the_layer_and_the_gradient(
        tmp_path, monkeypatch, write_file, write_spec, run_json, layer, message):
    monkeypatch.chdir(tmp_path)
    write_file("bad.py", MISBEHAVING)
    result, spec = run_one(run_json, write_spec, layer)
    assert spec["outcome"] == "error"
    name = layer.split(",")[0].split(": ")[1].rstrip("}")
    assert spec["error"] == f"layer 0 ({name}): {message}"
    assert result.exit_code == 1


STATEFUL = '''
    def count_forward(x, state):
        """Writes into its config dict, as cs231n's batch norm writes running means into bn_param."""
        state["calls"] = state.get("calls", 0) + 1
        return x * state["calls"], state["calls"]


    def count_backward(dout, cache):
        return dout * cache
'''


def test_args_are_a_fresh_copy_at_every_call(tmp_path, monkeypatch, write_file, write_spec, run_json):
    """A forward that writes into its args sees the spec's args again at the next call, so its
    writes cannot change later calls (else: 'different outputs for the same input')."""
    monkeypatch.chdir(tmp_path)
    write_file("stateful.py", STATEFUL)
    _, spec = run_one(run_json, write_spec, "{type: ./stateful.py:count, args: {state: {}}}")
    assert spec["outcome"] == "passed", spec["error"]


def test_a_function_layer_mixes_with_built_ins_and_classes(tmp_path, monkeypatch, write_file, write_spec, run_json):
    monkeypatch.chdir(tmp_path)
    write_file("classes.py", '''
        import numpy as np


        class Affine:
            def __init__(self, out):
                self.out = out
                self.params, self.grads = {}, {}

            def build(self, shape, rng):
                self.params["W"] = rng.standard_normal((shape[-1], self.out))

            def forward(self, x):
                self.x = x
                return x @ self.params["W"]

            def backward(self, g):
                self.grads["W"] = self.x.T @ g
                return g @ self.params["W"].T
        ''')
    write_spec(f"""
        input: [2, 3, 6, 6]
        layers:
          - {{type: {CS231N / 'layers.py'}:conv_forward_naive, params: {{w: [2, 3, 3, 3], b: [2]}},
             args: {{conv_param: {{stride: 2, pad: 1}}}}}}
          - relu
          - {{type: {CS231N / 'layers.py'}:affine, params: {{w: {{shape: [18, 4], scale: 0.3}}, b: [4]}}}}
          - tanh
          - {{type: ./classes.py:Affine, out: 2}}
        """)
    result, report = run_json("spec.yaml")
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed", spec["error"] or result.output
    assert checked(spec) == [(0, "input"), (0, "w"), (0, "b"), (1, "input"), (2, "input"), (2, "w"), (2, "b"),
                             (3, "input"), (4, "input"), (4, "W")]


def test_the_checker_perturbs_the_arrays_forward_receives(tmp_path, monkeypatch, write_file, write_spec, run_json):
    """A wrong dw is caught: forward is given the params arrays the checker perturbs, not copies."""
    monkeypatch.chdir(tmp_path)
    write_file("half.py", '''
        def affine_forward(x, w):
            return x @ w, (x, w)


        def affine_backward(dout, cache):
            x, w = cache
            return dout @ w.T, 0.5 * x.T @ dout
        ''')
    _, spec = run_one(run_json, write_spec, "{type: ./half.py:affine, params: {w: [3, 2]}}")
    assert spec["outcome"] == "failed"
    assert failing(spec) == {(0, "w")}


# --- how params are drawn, or given ----------------------------------------------------------

def built_params(spec_path) -> dict:
    from gradcheck_cli.model.network import build_network
    from gradcheck_cli.spec.load import load_spec
    net = build_network(load_spec(str(spec_path)))
    return net.stack.entries[0].layer.params


def test_params_are_drawn_from_the_seed_by_init_and_scale(tmp_path, write_file, write_spec):
    write_file("sig.py", SIGNATURES)
    path = write_spec("seed: 3\ninput: [4, 3]\nlayers:\n  - {type: ./sig.py:conv, params: "
                      "{w: {shape: [3, 200], scale: 0.01}, b: {shape: [200], init: ones}}, args: {conv_param: {}}}\n")
    params = built_params(path)
    assert params["b"].dtype == np.float64 and np.all(params["b"] == 1.0)
    assert 0.008 < params["w"].std() < 0.012
    again = built_params(path)
    assert np.array_equal(params["w"], again["w"])  # the same seed, the same draw
    write_spec("seed: 3\ninput: [4, 3]\nlayers:\n  - {type: ./sig.py:conv, params: "
               "{w: [3, 200], b: {shape: [200], init: zeros}}, args: {conv_param: {}}}\n")
    params = built_params(path)
    assert np.all(params["b"] == 0.0) and 0.9 < params["w"].std() < 1.1


def test_params_given_as_arrays_are_copied_and_cast_to_the_spec_dtype(tmp_path, write_file, write_spec):
    """The Python API gives arrays as {"value": array}: the layer starts from a copy (the
    checker perturbs its own), in the spec's dtype."""
    from gradcheck_cli.model.network import build_network
    from gradcheck_cli.spec.load import load_spec
    write_file("sig.py", SIGNATURES)
    path = write_spec("dtype: float32\ninput: [4, 3]\nlayers:\n  - {type: ./sig.py:conv, params: "
                      "{w: [3, 2], b: [2]}, args: {conv_param: {}}}\n")
    spec = load_spec(str(path))
    w, b = np.arange(6).reshape(3, 2), np.array([0.5, -0.5])
    spec.layers[0].declared["params"] = {"w": {"value": w}, "b": {"value": b}}
    params = build_network(spec).stack.entries[0].layer.params
    assert params["w"].dtype == params["b"].dtype == np.float32
    assert np.array_equal(params["w"], w) and np.array_equal(params["b"], b)
    params["b"][0] = 7.0
    assert b[0] == 0.5


def test_a_forward_with_positional_only_and_keyword_only_arguments(tmp_path, monkeypatch, write_file, write_spec,
                                                                   run_json):
    monkeypatch.chdir(tmp_path)
    write_file("kinds.py", '''
        def scale_forward(x, w, /, *, power, shift=0.0):
            return x * w ** power + shift, (x, w, power)


        def scale_backward(dout, cache):
            x, w, power = cache
            return dout * w ** power, (dout * x * power * w ** (power - 1)).sum(axis=0)
        ''')
    _, spec = run_one(run_json, write_spec, "{type: ./kinds.py:scale, params: {w: {shape: [3], init: ones}}, "
                                            "args: {power: 3}}")
    assert spec["outcome"] == "passed", spec["error"]
    assert [c["tensor"] for c in spec["checks"]] == ["input", "w"]
