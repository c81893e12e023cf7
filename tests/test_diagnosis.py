"""Each fingerprint of the diagnosis on synthetic arrays: it names its pattern, and says nothing
on a pattern that only resembles it (a wrong kind misleads more than silence)."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.check.diagnosis import KINDS, Evidence, diagnose
from gradcheck_cli.check.verdict import Tolerance

TOL = Tolerance(1e-6, 1e-9)
RNG = np.random.default_rng(7)


class Probe:
    """What the layer would answer: backward(g) from a function of g, a fixed row Jacobian."""

    def __init__(self, backward=None, jacobian=None):
        self._backward, self._jacobian = backward, jacobian

    def backward(self, g):
        return None if self._backward is None else self._backward(g)

    def row_jacobian(self, r):
        return None if self._jacobian is None else self._jacobian[r]


def evidence(analytic, numeric, tensor="input", upstream=None, x=None, options=None, probe=None, where=None):
    analytic, numeric = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    where = np.arange(analytic.size) if where is None else np.asarray(where)
    numeric = numeric.ravel()[where] if numeric.size == analytic.size else numeric.ravel()
    a = analytic.ravel()[where]
    mismatch = np.abs(a - numeric) > TOL.atol + TOL.rtol * np.maximum(np.abs(a), np.abs(numeric))
    upstream = RNG.standard_normal(analytic.shape) if upstream is None else upstream
    x = RNG.standard_normal(analytic.shape) if x is None else x
    return Evidence(tensor, analytic, numeric, mismatch, where, TOL, upstream, x, options or {}, probe)


def one(ev):
    return diagnose([ev]).get(ev.tensor)


def test_a_mean_over_the_batch_is_named_one_over_n():
    n = RNG.standard_normal(4)
    found = one(evidence(n / 5, n, tensor="b", x=RNG.standard_normal((5, 3))))
    assert found.kind == "factor"
    assert found.detail == ("analytic = 0.2 × numeric for every element of b, 1/N with N = 5 rows in the batch: "
                            "a mean over the batch where the sum belongs?")
    assert 0 < found.confidence <= 1


def test_a_dropout_mask_without_its_one_over_p_names_the_option():
    n = RNG.standard_normal((5, 4))
    found = one(evidence(0.5 * n, n, options={"p": 0.5}))  # the option comes before the constant 1/2
    assert found.kind == "factor" and "p = 0.5, an option of the layer" in found.detail


def test_a_mean_over_several_axes_names_them():
    n = RNG.standard_normal(2)
    found = one(evidence(n / 60, n, tensor="gamma", x=RNG.standard_normal((3, 2, 4, 5))))
    assert found.kind == "factor" and "1/(N·H·W) = 1/60" in found.detail


def test_a_constant_factor_without_a_name_is_said_with_less_confidence():
    n = RNG.standard_normal((4, 3))
    found = one(evidence(1.0001 * n, n))
    assert found.kind == "factor" and found.detail.startswith("analytic = 1.0001 × numeric")
    assert "none of 1/N" in found.detail
    named = one(evidence(2 * n, n))
    assert found.confidence < named.confidence


def test_two_elements_with_some_ratio_are_no_factor():
    """Any two numbers have a ratio: without a name for it, that is no evidence."""
    assert one(evidence([0.37, -0.74], [0.1, -0.2], tensor="b", x=np.ones((4, 3)))) is None
    assert one(evidence([0.37, -0.74, 1.11, 0.74], [0.1, -0.2, 0.3, 0.2], tensor="b", x=np.ones((4, 3)))).kind \
        == "factor"


def test_a_flipped_sign():
    n = RNG.standard_normal((4, 3))
    assert one(evidence(-n, n)).kind == "sign"


def test_a_transposed_square_matrix():
    n = RNG.standard_normal((4, 4))
    found = one(evidence(n.T, n, tensor="W"))
    assert found.kind == "transpose" and found.detail.startswith("analytic = numericᵀ for W")


def test_a_parameter_forward_does_not_read_is_blamed_on_forward():
    found = one(evidence(RNG.standard_normal(3), np.zeros(3), tensor="gamma"))
    assert found.kind == "forward" and found.detail.startswith("moving gamma does not change the layer's output")


def test_a_gradient_never_set():
    assert one(evidence(np.zeros(4), RNG.standard_normal(4), tensor="beta")).kind == "zero"


def test_zeros_where_the_numeric_gradient_is_not():
    n = RNG.standard_normal((5, 6))
    a = n.copy()
    a[[0, 2, 4], [1, 5, 3]] = 0.0  # scattered: no row, column or sign of x explains them
    x = np.abs(RNG.standard_normal((5, 6)))
    found = one(evidence(a, n, x=x))
    assert found.kind == "zero" and "analytic is 0 at the 3 elements of dx" in found.detail


def test_two_sampled_zeros_are_too_few_to_say_so():
    n = RNG.standard_normal((5, 6))
    a = n.copy()
    a[0, 1] = a[2, 5] = 0.0
    where = np.array([1, 17, 20, 29])  # sample mode: 4 of 30 compared
    assert one(evidence(a, n, x=np.abs(RNG.standard_normal((5, 6))), where=where)) is None


def test_an_ignored_upstream_gradient():
    x = RNG.standard_normal((4, 3))
    local = x * (1 - x)
    probe = Probe(backward=lambda g: {"input": local})
    found = one(evidence(local, RNG.standard_normal((4, 3)), probe=probe))
    assert found.kind == "upstream_ignored"
    g = RNG.standard_normal((4, 3))
    linear = Probe(backward=lambda u: {"input": u * local})  # backward uses grad_out: not this kind
    assert one(evidence(g * local, RNG.standard_normal((4, 3)), upstream=g, probe=linear)) is None


def test_swapped_gradients_of_two_parameters():
    gamma, beta = RNG.standard_normal(4), RNG.standard_normal(4)
    found = diagnose([evidence(beta, gamma, tensor="gamma"), evidence(gamma, beta, tensor="beta")])
    assert {t: d.kind for t, d in found.items()} == {"gamma": "swapped", "beta": "swapped"}
    assert "the one beta should get" in found["gamma"].detail
    assert diagnose([evidence(beta, gamma, tensor="gamma"), evidence(gamma + 1, beta, tensor="beta")]) == {}


def test_the_identity_path_missing():
    g = RNG.standard_normal((4, 3))
    branch = RNG.standard_normal((4, 3))
    assert one(evidence(branch, branch + g, upstream=g)).kind == "skip_missing"


def test_grad_out_returned_unchanged():
    g = RNG.standard_normal((4, 3))
    found = one(evidence(g.copy(), g * RNG.uniform(0.5, 1.5, (4, 3)), upstream=g))
    assert found.kind == "passthrough"


def test_wrong_only_where_the_input_is_negative():
    x = RNG.standard_normal((6, 5))
    n = RNG.standard_normal((6, 5))
    found = one(evidence(np.where(x > 0, n, -n), n, x=x))
    assert found.kind == "branch"
    assert found.detail.startswith("wrong only where the layer's input is negative")
    assert "analytic = -numeric there" in found.detail


def test_branches_exchanged():
    x = RNG.standard_normal((6, 5))
    g = RNG.standard_normal((6, 5))
    right, wrong = np.where(x > 0, g, 0.1 * g), np.where(x > 0, 0.1 * g, g)
    found = one(evidence(wrong, right, x=x))
    assert found.kind == "branch" and "0.1 × numeric where the layer's input is positive and 10 ×" in found.detail
    assert "exchanged" in found.detail


def test_time_steps_cut_short():
    n = RNG.standard_normal((3, 4, 2))
    a = n.copy()
    a[:, :3] += RNG.standard_normal((3, 3, 2))
    found = one(evidence(a, n, upstream=RNG.standard_normal((3, 4, 3))))
    assert found.kind == "partial"
    assert found.detail == ("dx is wrong only in time steps 0–2 of 4, right in 3 (backpropagation through time cut "
                            "short?)")


def test_one_wrong_channel_says_which():
    n = RNG.standard_normal((2, 3, 2, 2))
    a = n.copy()
    a[:, 1] = 0.0
    found = one(evidence(a, n, upstream=RNG.standard_normal((2, 7))))
    assert found.kind == "partial" and found.detail == "dx is wrong only in channels 1 of 3, right in 0, 2; analytic " \
                                                       "is 0 there"


def test_one_wrong_element_is_no_wrong_row():
    n = RNG.standard_normal((4, 5))
    a = n.copy()
    a[2, 3] += 1.0
    assert one(evidence(a, n, tensor="W")) is None


def test_the_upstream_gradient_of_one_row_only():
    g = RNG.standard_normal((4, 3))
    probe = Probe(backward=lambda upstream: {"b": upstream[0].copy()})
    found = one(evidence(g[0], g.sum(axis=0), tensor="b", upstream=g, probe=probe))
    assert found.kind == "partial"
    assert found.detail.startswith("backward ignores the upstream gradient of rows 1–3 for b (uses row 0 only)")


def _softmax_rows(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_only_the_diagonal_of_each_rows_jacobian():
    y = _softmax_rows(RNG.standard_normal((3, 4)))
    jacobians = [np.diag(row) - np.outer(row, row) for row in y]   # J[i, j] = dy_i / dx_j
    g = RNG.standard_normal((3, 4))
    right = np.stack([g[r] @ jacobians[r] for r in range(3)])
    diagonal = g * y * (1 - y)
    found = one(evidence(diagonal, right, upstream=g, probe=Probe(jacobian=jacobians)))
    assert found.kind == "diagonal_only"


def test_the_transposed_jacobian():
    W = RNG.standard_normal((4, 4))
    jacobians = [W.T] * 3                                           # y = x W: dy_i/dx_j = W[j, i]
    g = RNG.standard_normal((3, 4))
    found = one(evidence(g @ W, g @ W.T, upstream=g, probe=Probe(jacobian=jacobians)))
    assert found.kind == "transpose" and found.detail.startswith("dx = J·grad_out for each row")


def test_no_fingerprint_no_diagnosis():
    """A backward that is wrong in no particular way (a derivative at the wrong point)."""
    x = RNG.standard_normal((4, 3))
    g = RNG.standard_normal((4, 3))
    sigmoid = 1 / (1 + np.exp(-x))
    at_output = 1 / (1 + np.exp(-np.logaddexp(0, x)))
    probe = Probe(backward=lambda u: {"input": u * at_output},
                  jacobian=[np.diag(at_output[r]) for r in range(4)])
    assert one(evidence(g * at_output, g * sigmoid, upstream=g, x=x, probe=probe)) is None


def test_every_kind_is_documented_and_the_suite_uses_the_same_list():
    from mutation.cases import KINDS as SUITE_KINDS

    assert set(KINDS) == set(SUITE_KINDS)
    assert all(meaning for meaning in KINDS.values())
    import gradcheck_cli.check.diagnosis as module
    assert all(f"- {kind}: " in module.__doc__ for kind in KINDS)


@pytest.mark.parametrize("confidence", [-0.5, 2.0])
def test_confidence_stays_within_zero_and_one(confidence):
    from gradcheck_cli.check.diagnosis import _found

    assert 0.0 <= _found("sign", "", confidence).confidence <= 1.0
