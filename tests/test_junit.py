"""The JUnit XML report, built from real runs of specs copied into tmp_path."""
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gradcheck_cli.run import batch as runner
from gradcheck_cli.report.junit import junit_xml, write_junit
from gradcheck_cli.results import RunResult

DATA = Path(__file__).parent / "data" / "plugin"


def copy_specs(folder: Path, *names: str) -> list[str]:
    shutil.copy(DATA / "layers.py", folder / "layers.py")
    paths = []
    for name in names:
        shutil.copy(DATA / name, folder / name)
        paths.append(str(folder / name))
    return paths


@pytest.fixture(scope="module")
def run_result(tmp_path_factory) -> RunResult:
    folder = tmp_path_factory.mktemp("junit")
    return runner.run(copy_specs(folder, "mlp.yaml", "square_affine.yaml", "transpose_bug.yaml",
                                 "raises.yaml", "invalid.yaml"))


@pytest.fixture(scope="module")
def root(run_result) -> ET.Element:
    return ET.fromstring(junit_xml(run_result).encode("utf-8"))


def cases(root) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in root.iter("testcase")}


def test_the_run_has_every_outcome(run_result):
    outcomes = {spec.name: spec.outcome for spec in run_result.specs}
    assert outcomes["mlp"] == outcomes["square_affine"] == "passed"
    assert outcomes["transpose_bug"] == "failed"
    assert outcomes["raises"] == "error"
    assert outcomes["invalid"] == "error"


def test_one_testsuite_inside_testsuites_with_counts(root):
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "gradcheck"
    assert suite.get("tests") == "5"
    assert suite.get("failures") == "1"
    assert suite.get("errors") == "2"
    assert float(suite.get("time")) >= 0
    assert len(suite.findall("testcase")) == 5
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "2")


def test_testcase_attributes(root, run_result):
    found = cases(root)
    assert set(found) == {"mlp", "square_affine", "transpose_bug", "raises", "invalid"}
    for spec in run_result.specs:
        case = found[spec.name]
        assert case.get("classname") == spec.path
        assert float(case.get("time")) == pytest.approx(spec.seconds, abs=1e-3)
    assert list(found["mlp"]) == []  # a pass has no child element


def test_failure_names_the_failing_tensors(root):
    case = cases(root)["transpose_bug"]
    assert case.find("error") is None
    failure = case.find("failure")
    assert failure.get("type") == "GradientMismatch"
    message = failure.get("message")
    assert message.startswith("5 tensors off: ")
    assert "layer 2 (layers.py:MissingTranspose) input" in message
    assert "layer 1 (tanh) input" in message
    body = failure.text
    assert "layer 2 (layers.py:MissingTranspose) input  shape 4x4" in body
    assert "max abs err" in body and "max rel err" in body
    assert "worst [" in body and "analytic" in body and "numeric" in body
    assert "suspect: layer 2 (layers.py:MissingTranspose): backward wrong for input; layers 0, 1, 3 correct" in body
    # passing tensors are not listed
    assert "MissingTranspose) W" not in body


def test_errors_and_invalid_specs(root):
    found = cases(root)
    error = found["raises"].find("error")
    assert error.get("type") == "LayerError"
    layers = Path(found["raises"].get("classname")).parent / "layers.py"  # beside the spec; the line that raised
    assert error.get("message").startswith(f"layer 1 (layers.py:Exploding): {layers}:43: forward raised RuntimeError")
    # escaped on the way in, read back intact; the BEL character XML cannot carry is replaced
    assert 'forward exploded <here> & "there"' in error.get("message")
    assert "\x07" not in error.get("message")
    assert found["raises"].find("failure") is None
    invalid = found["invalid"].find("error")
    assert invalid.get("type") == "InvalidSpec"
    assert "expected a positive integer, got 'three'" in invalid.get("message")
    assert "invalid.yaml:5" in invalid.text


def test_missing_path_is_an_invalid_testcase(tmp_path):
    run = runner.run([str(tmp_path / "nowhere.yaml")])
    root = ET.fromstring(junit_xml(run))
    (case,) = root.iter("testcase")
    assert case.get("classname") == str(tmp_path / "nowhere.yaml")
    assert case.find("error").get("type") == "InvalidSpec"
    assert root.find("testsuite").get("errors") == "1"


def test_empty_run():
    root = ET.fromstring(junit_xml(RunResult([])))
    assert root.find("testsuite").get("tests") == "0"
    assert root.find("testsuite").findall("testcase") == []


def test_write_junit_is_atomic_and_parses(tmp_path, run_result):
    target = tmp_path / "report.xml"
    target.write_text("old")
    write_junit(run_result, str(target))
    text = target.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.parse(target).getroot()
    assert len(list(root.iter("testcase"))) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["report.xml"]  # no temporary left behind
