"""The mutation suite (tests/mutation): correct layers pass, every planted bug fails on the
right tensors of the right layer, and the layer is named as the suspect."""
from __future__ import annotations

import pytest
import yaml

from conftest import stacked_and_plain_numerics
from gradcheck_cli.run.batch import check_spec
from mutation.cases import BUGGY, CORRECT, Case


def _run(case: Case, tmp_path):
    spec = {"name": case.name, "seed": case.seed, "dtype": case.dtype, "input": list(case.input),
            "layers": case.layers, "loss": case.loss}
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return check_spec(str(path))


@pytest.mark.parametrize("case", CORRECT, ids=lambda c: c.name)
def test_correct_layer_passes(case, tmp_path):
    result = _run(case, tmp_path)
    wrong = [(c.layer, c.tensor, c.max_rel_error) for c in result.checks if not c.passed]
    assert result.outcome == "passed", result.error or wrong


@pytest.mark.parametrize("case", BUGGY, ids=lambda c: c.name)
def test_planted_bug_is_caught_on_the_right_tensor(case, tmp_path):
    result = _run(case, tmp_path)
    assert result.outcome == "failed", result.error
    flagged = {c.tensor for c in result.checks if c.layer == case.bug_layer and not c.passed}
    assert flagged == set(case.bug_tensors)
    after = [(c.layer, c.tensor) for c in result.checks if c.layer > case.bug_layer and not c.passed]
    assert after == [], "layers after the buggy one must not be flagged"
    assert result.suspect_layer == case.bug_layer
    alone = result.layer_checks[case.bug_layer]
    assert set(alone.wrong_tensors) == set(case.bug_tensors)


@pytest.mark.parametrize("mode", ["fast", "sample"])
@pytest.mark.parametrize("case", CORRECT + BUGGY, ids=lambda c: c.name)
def test_cheaper_modes_agree_with_full(case, mode, tmp_path):
    """Fast mode (random directions) and sample mode flag the same tensors as a full check,
    and never a correct layer."""
    from gradcheck_cli.run.batch import RunOptions
    spec = {"name": case.name, "seed": case.seed, "dtype": case.dtype, "input": list(case.input),
            "layers": case.layers, "loss": case.loss}
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = check_spec(str(path), RunOptions(mode=mode, samples=8, directions=4))
    assert result.mode == mode
    if case.bug_layer is None:
        assert result.outcome == "passed", [(c.layer, c.tensor) for c in result.checks if not c.passed]
    else:
        assert result.outcome == "failed"
        flagged = {c.tensor for c in result.checks if c.layer == case.bug_layer and not c.passed}
        assert flagged == set(case.bug_tensors)
        # each layer alone, in the same mode, names the layer and its wrong tensors
        assert result.suspect_layer == case.bug_layer
        assert set(result.layer_checks[case.bug_layer].wrong_tensors) == set(case.bug_tensors)
        assert all(lc.outcome == "passed" for lc in result.layer_checks if lc.layer != case.bug_layer)


@pytest.mark.parametrize("case", CORRECT + BUGGY, ids=lambda c: c.name)
def test_stacked_engine_agrees_with_the_straightforward_check(case, tmp_path):
    """The full check's engine (many perturbations per numpy call, row- and column-sparse
    propagation) gives the verdicts of the plain loop: perturb one scalar, run the whole
    forward. Where a tensor fails, the worst element is the same one; where it passes, the
    worst element is rounding noise, and may differ."""
    from gradcheck_cli.check.backprop import backprop
    from gradcheck_cli.check.jobs import check_network
    from gradcheck_cli.check.precision import choose_precision
    from gradcheck_cli.model.network import build_network
    from gradcheck_cli.spec.load import load_spec

    spec = {"name": case.name, "seed": case.seed, "dtype": "float64", "input": list(case.input),
            "layers": case.layers, "loss": case.loss}
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    net = build_network(load_spec(str(path)))
    trace = backprop(net, net.x)
    precision, _ = choose_precision(net, trace, False, None, None, None)
    fast = check_network(net, precision, trace, None)
    plain = check_network(net, precision, trace, None, straightforward=True)
    assert [(c.layer, c.tensor, c.outcome, c.mismatches, c.kinks) for c in fast] == \
           [(c.layer, c.tensor, c.outcome, c.mismatches, c.kinks) for c in plain]
    for a, b in zip(fast, plain):
        if not a.passed:
            assert a.worst_index == b.worst_index
            assert a.numeric == pytest.approx(b.numeric, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("shape", [[5, 4], [3, 2, 4]], ids=["rows", "rows of (N, T, m)"])
def test_stacked_numeric_gradients_equal_the_per_element_ones(shape, write_spec):
    """The shortcuts of the engine (a linear layer's output row moved by d·W[i, :] for a moved
    input, its column moved by d·X[:, i] for a moved weight) give the numbers of perturbing
    one scalar and running the whole forward, for every tensor."""
    path = write_spec(f"""
        seed: 3
        input: {shape}
        layers:
          - {{type: linear, out: 3}}
          - tanh
          - {{type: linear, out: 4}}
          - sigmoid
          - {{type: linear, out: 2}}
        """)
    for job, stacked, plain in stacked_and_plain_numerics(path):
        assert stacked == pytest.approx(plain, rel=1e-7, abs=1e-10), (job.layer, job.name)
        assert stacked == pytest.approx(job.analytic, rel=1e-5, abs=1e-8), (job.layer, job.name)


def test_independent_selfcheck_agrees_with_every_case():
    """tests/mutation/selfcheck.py checks each case with its own reference layers and finite
    differences, without gradcheck_cli: every correct case is correct and every planted bug is
    where it is declared. If it disagrees, the cases above test the tool against a wrong oracle."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent / "mutation" / "selfcheck.py"
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    total = len(CORRECT) + len(BUGGY)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[-1] == f"selfcheck: {total}/{total} cases as declared", run.stdout[-3000:]
    verdicts = [line.split()[:2] for line in lines if line.startswith(("OK ", "FAIL"))]
    assert sorted(name for _, name in verdicts) == sorted(c.name for c in CORRECT + BUGGY)
    assert {verdict for verdict, _ in verdicts} == {"OK"}
    assert not [line for line in lines if line.startswith("SUITE ")]


def test_every_planted_bug_declares_the_diagnosis_it_expects():
    """Written before the diagnosis: a kind of the documented list, or "none", for every wrong tensor."""
    from gradcheck_cli.check.diagnosis import KINDS

    for case in BUGGY:
        assert case.kind is not None, case.name
        expected = case.expected_kinds()
        assert set(expected) == set(case.bug_tensors), case.name
        assert set(expected.values()) <= set(KINDS) | {"none"}, case.name


def test_the_diagnosis_names_most_planted_bugs_and_rarely_a_wrong_kind(capsys):
    """The acceptance of the diagnosis on the whole suite (tests/mutation/diagnose.py): at least
    80% of the bugs with an expected kind get it, a wrong kind is rarer than silence, and no
    correct case, no other layer and no tensor that is wrong only downstream gets a diagnosis."""
    from mutation.diagnose import measure

    counts = measure()
    report = capsys.readouterr().out
    assert counts["expected"] >= 60
    assert counts["right"] >= 0.8 * counts["expected"], report
    assert counts["wrong"] < counts["silent"] or counts["wrong"] == 0, report
    assert counts["stray"] == 0, report
