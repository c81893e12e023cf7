"""The Taylor test (check/taylor.taylor_order) on tiny networks: order 2 for the true gradient,
1 for a wrong one, None where the loss is linear along the direction."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.check.backprop import backprop
from gradcheck_cli.check.taylor import taylor_order
from gradcheck_cli.model.network import build_network
from gradcheck_cli.spec.load import load_spec

MLP = """
    seed: 1
    input: [4, 3]
    layers:
      - {type: linear, out: 5}
      - tanh
      - {type: linear, out: 2}
    loss: mse
    """

# leaky_relu with slope 1 is the identity, and `dot` is sum(R ⊙ Y): L = sum(R ⊙ X) is linear.
LINEAR_LOSS = """
    seed: 0
    input: [3, 2]
    layers:
      - leaky_relu: {slope: 1}
    loss: dot
    """


def traced(write_spec, text):
    net = build_network(load_spec(str(write_spec(text))))
    return net, backprop(net, net.x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_true_gradient_gives_order_two(write_spec, seed):
    net, trace = traced(write_spec, MLP)
    assert taylor_order(net, trace, seed) == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("wrong", ["dL/dW of layer 0 negated", "dL/dW of layer 0 doubled", "dL/dX off by 0.1"])
def test_a_wrong_gradient_gives_order_one(write_spec, wrong):
    """r(t) = |t·<g_wrong - g, v>| + O(t²): the first-order term dominates once the error is
    large next to the curvature (a slightly wrong gradient gives an order between 1 and 2)."""
    net, trace = traced(write_spec, MLP)
    if wrong == "dL/dW of layer 0 negated":
        trace.param_grads[0]["W"] = -trace.param_grads[0]["W"]
    elif wrong == "dL/dW of layer 0 doubled":
        trace.param_grads[0]["W"] = 2.0 * trace.param_grads[0]["W"]
    else:
        trace.input_grads[0] = trace.input_grads[0] + 0.1
    assert taylor_order(net, trace, 0) == pytest.approx(1.0, abs=0.1)


def test_a_loss_linear_along_the_direction_gives_none(write_spec):
    """The remainder of a linear loss is rounding only: there is no order to observe."""
    net, trace = traced(write_spec, LINEAR_LOSS)
    assert taylor_order(net, trace, 0) is None
    # ... but a wrong gradient of the same loss leaves a remainder t·<error, v>: order one
    trace.input_grads[0] = trace.input_grads[0] + 0.1
    assert taylor_order(net, trace, 0) == pytest.approx(1.0, abs=0.05)


def test_every_tensor_is_restored_exactly(write_spec):
    net, trace = traced(write_spec, MLP)
    before = [entry.params()[key].copy() for entry in net.stack.entries for key in entry.params()]
    x = net.x.copy()
    taylor_order(net, trace, 0)
    after = [entry.params()[key] for entry in net.stack.entries for key in entry.params()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after)) and len(after) == 4
    assert np.array_equal(net.x, x) and np.array_equal(trace.inputs[0], x)
