"""The pytest plugin's ini options, and `gradcheck init` as the start of a pytest suite."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Imported here, before pytester's in-process runs: each run drops the modules it imported,
# and numpy's C extension cannot be loaded a second time in one process.
import numpy  # noqa: F401
import gradcheck_cli.run.batch  # noqa: F401
import gradcheck_cli.check.spec_check  # noqa: F401
from gradcheck_cli import defaults
from gradcheck_cli.pytest_plugin import INI_OPTIONS, run_options
from gradcheck_cli.run.batch import RunOptions

from conftest import invoke_cli

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data" / "plugin"
MODULE = "gradcheck_cli.pytest_plugin"


def plugin_name() -> str:
    """The entry point's name once installed (pytest refuses a module under two names)."""
    for ep in importlib.metadata.entry_points(group="pytest11"):
        if ep.value == MODULE:
            return ep.name
    return MODULE


PLUGIN = ("-p", plugin_name())


def copy(root: Path, files: dict[str, str]) -> None:
    for target, source in files.items():
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / source, root / target)


# --- the options reach the check -------------------------------------------------------------


def test_without_ini_options_the_defaults_are_those_of_gradcheck_run(pytester):
    options = run_options(pytester.parseconfig(*PLUGIN))
    assert options == RunOptions()
    assert (options.samples, options.directions, options.mode, options.allow_custom) == (
        defaults.SAMPLES, defaults.DIRECTIONS, None, True)


def test_every_ini_option_is_read(pytester):
    pytester.makeini("""
        [pytest]
        gradcheck_rtol = 1e-4
        gradcheck_atol = 0
        gradcheck_mode = sample
        gradcheck_samples = 7
        gradcheck_directions = 9
        gradcheck_no_custom = true
        """)
    assert run_options(pytester.parseconfig(*PLUGIN)) == RunOptions(
        rtol=1e-4, atol=0.0, mode="sample", samples=7, directions=9, allow_custom=False)


def test_pyproject_values_may_be_numbers_and_booleans(pytester):
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        gradcheck_rtol = 1e-4
        gradcheck_samples = 7
        gradcheck_no_custom = false
        """)
    assert run_options(pytester.parseconfig(*PLUGIN)) == RunOptions(rtol=1e-4, samples=7, allow_custom=True)


@pytest.fixture
def transpose_bug(pytester):
    copy(pytester.path, {"layers.py": "layers.py", "transpose_bug.gradcheck.yaml": "transpose_bug.yaml"})
    return pytester


def test_a_wide_tolerance_lets_the_planted_bug_pass(transpose_bug):
    transpose_bug.runpytest(*PLUGIN).assert_outcomes(failed=1)
    transpose_bug.runpytest(*PLUGIN, "-o", "gradcheck_rtol=10", "-o", "gradcheck_atol=10").assert_outcomes(passed=1)


def test_fast_mode_and_its_directions_reach_the_check(transpose_bug):
    result = transpose_bug.runpytest(*PLUGIN, "-o", "gradcheck_mode=fast", "-o", "gradcheck_directions=3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*layer 2 (layers.py:MissingTranspose) input*of 3 random directions off*"])


def test_sample_mode_and_its_samples_reach_the_check(transpose_bug):
    result = transpose_bug.runpytest(*PLUGIN, "-o", "gradcheck_mode=sample", "-o", "gradcheck_samples=5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*layer 2 (layers.py:MissingTranspose) input*of 5 sampled elements off*"])


def test_no_custom_refuses_custom_layers(transpose_bug):
    result = transpose_bug.runpytest(*PLUGIN, "-o", "gradcheck_no_custom=yes")
    result.assert_outcomes(failed=1)
    assert ("invalid spec: transpose_bug.gradcheck.yaml:7: layers[2]: custom layer layers.py:MissingTranspose "
            "refused") in result.stdout.str()


@pytest.mark.parametrize("name, value, expected", [
    ("gradcheck_rtol", "nan", "a finite number >= 0"),
    ("gradcheck_rtol", "-1e-6", "a finite number >= 0"),
    ("gradcheck_atol", "inf", "a finite number >= 0"),
    ("gradcheck_atol", "tiny", "a finite number >= 0"),
    ("gradcheck_mode", "slow", "full, fast or sample"),
    ("gradcheck_samples", "0", "a positive integer"),
    ("gradcheck_samples", "2.5", "a positive integer"),
    ("gradcheck_directions", "many", "a positive integer"),
    ("gradcheck_no_custom", "maybe", "true or false"),
])
def test_a_bad_value_is_one_usage_error_naming_the_option(pytester, name, value, expected):
    pytester.makeini(f"[pytest]\n{name} = {value}\n")
    result = pytester.runpytest(*PLUGIN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [f"ERROR: ini option {name}: expected {expected}, got {value!r}"]


def test_every_ini_option_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name in [*INI_OPTIONS, "gradcheck_files"]:
        assert f"\n{name} = " in readme, name


# --- gradcheck_files -------------------------------------------------------------------------


@pytest.fixture
def plain_specs(pytester):
    copy(pytester.path, {
        "specs/mlp.yaml": "mlp.yaml",
        "specs/deep/square_affine.yml": "square_affine.yaml",
        "specs/deep/layers.py": "layers.py",
        "elsewhere/mlp.yaml": "mlp.yaml",
        "tests/named.gradcheck.yaml": "mlp.yaml",
    })
    return pytester


def _collected(result) -> set[str]:
    return {line.split("::")[0] for line in result.stdout.lines if "::" in line}


def test_without_gradcheck_files_only_gradcheck_yaml_is_collected(plain_specs):
    result = plain_specs.runpytest(*PLUGIN, "--collect-only", "-q")
    assert _collected(result) == {"tests/named.gradcheck.yaml"}


def test_gradcheck_files_widens_what_is_collected(plain_specs):
    plain_specs.makeini("[pytest]\ngradcheck_files = specs/*.yaml specs/*.yml\n")
    result = plain_specs.runpytest(*PLUGIN, "--collect-only", "-q")
    # `*` crosses folders, as in python_files; layers.py is no spec whatever a pattern says
    assert _collected(result) == {"specs/mlp.yaml", "specs/deep/square_affine.yml", "tests/named.gradcheck.yaml"}


def test_a_pattern_without_a_folder_matches_file_names(plain_specs):
    plain_specs.makeini("[pytest]\ngradcheck_files = mlp.yaml *\n")
    result = plain_specs.runpytest(*PLUGIN, "--collect-only", "-q", "specs", "elsewhere")
    assert _collected(result) == {"specs/mlp.yaml", "elsewhere/mlp.yaml", "specs/deep/square_affine.yml"}


def test_collected_plain_specs_run(plain_specs):
    plain_specs.makeini("[pytest]\ngradcheck_files = specs/*.yaml specs/*.yml\n")
    plain_specs.runpytest(*PLUGIN, "specs").assert_outcomes(passed=2)


# --- gradcheck init, then pytest -------------------------------------------------------------


def test_init_starts_a_pytest_suite(tmp_path):
    """`gradcheck init tests`, then `pytest tests`: one test, passing, and `gradcheck run tests`
    checks the same spec."""
    tests = tmp_path / "tests"
    result = invoke_cli("init", tests)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tests.iterdir()) == [
        "example.gradcheck.yaml", "example_layers.py", "gradcheck-schema.json"]
    env = {**os.environ, "NO_COLOR": "1", "PYTEST_ADDOPTS": ""}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *PLUGIN, "tests"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tests/example.gradcheck.yaml::example PASSED" in proc.stdout
    assert " 1 passed" in proc.stdout
    run = invoke_cli("run", tests, "-q")
    assert run.exit_code == 0, run.output
    assert run.output.strip().startswith("1 spec: 1 passed")


def test_init_never_overwrites_and_writes_nothing_when_one_file_exists(tmp_path):
    (tmp_path / "example_layers.py").write_text("# mine\n", encoding="utf-8")
    result = invoke_cli("init", tmp_path)
    assert result.exit_code == 2
    assert result.output.strip() == (f"{tmp_path / 'example_layers.py'}: already exists; "
                                     "gradcheck init never overwrites files")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example_layers.py"]
    assert (tmp_path / "example_layers.py").read_text(encoding="utf-8") == "# mine\n"
