"""`gradcheck run -` and `gradcheck validate -`: one spec on standard input."""
from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from gradcheck_cli import defaults
from gradcheck_cli.cli import app
from gradcheck_cli.errors import SpecError
from gradcheck_cli.spec import stdin

from conftest import CLI_ENV, SPECS

SWISH = (SPECS / "custom" / "swish.yaml").read_text(encoding="utf-8")
BAD = "input: [4, 3]\nlayers:\n  - tanh\n  - {type: linear, out: three}\n"


def piped(text: str | bytes, *args: str):
    return CliRunner().invoke(app, [str(a) for a in args], input=text, env=CLI_ENV)


@pytest.fixture
def beside_swish(monkeypatch):
    """In the folder of specs/custom/swish.py: the spec's `./swish.py` is found from here."""
    monkeypatch.chdir(SPECS / "custom")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_spec_on_standard_input_is_checked_and_named_stdin(beside_swish, tmp_path, jobs):
    """Its relative layer paths start from the current folder; in worker processes (whose own
    standard input is /dev/null) too."""
    target = tmp_path / "r.json"
    result = piped(SWISH, "run", "-", "--json", target, "--jobs", jobs)
    assert result.exit_code == 0, result.output
    (spec,) = json.loads(target.read_text(encoding="utf-8"))["specs"]
    assert (spec["path"], spec["name"], spec["outcome"]) == ("stdin", "swish", "passed")
    assert result.output.startswith("stdin  swish  float64  passed")


def test_a_timed_out_spec_on_standard_input_is_still_named_stdin(tmp_path, monkeypatch):
    (tmp_path / "slow.py").write_text("import time\n\n\nclass Slow:\n    def forward(self, x):\n"
                                      "        time.sleep(30)\n        return x\n\n"
                                      "    def backward(self, g):\n        return g\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = piped("input: [2, 2]\nlayers: [./slow.py:Slow]\n", "run", "-", "--timeout", "0.5", "-q")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[0] == ("stdin: error: timed out after 0.5 s, "
                                                     "in layer 0 (./slow.py:Slow) forward")


def test_an_error_in_a_spec_on_standard_input_names_stdin_and_the_line():
    result = piped(BAD, "run", "-", "-q")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[0] == "stdin:4: layers[1].out: expected a positive integer, got 'three'"


def test_layer_paths_on_standard_input_start_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = piped(SWISH, "run", "-", "-q")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[0] == (
        f"stdin:9: layers[1]: no such file: ./swish.py (looked for {tmp_path / 'swish.py'})")


def test_validate_reads_standard_input_too(beside_swish):
    result = piped(SWISH, "validate", "-")
    assert (result.exit_code, result.output) == (0, "stdin: valid\n1 of 1 spec valid\n")
    result = piped(BAD, "validate", "-")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == "stdin:4: layers[1].out: expected a positive integer, got 'three'"


def test_standard_input_is_read_once_among_other_specs(beside_swish):
    result = piped(SWISH, "run", "swish.yaml", "-", "-", "-q")
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("2 specs: 2 passed")


def test_standard_input_holds_at_most_a_spec_files_size(monkeypatch):
    """Read at most one byte more than the limit: enough to refuse it, whatever follows."""
    source = io.BytesIO(b"#" * (defaults.MAX_SPEC_BYTES + 4096))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(source, encoding="utf-8"))
    with pytest.raises(SpecError) as refused:
        stdin.read_stdin()
    assert str(refused.value) == "stdin:1: standard input holds more than 1,000,000 bytes; a spec is at most 1,000,000"
    assert source.tell() == defaults.MAX_SPEC_BYTES + 1


def test_a_spec_of_exactly_the_limit_is_read(monkeypatch):
    text = "input: [4, 3]\nlayers: [tanh]\n"
    padded = text + "#" * (defaults.MAX_SPEC_BYTES - len(text))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(padded.encode()), encoding="utf-8"))
    assert stdin.read_stdin()[0] == padded


def test_standard_input_that_is_not_text_is_refused():
    result = piped(b"input: [4, 3]\n\xff\xfe\n", "run", "-", "-q")
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[0] == "stdin: not text (it is not valid UTF-8)"
