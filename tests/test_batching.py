"""Custom layers probed for batching (check/probing.py): the check with every shortcut the probes
allow gives the verdicts of the check that calls each custom layer once per perturbation; layers
that would be wrong to batch are seen and run one at a time; the report says which were batched."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from conftest import ROOT, stacked_and_plain_numerics
from gradcheck_cli.errors import LayerError
from gradcheck_cli.check.backprop import backprop
from gradcheck_cli.check.jobs import check_network
from gradcheck_cli.check.precision import choose_precision
from gradcheck_cli.check.probing import batching_notes
from gradcheck_cli.model.network import build_network
from gradcheck_cli.run.batch import check_spec
from gradcheck_cli.spec.load import load_spec
from mutation.cases import BUGGY, CORRECT, Case
from mutation.kink_cases import INVALID, VALID


def both_ways(path):
    """(net, checks with probing, checks with each custom layer called once per perturbation)."""
    net = build_network(load_spec(str(path)))
    trace = backprop(net, net.x)
    precision, _ = choose_precision(net, trace, False, None, None, None)
    batched = check_network(net, precision, trace, None)
    probed = {e.label: e.batched for e in net.stack.entries}
    alone = check_network(net, precision, trace, None, batching=False)
    for entry in net.stack.entries:
        entry.batched = probed[entry.label]
    return net, batched, alone


def assert_same_results(batched, alone):
    """Same verdicts, mismatch and kink counts on every tensor; where a tensor fails, the same worst
    element and numeric derivative. (Where it passes, its worst element is rounding noise: the
    shortcuts round differently, well inside the tolerance.)"""
    assert [(c.layer, c.tensor, c.outcome, c.mismatches, c.kinks) for c in batched] == \
           [(c.layer, c.tensor, c.outcome, c.mismatches, c.kinks) for c in alone]
    for a, b in zip(batched, alone):
        if not a.passed:
            assert a.worst_index == b.worst_index, (a.layer, a.tensor)
            assert a.numeric == pytest.approx(b.numeric, rel=1e-6, abs=1e-9)


def _case_spec(case: Case, tmp_path, dtype: str | None = None):
    spec = {"name": case.name, "seed": case.seed, "dtype": dtype or case.dtype, "input": list(case.input),
            "layers": case.layers, "loss": case.loss}
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize("case", CORRECT + BUGGY + VALID + INVALID, ids=lambda c: c.name)
def test_batched_custom_layers_give_the_results_of_one_call_per_perturbation(case, tmp_path):
    net, batched, alone = both_ways(_case_spec(case, tmp_path))
    assert_same_results(batched, alone)


def test_most_mutation_cases_are_batched(tmp_path):
    """The probes are not vacuous: most of the suite's custom layers take batches."""
    cases = CORRECT + BUGGY
    batched = 0
    for case in cases:
        net = build_network(load_spec(str(_case_spec(case, tmp_path))))
        trace = backprop(net, net.x)
        precision, _ = choose_precision(net, trace, False, None, None, None)
        check_network(net, precision, trace, None)
        batched += any(e.batched is not None for e in net.stack.entries)
    assert batched >= 0.7 * len(cases)


LAYERS = '''
import numpy as np


class Affine:
    """x @ W + b.  x: (N, m) -> (N, n)."""
    def __init__(self, out):
        self.out = out
    def build(self, input_shape, rng):
        self.W = rng.standard_normal((input_shape[-1], self.out)) / 3.0
        self.b = 0.1 * rng.standard_normal(self.out)
    def forward(self, x):
        self.x = x
        return x @ self.W + self.b
    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class AffineTransposed(Affine):
    """W kept as (n, m), as torch does: x @ W.T + b."""
    def build(self, input_shape, rng):
        self.W = rng.standard_normal((self.out, input_shape[-1])) / 3.0
        self.b = 0.1 * rng.standard_normal(self.out)
    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b
    def backward(self, dout):
        self.dW = dout.T @ self.x
        self.db = dout.sum(axis=0)
        return dout @ self.W


class OptedOut(Affine):
    stacked = False


class Tanh:
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y
    def backward(self, dout):
        return dout * (1 - self.y ** 2)


class BatchCenter:
    """x - mean over the batch: each row depends on every row."""
    def forward(self, x):
        return x - x.mean(axis=0)
    def backward(self, dout):
        return dout - dout.mean(axis=0)


class BatchCenterLastButOne(BatchCenter):
    """The same, written over axis -2: a stack of batches is still fine."""
    def forward(self, x):
        return x - x.mean(axis=-2, keepdims=True)
    def backward(self, dout):
        return dout - dout.mean(axis=-2, keepdims=True)


class ScaledByBatch:
    """x * 2 / N, reading x.shape[0]."""
    def forward(self, x):
        self.n = x.shape[0]
        return 2.0 * x / self.n
    def backward(self, dout):
        return 2.0 * dout / self.n


class FixedBatch(Tanh):
    """Refuses any batch but the spec's."""
    def forward(self, x):
        assert x.shape[0] == 4, "expected 4 rows"
        return super().forward(x)


class Counting(Tanh):
    """Keeps state from call to call."""
    calls = 0
    def forward(self, x):
        self.calls += 1
        return np.tanh(x) + 1e-3 * self.calls


class BuggyAffine(Affine):
    """dW scaled by 1/N: a planted bug the batched check must find at the same element."""
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW / len(self.x)
        return dx
'''


def _spec(write_file, write_spec, layers: list[str], input_shape=(4, 5)):
    write_file("layers.py", LAYERS)
    entries = "\n".join(f"  - {entry}" for entry in layers)
    return write_spec(f"seed: 1\ninput: {list(input_shape)}\nlayers:\n{entries}\nloss: mse\n")


def _batched(net) -> dict:
    return {int(e.label): e.batched for e in net.stack.entries}


def test_plain_custom_mlp_is_batched_with_every_shortcut(write_file, write_spec):
    path = _spec(write_file, write_spec, ["{type: ./layers.py:Affine, out: 6}", "./layers.py:Tanh",
                                          "{type: ./layers.py:AffineTransposed, out: 3}"])
    net, batched, alone = both_ways(path)
    assert_same_results(batched, alone)
    shown = {k: b.shown for k, b in _batched(net).items()}
    assert shown == {0: ["rows", "affine", "W by columns", "b by columns"],
                     1: ["rows", "element-wise"],
                     2: ["rows", "affine", "W by columns", "b by columns"]}
    for job, stacked, plain in stacked_and_plain_numerics(path):
        assert stacked == pytest.approx(plain, rel=1e-7, abs=1e-10), (job.layer, job.name)


@pytest.mark.parametrize("layer, why", [
    ("./layers.py:BatchCenter", "its rows are not independent"),
    ("./layers.py:ScaledByBatch", "its rows are not independent"),
    ("./layers.py:FixedBatch", "its rows are not independent"),
])
def test_layers_wrong_to_batch_are_detected_and_run_one_at_a_time(layer, why, write_file, write_spec):
    path = _spec(write_file, write_spec, ["{type: ./layers.py:Affine, out: 6}", layer,
                                          "{type: ./layers.py:Affine, out: 3}"])
    net, batched, alone = both_ways(path)
    assert _batched(net)[1] is None
    assert _batched(net)[0] is not None and _batched(net)[2] is not None
    assert_same_results(batched, alone)
    assert all(c.passed for c in batched)
    assert f"custom layer 1 ({layer}) one at a time ({why}, and it does not take stacks)" in batching_notes(net)


def test_a_batch_statistic_over_axis_minus_two_takes_stacks_but_not_rows(write_file, write_spec):
    path = _spec(write_file, write_spec, ["{type: ./layers.py:Affine, out: 6}", "./layers.py:BatchCenterLastButOne",
                                          "./layers.py:Tanh"])
    net, batched, alone = both_ways(path)
    probed = _batched(net)[1]
    assert probed is not None and probed.shown == ["stacks"] and not probed.rowwise
    assert_same_results(batched, alone)


def test_stacked_false_opts_out(write_file, write_spec):
    path = _spec(write_file, write_spec, ["{type: ./layers.py:OptedOut, out: 6}", "./layers.py:Tanh"])
    net, batched, alone = both_ways(path)
    assert _batched(net)[0] is None and _batched(net)[1] is not None
    assert_same_results(batched, alone)


def test_a_layer_that_keeps_state_is_still_reported(write_file, write_spec):
    path = _spec(write_file, write_spec, ["{type: ./layers.py:Affine, out: 6}", "./layers.py:Counting"])
    result = check_spec(str(path))
    assert result.outcome == "error"
    assert result.error == ("layer 1 (./layers.py:Counting): forward gave different outputs for the same input "
                            "(randomness or hidden state?); gradients of such a layer cannot be checked")


def test_a_planted_bug_is_found_at_the_same_element_batched(write_file, write_spec):
    path = _spec(write_file, write_spec, ["{type: ./layers.py:Affine, out: 6}", "./layers.py:Tanh",
                                          "{type: ./layers.py:BuggyAffine, out: 3}"])
    net, batched, alone = both_ways(path)
    assert _batched(net)[2] is not None
    assert [(c.layer, c.tensor) for c in batched if not c.passed] == [(2, "W")]
    assert_same_results(batched, alone)


def test_the_report_says_which_custom_layers_were_batched(write_file, write_spec):
    path = _spec(write_file, write_spec, ["{type: ./layers.py:Affine, out: 6}", "./layers.py:BatchCenter"])
    result = check_spec(str(path))
    assert result.outcome == "passed"
    assert result.notes[-2:] == [
        "custom layers batched after probes on this data, each verified against one call per input: "
        "0 (rows, affine, W by columns, b by columns)",
        "custom layer 1 (./layers.py:BatchCenter) one at a time (its rows are not independent, and it does not take "
        "stacks)"]


SOFTPLUS = '''
import numpy as np


class Softplus:
    """log(1 + exp(beta * x)) / beta, with a learned beta per feature: not affine in beta, but
    forward broadcasts over a stack of betas (B, 1, n)."""
    def build(self, input_shape, rng):
        self.params = {"beta": 1.0 + 0.1 * rng.standard_normal(input_shape[-1])}
        self.grads = {}
    def forward(self, x):
        self.x = x
        return np.logaddexp(0.0, self.params["beta"] * x) / self.params["beta"]
    def backward(self, dout):
        beta, x = self.params["beta"], self.x
        s = 1.0 / (1.0 + np.exp(-beta * x))
        self.grads["beta"] = np.sum(dout * (x * s / beta - np.logaddexp(0.0, beta * x) / beta ** 2), axis=0)
        return dout * s
'''


def test_a_parameter_forward_broadcasts_over_is_perturbed_in_stacks(write_file, write_spec):
    write_file("layers.py", LAYERS)
    write_file("softplus.py", SOFTPLUS)
    path = write_spec("seed: 2\ninput: [4, 5]\nlayers:\n  - {type: ./layers.py:Affine, out: 6}\n"
                      "  - ./softplus.py:Softplus\n  - {type: ./layers.py:Affine, out: 2}\nloss: mse\n")
    net, batched, alone = both_ways(path)
    assert net.stack.entries[1].batched.param_stacks == {"beta": 1}
    assert "beta stacked" in net.stack.entries[1].batched.shown
    assert_same_results(batched, alone)
    assert all(c.passed for c in batched)
    for job, stacked, plain in stacked_and_plain_numerics(path):
        assert stacked == pytest.approx(plain, rel=1e-7, abs=1e-10), (job.layer, job.name)


CS231N = sorted((ROOT / "tests" / "data" / "cs231n").glob("*.yaml")) + \
    sorted((ROOT / "tests" / "data" / "cs231n_bugs").glob("*.yaml"))


@pytest.mark.parametrize("path", CS231N, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cs231n_style_layers_batched_give_the_results_of_one_call_each(path):
    """Loops as students write them (conv, max pool, batchnorm, dropout, rnn), correct and buggy."""
    try:
        net, batched, alone = both_ways(path)
    except LayerError:
        pytest.skip("an error before any check (the layer's own fault): nothing batched")
    assert_same_results(batched, alone)


def test_a_pool_written_with_loops_is_local_and_its_planted_bug_found_at_the_same_element():
    pool = ROOT / "tests" / "data" / "cs231n_bugs" / "max_pool.yaml"
    net, batched, alone = both_ways(pool)
    assert any(s.startswith("local") for s in net.stack.entries[0].batched.shown)
    assert not all(c.passed for c in batched)
    assert_same_results(batched, alone)


HOSTILE = '''
import numpy as np


class Identity:
    def forward(self, x):
        return x
    def backward(self, dout):
        return dout


class FixedMask:
    """A mask drawn once for the spec's batch: (N, m), so one row alone has the wrong shape."""
    def build(self, input_shape, rng):
        self.mask = (rng.random(input_shape) < 0.7) / 0.7
    def forward(self, x):
        return x * self.mask
    def backward(self, dout):
        return dout * self.mask


class Squeezed:
    """x.squeeze() drops the batch axis of a single row: fine only for N > 1."""
    def forward(self, x):
        self.x = x.squeeze()
        return np.tanh(self.x).reshape(x.shape)
    def backward(self, dout):
        return dout * (1 - np.tanh(self.x.reshape(dout.shape)) ** 2)


class BigOnly:
    """Affine near the data, clipped far from it: not affine in its input."""
    def build(self, input_shape, rng):
        self.W = rng.standard_normal((input_shape[-1], 3))
    def forward(self, x):
        self.x = x
        self.z = x @ self.W
        return np.clip(self.z, -4.0, 4.0)
    def backward(self, dout):
        g = dout * (np.abs(self.z) < 4.0)
        self.dW = self.x.T @ g
        return g @ self.W.T


class RowCumsum:
    """Each row's running sum: row-independent, affine, and its footprints are not local."""
    def forward(self, x):
        return np.cumsum(x, axis=1)
    def backward(self, dout):
        return np.cumsum(dout[:, ::-1], axis=1)[:, ::-1]


class PairMax:
    """max of neighbouring features, with a loop: local, not affine."""
    def forward(self, x):
        self.x = x
        out = np.empty((x.shape[0], x.shape[1] // 2))
        for j in range(x.shape[1] // 2):
            out[:, j] = np.maximum(x[:, 2 * j], x[:, 2 * j + 1])
        return out
    def backward(self, dout):
        dx = np.zeros_like(self.x)
        for j in range(dout.shape[1]):
            first = self.x[:, 2 * j] >= self.x[:, 2 * j + 1]
            dx[:, 2 * j] = dout[:, j] * first
            dx[:, 2 * j + 1] = dout[:, j] * ~first
        return dx


class PairMaxBothAtTies(PairMax):
    """BUG: ties give the gradient to both."""
    def backward(self, dout):
        dx = super().backward(dout)
        for j in range(dout.shape[1]):
            tie = self.x[:, 2 * j] == self.x[:, 2 * j + 1]
            dx[:, 2 * j + 1] += dout[:, j] * tie
        return dx
'''


@pytest.mark.parametrize("layer, shown", [
    ("Identity", ["rows", "element-wise"]),
    ("{type: ./hostile.py:FixedMask, constants: [mask]}", ["stacks"]),
    ("Squeezed", ["rows", "element-wise"]),
    ("{type: ./hostile.py:BigOnly}", ["rows", "W stacked"]),
    ("RowCumsum", ["rows", "affine"]),
    ("PairMax", ["rows", "local (at most 1 outputs per input)"]),
])
def test_hostile_layers_are_batched_only_as_far_as_probes_show(layer, shown, write_file, write_spec):
    write_file("layers.py", LAYERS)
    write_file("hostile.py", HOSTILE)
    entry = layer if layer.startswith("{") else f"./hostile.py:{layer}"
    path = write_spec(f"seed: 4\ninput: [4, 6]\nlayers:\n  - {{type: ./layers.py:Affine, out: 6}}\n  - {entry}\n"
                      "  - {type: ./layers.py:Affine, out: 2}\nloss: mse\n")
    net, batched, alone = both_ways(path)
    probed = net.stack.entries[1].batched
    assert (None if probed is None else probed.shown) == shown
    assert_same_results(batched, alone)
    assert all(c.passed for c in batched)


def test_a_tie_bug_in_a_local_layer_is_caught_batched(write_file, write_spec):
    """Zero weights make every pair tie: the local layer's merged rows must show it as one at a time does."""
    write_file("layers.py", LAYERS)
    write_file("hostile.py", HOSTILE)
    path = write_spec("seed: 4\ninput: [4, 6]\nlayers:\n  - {type: linear, out: 6, init: zeros, bias: false}\n"
                      "  - ./hostile.py:PairMaxBothAtTies\n  - {type: ./layers.py:Affine, out: 2}\nloss: mse\n")
    result = check_spec(str(path))
    assert result.outcome == "failed" and result.suspect_layer == 1
    net, batched, alone = both_ways(path)
    assert net.stack.entries[1].batched is not None
    assert_same_results(batched, alone)


def _one_call_each(net, inputs, outputs, dtype):
    for entry in net.stack.entries:
        entry.batched = None


@pytest.mark.parametrize("case", CORRECT + BUGGY + VALID + INVALID, ids=lambda c: c.name)
def test_the_whole_check_batched_gives_the_verdicts_of_one_call_each(case, tmp_path, monkeypatch):
    """Outcome, every tensor's verdict, the suspect, each layer alone and the diagnosis: the same
    with the probes' shortcuts (in the network and in each layer alone) as without."""
    path = _case_spec(case, tmp_path)
    batched = check_spec(str(path))
    monkeypatch.setattr("gradcheck_cli.check.jobs.probe_network", _one_call_each)
    alone = check_spec(str(path))

    def verdicts(result):
        return (result.outcome, result.error, result.suspect_layer,
                [(c.layer, c.tensor, c.outcome, c.mismatches, c.kinks) for c in result.checks],
                [(lc.layer, lc.outcome, [(c.tensor, c.outcome) for c in lc.checks]) for lc in result.layer_checks],
                [(c.layer, c.tensor, c.diagnosis and c.diagnosis.kind) for c in result.checks])
    assert verdicts(batched) == verdicts(alone)


@pytest.mark.parametrize("case", [c for c in CORRECT + BUGGY + VALID + INVALID if not c.name.startswith("f32_forced")],
                         ids=lambda c: c.name)
def test_the_shortcuts_numbers_are_those_of_one_whole_forward_per_perturbation(case, tmp_path):
    """The raw central differences, before any closer look (which would mend a wrong shortcut
    where it disagrees with backprop, and so hide it from the verdicts): every element of every
    tensor equals perturbing one scalar and running the whole forward, up to rounding (in
    float64: in float32 that rounding is the check's tolerance, and custom layers are not probed)."""
    for job, stacked, plain in stacked_and_plain_numerics(_case_spec(case, tmp_path, "float64")):
        scale = max(1.0, float(np.max(np.abs(plain))))
        assert stacked == pytest.approx(plain, rel=1e-6, abs=1e-8 * scale), (job.layer, job.name)


@pytest.mark.parametrize("path", CS231N, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_shortcuts_numbers_on_cs231n_layers_are_those_of_one_whole_forward_each(path):
    """The same raw numbers for loops as students write them: conv (affine, read off), max pool (local)."""
    try:
        numerics = stacked_and_plain_numerics(path)
    except LayerError:
        pytest.skip("an error before any check (the layer's own fault)")
    for job, stacked, plain in numerics:
        scale = max(1.0, float(np.max(np.abs(plain))))
        assert stacked == pytest.approx(plain, rel=1e-6, abs=1e-8 * scale), (job.layer, job.name)
