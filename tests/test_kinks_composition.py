"""Kinks in composition: a network whose every layer's backward is a valid local choice passes
even where its one-sided derivatives do not bracket that choice (zero-initialized weights before
a ReLU), with the elements counted as kinks; a layer whose choice at a kink is invalid still
fails, also where each tied element alone looks right (a max pooling that gives the gradient to
every tied element). The cases: tests/mutation/kink_cases.py, layers in tests/data/kinks/."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from gradcheck_cli.check.numeric import default_step
from gradcheck_cli.check.precision import Precision
from gradcheck_cli.check.ties import check_ties
from gradcheck_cli.check.verdict import Tolerance
from gradcheck_cli.model.layers import Linear
from gradcheck_cli.results import PASSED, TensorCheck
from gradcheck_cli.run.batch import RunOptions, check_spec
from mutation import kinks as script
from mutation.kink_cases import INVALID, LAYERS_FILE, VALID, KinkCase


def _run(case: KinkCase, tmp_path):
    return script.run(case, tmp_path)


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.name)
def test_a_valid_choice_at_kinks_passes_with_the_kinks_counted(case, tmp_path):
    result = _run(case, tmp_path)
    assert script.verdict(case, result) is None, [(c.layer, c.tensor, c.mismatches) for c in result.checks]
    assert result.outcome == "passed" and sum(c.kinks for c in result.checks) > 0
    assert result.layer_checks == [] and result.suspect_layer is None


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_an_invalid_choice_at_kinks_fails_and_is_named(case, tmp_path):
    result = _run(case, tmp_path)
    assert result.outcome == "failed", result.error
    assert result.suspect_layer == case.suspect


def test_the_script_counts_every_case(capsys):
    assert script.main() == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"kinks in composition: valid passed {len(VALID)}/{len(VALID)}, invalid failed {len(INVALID)}/{len(INVALID)}")
    assert len(VALID) >= 8 and len(INVALID) >= 8


def _write(tmp_path, layers, input_shape=(4, 3), name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"seed": 0, "input": list(input_shape), "layers": layers, "loss": "mse"}))
    return str(path)


ZERO_LINEAR = {"type": "linear", "out": 5, "bias": False, "init": "zeros"}


def test_zero_weights_before_a_relu_pass_with_every_weight_counted_as_a_kink(tmp_path, run_json):
    """Before: layer 0 W FAILED ("every layer's backward is right on its own"), 5 of 15 off."""
    result, report = run_json(_write(tmp_path, [ZERO_LINEAR, "relu", {"type": "linear", "out": 2}]))
    assert result.exit_code == 0, result.output
    (spec,) = report["specs"]
    counts = {(c["layer"], c["tensor"]): (c["outcome"], c["mismatches"], c["kinks"]) for c in spec["checks"]}
    assert counts[(0, "W")] == ("passed", 0, 15)           # every W[i, j] moves 4 pre-activations at 0
    assert counts[(1, "input")] == ("passed", 0, 20)       # relu'(0) = 0 within [0, 1], element by element
    assert spec["suspect_layer"] is None and spec["layers"] == []
    assert spec["notes"] == ["layer 0 (linear) W: 5 elements disagreed with the finite difference, each where moving "
                             "it crosses two or more kinks at once, inside layer 1 (relu); every layer's backward was "
                             "checked alone (at its kinks jointly too), so they count as kinks"]


def test_a_relu_with_derivative_2_at_0_fails_alone(tmp_path):
    relu = {"type": f"{LAYERS_FILE}:ReLU", "at_zero": 2.0}
    result = check_spec(_write(tmp_path, [ZERO_LINEAR, relu, {"type": "linear", "out": 2}]))
    assert result.outcome == "failed" and result.suspect_layer == 1
    assert result.layer_checks[1].wrong_tensors == ["input"]
    assert [lc.outcome for lc in result.layer_checks] == ["passed", "failed", "passed"]
    # with a suspect nothing is excused: the error flowing down into W stays in the table
    assert [(c.layer, c.tensor, c.kinks) for c in result.checks if not c.passed] == [(0, "W", 0), (1, "input", 0)]


POOL = (2, 2, 4, 4)


@pytest.mark.parametrize("mode", ["full", "fast", "sample"])
def test_a_max_pool_giving_every_tied_element_the_gradient_fails_and_is_named(tmp_path, mode):
    """Every tensor of the network passes element by element (each tied entry's G lies within
    its bracket [0, G]); the layer alone, its ties moved together, does not."""
    layers = [{"type": f"{LAYERS_FILE}:Constant"}, {"type": f"{LAYERS_FILE}:MaxPoolToEveryTie"},
              {"type": "linear", "out": 2}]
    result = check_spec(_write(tmp_path, layers, POOL), RunOptions(mode=mode, samples=8))
    assert result.outcome == "failed" and result.suspect_layer == 1
    assert all(c.passed for c in result.checks) and result.checks[1].kinks > 0
    (alone,) = result.layer_checks[1].checks
    assert not alone.passed and "at one tie" in alone.hint and "not given to each" in alone.hint
    assert any(note.startswith("layer 1 (") and "alone, input: " in note and "at one tie" in note
               for note in result.notes)


@pytest.mark.parametrize("route", ["first", "last", "share"])
def test_a_max_pool_giving_the_gradient_to_one_tied_element_or_sharing_it_passes(tmp_path, route):
    layers = [{"type": f"{LAYERS_FILE}:Constant"}, {"type": f"{LAYERS_FILE}:MaxPool", "route": route},
              {"type": "linear", "out": 2}]
    result = check_spec(_write(tmp_path, layers, POOL))
    assert result.outcome == "passed", [(c.layer, c.tensor) for c in result.checks if not c.passed]
    assert result.checks[1].kinks == 64                    # every input of the pool sits on a tie


# The joint check of one layer alone, on a function whose valid choices are known: the max of
# 4 tied entries (a 2x2 window of zeros), weighted by G = 1.5. Valid: shares of 1.5 summing to 1.5.

def _tied_max(analytic):
    theta = np.zeros(4)
    precision = Precision(False, np.dtype(np.float64), Tolerance(1e-6, 1e-9), default_step(np.float64))
    check = TensorCheck(layer=0, type="max", tensor="input", shape=(4,), max_abs_error=0.0, max_rel_error=0.0,
                        worst_index=(0,), analytic=0.0, numeric=0.0, outcome=PASSED, elements=4, kinks=4,
                        checked=4, kink_at=np.arange(4))
    return check_ties(check, np.asarray(analytic, dtype=float), theta, lambda: 1.5 * float(theta.max()),
                      lambda: np.array([theta.max()]), precision)


@pytest.mark.parametrize("analytic", [[1.5, 0, 0, 0], [0, 0, 0, 1.5], [0.375] * 4, [0.5, 1.0, 0, 0]])
def test_a_tie_shared_among_its_entries_is_valid(analytic):
    assert _tied_max(analytic).passed


@pytest.mark.parametrize("analytic, total", [([1.5] * 4, 6.0), ([0.75] * 4, 3.0), ([0.3] * 4, 1.2)])
def test_a_tie_whose_entries_sum_to_more_or_less_than_g_is_not(analytic, total):
    check = _tied_max(analytic)
    assert not check.passed and check.mismatches == 4 and check.kinks == 0
    assert check.analytic == pytest.approx(total) and check.numeric == pytest.approx(1.5, rel=1e-6)
    assert check.hint.startswith("4 elements at one tie ([0], [1], [2], [3])")


def test_part_of_a_tie_is_bracketed_rather_than_summed():
    """Two of the 4 tied entries checked (a sample): moved together they raise the max only
    upwards, so their sum may lie anywhere in [0, G]."""
    theta = np.zeros(4)
    precision = Precision(False, np.dtype(np.float64), Tolerance(1e-6, 1e-9), default_step(np.float64))

    def check(analytic):
        base = TensorCheck(layer=0, type="max", tensor="input", shape=(4,), max_abs_error=0.0, max_rel_error=0.0,
                           worst_index=(0,), analytic=0.0, numeric=0.0, outcome=PASSED, elements=4, kinks=2,
                           checked=2, kink_at=np.array([0, 2]))
        return check_ties(base, np.asarray(analytic, dtype=float), theta, lambda: 1.5 * float(theta.max()),
                          lambda: np.array([theta.max()]), precision)

    assert check([0.375, 0.375, 0.375, 0.375]).passed      # shared: 0.75 of 1.5 on the two checked
    assert check([0.0, 0.0, 0.0, 1.5]).passed              # all on an unchecked one: 0
    assert not check([1.5, 0.0, 1.5, 0.0]).passed          # 3.0: more than the tie can give


def _joint(function, analytic, kink_at, size):
    theta = np.zeros(size)
    precision = Precision(False, np.dtype(np.float64), Tolerance(1e-6, 1e-9), default_step(np.float64))
    base = TensorCheck(layer=0, type="pool", tensor="input", shape=(size,), max_abs_error=0.0, max_rel_error=0.0,
                       worst_index=(0,), analytic=0.0, numeric=0.0, outcome=PASSED, elements=size,
                       kinks=len(kink_at), checked=size, kink_at=np.asarray(kink_at))
    return check_ties(base, np.asarray(analytic, dtype=float), theta, lambda: float(np.sum(function(theta))),
                      lambda: np.atleast_1d(function(theta)), precision)


def _overlapping(theta):
    """Two pooling windows that share θ1, all tied at 0, weighted 1.5 and 0.5."""
    return np.array([1.5 * max(theta[0], theta[1]), 0.5 * max(theta[1], theta[2])])


@pytest.mark.parametrize("analytic, valid", [([1.5, 0.5, 0.0], True), ([0.0, 2.0, 0.0], True),
                                             ([1.5, 2.0, 0.5], False)])
def test_overlapping_ties_are_summed_as_one(analytic, valid):
    """θ0 and θ2 are not coupled (no window holds both): no bracket of all three is asked for,
    but moved together the three raise both maxima, at rate 2.0: routing each window's gradient
    to every tied element (4.0 in all) fails on that sum."""
    assert _joint(_overlapping, analytic, [0, 1, 2], 3).passed is valid


def test_part_of_two_overlapping_ties_is_not_bracketed():
    """Windows {0, 1, 3} (weight 2) and {1, 2, 4} (weight -1), all tied, only 0, 1, 2 sampled.
    Moved together they raise both maxima upwards only: rates 0 and 1; yet routing window A to
    θ0 and B to θ4 (valid) puts 2 on them. Not every pair is coupled (0 and 2), so no bracket."""
    def windows(theta):
        return np.array([2.0 * max(theta[0], theta[1], theta[3]) - max(theta[1], theta[2], theta[4])])
    assert _joint(windows, [2.0, 0.0, 0.0, 0.0, -1.0], [0, 1, 2], 5).passed


def test_independent_kinks_are_not_summed():
    """A ReLU's kinks side by side (each output its own input) are separable: nothing joint is
    asked of them, whatever valid choice each makes."""
    theta = np.zeros(4)
    weights = np.array([1.0, -2.0, 0.5, 3.0])
    precision = Precision(False, np.dtype(np.float64), Tolerance(1e-6, 1e-9), default_step(np.float64))
    base = TensorCheck(layer=0, type="relu", tensor="input", shape=(4,), max_abs_error=0.0, max_rel_error=0.0,
                       worst_index=(0,), analytic=0.0, numeric=0.0, outcome=PASSED, elements=4, kinks=4,
                       checked=4, kink_at=np.arange(4))
    # a sum of ReLUs into one output: linked through the output, but separable; derivative 1 at 0
    # for the second alone sums to -2, below the rates 0 and 2.5 of all four moved together
    result = check_ties(base, weights * np.array([0.0, 1.0, 0.0, 0.0]), theta,
                        lambda: float(np.sum(weights * np.maximum(theta, 0))),
                        lambda: np.array([np.sum(weights * np.maximum(theta, 0))]), precision)
    assert result.passed


def test_linear_init_zeros_gives_w_exactly_zero_and_keeps_the_default():
    rng = np.random.default_rng(0)
    zero = Linear(out=3, bias=False, init="zeros")
    zero.build((4, 2), rng)
    assert np.array_equal(zero.params["W"], np.zeros((2, 3)))
    normal = Linear(out=3)
    normal.build((4, 2), np.random.default_rng(0))
    assert np.std(normal.params["W"]) > 0 and set(normal.params) == {"W", "b"}


def test_linear_init_must_be_a_known_one(write_spec, run_json):
    path = write_spec("""
        input: [4, 3]
        layers:
          - {type: linear, out: 2, init: ones}
        """)
    result, report = run_json(str(path))
    assert result.exit_code == 2
    assert report["specs"][0]["error"] == f"{path}:3: layers[0].init: expected one of normal, zeros, got 'ones'"
