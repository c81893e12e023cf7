"""Every built-in layer and loss: (a) forward and backward against a hand calculation on a tiny
case (numbers worked out by hand, or closed forms written out here with the math module), and
(b) the tool itself passes a spec that uses it."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck_cli.model import layers
from gradcheck_cli.model import losses
from gradcheck_cli.model.network import Entry, Stack
from gradcheck_cli.run.batch import check_spec

RNG = np.random.default_rng(0)
LN2, LN3, LN6 = math.log(2.0), math.log(3.0), math.log(6.0)


def close(actual, expected, tol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------
# (a) hand calculations: layers


def linear_2x2_to_3(bias: bool):
    layer = layers.Linear(out=3, bias=bias)
    layer.build((2, 2), RNG)
    assert layer.params["W"].shape == (2, 3)
    if bias:
        assert layer.params["b"].shape == (3,)
        layer.params["b"] = np.array([0.5, -0.5, 1.0])
    else:
        assert "b" not in layer.params
    layer.params["W"] = np.array([[1.0, 0.0, -1.0],
                                  [2.0, 1.0, 0.0]])
    return layer


X_LIN = np.array([[1.0, 2.0],
                  [3.0, -1.0]])
G_LIN = np.array([[1.0, 2.0, 3.0],
                  [0.0, 1.0, -1.0]])


def test_linear_with_bias_by_hand():
    layer = linear_2x2_to_3(bias=True)
    # Y = X W + b: row 0 = [1+4, 0+2, -1+0] + b, row 1 = [3-2, 0-1, -3+0] + b
    close(layer.forward(X_LIN), [[5.5, 1.5, 0.0],
                                 [1.5, -1.5, -2.0]])
    dx = layer.backward(G_LIN)
    # dL/dX = G Wᵀ: row 0 = [1·1 + 2·0 + 3·(-1), 1·2 + 2·1 + 3·0], row 1 = [0 + 0 + 1, 0 + 1 + 0]
    close(dx, [[-2.0, 4.0],
               [1.0, 1.0]])
    # dL/dW = Xᵀ G: entry (i, j) = Σ_n X[n, i] G[n, j]
    close(layer.grads["W"], [[1.0, 5.0, 0.0],
                             [2.0, 3.0, 7.0]])
    # dL/db = the sum of G's rows (not their mean)
    close(layer.grads["b"], [1.0, 3.0, 2.0])


def test_linear_without_bias_by_hand():
    layer = linear_2x2_to_3(bias=False)
    close(layer.forward(X_LIN), [[5.0, 2.0, -1.0],
                                 [1.0, -1.0, -3.0]])
    close(layer.backward(G_LIN), [[-2.0, 4.0],
                                  [1.0, 1.0]])
    close(layer.grads["W"], [[1.0, 5.0, 0.0],
                             [2.0, 3.0, 7.0]])
    assert set(layer.grads) == {"W"}


def test_linear_square_weight_uses_the_transpose():
    """The classic bug G·W instead of G·Wᵀ goes unnoticed by shapes with a square W."""
    layer = layers.Linear(out=2, bias=False)
    layer.build((1, 2), RNG)
    layer.params["W"] = np.array([[1.0, 2.0],
                                  [3.0, 4.0]])
    layer.forward(np.array([[1.0, 1.0]]))
    # G Wᵀ = [1·1 + 0·2, 1·3 + 0·4] = [1, 3];  G W would be [1, 2]
    close(layer.backward(np.array([[1.0, 0.0]])), [[1.0, 3.0]])


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def _gelu(v):
    c = math.sqrt(2.0 / math.pi)
    return 0.5 * v * (1.0 + math.tanh(c * (v + 0.044715 * v ** 3)))


def _gelu_prime(v):
    c = math.sqrt(2.0 / math.pi)
    u = c * (v + 0.044715 * v ** 3)
    du = c * (1.0 + 3.0 * 0.044715 * v ** 2)
    return 0.5 * (1.0 + math.tanh(u)) + 0.5 * v * (1.0 - math.tanh(u) ** 2) * du


# name -> (layer, f, f'), written out by hand from the textbook definitions
ELEMENTWISE = {
    "sigmoid": (lambda: layers.Sigmoid(), _sigmoid, lambda v: _sigmoid(v) * (1.0 - _sigmoid(v))),
    "tanh": (lambda: layers.Tanh(), math.tanh, lambda v: 1.0 / math.cosh(v) ** 2),
    "relu": (lambda: layers.ReLU(), lambda v: max(v, 0.0), lambda v: 1.0 if v > 0 else 0.0),
    "leaky_relu": (lambda: layers.LeakyReLU(slope=0.1), lambda v: v if v > 0 else 0.1 * v,
                   lambda v: 1.0 if v > 0 else 0.1),
    "elu": (lambda: layers.ELU(alpha=2.0), lambda v: v if v > 0 else 2.0 * (math.exp(v) - 1.0),
            lambda v: 1.0 if v > 0 else 2.0 * math.exp(v)),
    "softplus": (lambda: layers.Softplus(), lambda v: math.log(1.0 + math.exp(v)), _sigmoid),
    "gelu": (lambda: layers.GELU(), _gelu, _gelu_prime),
    "silu": (lambda: layers.SiLU(), lambda v: v * _sigmoid(v),
             lambda v: _sigmoid(v) + v * _sigmoid(v) * (1.0 - _sigmoid(v))),
}
X_EW = np.array([[-1.5, -0.2, 0.3],
                 [2.0, -3.0, 0.7]])
G_EW = np.array([[1.0, -2.0, 0.5],
                 [3.0, 0.25, -1.0]])


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_by_closed_form(name):
    make, f, df = ELEMENTWISE[name]
    layer = make()
    layer.build(X_EW.shape, RNG)
    assert layer.params == {}
    y = layer.forward(X_EW.copy())
    close(y, [[f(v) for v in row] for row in X_EW])
    dx = layer.backward(G_EW)
    # A diagonal Jacobian: dL/dx = dL/dy ⊙ f'(x), entry by entry.
    close(dx, [[g * df(v) for v, g in zip(xr, gr)] for xr, gr in zip(X_EW, G_EW)])


# Values known without a formula: the functions and slopes at a few simple points.
ANCHORS = [
    ("sigmoid", 0.0, 0.5, 0.25),
    ("tanh", 0.0, 0.0, 1.0),
    ("relu", -1.0, 0.0, 0.0),
    ("relu", 2.0, 2.0, 1.0),
    ("leaky_relu", -2.0, -0.2, 0.1),
    ("elu", 0.5, 0.5, 1.0),
    ("softplus", 0.0, LN2, 0.5),
    ("gelu", 0.0, 0.0, 0.5),
    ("silu", 0.0, 0.0, 0.5),
]


@pytest.mark.parametrize("name, x, y, slope", ANCHORS, ids=[f"{a[0]}({a[1]})" for a in ANCHORS])
def test_elementwise_known_values(name, x, y, slope):
    layer = ELEMENTWISE[name][0]()
    close(layer.forward(np.array([[x]])), [[y]])
    close(layer.backward(np.array([[1.0]])), [[slope]])


def test_gelu_is_close_to_x_times_normal_cdf():
    """The tanh form approximates x·Φ(x) = x·(1 + erf(x/√2))/2 to about 1e-3."""
    xs = np.linspace(-4.0, 4.0, 17).reshape(1, -1)
    exact = [[v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in xs[0]]]
    np.testing.assert_allclose(layers.GELU().forward(xs), exact, atol=1e-3)


def test_elementwise_layers_keep_float32():
    x = X_EW.astype(np.float32)
    for name, (make, _, _) in ELEMENTWISE.items():
        layer = make()
        y = layer.forward(x)
        assert y.dtype == np.float32, name
        assert layer.backward(G_EW.astype(np.float32)).dtype == np.float32, name


def test_softmax_by_hand():
    layer = layers.Softmax()
    # row 0: e^0, e^ln2, e^ln3 = 1, 2, 3 -> /6;  row 1: all equal -> 1/3 each
    y = layer.forward(np.array([[0.0, LN2, LN3],
                                [1.0, 1.0, 1.0]]))
    close(y, [[1 / 6, 2 / 6, 3 / 6],
              [1 / 3, 1 / 3, 1 / 3]])
    # dL/dx = y ⊙ (g - <g, y>):  row 0 g = [1, 0, 0], <g, y> = 1/6;  row 1 g = [0, 3, 0], <g, y> = 1
    dx = layer.backward(np.array([[1.0, 0.0, 0.0],
                                  [0.0, 3.0, 0.0]]))
    close(dx, [[5 / 36, -2 / 36, -3 / 36],
               [-1 / 3, 2 / 3, -1 / 3]])


def test_softmax_uses_its_full_jacobian():
    """A constant upstream gradient changes nothing: softmax ignores shifts of its input.
    A diagonal-only backward would return y(1 - y) ≠ 0 here."""
    layer = layers.Softmax()
    layer.forward(np.array([[0.0, LN2]]))          # y = [1/3, 2/3]
    close(layer.backward(np.array([[1.0, 1.0]])), [[0.0, 0.0]])
    # row Jacobian diag(y) - y yᵀ = [[2/9, -2/9], [-2/9, 2/9]];  [1, 0] · J = [2/9, -2/9]
    close(layer.backward(np.array([[1.0, 0.0]])), [[2 / 9, -2 / 9]])


def test_softmax_is_stable_for_large_logits():
    y = layers.Softmax().forward(np.array([[1000.0, 1000.0 + LN3]]))
    close(y, [[0.25, 0.75]])


def test_log_softmax_by_hand():
    layer = layers.LogSoftmax()
    # x - log Σ e^x with Σ e^x = 1 + 2 + 3 = 6
    y = layer.forward(np.array([[0.0, LN2, LN3]]))
    close(y, [[-LN6, -LN3, -LN2]])
    # dL/dx = g - softmax(x) Σ g:  g = [1, 0, 0] -> [1 - 1/6, -2/6, -3/6]
    close(layer.backward(np.array([[1.0, 0.0, 0.0]])), [[5 / 6, -1 / 3, -1 / 2]])
    # g = [1, 1, 2]: Σ g = 4 -> [1 - 4/6, 1 - 8/6, 2 - 12/6]
    close(layer.backward(np.array([[1.0, 1.0, 2.0]])), [[1 / 3, -1 / 3, 0.0]])


def test_residual_by_hand():
    """y = x + f(x) with f(x) = x W: dL/dx = g + g Wᵀ (copy gate, branch, add gate)."""
    branch = layers.Linear(out=2, bias=False)
    branch.build((1, 2), RNG)
    branch.params["W"] = np.array([[1.0, 2.0],
                                   [3.0, 4.0]])
    layer = layers.Residual(layers=Stack([Entry("0.0", "linear", branch, None, input_shape=(1, 2))]))
    # x W = [1 + 6, 2 + 8] = [7, 10];  y = [1 + 7, 2 + 10]
    close(layer.forward(np.array([[1.0, 2.0]])), [[8.0, 12.0]])
    # g Wᵀ = [1·1 - 1·2, 1·3 - 1·4] = [-1, -1];  dx = g + g Wᵀ = [0, -2]
    close(layer.backward(np.array([[1.0, -1.0]])), [[0.0, -2.0]])
    # the branch's own parameter gradient: xᵀ g
    close(branch.grads["W"], [[1.0, -1.0],
                              [2.0, -2.0]])


# ---------------------------------------------------------------------------------------------
# (a) hand calculations: losses


def test_mse_by_hand():
    loss = losses.MSE()
    loss.prepare((2, 2), np.random.default_rng(0))
    assert loss.target.shape == (2, 2)
    loss.target = np.array([[0.0, 2.0],
                            [1.0, 1.0]])
    y = np.array([[1.0, 2.0],
                  [3.0, 4.0]])
    # mean of squared differences: (1 + 0 + 4 + 9) / 4
    assert loss.value(y) == pytest.approx(3.5, abs=1e-15)
    # 2 (Y - T) / size
    close(loss.grad(y), [[0.5, 0.0],
                         [1.0, 1.5]])


def test_cross_entropy_by_hand():
    loss = losses.CrossEntropy()
    loss.prepare((2, 3), np.random.default_rng(0))
    assert loss.labels.shape == (2,)
    assert set(loss.labels.tolist()) <= {0, 1, 2}
    loss.labels = np.array([2, 0])
    loss.onehot = np.array([[0.0, 0.0, 1.0],
                            [1.0, 0.0, 0.0]])
    logits = np.array([[0.0, LN2, LN3],          # softmax = [1/6, 2/6, 3/6]
                       [0.0, 0.0, 0.0]])         # softmax = [1/3, 1/3, 1/3]
    # mean of -log p[t] over the rows: (-log(3/6) - log(1/3)) / 2 = (ln 2 + ln 3) / 2
    assert loss.value(logits) == pytest.approx(LN6 / 2, abs=1e-14)
    # (softmax - onehot) / N
    close(loss.grad(logits), [[1 / 12, 1 / 6, -1 / 4],
                              [-1 / 3, 1 / 6, 1 / 6]])


def test_cross_entropy_is_stable_for_large_logits():
    loss = losses.CrossEntropy()
    loss.prepare((1, 2), np.random.default_rng(0))
    loss.labels, loss.onehot = np.array([0]), np.array([[1.0, 0.0]])
    logits = np.array([[1000.0, 1000.0 + LN3]])  # softmax = [1/4, 3/4]
    assert loss.value(logits) == pytest.approx(math.log(4.0), abs=1e-12)
    close(loss.grad(logits), [[-0.75, 0.75]])


def test_bce_with_logits_by_hand():
    loss = losses.BCEWithLogits()
    loss.prepare((1, 2), np.random.default_rng(0))
    assert set(np.unique(loss.target).tolist()) <= {0.0, 1.0}
    loss.target = np.array([[1.0, 0.0]])
    z = np.array([[0.0, LN3]])                   # σ(0) = 1/2, σ(ln 3) = 3/4
    # mean(log(1 + e^z) - t z) = (ln 2 - 0 + ln 4 - 0) / 2
    assert loss.value(z) == pytest.approx(1.5 * LN2, abs=1e-14)
    # (σ(z) - t) / size = [(1/2 - 1)/2, (3/4 - 0)/2]
    close(loss.grad(z), [[-0.25, 0.375]])


def test_dot_by_hand():
    loss = losses.Dot()
    loss.prepare((2, 2), np.random.default_rng(0))
    assert loss.weights.shape == (2, 2)
    loss.weights = np.array([[1.0, -2.0],
                             [0.5, 3.0]])
    y = np.array([[2.0, 1.0],
                  [4.0, -1.0]])
    # Σ R ⊙ Y = 2 - 2 + 2 - 3
    assert loss.value(y) == pytest.approx(-1.0, abs=1e-15)
    close(loss.grad(y), [[1.0, -2.0],
                         [0.5, 3.0]])


def test_loss_targets_are_fixed_by_the_seed():
    """The same seed draws the same targets; another seed, others (specs are reproducible)."""
    for cls, attribute in ((losses.MSE, "target"), (losses.Dot, "weights"), (losses.BCEWithLogits, "target"),
                           (losses.CrossEntropy, "labels")):
        a, b, c = cls(), cls(), cls()
        a.prepare((6, 5), np.random.default_rng(1))
        b.prepare((6, 5), np.random.default_rng(1))
        c.prepare((6, 5), np.random.default_rng(2))
        assert np.array_equal(getattr(a, attribute), getattr(b, attribute)), cls.__name__
        assert not np.array_equal(getattr(a, attribute), getattr(c, attribute)), cls.__name__


# ---------------------------------------------------------------------------------------------
# (b) the tool passes a spec using each layer and each loss


def assert_passes(path, expect_types: set[str]):
    result = check_spec(str(path))
    assert result.error is None, result.error
    assert result.outcome == "passed"
    assert result.checks, "no tensor was checked"
    assert all(c.outcome == "passed" for c in result.checks), [
        (c.layer, c.type, c.tensor, c.max_rel_error) for c in result.checks if c.outcome != "passed"]
    assert expect_types <= {c.type for c in result.checks}
    return result


LAYER_SPECS = {
    "linear": ("{type: linear, out: 4}", "mse"),
    "linear_no_bias": ("{type: linear, out: 4, bias: false}", "mse"),
    "sigmoid": ("sigmoid", "mse"),
    "tanh": ("tanh", "mse"),
    "relu": ("relu", "mse"),
    "leaky_relu": ("{type: leaky_relu, slope: 0.2}", "mse"),
    "elu": ("{type: elu, alpha: 1.5}", "mse"),
    "softplus": ("softplus", "mse"),
    "gelu": ("gelu", "mse"),
    "silu": ("silu", "mse"),
    "softmax": ("softmax", "dot"),
    "log_softmax": ("log_softmax", "dot"),
    "residual": ("{type: residual, layers: [{type: linear, out: 4}, tanh, {type: linear, out: 4}]}", "mse"),
}


@pytest.mark.parametrize("name", list(LAYER_SPECS))
def test_tool_passes_builtin_layer(write_spec, name):
    entry, loss = LAYER_SPECS[name]
    path = write_spec(f"""
        seed: 3
        input: [5, 3]
        layers:
          - {{type: linear, out: 4}}
          - {entry}
          - {{type: linear, out: 3}}
        loss: {loss}
        """)
    result = assert_passes(path, {name.removesuffix("_no_bias")})
    middle = [c.tensor for c in result.checks if c.layer == 1]
    if name == "linear":
        assert middle == ["input", "W", "b"]
    elif name == "linear_no_bias":
        assert middle == ["input", "W"]
    elif name == "residual":
        assert middle == ["input", "0.W", "0.b", "2.W", "2.b"]
    else:
        assert middle == ["input"]


@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "bce_with_logits", "dot"])
def test_tool_passes_builtin_loss(write_spec, loss):
    path = write_spec(f"""
        seed: 4
        input: [6, 3]
        layers:
          - {{type: linear, out: 5}}
          - tanh
          - {{type: linear, out: 4}}
        loss: {{type: {loss}}}
        """)
    assert_passes(path, {"linear", "tanh"})


@pytest.mark.parametrize("layer", ["tanh", "sigmoid", "softmax", "gelu"])
def test_tool_passes_builtin_layer_in_float32(write_spec, layer):
    path = write_spec(f"""
        seed: 5
        dtype: float32
        input: [4, 3]
        layers:
          - {{type: linear, out: 4}}
          - {layer}
          - {{type: linear, out: 2}}
        """)
    result = assert_passes(path, {layer})
    assert result.dtype == "float32"


def test_tool_passes_linear_on_3d_input(write_spec):
    """Rows first, features last: a linear layer maps the last axis of (N, T, m)."""
    path = write_spec("""
        input: [3, 2, 4]
        layers:
          - {type: linear, out: 3}
          - softmax
        loss: dot
        """)
    result = assert_passes(path, {"linear", "softmax"})
    assert [c.shape for c in result.checks if c.layer == 0] == [(3, 2, 4), (4, 3), (3,)]
