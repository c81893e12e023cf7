"""The custom-layer contract, as users actually write it: aliases of parameters, build without
rng, parameters the forward never reads."""
from __future__ import annotations

import textwrap

import pytest

from conftest import stacked_and_plain_numerics

ALIAS = '''
    import numpy as np


    class Alias:
        """y = x W with W kept as self.W too (self.W is params["W"]); build takes no rng."""

        def __init__(self):
            self.params, self.grads = {}, {}

        def build(self, input_shape):
            self.W = np.eye(input_shape[-1]) + 0.1
            self.params["W"] = self.W

        def forward(self, x):
            self.x = x
            return x @ self.W

        def backward(self, g):
            self.grads["W"] = self.x.T @ g
            return g @ self.W.T


    class Detached(Alias):
        """Reads a private copy of W: perturbing params["W"] changes nothing."""

        def build(self, input_shape):
            super().build(input_shape)
            self.W = self.W.copy()
    '''


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_alias_of_a_parameter_sees_the_perturbations(write_file, write_spec, run_json, dtype):
    """float32 specs replace parameters by float32 copies; the alias must follow."""
    write_file("alias.py", ALIAS)
    path = write_spec(f"""
        dtype: {dtype}
        input: [4, 3]
        layers:
          - {{type: ./alias.py:Alias}}
          - tanh
        """)
    result, report = run_json(str(path))
    assert result.exit_code == 0, result.output
    assert [c["tensor"] for c in report["specs"][0]["checks"] if c["layer"] == 0] == ["input", "W"]


def test_a_parameter_forward_never_reads_is_blamed_on_forward(write_file, write_spec, run_json):
    """The `forward` diagnosis: moving W changes nothing, so forward, not backward, is wrong."""
    write_file("alias.py", ALIAS)
    path = write_spec("""
        input: [4, 3]
        layers:
          - {type: ./alias.py:Detached}
          - tanh
        """)
    result, report = run_json(str(path))
    assert result.exit_code == 1
    (w,) = [c for c in report["specs"][0]["checks"] if c["tensor"] == "W"]
    assert w["outcome"] == "failed" and w["numeric"] == 0.0
    assert w["diagnosis"]["kind"] == "forward"
    assert w["diagnosis"]["detail"].startswith("moving W does not change the layer's output")
    assert "→ layer 0 (./alias.py:Detached): forward wrong for W; layer 1 correct" in result.output
    assert "likely: forward in layer 0 W (95%): moving W does not change" in result.output


DECLARED = '''
    import numpy as np


    class Affine:
        """y = x W + b for x: (N, D) or a stack (B, N, D); each row on its own."""

        stacked = True
        rowwise = True

        def __init__(self, wrong_grad=False):
            self.params, self.grads = {}, {}
            self.wrong_grad = wrong_grad

        def build(self, input_shape, rng):
            d = input_shape[-1]
            self.params["W"] = rng.standard_normal((d, d)) / np.sqrt(d)
            self.params["b"] = rng.standard_normal(d)

        def forward(self, x):
            self.x = x
            return x @ self.params["W"] + self.params["b"]

        def backward(self, g):
            W = self.params["W"]
            self.grads["W"] = self.x.T @ g
            self.grads["b"] = g.sum(axis=0) * (2.0 if self.wrong_grad else 1.0)
            return g @ W.T


    class Undeclared(Affine):
        stacked = False
        rowwise = False


    class BatchCentred:
        """Declares rowwise, but subtracts the mean over the rows: every row depends on all."""

        stacked = True
        rowwise = True

        def forward(self, x):
            return x - x.mean(axis=-2, keepdims=True)

        def backward(self, g):
            return g - g.mean(axis=-2, keepdims=True)


    class FirstRowsMixed(BatchCentred):
        """Declares rowwise, but its first output row also reads the second input row (the
        last row is its own)."""

        def forward(self, x):
            y = x.copy()
            if x.shape[-2] > 1:
                y[..., :1, :] += x[..., 1:2, :]
            return y

        def backward(self, g):
            dx = g.copy()
            return dx                       # the cross-row term is missing too


    class FirstAxisCentred(BatchCentred):
        """Declares stacked, but takes the mean over axis 0: the stack axis of a stack."""

        rowwise = False

        def forward(self, x):
            return x - x.mean(axis=0)

        def backward(self, g):
            return g - g.mean(axis=0)


    class TwoDOnly(Affine):
        """Declares stacked, but forward only takes (N, D)."""

        def forward(self, x):
            self.x = x
            return np.einsum("nd,de->ne", x, self.params["W"]) + self.params["b"]
    '''


def _line_in_declared(snippet: str) -> int:
    """The line of `snippet` in declared.py as write_file writes it (dedented, first newline dropped)."""
    (number,) = [n for n, line in enumerate(textwrap.dedent(DECLARED).lstrip("\n").splitlines(), 1)
                 if snippet in line]
    return number


def _declared_spec(write_file, write_spec, layer: str):
    write_file("declared.py", DECLARED)
    return write_spec(f"""
        seed: 4
        input: [5, 3]
        layers:
          - {{type: linear, out: 3}}
          - {layer}
          - tanh
        """)


def test_a_layer_that_declares_stacked_and_rowwise_gets_the_same_numbers(write_file, write_spec, run_json):
    """Declared, the layer takes stacks of perturbed rows; the numbers are those of perturbing
    one scalar and running the whole forward."""
    path = _declared_spec(write_file, write_spec, "{type: ./declared.py:Affine}")
    result, report = run_json(str(path))
    assert [c["outcome"] for c in report["specs"][0]["checks"]] == ["passed"] * 7
    for job, stacked, plain in stacked_and_plain_numerics(path):
        assert stacked == pytest.approx(plain, rel=1e-7, abs=1e-10), (job.layer, job.name)


def test_a_declared_layer_with_a_wrong_gradient_is_caught(write_file, write_spec, run_json):
    path = _declared_spec(write_file, write_spec, "{type: ./declared.py:Affine, wrong_grad: true}")
    result, report = run_json(str(path))
    assert result.exit_code == 1
    (spec,) = report["specs"]
    assert [(c["layer"], c["tensor"]) for c in spec["checks"] if c["outcome"] == "failed"] == [(1, "b")]
    assert spec["suspect_layer"] == 1


@pytest.mark.parametrize("layer, message", [
    ("BatchCentred", "layer 1 (./declared.py:BatchCentred): declares rowwise = True, but its output rows "
                     "differ when each input row is given alone"),
    ("FirstRowsMixed", "layer 1 (./declared.py:FirstRowsMixed): declares rowwise = True, but its output rows "
                       "differ when each input row is given alone"),
    ("FirstAxisCentred", "layer 1 (./declared.py:FirstAxisCentred): declares stacked = True, but forward of a "
                         "stack of 2 inputs (2, 5, 3) is not forward of each input"),
    # numpy raised inside np.einsum: the user's line that called it is named, not numpy's
    ("TwoDOnly", f"layer 1 (./declared.py:TwoDOnly): declares stacked = True, but "
                 f"./declared.py:{_line_in_declared('nd,de->ne')}: forward raised ValueError"),
])
def test_a_wrong_declaration_is_an_error_naming_the_layer(write_file, write_spec, run_json, layer, message,
                                                          tmp_path, monkeypatch):
    """Believed, a wrong `stacked` or `rowwise` would make the numbers wrong without a word."""
    monkeypatch.chdir(tmp_path)
    result, report = run_json(str(_declared_spec(write_file, write_spec, f"{{type: ./declared.py:{layer}}}")))
    assert result.exit_code == 1
    (spec,) = report["specs"]
    assert spec["outcome"] == "error"
    assert spec["error"].startswith(message)
