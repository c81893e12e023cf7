"""The diagnosis as a user meets it: the `likely:` line of the terminal, the JSON `diagnosis`,
the JUnit failure, the HTML page, the Python API; in full, sample and fast mode; only for the
guilty layer's own tensors."""
from __future__ import annotations

import numpy as np
import pytest

LAYERS = '''
import numpy as np


class SquareHalf:
    """y = x**2 whose backward forgets the 2."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return self.x * g


class Scale:
    """y = x * gamma; backward is right."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, shape, rng):
        self.params["gamma"] = 1.0 + 0.1 * rng.standard_normal(shape[-1])

    def forward(self, x):
        self.x = x
        return x * self.params["gamma"]

    def backward(self, g):
        self.grads["gamma"] = np.sum(g * self.x, axis=0)
        return g * self.params["gamma"]
'''

SPEC = """
    seed: 3
    input: [4, 3]
    layers:
      - {type: linear, out: 5}
      - {type: ./layers.py:SquareHalf}
      - {type: ./layers.py:Scale}
      - {type: linear, out: 2}
    """

LIKELY = ("likely: factor in layer 1 input (95%): analytic = 0.5 × numeric for every element of dx, 1/2: a factor 2 "
          "missing, as in d(x²)/dx = 2x?")


@pytest.fixture
def spec(write_file, write_spec):
    write_file("layers.py", LAYERS)
    return write_spec(SPEC)


def test_the_terminal_says_what_is_likely_under_the_suspect(spec, invoke):
    result = invoke("run", str(spec), env={"COLUMNS": "300"})
    assert result.exit_code == 1
    lines = result.output.splitlines()
    suspect = next(i for i, line in enumerate(lines) if line.startswith("  → "))
    assert lines[suspect] == "  → layer 1 (./layers.py:SquareHalf): backward wrong for input; layers 0, 2, 3 correct"
    assert lines[suspect + 1] == f"    {LIKELY}"
    assert result.output.count("likely:") == 1


def test_json_has_the_diagnosis_on_the_guilty_tensor_only(spec, run_json):
    _, report = run_json(str(spec))
    (found,) = report["specs"]
    expected = {"kind": "factor", "detail": LIKELY.split("(95%): ")[1], "confidence": 0.95}
    alone = {(c["layer"], c["tensor"]): c["diagnosis"] for layer in found["layers"] for c in layer["checks"]}
    assert alone.pop((1, "input")) == expected
    assert set(alone.values()) == {None}
    network = {(c["layer"], c["tensor"]): c for c in found["checks"]}
    assert network[(1, "input")]["diagnosis"] == expected
    # layer 0 fails too, but only because the error flows down from layer 1: no diagnosis
    assert network[(0, "W")]["outcome"] == "failed" and network[(0, "W")]["diagnosis"] is None
    assert "hint" not in network[(0, "W")]


def test_junit_and_html_carry_the_line(spec, invoke, tmp_path):
    junit, html = tmp_path / "out.xml", tmp_path / "out.html"
    invoke("run", str(spec), "--junit-xml", str(junit), "--html", str(html))
    assert LIKELY in junit.read_text(encoding="utf-8")
    assert LIKELY in html.read_text(encoding="utf-8")


@pytest.mark.parametrize("mode", ["sample", "fast"])
def test_cheaper_modes_diagnose_too(spec, run_json, mode):
    """Sample mode compares some coordinates, fast mode random directions: the layer alone is
    then checked by coordinates for its diagnosis."""
    _, report = run_json(str(spec), "--mode", mode, "--samples", "8")
    (found,) = report["specs"]
    assert found["mode"] == mode
    (check,) = [c for c in found["layers"][1]["checks"] if c["tensor"] == "input"]
    assert check["diagnosis"]["kind"] == "factor" and "0.5 × numeric" in check["diagnosis"]["detail"]


def test_a_passing_spec_has_no_diagnosis(write_spec, run_json):
    path = write_spec("""
        input: [4, 3]
        layers: [{type: linear, out: 3}, tanh]
        """)
    _, report = run_json(str(path))
    assert {c["diagnosis"] for c in report["specs"][0]["checks"]} == {None}


class Doubled:
    """y = tanh(x), backward doubled."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        return 2.0 * g * (1.0 - self.y ** 2)


def test_the_python_api_says_it_in_text_and_html():
    from gradcheck_cli import check_layer

    result = check_layer(Doubled(), input_shape=(4, 3))
    assert not result.passed
    (check,) = result.layer_checks[0].checks
    assert (check.diagnosis.kind, check.diagnosis.confidence) == ("factor", 0.95)
    assert result.checks[0].diagnosis == check.diagnosis
    line = "likely: factor in layer 0 input (95%): analytic = 2 × numeric for every element of dx, 2: a term counted"
    assert line in " ".join(str(result).split())   # the plain text may wrap the line
    assert line in result._repr_html_()


def test_forward_blamed_in_the_suspect_line():
    from gradcheck_cli import check_layer

    class Stale:
        def __init__(self):
            self.params, self.grads = {}, {}

        def build(self, shape, rng):
            self.params["w"] = rng.standard_normal(shape[-1])
            self.w = self.params["w"].copy()     # forward reads this copy: moving params["w"] changes nothing

        def forward(self, x):
            self.x = x
            return x * self.w

        def backward(self, g):
            self.grads["w"] = np.sum(g * self.x, axis=0)
            return g * self.w

    from gradcheck_cli.report.wording import failure_details

    result = check_layer(Stale(), input_shape=(4, 3))
    details = failure_details(result)
    assert any(line.endswith("): forward wrong for w") for line in details if line.startswith("suspect: "))
    assert any(line.startswith("likely: forward in layer 0 w (95%): moving w does not change") for line in details)
