"""A graph spec's check, against what a user would compute by hand: a copy gate feeding two branches
joined by an add gate matches a plain per-element loop written here (same verdicts, same worst
elements); a planted bug is located at its node and tensor (an RNN over (x, h0), a two-input
attention, an LSTM step returning (h, c), one branch of the copy gate); every gate's backward is
checked, and a wrong one fails."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from conftest import ROOT, invoke_cli
from gradcheck_cli import check_spec

GRAPH = ROOT / "tests" / "data" / "graph"


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _linear(x, p):
    y = (x.reshape(-1, x.shape[-1]) @ p["W"]).reshape(x.shape[:-1] + p["W"].shape[1:])
    y += p["b"]
    return y


def plain_loss(net, given: dict) -> float:
    """branches.yaml written out in numpy, each value taken from `given` when it is there."""
    params = {node.name: node.params() for node in net.nodes}
    x = given.get("x", net.inputs[next(iter(net.inputs))])
    f_lin = given["f_lin"] if "f_lin" in given else _linear(x, params["f_lin"])
    f = given["f"] if "f" in given else np.tanh(f_lin)
    g_lin = given["g_lin"] if "g_lin" in given else _linear(x, params["g_lin"])
    g = given["g"] if "g" in given else _sigmoid(g_lin)
    s = given["s"] if "s" in given else f + g
    y = given["y"] if "y" in given else _linear(s, params["y"])
    return net.loss.value(y)


def plain_values(net) -> dict:
    values = {"x": net.inputs[next(iter(net.inputs))]}
    params = {node.name: node.params() for node in net.nodes}
    values["f_lin"] = _linear(values["x"], params["f_lin"])
    values["f"] = np.tanh(values["f_lin"])
    values["g_lin"] = _linear(values["x"], params["g_lin"])
    values["g"] = _sigmoid(values["g_lin"])
    values["s"] = values["f"] + values["g"]
    values["y"] = _linear(values["s"], params["y"])
    return values


def plain_loop(evaluate, theta, step):
    """Perturb one scalar, run the whole loss, put it back: the central difference of every element."""
    numeric = np.empty(theta.shape)
    for idx in np.ndindex(theta.shape):
        old = theta[idx].copy()
        h = step * max(1.0, abs(float(old)))
        theta[idx] = old + h
        up, loss_up = float(theta[idx]) - float(old), evaluate()
        theta[idx] = old - h
        down, loss_down = float(theta[idx]) - float(old), evaluate()
        theta[idx] = old
        numeric[idx] = (loss_up - loss_down) / (up - down)
    return numeric


@pytest.mark.parametrize("spec", ["branches.yaml", "branches_bug.yaml"])
def test_a_copy_gate_and_an_add_gate_match_the_plain_loop_exactly(spec):
    from gradcheck_cli.check.graph_check import graph_backprop
    from gradcheck_cli.check.numeric import closer_look, default_step, element_shift
    from gradcheck_cli.check.verdict import DEFAULT_TOLERANCES, judge
    from gradcheck_cli.model.network import build_network
    from gradcheck_cli.spec.graph import Ref
    from gradcheck_cli.spec.load import load_spec

    result = check_spec(GRAPH / spec)
    net = build_network(load_spec(str(GRAPH / spec)))
    trace = graph_backprop(net, net.inputs)
    values = plain_values(net)
    step, tolerance = default_step(np.float64), DEFAULT_TOLERANCES["float64"]
    assert len(result.checks) == 1 + 6 + 3 * 2  # x; six node outputs; the W and b of three linear nodes
    for check in result.checks:
        if check.tensor == "out":
            theta = values[check.node].copy()
            analytic = trace.grads[Ref(check.node)]

            def evaluate(name=check.node, theta=theta):
                return plain_loss(net, {name: theta})
        else:
            theta = net.node(check.node).params()[check.tensor]  # perturbed in place, as a training loop's
            analytic = trace.node_grads[check.node][check.tensor]

            def evaluate():
                return plain_loss(net, {})
        numeric = plain_loop(evaluate, theta, step)
        loss_here = evaluate()

        def look(idx, scale, evaluate=evaluate, theta=theta):
            h = scale * step * max(1.0, abs(float(theta[idx])))
            return closer_look(element_shift(evaluate, theta, idx), h, loss_here, float(np.finfo(np.float64).eps))

        verdicts = judge(analytic, numeric, tolerance, 0.0, look)
        worst = np.unravel_index(int(np.argmax(verdicts.excess)), theta.shape)
        where = f"{check.node}.{check.tensor}"
        assert check.outcome == ("failed" if verdicts.mismatch.any() else "passed"), where
        assert check.mismatches == int(verdicts.mismatch.sum()), where
        assert check.worst_index == tuple(int(i) for i in worst), where
        assert (check.max_abs_error, check.max_rel_error) == (float(verdicts.abs_error.max()),
                                                              float(verdicts.rel_error.max())), where
    failing = [f"{c.node}.{c.tensor}" for c in result.checks if not c.passed]
    assert failing == ([] if spec == "branches.yaml" else ["x.out", "g_lin.out", "g_lin.W", "g_lin.b"])


def test_the_copy_gate_sums_the_gradients_of_both_branches():
    """dL/dx = (G_s ⊙ tanh'(f_lin)) W_fᵀ + (G_s ⊙ σ'(g_lin)) W_gᵀ, derived by hand."""
    from gradcheck_cli.check.graph_check import graph_backprop
    from gradcheck_cli.model.network import build_network
    from gradcheck_cli.spec.graph import Ref
    from gradcheck_cli.spec.load import load_spec

    net = build_network(load_spec(str(GRAPH / "branches.yaml")))
    values, params = plain_values(net), {node.name: node.params() for node in net.nodes}
    g_y = net.loss.grad(values["y"])
    g_s = g_y @ params["y"]["W"].T            # the add gate copies it to f and to g
    through_f = (g_s * (1 - values["f"] ** 2)) @ params["f_lin"]["W"].T
    through_g = (g_s * values["g"] * (1 - values["g"])) @ params["g_lin"]["W"].T
    trace = graph_backprop(net, net.inputs)
    np.testing.assert_allclose(trace.grads[Ref("x")], through_f + through_g, rtol=1e-13, atol=1e-15)
    assert not np.allclose(trace.grads[Ref("x")], through_f)  # each branch alone is not the gradient


def test_a_bug_in_one_branch_is_located_in_that_branch():
    result = check_spec(GRAPH / "branches_bug.yaml")
    assert (result.outcome, result.suspect_node, result.suspect_layer) == ("failed", "g", None)
    alone = {lc.node: lc for lc in result.layer_checks}
    assert [name for name, lc in alone.items() if lc.outcome == "failed"] == ["g"]
    assert alone["g"].wrong_tensors == ["input"]
    assert "→ node g (./layers.py:Sigmoid): backward wrong for input; nodes f_lin, f, g_lin, s, y correct" in \
        str(result)


@pytest.mark.parametrize("spec, node, tensors, off", [
    ("rnn_bug.yaml", "h2", ["input.1"], ["x1.out", "h0.out", "h1.out", "h1.Wx", "h1.Wh", "h1.b"]),
    ("attention_bug.yaml", "att", ["Wk"], ["att.Wk"]),
    ("lstm_bug.yaml", "step2", ["input.2"], ["x.out", "h0.out", "c0.out", "step.out.1", "step.Wx", "step.Wh",
                                              "step.b"]),
])
def test_a_planted_bug_is_caught_and_located_at_its_node_and_tensor(spec, node, tensors, off):
    correct = check_spec(GRAPH / spec.replace("_bug", ""))
    assert correct.outcome == "passed", str(correct)
    result = check_spec(GRAPH / spec)
    assert result.outcome == "failed"
    assert [f"{c.node}.{c.tensor}" for c in result.checks if not c.passed] == off
    assert result.suspect_node == node
    wrong = [lc for lc in result.layer_checks if lc.outcome == "failed"]
    assert [(lc.node, lc.wrong_tensors) for lc in wrong] == [(node, tensors)]


def test_the_rnn_checks_each_state_and_the_weights_found_by_name():
    result = check_spec(GRAPH / "rnn.yaml")
    assert [(c.node, c.tensor) for c in result.checks] == [
        ("x1", "out"), ("x2", "out"), ("h0", "out"), ("h1", "out"), ("h1", "Wx"), ("h1", "Wh"), ("h1", "b"),
        ("h2", "out"), ("h2", "Wx"), ("h2", "Wh"), ("h2", "b"), ("y", "out"), ("y", "W"), ("y", "b")]
    assert "node h1 (./layers.py:RNNStep): parameters found by name: Wx (gradient dWx), Wh (gradient dWh), b " \
           "(gradient db)" in result.notes


def test_an_lstm_steps_two_outputs_are_checked_apart():
    result = check_spec(GRAPH / "lstm.yaml")
    assert result.passed, str(result)
    assert [(c.node, c.tensor, c.shape) for c in result.checks if c.node == "step"] == [
        ("step", "out.0", (3, 5)), ("step", "out.1", (3, 5)), ("step", "Wx", (4, 20)), ("step", "Wh", (5, 20)),
        ("step", "b", (20,))]


def test_a_backward_that_takes_the_outputs_gradients_as_one_tuple(tmp_path, write_file, write_spec):
    write_file("pair.py", '''
        import numpy as np

        def split_forward(x, w):
            return (x * w, x * x), (x, w)

        def split_backward(grads, cache):
            (ga, gb), (x, w) = grads, cache
            return ga * w + 2 * x * gb, (ga * x).sum(axis=0)
        ''')
    path = write_spec("""
        inputs: {x: [4, 3]}
        graph:
          - {name: sp, type: ./pair.py:split, in: x, params: {w: [3]}}
          - {name: s, type: add, in: [sp.0, sp.1]}
        """)
    result = check_spec(path)
    assert result.passed, str(result)
    assert [(c.node, c.tensor) for c in result.checks] == [("x", "out"), ("sp", "out.0"), ("sp", "out.1"),
                                                           ("sp", "w"), ("s", "out")]


def test_integer_ids_are_never_perturbed_and_have_no_row():
    result = check_spec(GRAPH / "embedding.yaml")  # word_embedding_backward returns dW alone
    assert result.passed, str(result)
    assert [(c.node, c.tensor) for c in result.checks] == [("x", "out"), ("e", "out"), ("e", "W"), ("s", "out"),
                                                           ("y", "out")]
    example = check_spec(ROOT / "specs" / "graph" / "graph.yaml")  # a class whose backward returns None for ids
    assert example.passed and "ids" not in {c.node for c in example.checks}


GATE_SPECS = {
    "add": ("inputs: {a: [4, 3], b: [4, 3], c: [4, 3]}", "[a, b, c]", {}),
    "multiply": ("inputs: {a: [4, 3], b: [4, 3]}", "[a, b]", {}),
    "concat": ("inputs: {a: [4, 3], b: [4, 2]}", "[a, b]", {}),
    "concat_rows": ("inputs: {a: [4, 3], b: [2, 3]}", "[a, b]", {"axis": 0}),
    "matmul": ("inputs: {a: [2, 4, 3], b: [2, 3, 5]}", "[a, b]", {}),
    "transpose": ("inputs: {a: [2, 4, 3]}", "a", {}),
}
WRONG_BACKWARDS = {  # each the kind of slip a hand-written gate makes
    "add": ("Add", lambda self, g: (g, g, 0 * g)),                              # one input forgotten
    "multiply": ("Multiply", lambda self, g: (g * self.a, g * self.b)),           # the factors swapped
    "concat": ("Concat", lambda self, g: tuple(np.split(g[..., ::-1], np.cumsum(self.sizes)[:-1], axis=self.axis))),
    "concat_rows": ("Concat", lambda self, g: (g[:4], g[:2])),                     # both cut from the start
    "matmul": ("MatMul", lambda self, g: (g @ np.swapaxes(self.b, -1, -2), np.swapaxes(self.a, -1, -2) @ g * 1.001)),
    "transpose": ("Transpose", lambda self, g: np.swapaxes(g, -1, -2)[..., ::-1].copy()),
}


def _gate_spec(write_spec, name: str):
    inputs, takes, options = GATE_SPECS[name]
    gate = name.partition("_")[0]
    extra = "".join(f", {key}: {value}" for key, value in options.items())
    return write_spec(f"""
        {inputs}
        graph:
          - {{name: gate, type: {gate}, in: {takes}{extra}}}
          - {{name: y, type: tanh, in: gate}}
        loss: dot
        """)


@pytest.mark.parametrize("name", list(GATE_SPECS))
def test_every_gates_backward_is_checked(write_spec, name):
    result = check_spec(_gate_spec(write_spec, name))
    assert result.passed, str(result)
    inputs = GATE_SPECS[name][0].count(":") - 1
    assert [c.node for c in result.checks][:inputs + 1] == ["a", "b", "c"][:inputs] + ["gate"]


@pytest.mark.parametrize("name", list(GATE_SPECS))
def test_a_wrong_gate_backward_fails_and_is_the_suspect(write_spec, monkeypatch, name):
    from gradcheck_cli.model import gates

    cls, wrong = WRONG_BACKWARDS[name]
    monkeypatch.setattr(getattr(gates, cls), "backward", wrong)
    result = check_spec(_gate_spec(write_spec, name))
    assert result.outcome == "failed", str(result)
    assert result.suspect_node == "gate"


def test_flatten_lets_a_custom_convolution_feed_a_linear_layer_in_a_stack(monkeypatch):
    result = check_spec(GRAPH / "conv_flatten.yaml")
    assert result.passed, str(result)
    assert [(c.layer, c.type, c.tensor, c.shape) for c in result.checks][:4] == [
        (0, "./layers.py:PixelMix", "input", (3, 2, 4, 4)), (0, "./layers.py:PixelMix", "K", (3, 2)),
        (0, "./layers.py:PixelMix", "b", (3,)), (1, "flatten", "input", (3, 3, 4, 4))]
    from gradcheck_cli.model.layers import Flatten
    monkeypatch.setattr(Flatten, "backward", lambda self, g: g[..., ::-1].reshape(g.shape[:-1] + self.row_shape))
    broken = check_spec(GRAPH / "conv_flatten.yaml")
    assert (broken.outcome, broken.suspect_layer) == ("failed", 1)


@pytest.mark.parametrize("args", [["--mode", "sample", "--samples", "3"], ["--mode", "fast"]])
def test_sample_and_fast_modes_on_graphs(args):
    passing = invoke_cli("run", GRAPH / "branches.yaml", *args, "-q")
    assert passing.exit_code == 0, passing.output
    failing = invoke_cli("run", GRAPH / "lstm_bug.yaml", *args, "-q")
    assert failing.exit_code == 1 and "suspect node step2" in failing.output, failing.output


def test_a_float32_graph_is_checked_on_its_float64_twin(tmp_path):
    shutil.copy(GRAPH / "layers.py", tmp_path / "layers.py")
    for name, outcome in (("branches", "passed"), ("branches_bug", "failed")):
        text = (GRAPH / f"{name}.yaml").read_text(encoding="utf-8").replace("seed: 3", "seed: 3\ndtype: float32")
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        result = check_spec(path)
        assert result.outcome == outcome, str(result)
        assert (result.dtype, result.rtol) == ("float32", 1e-5)
        assert "float32: numeric side computed in float64 on a float64 twin of the network" in result.notes


def test_a_node_that_misbehaves_is_an_error_naming_it(write_file, write_spec, run_json):
    write_file("bad.py", '''
        class Pair:
            def forward(self, a, b):
                return a * b

            def backward(self, g):
                return g
        ''')
    path = write_spec("""
        inputs: {a: [4, 3], b: [4, 3]}
        graph:
          - {name: p, type: ./bad.py:Pair, in: [a, b]}
        """)
    result, report = run_json(str(path))
    assert result.exit_code == 1
    (spec,) = report["specs"]
    assert spec["error"] == "node p (./bad.py:Pair): backward returned ndarray, expected one gradient per input " \
                            "(2: a, b), in order"
    assert (spec["suspect_node"], spec["suspect_layer"]) == ("p", None)


def test_the_suspect_is_the_first_node_to_fail_alone_in_topological_order(tmp_path):
    """Both LSTM steps buggy, the second written first in the file: the data meets the first step first."""
    shutil.copy(GRAPH / "layers.py", tmp_path / "layers.py")
    spec = yaml.safe_load((GRAPH / "lstm.yaml").read_text(encoding="utf-8"))
    first, second, *rest = spec["graph"]
    first["type"] = second["type"] = "./layers.py:lstm_bug_step"
    spec["graph"] = [second, first, *rest]
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = check_spec(tmp_path / "spec.yaml")
    assert [lc.node for lc in result.layer_checks if lc.outcome == "failed"] == ["step", "step2"]
    assert result.suspect_node == "step"
