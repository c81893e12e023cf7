"""The pytest plugin, in real pytest runs over folders of *.gradcheck.yaml specs.

Every run is a subprocess. An in-process run (pytester.runpytest, inline_run, inline_genitems)
restores sys.modules afterwards, dropping every module first imported during the run: the
plugin's own imports and those of every other installed plugin (pytest-randomly imports numpy).
numpy cannot be imported a second time in one process ("cannot load module more than once per
process"), and any other dropped module comes back as a second copy whose classes differ from
the first, so later tests in this process failed or passed depending on the order."""
import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data" / "plugin"
MODULE = "gradcheck_cli.pytest_plugin"


def plugin_name() -> str:
    """What `-p` must name: the entry point once the package is installed with it (pytest
    refuses the same module registered under a second name), else the module itself."""
    for ep in importlib.metadata.entry_points(group="pytest11"):
        if ep.value == MODULE:
            return ep.name
    return MODULE


PLUGIN = ("-p", plugin_name())


def lay_out(root: Path, files: dict[str, str]) -> None:
    """files: target path below root -> name of a file in tests/data/plugin."""
    for target, source in files.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / source, path)


@pytest.fixture
def suite(pytester):
    """Two passing specs and one failing, in two folders; custom layers beside their specs."""
    lay_out(pytester.path, {
        "specs/mlp.gradcheck.yaml": "mlp.yaml",
        "specs/deep/layers.py": "layers.py",
        "specs/deep/square_affine.gradcheck.yml": "square_affine.yaml",
        "specs/deep/transpose_bug.gradcheck.yaml": "transpose_bug.yaml",
        "specs/not_collected.yaml": "mlp.yaml",  # a plain .yaml is no test
    })
    return pytester


def test_two_pass_one_fails(suite):
    result = suite.runpytest_subprocess(*PLUGIN, "-v")
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    assert "2 passed" in output and "1 failed" in output
    for line in ("specs/mlp.gradcheck.yaml::mlp PASSED*",
                 "specs/deep/square_affine.gradcheck.yml::square_affine PASSED*",
                 "specs/deep/transpose_bug.gradcheck.yaml::transpose_bug FAILED*"):
        result.stdout.fnmatch_lines([line])
    # the failure names the tensor, its errors and the worst element, and the suspect layer
    result.stdout.fnmatch_lines([
        "*gradcheck: transpose_bug*",
        "5 tensors off; suspect layer 2 (layers.py:MissingTranspose) input*",
        "*layer 2 (layers.py:MissingTranspose) input  shape 4x4  max abs err *  max rel err *"
        "worst [[]*]: analytic *, numeric *",
        "*suspect: layer 2 (layers.py:MissingTranspose): backward wrong for input; layers 0, 1, 3 correct",
        "*likely: transpose in layer 2 input (90%): dx = J·grad_out for each row where grad_out·J belongs*",
    ])
    assert "not_collected" not in output
    assert "Traceback" not in output
    assert "runner.py" not in output and "def runtest" not in output


def test_short_summary_names_the_suspect(suite):
    result = suite.runpytest_subprocess(*PLUGIN, "-rf", "-vv")  # -vv: summary lines are not cut
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED *transpose_bug.gradcheck.yaml::transpose_bug - 5 tensors off; suspect*"])
    assert "Traceback" not in result.stdout.str()


def test_error_and_invalid_spec_show_one_line(pytester):
    lay_out(pytester.path, {
        "layers.py": "layers.py",
        "raises.gradcheck.yaml": "raises.yaml",
        "invalid.gradcheck.yml": "invalid.yaml",
    })
    (pytester.path / "unreadable.gradcheck.yaml").write_text("input: [4, 3\n")
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(failed=3)
    for line in (
        "error: layer 1 (layers.py:Exploding): ./layers.py:43: forward raised RuntimeError: forward exploded "
        "<here> & \"there\"",
        "invalid spec: invalid.gradcheck.yml:5: layers?0?.linear.out: expected a positive integer, got 'three'",
        "invalid spec: unreadable.gradcheck.yaml:1: YAML syntax error: the * opened on this line is not closed*",
    ):
        result.stdout.fnmatch_lines([line])
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "\x07" not in output
    # an unreadable spec is still one collected item, named after its file
    assert "unreadable.gradcheck.yaml::unreadable.gradcheck" in output


def test_collect_only_and_reportinfo(suite):
    result = suite.runpytest_subprocess(*PLUGIN, "--collect-only", "-q")
    collected = set(result.stdout.lines)
    assert {"specs/deep/square_affine.gradcheck.yml::square_affine",
            "specs/deep/transpose_bug.gradcheck.yaml::transpose_bug",
            "specs/mlp.gradcheck.yaml::mlp"} <= collected
    # What each collected item says of itself, printed from inside the run (a conftest beside
    # the specs): its own path, no line, the gradcheck domain and marker.
    suite.makeconftest("""
        def pytest_collection_finish(session):
            for item in session.items:
                path, line, domain = item.reportinfo()
                marked = item.get_closest_marker("gradcheck") is not None
                print(f"ITEM {item.name} | {path == item.path} | {line} | {domain} | {marked}")
        """)
    result = suite.runpytest_subprocess(*PLUGIN, "--collect-only", "-q", "-s")
    items = sorted(line for line in result.stdout.lines if line.startswith("ITEM "))
    assert items == [f"ITEM {name} | True | None | gradcheck: {name} | True"
                     for name in ("mlp", "square_affine", "transpose_bug")], result.stdout.str()


def test_marker_selects_only_specs(suite):
    suite.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = suite.runpytest_subprocess(*PLUGIN, "-m", "gradcheck", "--strict-markers")
    result.assert_outcomes(passed=2, failed=1, deselected=1)


def test_pytest_junitxml_carries_the_message(suite):
    import xml.etree.ElementTree as ET

    suite.runpytest_subprocess(*PLUGIN, "--junitxml=out.xml")
    root = ET.parse(suite.path / "out.xml").getroot()
    failures = [f for f in root.iter("failure")]
    assert len(failures) == 1
    assert failures[0].get("message").startswith("5 tensors off; suspect layer 2 (layers.py:MissingTranspose)")
    assert "layer 2 (layers.py:MissingTranspose) input  shape 4x4" in failures[0].text


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist is not installed")
def test_under_xdist(suite):
    result = suite.runpytest_subprocess(*PLUGIN, "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    assert "2 workers" in output
    assert "layer 2 (layers.py:MissingTranspose) input" in output
    assert "Traceback" not in output
