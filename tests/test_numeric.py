"""The closer look at one derivative (check/numeric.closer_look), on functions whose derivatives
are known exactly: a polynomial, |x| at its kink, a kink just beside θ."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.check.numeric import central_differences, closer_look

EPS = float(np.finfo(np.float64).eps)
H = 1e-3


def along(f, theta: float):
    """loss_at(t) for closer_look: f at θ + t, and the step actually taken."""
    return lambda t: (f(theta + t), (theta + t) - theta)


def look(f, theta: float, h: float = H):
    return closer_look(along(f, theta), h, f(theta), EPS)


def quartic(x):
    return x**4 - 2 * x**3 + 0.5 * x + 1


def quartic_slope(x):
    return 4 * x**3 - 6 * x**2 + 0.5


def test_richardson_is_exact_for_a_polynomial_of_degree_four():
    """A central difference is off by f'''·h²/6 + f⁽⁵⁾·h⁴/120; Richardson's (4·D(h/2) - D(h))/3
    cancels the h² term, and a quartic has no h⁴ term: what remains is rounding."""
    theta = 0.7
    closer = look(quartic, theta)
    assert closer.settled
    assert closer.richardson == pytest.approx(quartic_slope(theta), rel=0, abs=1e-11)
    # the two central estimates differ by f'''·(h² - h²/4)/6, f''' = 24θ - 12 = 4.8
    assert closer.noise == pytest.approx(4.8 * 0.75 * H**2 / 6, rel=1e-3)
    # one-sided second-order estimates: off by f'''·k²/3 with k = h/2, on the same side
    for one_sided in (closer.left, closer.right):
        assert one_sided == pytest.approx(quartic_slope(theta) - 4.8 * (H / 2) ** 2 / 3, rel=0, abs=2e-8)


def test_a_parabola_is_differentiated_exactly_from_either_side():
    def parabola(x):
        return 3 * x * x - x

    closer = look(parabola, 0.7)
    assert closer.settled
    for estimate in (closer.richardson, closer.left, closer.right):
        assert estimate == pytest.approx(6 * 0.7 - 1, rel=0, abs=1e-10)


def test_plain_central_differences_carry_the_h_squared_error():
    """What the closer look improves on: the central difference of the same quartic, at a
    step h, is off by f'''·h²/6 (plus rounding)."""
    theta = np.array([0.7, -0.2])

    def evaluate():
        return float(np.sum(quartic(theta)))

    numeric = central_differences(evaluate, theta, H)
    expected_error = (24 * theta - 12) * H**2 / 6
    assert numeric - quartic_slope(theta) == pytest.approx(expected_error, rel=1e-4)
    assert theta.tolist() == [0.7, -0.2]  # every element restored exactly


def test_abs_at_zero_has_one_sided_derivatives_minus_one_and_one():
    closer = look(abs, 0.0)
    assert closer.left == pytest.approx(-1.0, rel=0, abs=1e-12)
    assert closer.right == pytest.approx(1.0, rel=0, abs=1e-12)
    # symmetric: every central estimate is 0, and they agree
    assert closer.richardson == 0.0
    assert closer.settled


def test_a_kink_beside_theta_unsettles_the_look_and_a_finer_one_resolves_it():
    """relu(x - c) with c = 0.45·h: smooth at θ = 0 (derivative 0), but the kink lies within the
    steps. D(h) = 0.275 and D(h/2) = 0.05 disagree by more than half their size: not settled,
    and the one-sided estimates differ. With steps 64 times finer the kink is out of reach."""
    kink_at = 0.45 * H

    def shifted_relu(x):
        return max(0.0, x - kink_at)

    coarse = look(shifted_relu, 0.0)
    assert not coarse.settled
    assert coarse.noise == pytest.approx(0.225, rel=1e-9)
    assert coarse.left == 0.0
    assert coarse.right == pytest.approx(-0.35, rel=1e-9)
    fine = look(shifted_relu, 0.0, H / 64)
    assert fine.settled
    assert (fine.richardson, fine.left, fine.right) == (0.0, 0.0, 0.0)


def test_rounding_bounds_the_noise_from_below():
    """Two estimates that agree by chance are not taken as exact: the noise is at least
    10·ε·|L|/h, the rounding error of a difference of losses of that size."""
    closer = closer_look(along(lambda x: 1e6 + 2 * x, 0.0), H, 1e6, EPS)
    assert closer.richardson == pytest.approx(2.0, rel=1e-6)
    assert closer.noise >= 10 * EPS * 1e6 / H
