"""Shared helpers: write a spec into a temporary folder, run the CLI as a user would."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradcheck_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
CALIBRATION = ROOT.parent / "shared" / "calibration"

# A fixed, colorless terminal, whatever the developer's shell says.
CLI_ENV = {"COLUMNS": "120", "LINES": "50", "NO_COLOR": "1", "FORCE_COLOR": None, "TTY_COMPATIBLE": None,
           "TERM": "dumb"}

SUMMARY = re.compile(r"^(\d+) specs?: (\d+) passed, (\d+) failed, (\d+) errors? in \d+\.\d+ s$")


def strip_seconds(value):
    """A report without its timing fields (`seconds`): what must be the same from run to run."""
    if isinstance(value, dict):
        return {k: strip_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [strip_seconds(v) for v in value]
    return value


def invoke_cli(*args: str, env: dict | None = None):
    """Run `gradcheck ARGS...` in-process; stdout and stderr stay apart (result.stdout/.stderr)."""
    runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args], env={**CLI_ENV, **(env or {})})


@pytest.fixture
def invoke():
    """`invoke("run", "specs/mlp.yaml")` -> click Result (exit_code, output, stdout, stderr)."""
    return invoke_cli


@pytest.fixture
def write_file(tmp_path):
    """`write_file("layers.py", python_text)` -> path; for custom layers beside a spec."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_spec(write_file):
    """`write_spec(yaml_text, name="spec.yaml")` -> path of the written file (dedented)."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        return write_file(name, text)

    return write


@pytest.fixture
def run_json(tmp_path):
    """`run_json(*args)` -> (result, report dict): `gradcheck run ARGS --json FILE`."""

    def run(*args: str, env: dict | None = None):
        target = tmp_path / "report.json"
        if target.exists():
            target.unlink()
        result = invoke_cli("run", *args, "--json", str(target), env=env)
        assert target.exists(), result.output
        return result, json.loads(target.read_text(encoding="utf-8"))

    return run


def lines(text: str) -> list[str]:
    """The non-blank lines of an output, trailing spaces removed."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def stacked_and_plain_numerics(path) -> list[tuple]:
    """For every tensor of the spec at `path`: (job, the engine's central differences, those of
    perturbing one scalar and running the whole forward)."""
    from gradcheck_cli.check.backprop import backprop
    from gradcheck_cli.check.jobs import tensor_jobs
    from gradcheck_cli.check.precision import choose_precision
    from gradcheck_cli.model.network import build_network
    from gradcheck_cli.check.numeric import central_differences, central_differences_stacked
    from gradcheck_cli.spec.load import load_spec

    net = build_network(load_spec(str(path)))
    trace = backprop(net, net.x)
    precision, _ = choose_precision(net, trace, False, None, None, None)
    return [(job, central_differences_stacked(job.losses_of, job.theta, precision.step, job.stack_size),
             central_differences(job.evaluate, job.theta, precision.step))
            for job in tensor_jobs(net, precision, trace, None)]
