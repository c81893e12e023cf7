"""The pytest plugin, in real pytest runs over folders of *.gradcheck.yaml specs."""
import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

import pytest

# Imported here, before pytester's in-process runs: each run drops the modules it imported,
# and numpy's C extension cannot be loaded a second time in one process.
import numpy  # noqa: F401
import gradcheck_cli.run.batch  # noqa: F401
import gradcheck_cli.check.spec_check  # noqa: F401

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
    result = suite.runpytest(*PLUGIN, "-v")
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
    ])
    assert "not_collected" not in output
    assert "Traceback" not in output
    assert "runner.py" not in output and "def runtest" not in output


def test_short_summary_names_the_suspect(suite):
    result = suite.runpytest(*PLUGIN, "-rf", "-vv")  # -vv: summary lines are not cut
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
    result = pytester.runpytest(*PLUGIN)
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
    result = suite.runpytest(*PLUGIN, "--collect-only", "-q")
    collected = set(result.stdout.lines)
    assert {"specs/deep/square_affine.gradcheck.yml::square_affine",
            "specs/deep/transpose_bug.gradcheck.yaml::transpose_bug",
            "specs/mlp.gradcheck.yaml::mlp"} <= collected
    items, _ = suite.inline_genitems(*PLUGIN)
    assert len(items) == 3
    for item in items:
        path, line, domain = item.reportinfo()
        assert Path(path) == item.path and line is None
        assert domain == f"gradcheck: {item.name}"
        assert item.get_closest_marker("gradcheck") is not None


def test_marker_selects_only_specs(suite):
    suite.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = suite.runpytest(*PLUGIN, "-m", "gradcheck", "--strict-markers")
    result.assert_outcomes(passed=2, failed=1, deselected=1)


def test_pytest_junitxml_carries_the_message(suite):
    import xml.etree.ElementTree as ET

    suite.runpytest(*PLUGIN, "--junitxml=out.xml")
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
