"""The verdict per element (check/verdict.judge, relative_error) on numbers with known answers:
what matches, what is a mismatch, and when noise or a kink excuses a disagreement."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.check.numeric import CloserLook, closer_look
from gradcheck_cli.check.verdict import FINER, Tolerance, judge, relative_error

TOL = Tolerance(rtol=1e-6, atol=1e-9)
EPS = float(np.finfo(np.float64).eps)


def never_look(where, scale):
    raise AssertionError(f"element {where} matched, yet was looked at again")


class Confirming:
    """A closer look that settles on the given numeric values (a smooth function whose finite
    difference was right), with the given noise; records which elements were looked at."""

    def __init__(self, numeric, noise=1e-15):
        self.numeric, self.noise, self.seen = np.asarray(numeric, dtype=np.float64), noise, []

    def __call__(self, where, scale):
        self.seen.append((tuple(int(i) for i in where), scale))
        value = float(self.numeric[where])
        return CloserLook(richardson=value, noise=self.noise, left=value, right=value, settled=True)


def test_equal_gradients_match_without_a_second_look():
    a = np.random.default_rng(0).standard_normal((3, 4))
    v = judge(a, a.copy(), TOL, 0.0, never_look)
    assert not v.mismatch.any() and not v.kink.any()
    assert (v.abs_error == 0).all() and (v.rel_error == 0).all() and (v.excess == 0).all()
    assert np.array_equal(v.numeric, a)
    assert v.mismatch.shape == (3, 4)


def test_a_scalar_parameter_is_judged_too():
    v = judge(np.array(2.5), np.array(2.5 * (1 + 1e-4)), TOL, 0.0, Confirming(np.array(2.5 * (1 + 1e-4))))
    assert v.mismatch.shape == () and bool(v.mismatch)


def test_an_element_off_by_a_relative_1e_4_fails_at_rtol_1e_6():
    a = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -7.0]])
    n = a.copy()
    n[1, 2] *= 1 + 1e-4        # off: 100 times the tolerance
    n[0, 1] *= 1 + 5e-7        # within rtol: never looked at
    look = Confirming(n)
    v = judge(a, n, TOL, 0.0, look)
    assert look.seen == [((1, 2), 1.0)]
    assert v.mismatch.tolist() == [[False, False, False], [False, False, True]]
    assert v.rel_error[1, 2] == pytest.approx(1e-4, rel=1e-3)
    assert v.abs_error[1, 2] == pytest.approx(7e-4, rel=1e-9)
    assert v.excess[1, 2] == pytest.approx(7e-4 / (1e-9 + 1e-6 * 7 * (1 + 1e-4)), rel=1e-9)
    assert v.rel_error[0, 1] == pytest.approx(5e-7, rel=1e-3)
    assert not v.kink.any()


def test_near_zero_entries_are_held_to_the_atol_floor():
    """Entries smaller than atol may differ by up to atol; their relative error is measured
    against atol/rtol, not against their own size (which would give 1 or 2 for rounding noise)."""
    a = np.array([0.0, 1e-12, -3e-10])
    n = np.array([5e-10, -1e-12, 3e-10])
    v = judge(a, n, TOL, 0.0, never_look)
    assert not v.mismatch.any()
    assert v.rel_error == pytest.approx(np.abs(a - n) / 1e-3, rel=1e-12)
    assert (v.rel_error < 1e-6).all()
    # just over the floor it is a mismatch again
    a, n = np.array([0.0]), np.array([2e-9])
    assert judge(a, n, TOL, 0.0, Confirming(n)).mismatch.tolist() == [True]


def test_relative_error_known_values():
    tol = Tolerance(rtol=1e-6, atol=1e-9)
    assert relative_error(np.array([2.0, -1.0, 0.0, 1e-12]), np.array([1.0, -1.0, 0.0, 0.0]), tol) == \
        pytest.approx([0.5, 0.0, 0.0, 1e-9], rel=1e-12)
    assert relative_error(np.array([-3.0]), np.array([3.0]), tol) == pytest.approx([2.0])
    # rtol 0: no floor, and 0 against 0 is still 0, not nan
    assert relative_error(np.array([0.0, 1e-12]), np.array([0.0, 2e-12]), Tolerance(0.0, 1e-9)).tolist() == \
        pytest.approx([0.0, 0.5])


def test_known_analytic_noise_widens_what_matches():
    """`analytic_noise` (the rounding error of a float32 backward, known from its float64 twin)
    is added to what is allowed, element by element."""
    a, n = np.array([1.0, 1.0]), np.array([1.0 + 1e-5, 1.0 + 1e-5])
    look = Confirming(n)
    v = judge(a, n, TOL, np.array([2e-5, 0.0]), look)
    assert v.mismatch.tolist() == [False, True]
    assert look.seen == [((1,), 1.0)]  # the first matched at once: no second look to pay for


def test_the_finite_difference_s_own_error_excuses_a_disagreement_up_to_four_times_over():
    """A settled closer look whose Richardson estimate lies within 4x its noise of the analytic
    value is taken as a match, and its estimate reported as the numeric value."""
    a, n = np.array([1.0]), np.array([1.0 + 1e-5])
    accepted = judge(a, n, TOL, 0.0, Confirming(n, noise=3e-6))     # allowed: 1e-9 + 1e-6 + 1.2e-5
    assert accepted.mismatch.tolist() == [False] and accepted.kink.tolist() == [False]
    assert accepted.numeric.tolist() == [1.0 + 1e-5]
    assert accepted.excess[0] == pytest.approx(1e-5 / (1e-9 + 1e-6 * (1 + 1e-5) + 1.2e-5), rel=1e-9)
    refused = judge(a, n, TOL, 0.0, Confirming(n, noise=1e-6))      # allowed: 1e-9 + 1e-6 + 4e-6
    assert refused.mismatch.tolist() == [True]


def test_noise_is_no_excuse_when_the_estimates_disagree():
    """An unsettled look (D(h) and D(h/2) far apart: a kink or a sharp bend within h) has large
    'noise' that would excuse anything; it is looked at again FINER times finer, and if that is
    unsettled too the element is not accepted as noise."""
    calls = []

    def unsettled(where, scale):
        calls.append(scale)
        return CloserLook(richardson=1.0 + 1e-5, noise=1.0, left=1.0 + 1e-5, right=1.0 + 1e-5, settled=False)

    v = judge(np.array([1.0]), np.array([1.0 + 1e-5]), TOL, 0.0, unsettled)
    assert calls == [1.0, FINER]
    assert v.mismatch.tolist() == [True]


def abs_at_zero(where, scale):
    """The closer look at |θ| at θ = 0: one-sided derivatives -1 and +1."""
    return closer_look(lambda t: (abs(0.0 + t), t), scale * 1e-3, 0.0, EPS)


@pytest.mark.parametrize("analytic, is_kink", [
    (0.0, True), (0.5, True), (-0.99, True), (1.0, True),    # a subgradient of |x| at 0
    (1.5, False), (-1.01, False), (3.0, False),               # outside [-1, 1]: wrong
])
def test_a_kink_is_accepted_only_between_the_one_sided_derivatives(analytic, is_kink):
    a = np.array([analytic])
    v = judge(a, np.array([0.0]), TOL, 0.0, abs_at_zero)
    if analytic == 0.0:      # matches the central difference outright
        assert not v.mismatch[0]
        return
    assert v.kink.tolist() == [is_kink]
    assert v.mismatch.tolist() == [not is_kink]
    if is_kink:
        assert v.numeric[0] == analytic and v.excess[0] == 0.0


def test_a_direction_across_several_kinks_is_not_judged_when_inconclusive():
    v = judge(np.array([3.0]), np.array([0.0]), TOL, 0.0, abs_at_zero, kinks_inconclusive=True)
    assert v.kink.tolist() == [True] and v.mismatch.tolist() == [False]


def test_no_kink_where_the_one_sided_derivatives_agree():
    """f = 3θ is smooth: both one-sided derivatives are 3, so 3.5 is plainly wrong."""
    def line(where, scale):
        return closer_look(lambda t: (3.0 * (0.2 + t), (0.2 + t) - 0.2), scale * 1e-3, 0.6, EPS)

    v = judge(np.array([3.5]), np.array([3.0]), TOL, 0.0, line)
    assert v.mismatch.tolist() == [True] and v.kink.tolist() == [False]
    assert v.numeric[0] == pytest.approx(3.0, rel=1e-9)


def test_a_kink_beside_theta_does_not_excuse_a_wrong_gradient():
    """relu(θ - c), c = 0.45·h, at θ = 0: the derivative is 0, but at step h the kink is within
    reach and the one-sided estimates differ. The second look, 64 times finer, settles on 0:
    the analytic 0 matches, and the analytic 1 (the slope beyond the kink) is a mismatch."""
    h = 1e-3

    def shifted_relu(where, scale):
        def f(x):
            return max(0.0, x - 0.45 * h)
        return closer_look(lambda t: (f(t), t), scale * h, f(0.0), EPS)

    coarse = shifted_relu(None, 1.0)
    assert not coarse.settled and coarse.left != coarse.right
    numeric = np.array([0.275, 0.275])      # D(h), the engine's central difference
    v = judge(np.array([0.0, 1.0]), numeric, TOL, 0.0, shifted_relu)
    assert v.mismatch.tolist() == [False, True]
    assert v.kink.tolist() == [False, False]
    assert v.numeric.tolist() == [0.0, 0.0]
