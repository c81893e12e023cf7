"""Hazards: what a layer does that does not make the check wrong but bites in training (a warning
each; --strict fails on them), numpy's global random state seeded per layer, and errors that
name the line of the user's code that raised."""
from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

# Imported before pytester's in-process runs (see test_pytest_plugin.py: numpy's C extension
# cannot be loaded twice in one process).
import gradcheck_cli.check.spec_check  # noqa: F401
from conftest import SPECS, invoke_cli, strip_seconds
from gradcheck_cli.check.backprop import backprop
from gradcheck_cli.model.network import build_network
from gradcheck_cli.run.batch import check_spec
from gradcheck_cli.spec.load import load_spec

pytest_plugins = ["pytester"]


def plugin_name() -> str:
    """What `-p` must name (as in test_pytest_plugin.py): the entry point once installed."""
    import importlib.metadata
    for ep in importlib.metadata.entry_points(group="pytest11"):
        if ep.value == "gradcheck_cli.pytest_plugin":
            return ep.name
    return "gradcheck_cli.pytest_plugin"

DATA = Path(__file__).parent / "data" / "hazards"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The hazard layers in tmp_path, the current folder: paths show as ./hazards.py."""
    for path in DATA.iterdir():
        if path.suffix in (".py", ".yaml"):
            shutil.copy(path, tmp_path / path.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stack_spec(layer: str, file: str = "hazards.py", name: str | None = None, input_shape=(4, 3)) -> str:
    """linear -> the layer -> linear, written in the current folder; returns the spec's path."""
    path = f"{name or layer}.yaml"
    Path(path).write_text(f"input: {list(input_shape)}\nlayers:\n  - {{type: linear, out: 3}}\n"
                          f"  - ./{file}:{layer}\n  - {{type: linear, out: 2}}\n", encoding="utf-8")
    return path


def run(*args: str):
    """`gradcheck run ARGS --json report.json` in the current folder -> (result, the spec's JSON)."""
    result = invoke_cli("run", *args, "--json", "report.json")
    report = json.loads(Path("report.json").read_text(encoding="utf-8"))
    return result, report


def lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines()]


SEEDED = ("it was seeded for this layer (from the spec's seed and the layer's position) before every call, so the "
          "check is reproducible and every perturbation sees the same draws; a Generator passed via "
          "build(input_shape, rng) is better")

# layer -> (kind, the exact message)
WARNINGS = {
    "ReLUInPlace": ("grad_out_modified", "layer 1 (./hazards.py:ReLUInPlace): backward wrote into the grad_out "
                    "array it was given; in training, the layer after it may still hold that array: compute dL/dx "
                    "into a new one (dx = grad_out * mask, not grad_out[...] = 0)"),
    "BufferedTanh": ("output_reused", "layer 1 (./hazards.py:BufferedTanh): forward returns an array that it "
                     "overwrites on its next call (the same buffer each time), so an output kept by the caller "
                     "changes under it: return a new array (the check copied each output, so its numbers are right)"),
    "Float32Tanh": ("dtype", "layer 1 (./hazards.py:Float32Tanh): forward returns float32 for float64 input in a "
                    "float64 spec: the spec is checked with float32 tolerances, loose enough to let a small gradient "
                    "error pass; keep the dtype it is given"),
    "Float32Backward": ("dtype", "layer 1 (./hazards.py:Float32Backward): backward returns float32 for float64 "
                        "grad_out in a float64 spec: the gradients of the layers before it lose that precision; keep "
                        "the dtype it is given"),
    "Dropout": ("global_random", "layer 1 (./hazards.py:Dropout): forward reads numpy's global random state "
                f"(np.random); {SEEDED}"),
}


@pytest.mark.parametrize("layer", list(WARNINGS))
def test_a_hazard_is_a_warning_and_the_spec_still_passes(folder, layer):
    kind, message = WARNINGS[layer]
    result, report = run(stack_spec(layer))
    assert result.exit_code == 0, result.output
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed"
    assert spec["warnings"] == [{"layer": 1, "node": None, "kind": kind, "message": message}]
    # every gradient compared, and right: the warning is not instead of a check
    assert [(c["layer"], c["tensor"], c["outcome"]) for c in spec["checks"]] == \
        [(0, "input", "passed"), (0, "W", "passed"), (0, "b", "passed"), (1, "input", "passed"),
         (2, "input", "passed"), (2, "W", "passed"), (2, "b", "passed")]
    shown = lines(result.output)
    assert f"warning: {message}" in shown
    assert shown.index(f"warning: {message}") > max(i for i, line in enumerate(shown) if line.startswith("└"))
    assert shown[-1].startswith("1 spec: 1 passed, 0 failed, 0 errors, 1 warning in ")


def test_a_reused_output_buffer_gets_the_numbers_of_a_fresh_array(folder):
    """The engine keeps many outputs side by side; uncopied, a reused buffer would make every
    perturbation look alike (the closer look would then rescue each element, with other numbers)."""
    _, buffered = run(stack_spec("BufferedTanh"))
    _, fresh = run(stack_spec("Tanh"))
    def numbers(report):
        return [{k: v for k, v in c.items() if k != "type"} for c in report["specs"][0]["checks"]]
    assert numbers(buffered) == numbers(fresh)


def test_a_float32_layer_keeps_its_note_too(folder):
    _, report = run(stack_spec("Float32Tanh"))
    assert report["specs"][0]["notes"] == ["a layer returns float32 for float64 input: checked with float32 tolerances"]


@pytest.mark.parametrize("layer", list(WARNINGS))
def test_strict_makes_any_warning_fail_the_spec(folder, layer):
    kind, message = WARNINGS[layer]
    result, report = run(stack_spec(layer), "--strict")
    assert result.exit_code == 1, result.output
    (spec,) = report["specs"]
    assert spec["outcome"] == "failed"
    assert all(c["outcome"] == "passed" for c in spec["checks"])
    assert spec["warnings"] == [{"layer": 1, "node": None, "kind": kind, "message": message}]
    why = f"every gradient matches, but strict mode fails a spec with any warning: 1 warning ({kind})"
    assert f"→ {why}" in lines(result.output)
    quiet = invoke_cli("run", stack_spec(layer), "--strict", "-q")
    assert quiet.exit_code == 1
    assert f"{layer}.yaml: failed: {why}" in lines(quiet.output)


def test_strict_leaves_a_spec_without_warnings_alone(folder):
    result, report = run(stack_spec("Tanh"), str(SPECS / "mlp.yaml"), "--strict")
    assert result.exit_code == 0, result.output
    assert [s["outcome"] for s in report["specs"]] == ["passed", "passed"]
    assert [s["warnings"] for s in report["specs"]] == [[], []]


def test_no_warning_for_correct_layers():
    """Built-ins, the example specs, and every case of the mutation suite (its planted bugs are
    wrong gradients, not hazards): not one warning."""
    from mutation.cases import BUGGY, CORRECT
    from mutation.measure import run as run_case

    examples = sorted(SPECS.glob("*.yaml")) + sorted((SPECS / "custom").glob("*.yaml"))
    assert len(examples) > 5
    for path in examples:
        result = check_spec(str(path))
        assert result.outcome == "passed" and result.warnings == [], (path, result.warnings)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for case in CORRECT + BUGGY:
            result = run_case(case, Path(tmp))
            assert result.warnings == [], (case.name, result.warnings)


def test_junit_carries_the_warnings_and_the_strict_failure(folder):
    path = stack_spec("ReLUInPlace")
    kind, message = WARNINGS["ReLUInPlace"]
    assert invoke_cli("run", path, "--junit-xml", "passed.xml").exit_code == 0
    (case,) = ET.parse("passed.xml").getroot().iter("testcase")
    assert case.find("failure") is None
    assert case.find("system-out").text == f"warning: {message}\n"
    assert invoke_cli("run", path, "--strict", "--junit-xml", "strict.xml").exit_code == 1
    (case,) = ET.parse("strict.xml").getroot().iter("testcase")
    failure = case.find("failure")
    assert failure.get("message") == ("every gradient matches, but strict mode fails a spec with any warning: "
                                      f"1 warning ({kind})")
    assert f"warning: {message}" in failure.text.splitlines()


def test_html_shows_the_warnings(folder):
    import html
    import re
    assert invoke_cli("run", stack_spec("ReLUInPlace"), "--html", "report.html").exit_code == 0
    page = Path("report.html").read_text(encoding="utf-8")
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())  # as read: the page wraps at 120 columns
    assert f"warning: {WARNINGS['ReLUInPlace'][1]}" in text


# --- the pytest plugin -------------------------------------------------------------------------


@pytest.fixture
def plugin_suite(pytester):
    shutil.copy(DATA / "hazards.py", pytester.path / "hazards.py")
    (pytester.path / "relu.gradcheck.yaml").write_text(
        "name: relu\ninput: [4, 3]\nlayers:\n  - {type: linear, out: 3}\n  - ./hazards.py:ReLUInPlace\n",
        encoding="utf-8")
    return pytester


def test_plugin_shows_a_passing_specs_warnings(plugin_suite):
    # -W: the in-process run may find gradcheck_cli imported already (not rewritable): not the warning meant
    result = plugin_suite.runpytest("-p", plugin_name(), "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*GradcheckWarning: relu.gradcheck.yaml: layer 1 (./hazards.py:ReLUInPlace): "
                                 "backward wrote into the grad_out array it was given*"])


def test_plugin_ini_strict_fails_the_spec_with_its_warnings(plugin_suite):
    plugin_suite.makeini("[pytest]\ngradcheck_strict = true\n")
    result = plugin_suite.runpytest("-p", plugin_name(), "-rf", "-vv")  # -vv: summary lines are not cut
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "every gradient matches, but strict mode fails a spec with any warning: 1 warning (grad_out_modified)*",
        "  warning: layer 1 (./hazards.py:ReLUInPlace): backward wrote into the grad_out array it was given*",
        "FAILED relu.gradcheck.yaml::relu - every gradient matches, but strict mode fails*",
    ])
    assert "Traceback" not in result.stdout.str()


# --- numpy's global random state ---------------------------------------------------------------


def test_dropout_with_np_random_passes_and_is_reproducible(folder):
    first, report = run("dropout.yaml")
    assert first.exit_code == 0, first.output
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed"
    assert [(w["layer"], w["kind"]) for w in spec["warnings"]] == [(1, "global_random"), (3, "global_random")]
    assert 1.9 < spec["taylor_order"] < 2.1  # one fixed function: the same masks for every perturbation
    _, again = run("dropout.yaml")
    assert strip_seconds(again) == strip_seconds(report)


def test_two_dropout_layers_draw_different_masks_and_each_the_same_at_every_call(folder):
    net = build_network(load_spec("dropout.yaml"))
    backprop(net, net.x)
    first, second = net.stack.entries[1], net.stack.entries[3]
    x = np.ones((6, 5))
    first.forward(x)
    mask = first.layer.mask.copy()
    first.forward(2 * x)
    assert np.array_equal(first.layer.mask, mask)
    second.forward(x)
    assert not np.array_equal(second.layer.mask, mask)
    assert set(np.unique(mask)) == {0.0, 1 / 0.6}  # dropout still drops: a mask, not all ones


def test_the_callers_random_state_is_unchanged(folder):
    """The check runs inside the user's process (the Python API, pytest): their np.random stream
    goes on as if nothing had run, a cached Gaussian included."""
    np.random.seed(1234)
    np.random.randn()                               # leaves a cached Gaussian in the legacy state
    before = np.random.get_state()
    assert check_spec("dropout.yaml").outcome == "passed"
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    # and outside a whole check (a network built and run by hand): each seeded call puts it back
    net = build_network(load_spec("dropout.yaml"))
    backprop(net, net.x)
    net.stack.forward(net.x)
    after = np.random.get_state()
    assert np.array_equal(before[1], after[1]) and before[2:] == after[2:]


def test_weights_drawn_with_np_random_in_build_are_the_same_from_run_to_run(folder):
    """Whatever state np.random is in when the check starts (a fresh process starts anywhere)."""
    from gradcheck_cli.report.json_report import spec_dict

    path = stack_spec("NumpyInitAffine")
    reports = []
    for caller_seed in (1, 2):
        np.random.seed(caller_seed)
        result = check_spec(path)
        assert result.outcome == "passed" and result.warnings == []  # drawing weights in build is no hazard
        reports.append(strip_seconds(spec_dict(result)))
    assert reports[0] == reports[1]


def test_a_dropout_declared_thread_safe_gets_the_same_numbers_on_threads(folder):
    """Declared thread-safe, the layer's stacks run on the thread pool: its seeded calls hold
    one lock, so the masks are those of the one-thread run. (Without the lock, about 4 runs in
    10 differ somewhere when threads switch often.)"""
    from gradcheck_cli.report.json_report import spec_dict

    def numbers(path):
        result = check_spec(path)
        assert result.outcome == "passed", result.error
        return [{k: v for k, v in c.items() if k != "type"} for c in strip_seconds(spec_dict(result))["checks"]]

    shape = (64, 16)  # enough elements for several stacks, so the pool has work for several threads
    plain = numbers(stack_spec("Dropout", input_shape=shape))
    threaded = stack_spec("ThreadSafeDropout", input_shape=shape)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between almost any two bytecodes: a race would show
    try:
        for _ in range(20):
            assert numbers(threaded) == plain
    finally:
        sys.setswitchinterval(switching)


def test_a_layer_reading_np_random_cannot_declare_stacked(folder):
    _, report = run(stack_spec("StackedDropout"))
    assert report["specs"][0]["error"] == (
        "layer 1 (./hazards.py:StackedDropout): declares stacked = True, but its forward reads numpy's global "
        "random state (np.random): a stack of inputs would draw other numbers than each input alone; remove the "
        "declaration")


# --- errors name the user's line ---------------------------------------------------------------


def line_in(file: str, snippet: str) -> int:
    (number,) = [n for n, line in enumerate((DATA / file).read_text().splitlines(), 1) if snippet in line]
    return number


RAISED = {
    "RaisesInForward": f"./raising.py:{line_in('raising.py', 'boom')}: forward raised ValueError: boom",
    "RaisesInBackward": f"./raising.py:{line_in('raising.py', 'KeyError')}: backward raised KeyError: 'missing'",
    "RaisesInBuild": f"./raising.py:{line_in('raising.py', 'no weights')}: build raised RuntimeError: no weights "
                     "today",
    "ConstructorRaises": f"./raising.py:{line_in('raising.py', 'TypeError')}: constructor raised TypeError: width 3 "
                         "is not supported",
    # numpy raised deep inside np.matmul: the user's line that called it
    "NumpyRaises": f"./raising.py:{line_in('raising.py', 'np.ones((x.shape')}: forward raised ValueError: matmul: "
                   "Input operand 1 has a mismatch in its core dimension 0",
    # the innermost frame in the user's code is in another of their files
    "HelperRaises": f"./helpers.py:{line_in('helpers.py', 'raise')}: forward raised ValueError: negative factor -1.0",
}


@pytest.mark.parametrize("layer", list(RAISED))
def test_an_error_in_layer_code_names_the_users_line(folder, layer):
    result, report = run(stack_spec(layer, "raising.py"))
    assert result.exit_code == 1
    (spec,) = report["specs"]
    assert spec["outcome"] == "error"
    assert spec["error"].startswith(f"layer 1 (./raising.py:{layer}): {RAISED[layer]}")
    assert "\n" not in spec["error"] and "Traceback" not in result.output


def test_a_file_outside_the_current_folder_is_named_by_its_whole_path(folder, monkeypatch):
    spec = Path(stack_spec("RaisesInForward", "raising.py")).resolve()
    (folder / "elsewhere").mkdir()
    monkeypatch.chdir(folder / "elsewhere")
    result = check_spec(str(spec))
    assert result.error == (f"layer 1 (./raising.py:RaisesInForward): {folder / 'raising.py'}:"
                            f"{line_in('raising.py', 'boom')}: forward raised ValueError: boom")


def test_validate_names_the_users_line_too(folder):
    result = invoke_cli("validate", stack_spec("RaisesInBuild", "raising.py"))
    assert result.exit_code == 1
    assert f"RaisesInBuild.yaml: error: layer 1 (./raising.py:RaisesInBuild): {RAISED['RaisesInBuild']}" \
        in lines(result.output)
