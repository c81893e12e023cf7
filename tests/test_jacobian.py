"""`gradcheck jacobian`: the core of `run` (its finite differences, tolerances, match rule,
guards and warnings handling) applied to one layer's Jacobian."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np

from conftest import ROOT, invoke_cli

from gradcheck_cli.check.backprop import backprop
from gradcheck_cli.check.jacobian import layer_jacobians
from gradcheck_cli.check.numeric import central_differences, default_step
from gradcheck_cli.model.network import build_network
from gradcheck_cli.spec.load import load_spec

TANH_THEN_DOT = """
seed: 3
input: [3, 4]
layers:
  - {type: linear, out: 4}
  - tanh
loss: dot
"""

# tanh with its derivative off by a relative 3e-6: above float64's rtol (1e-6), below 1e-5.
SLIGHTLY_WRONG_TANH = """
import numpy as np


class SlightlyWrongTanh:
    def forward(self, x):
        self.x = x
        return np.tanh(x)

    def backward(self, grad_out):
        return grad_out * (1.0 - np.tanh(self.x) ** 2) * (1.0 + 3e-6)
"""


def _slightly_wrong_spec(write_file, write_spec, tolerance: str = "") -> str:
    write_file("wrong.py", SLIGHTLY_WRONG_TANH)
    return str(write_spec(f"""
        seed: 1
        input: [2, 3]
        layers:
          - {{type: linear, out: 5}}
          - {{type: ./wrong.py:SlightlyWrongTanh}}
        loss: mse
        {tolerance}
        """))


# --- the guards of run ------------------------------------------------------------------------


def test_no_custom_refuses_a_custom_layer_before_it_runs(write_file, write_spec):
    write_file("loud.py", """
        print("imported!")


        class Loud:
            def forward(self, x):
                return x

            def backward(self, g):
                return g
        """)
    path = write_spec("input: [2, 3]\nlayers:\n  - tanh\n  - {type: ./loud.py:Loud}\n")
    result = invoke_cli("jacobian", path, "--layer", "0", "--no-custom")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (f"{path}:4: layers[1]: custom layer ./loud.py:Loud refused: --no-custom is "
                                     "set (custom layers are Python code and would run)")
    assert "imported!" not in result.output and "analytic" not in result.output


def test_max_elements_refuses_a_spec_too_big_before_building_it(write_spec):
    path = write_spec("input: [4, 3]\nlayers:\n  - {type: linear, out: 5}\n  - tanh\n")
    result = invoke_cli("jacobian", path, "--layer", "1", "--max-elements", "30")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (f"{path}:1: input: about 32 scalars in the input and parameters (0.0 GB, "
                                     "checked one by one); the limit is 30: raise it with --max-elements")
    assert invoke_cli("jacobian", path, "--layer", "1", "--max-elements", "32").exit_code == 0


# --- the same numbers as run ------------------------------------------------------------------


def test_a_linear_layers_jacobian_is_w_transposed(write_spec):
    path = str(write_spec(TANH_THEN_DOT))
    jac = layer_jacobians(load_spec(path), 0, row=1)
    W = build_network(load_spec(path)).stack.entries[0].layer.params["W"]
    assert np.array_equal(jac.analytic, W.T)                     # dy_j/dx_i = W[i, j]
    np.testing.assert_allclose(jac.numeric, W.T, rtol=1e-8, atol=1e-10)
    assert not jac.differ.any() and not jac.kink.any()


def test_the_numeric_jacobian_gives_the_numbers_run_compares(write_spec, tmp_path):
    """With loss dot (L = sum(R ⊙ Y), the last layer's output Y), run's numeric dL/dx of a row
    is R[row] · J: the Jacobian's numbers, combined, are run's finite differences."""
    path = str(write_spec(TANH_THEN_DOT))
    net = build_network(load_spec(path))
    trace = backprop(net, net.x)
    x = trace.inputs[1].copy()
    run_numeric = central_differences(lambda: net.loss_from(1, x), x, default_step(np.float64))
    R = net.loss.weights
    for row in range(3):
        jac = layer_jacobians(load_spec(path), 1, row=row)
        np.testing.assert_allclose(R[row] @ jac.numeric, run_numeric[row], rtol=1e-9)
        np.testing.assert_allclose(R[row] @ jac.analytic, trace.input_grads[1][row], rtol=1e-12)

    report = tmp_path / "report.json"
    assert invoke_cli("run", path, "--json", report).exit_code == 0
    worst = next(c for c in json.loads(report.read_text())["specs"][0]["checks"]
                 if c["layer"] == 1 and c["tensor"] == "input")
    row, i = worst["worst_index"]
    jac = layer_jacobians(load_spec(path), 1, row=row)
    assert abs((R[row] @ jac.numeric)[i] - worst["numeric"]) <= 1e-8 * abs(worst["numeric"])


def test_float32_is_checked_on_its_float64_twin_as_in_run():
    for layer in range(5):
        jac = layer_jacobians(load_spec(str(ROOT / "specs" / "float32.yaml")), layer)
        assert not jac.differ.any(), layer


def test_float32_off_by_1e_4_is_flagged_thanks_to_the_twin(write_file, write_spec, tmp_path):
    """In float32 arithmetic the differences would need rtol 1e-3; on the float64 twin 1e-5 holds."""
    write_file("wrong.py", SLIGHTLY_WRONG_TANH.replace("3e-6", "1e-4"))
    path = write_spec("seed: 2\ndtype: float32\ninput: [2, 3]\nlayers:\n  - {type: ./wrong.py:SlightlyWrongTanh}\n")
    result = invoke_cli("jacobian", path, "--layer", "0")
    assert result.exit_code == 1, result.output
    assert "3 of 9 entries differ" in result.output
    assert invoke_cli("run", path).exit_code == 1


# --- the same verdicts as run -----------------------------------------------------------------


def test_a_layer_off_by_3e_6_is_flagged_as_run_flags_it(write_file, write_spec, tmp_path):
    path = _slightly_wrong_spec(write_file, write_spec)
    result = invoke_cli("jacobian", path, "--layer", "1")
    assert result.exit_code == 1, result.output
    assert "5 of 25 entries differ" in result.output
    jac = layer_jacobians(load_spec(path), 1)
    assert np.array_equal(jac.differ, np.eye(5, dtype=bool))     # the diagonal, where tanh' lives
    report = tmp_path / "report.json"
    assert invoke_cli("run", path, "--json", report).exit_code == 1
    failed = {(c["layer"], c["tensor"]) for c in json.loads(report.read_text())["specs"][0]["checks"]
              if c["outcome"] == "failed"}
    assert (1, "input") in failed


def test_the_specs_tolerance_is_the_one_used(write_file, write_spec):
    path = _slightly_wrong_spec(write_file, write_spec, "tolerance: {rtol: 1e-5}")
    result = invoke_cli("jacobian", path, "--layer", "1")
    assert result.exit_code == 0, result.output
    assert "the Jacobians agree" in result.output


def test_a_relu_at_its_kink_is_a_valid_subgradient(write_file, write_spec):
    """Zeros feed the ReLU exactly: there the central difference is 1/2 and backward says 0,
    which lies between the one-sided derivatives (0 and 1): the closer look of run accepts it."""
    write_file("zero.py", """
        class ZeroFirstColumn:
            def forward(self, x):
                y = x.copy()
                y[..., 0] = 0.0
                return y

            def backward(self, g):
                dx = g.copy()
                dx[..., 0] = 0.0
                return dx
        """)
    path = write_spec("input: [2, 3]\nlayers:\n  - {type: ./zero.py:ZeroFirstColumn}\n  - relu\n")
    result = invoke_cli("jacobian", path, "--layer", "1")
    assert result.exit_code == 0, result.output
    assert "1 of 9 entries at a kink" in result.output
    assert "the Jacobians agree" in result.output


def test_an_output_that_turns_nan_when_perturbed_is_an_error_not_a_pass(write_file, write_spec):
    write_file("fragile.py", """
        import numpy as np


        class NanOffBase:
            '''The identity at the input it first saw; NaN where another input moves slightly.'''

            base = None

            def forward(self, x):
                if self.base is None:
                    self.base = x.copy()
                if x.shape != self.base.shape:
                    return x.copy()
                moved = (x != self.base) & (np.abs(x - self.base) < 1e-3)
                return np.where(moved, np.nan, x)

            def backward(self, g):
                return g.copy()
        """)
    path = write_spec("input: [2, 3]\nlayers:\n  - {type: ./fragile.py:NanOffBase}\n")
    result = invoke_cli("jacobian", path, "--layer", "0")
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (f"{path}: layer 0 (./fragile.py:NanOffBase): the output is not finite when "
                                     "input[0, 0] is perturbed by a small step")


def test_numpy_warnings_are_never_printed(write_file, write_spec):
    write_file("discards.py", """
        import numpy as np


        class Discarded:
            '''The identity; an overflowing exp is computed and thrown away.'''

            def forward(self, x):
                return np.where(x < 1e3, x, np.exp(1e5 * np.abs(x)))

            def backward(self, g):
                return g.copy()
        """)
    path = write_spec("input: [3, 2]\nlayers:\n  - {type: ./discards.py:Discarded}\n")
    proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", "jacobian", str(path), "--layer", "0"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={"NO_COLOR": "1", "COLUMNS": "120", "PATH": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the Jacobians agree" in proc.stdout
    assert proc.stderr == ""
    assert not re.search(r"Warning|overflow", proc.stdout)
