"""Class layers (and a function pair) written in ways that once let a wrong gradient pass in
silence, or made a right one an error (tests/data/styles/hostile.py): a weight deep in
sublayers, one forward rebinds at every call, one in a SimpleNamespace, a bias kept as a Python
float, a params dict beside a `gradients` dict, an update step inside a pair's backward, a
params list, a transposed view of W; and the warnings of assert_gradients."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.model.holdings import MAX_DEPTH, MAX_ITEMS, survey

pytest_plugins = ["pytester"]

STYLES = Path(__file__).parent / "data" / "styles"
DEEP = ".".join(["inner"] * 21)   # where Chain keeps its Affine: self.inner.inner....inner


@pytest.fixture
def spec_of(tmp_path, write_spec):
    """`spec_of("{type: ./hostile.py:Model}")` -> a spec beside a copy of hostile.py: that
    layer, then tanh and a linear layer, so that the layer's own gradients flow from a loss."""
    shutil.copy(STYLES / "hostile.py", tmp_path / "hostile.py")

    def write(layer: str, dtype: str = "float64", name: str = "spec.yaml") -> Path:
        return write_spec(f"seed: 3\ndtype: {dtype}\ninput: [5, 4]\nlayers:\n  - {layer}\n  - tanh\n"
                          "  - {type: linear, out: 2}\n", name=name)

    return write


def _rows(report, layer=0):
    return [(c["tensor"], c["outcome"]) for c in report["specs"][0]["checks"] if c["layer"] == layer]


def _verdict(bug: bool) -> str:
    return "failed" if bug else "passed"


# --- 01: weights deep in sublayers --------------------------------------------------------------


@pytest.mark.parametrize("bug", [False, True])
def test_a_weight_four_objects_and_three_lists_deep_is_checked(spec_of, run_json, bug):
    """model.stages[0].blocks[0].layers[0].W: formerly never listed (each list index counted as
    a level of the four searched), so a dW 3x too large passed."""
    result, report = run_json(str(spec_of(f"{{type: ./hostile.py:Model, bug: {str(bug).lower()}}}")))
    assert result.exit_code == int(bug), result.output
    assert _rows(report) == [("input", "passed"), ("stages.0.blocks.0.layers.0.W", _verdict(bug)),
                             ("stages.0.blocks.0.layers.0.b", "passed")]


def test_a_weight_deeper_than_the_search_is_a_warning_saying_where(spec_of, run_json):
    """Chain keeps its Affine 21 attributes down (self.inner.inner....): the search stops at 16
    objects and says so (a warning: --strict fails it), rather than pass the unchecked weight over."""
    result, report = run_json(str(spec_of("{type: ./hostile.py:Chain}")))
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed" and _rows(report) == [("input", "passed")]
    cut = ".".join(["inner"] * MAX_DEPTH)
    assert spec["warnings"] == [{"layer": 0, "node": None, "kind": "unsearched", "message": (
        f"layer 0 (./hostile.py:Chain): gradcheck did not search self.{cut} (deeper than the {MAX_DEPTH} objects "
        "searched): a weight forward reads there would be neither checked nor refused; declare each one by its "
        f"dotted path, weights: {{{cut}.W: {cut}.dW}}, or constants: [{cut}.mask] for a fixed array")}]
    result, report = run_json(str(spec_of("{type: ./hostile.py:Chain}")), "--strict")
    assert result.exit_code == 1 and report["specs"][0]["outcome"] == "failed"


def test_a_declared_weight_below_the_search_is_checked_and_the_warning_goes(spec_of, run_json):
    layer = f"{{type: ./hostile.py:Chain, bug: true, weights: {{{DEEP}.W: {DEEP}.dW, {DEEP}.b: {DEEP}.db}}}}"
    result, report = run_json(str(spec_of(layer)))
    assert _rows(report) == [("input", "passed"), (f"{DEEP}.W", "failed"), (f"{DEEP}.b", "passed")]
    assert report["specs"][0]["warnings"] == []


def test_the_search_counts_objects_not_lists_and_keeps_what_it_could_not_look_into():
    class Node:
        def __init__(self, **attributes):
            self.__dict__.update(attributes)

    nested = Node(W=np.ones(2))
    for level in range(MAX_DEPTH):   # lists and dicts, as many as the objects searched
        nested = [nested] if level % 2 else {"k": nested}
    found = survey(Node(a=nested, many=[np.ones(1)] * (MAX_ITEMS + 1), losses=[0.5] * 1000,
                        sub=Node(b=0.5, db=1.0)))
    assert list(found.arrays) == [(("attr", "a"),) + (("item", 0), ("item", "k")) * (MAX_DEPTH // 2) + (("attr", "W"),)]
    assert found.numbers == {(("attr", "sub"), ("attr", "b")): 0.5, (("attr", "sub"), ("attr", "db")): 1.0}
    # a long list of arrays is said; one of numbers hides no weight
    assert {place: why for place, (_, why) in found.unsearched.items()} == {
        (("attr", "many"),): f"a list of {MAX_ITEMS + 1} items, more than the {MAX_ITEMS} searched"}


def test_an_object_seen_first_on_a_deep_path_is_searched_again_from_a_shallow_one():
    """Depth first, the chain reaches a holder at the deepest level searched before the shortcut
    to it: searched again from the shortcut, it shows the weight below it, and nothing is left."""
    class Node:
        pass

    chain = Node()
    chain.W = np.ones(2)
    holders = []
    for _ in range(MAX_DEPTH + 2):   # the root, these, the leaf: deeper than searched
        holder = Node()
        holder.inner, chain = chain, holder
        holders.append(holder)
    root = Node()
    root.chain, root.shortcut = chain, holders[3]   # four holders above the leaf
    found = survey(root)
    assert (("attr", "shortcut"),) + (("attr", "inner"),) * 4 + (("attr", "W"),) in found.arrays
    assert found.unsearched == {}


# --- 02: a parameter forward rebinds at every call ----------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bug", [False, True])
def test_a_bias_forward_rebinds_to_a_reshaped_view_is_checked(spec_of, run_json, bug, dtype):
    """self.b = self.b.reshape(1, -1) in forward: a new array at every call, so formerly taken for
    a cache like self.x and left alone, and a db 5x too large passed."""
    result, report = run_json(str(spec_of(f"{{type: ./hostile.py:ReshapeBias, bug: {str(bug).lower()}}}", dtype)))
    assert _rows(report) == [("input", "passed"), ("W", "passed"), ("b", _verdict(bug))]


def test_a_weight_forward_rebinds_without_a_gradient_found_is_an_error(spec_of, run_json):
    result, report = run_json(str(spec_of("{type: ./hostile.py:AstypeW}")))
    assert report["specs"][0]["error"].startswith(
        "layer 0 (./hostile.py:AstypeW): forward reads self.W, but gradcheck found no gradient for it")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bug", [False, True])
def test_a_rebound_weight_is_perturbed_where_forward_reads_it(spec_of, run_json, bug, dtype):
    """self.W = self.W.astype(x.dtype) copies W at every call: each forward starts from the
    array the checker perturbs, or W's perturbations would never reach forward."""
    layer = f"{{type: ./hostile.py:AstypeW, weights: {{W: step_W}}, bug: {str(bug).lower()}}}"
    result, report = run_json(str(spec_of(layer, dtype)))
    assert result.exit_code == int(bug), result.output
    assert _rows(report) == [("input", "passed"), ("W", _verdict(bug))]


@pytest.mark.parametrize("bug", [False, True])
def test_an_array_forward_derives_from_a_weight_at_every_call_is_no_parameter(spec_of, run_json, bug):
    """self.W_eff = self.W * self.mask, with a dW_eff kept beside it: the same values at every
    call, but made from W, not from the W_eff forward finds; W is the parameter."""
    result, report = run_json(str(spec_of(f"{{type: ./hostile.py:DerivedWeight, constants: [mask], "
                                          f"bug: {str(bug).lower()}}}")))
    assert result.exit_code == int(bug), result.output
    assert _rows(report) == [("input", "passed"), ("W", _verdict(bug))]


# --- 03: weights in a SimpleNamespace, a frozen dataclass ---------------------------------------


@pytest.mark.parametrize("bug", [False, True])
def test_weights_in_a_simple_namespace_are_found(spec_of, run_json, bug):
    result, report = run_json(str(spec_of(f"{{type: ./hostile.py:NamespaceHolder, bug: {str(bug).lower()}}}")))
    assert _rows(report) == [("input", "passed"), ("p.W", _verdict(bug))]
    assert report["specs"][0]["notes"][0] == \
        "layer 0 (./hostile.py:NamespaceHolder): parameters found by name: p.W (gradient p.dW)"


def test_the_float32_cast_reaches_a_weight_in_a_frozen_dataclass(spec_of, run_json):
    result, report = run_json(str(spec_of("{type: ./hostile.py:FrozenHolder}", "float32")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("weights.W", "passed")]


# --- 04: a bias kept as a number ----------------------------------------------------------------


def test_a_float_forward_reads_with_a_gradient_beside_it_is_an_error(spec_of, run_json):
    result, report = run_json(str(spec_of("{type: ./hostile.py:FloatBias}")))
    assert report["specs"][0]["error"] == (
        "layer 0 (./hostile.py:FloatBias): forward reads self.b, a Python float, and backward stores its gradient "
        "in self.db; gradcheck perturbs a parameter in place, which a number cannot be, so this gradient would never "
        "be compared: keep it in a numpy array (self.b = np.array(0.5), or np.full(1, 0.5)), or, if it is fixed, "
        "declare it a constant, constants: [b]")
    result, report = run_json(str(spec_of("{type: ./hostile.py:FloatBias, scalar: numpy}")))
    assert "forward reads self.b, a numpy float64 scalar, and backward" in report["specs"][0]["error"]


def test_a_float_declared_a_constant_is_left_alone(spec_of, run_json):
    result, report = run_json(str(spec_of("{type: ./hostile.py:FloatBias, constants: [b]}")))
    assert result.exit_code == 0, result.output
    assert _rows(report) == [("input", "passed"), ("W", "passed")]


# --- 05: a params dict with its gradients under another documented name -------------------------


@pytest.mark.parametrize("into", ["gradients", "dparams"])
@pytest.mark.parametrize("bug", [False, True])
def test_a_params_dict_with_a_gradients_dict(spec_of, run_json, into, bug):
    """Formerly `backward did not set grads['W']`: a params dict was paired with grads alone."""
    result, report = run_json(str(spec_of(f"{{type: ./hostile.py:ParamsGradients, into: {into}, "
                                          f"bug: {str(bug).lower()}}}")))
    assert result.exit_code == int(bug), result.output
    assert _rows(report) == [("input", "passed"), ("W", _verdict(bug))]


# --- 06: an update step inside a function pair's backward ---------------------------------------


def test_a_function_pair_whose_backward_updates_w_is_an_error_saying_so(tmp_path, write_spec, run_json):
    """Formerly `backward wrong for input` (dx was right, but every later call saw other weights)."""
    shutil.copy(STYLES / "hostile.py", tmp_path / "hostile.py")
    path = write_spec("input: [4, 3]\nlayers:\n  - {type: ./hostile.py:affine_sgd, params: {w: [3, 2], b: [2]}}\n")
    result, report = run_json(str(path))
    assert report["specs"][0]["error"] == (
        "layer 0 (./hostile.py:affine_sgd): affine_sgd_backward changed the values of w in place (an update step, "
        "like w -= lr * dw?); gradcheck checks gradients at fixed weights: backward must leave them as they are and "
        "return their gradients")


# --- 07: params and grads as lists --------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("entry, bug", [
    ("{type: ./hostile.py:ListParams}", False),
    ("{type: ./hostile.py:ListParams, bug: true}", True),
    ("{type: ./hostile.py:ListParams, kind: tuple}", False),
    ("{type: ./hostile.py:ListParams, bug: true, weights: {params.0: grads.0, params.1: grads.1}}", True),
])
def test_a_params_list_is_paired_by_index_with_the_grads_list(spec_of, run_json, entry, bug, dtype):
    """Formerly `params is a list; it must be a dict`, even with weights: declared."""
    result, report = run_json(str(spec_of(entry, dtype)))
    assert result.exit_code == int(bug), result.output
    assert _rows(report) == [("input", "passed"), ("params.0", "passed"), ("params.1", _verdict(bug))]


# --- 08: a transposed view of a weight ----------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bug", [False, True])
def test_a_view_of_a_weight_is_that_weight(spec_of, run_json, bug, dtype):
    """self.WT = self.W.T, read by forward: formerly `forward reads self.WT, no gradient`. In
    float32 the cast replaces W, and the view is made again on the new array."""
    result, report = run_json(str(spec_of(f"{{type: ./hostile.py:ViewWT, bug: {str(bug).lower()}}}", dtype)))
    assert result.exit_code == int(bug), result.output
    assert _rows(report) == [("input", "passed"), ("W", _verdict(bug))]


# --- 09: the warnings of assert_gradients -------------------------------------------------------


class ReLUInPlace:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, grad_out):
        grad_out[self.x <= 0] = 0.0       # writes into grad_out: a grad_out_modified warning
        return grad_out


def test_assert_gradients_raises_each_warning_of_a_passing_result_as_a_python_warning():
    from gradcheck_cli import GradcheckWarning, assert_gradients
    from gradcheck_cli.pytest_plugin import GradcheckWarning as from_the_plugin

    assert from_the_plugin is GradcheckWarning
    with pytest.warns(GradcheckWarning, match=r"^layer 0 \(ReLUInPlace\): backward wrote into the grad_out array"):
        result = assert_gradients(ReLUInPlace(), input_shape=(4, 5))
    assert result.passed
    with pytest.raises(AssertionError, match="strict mode fails a spec with any warning"):
        assert_gradients(ReLUInPlace(), input_shape=(4, 5), strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_gradients("tanh", input_shape=(4, 5))      # no warning, none raised


def _plugin_name() -> str:
    """What `-p` must name (as in test_pytest_plugin.py): the entry point once installed."""
    import importlib.metadata
    for ep in importlib.metadata.entry_points(group="pytest11"):
        if ep.value == "gradcheck_cli.pytest_plugin":
            return ep.name
    return "gradcheck_cli.pytest_plugin"


def test_the_plugins_strict_option_fails_a_test_whose_assert_gradients_warns(pytester):
    pytester.makepyfile(test_relu="""
        import numpy as np
        from gradcheck_cli import assert_gradients

        class ReLUInPlace:
            def forward(self, x):
                self.x = x
                return np.maximum(x, 0.0)

            def backward(self, grad_out):
                grad_out[self.x <= 0] = 0.0
                return grad_out

        def test_relu():
            assert_gradients(ReLUInPlace(), input_shape=(4, 5))
        """)
    result = pytester.runpytest_subprocess("-p", _plugin_name(), "-p", "no:randomly")
    result.assert_outcomes(passed=1, warnings=1)
    result = pytester.runpytest_subprocess("-p", _plugin_name(), "-p", "no:randomly", "-o", "gradcheck_strict=true")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*GradcheckWarning: layer 0 (ReLUInPlace): backward wrote into the grad_out*"])



def test_check_layer_leaves_a_deep_object_as_found_after_a_float32_check():
    """The float32 cast replaces the weights wherever discovery found them, four objects deep
    too: the caller's object gets its own arrays back, with their values."""
    import importlib.util

    from gradcheck_cli import check_layer
    loader = importlib.util.spec_from_file_location("hostile_layers", STYLES / "hostile.py")
    hostile = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(hostile)

    class Model:   # built already: no build() to make its sublayers anew
        def __init__(self):
            self.stages = [hostile.Stage(4, np.random.default_rng(0), False)]

        def forward(self, x):
            return self.stages[0].forward(x)

        def backward(self, g):
            return self.stages[0].backward(g)

    model = Model()
    W = model.stages[0].blocks[0].layers[0].W
    values = W.copy()
    result = check_layer(model, input_shape=(5, 4), dtype="float32")
    assert [c.tensor for c in result.checks] == ["input", "stages.0.blocks.0.layers.0.W",
                                                 "stages.0.blocks.0.layers.0.b"]
    assert model.stages[0].blocks[0].layers[0].W is W and np.array_equal(W, values)
