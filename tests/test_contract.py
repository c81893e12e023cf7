"""The custom-layer contract, as users actually write it: aliases of parameters, build without
rng, parameters the forward never reads."""
from __future__ import annotations

import pytest

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


def test_a_parameter_forward_never_reads_gets_a_hint(write_file, write_spec, run_json):
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
    assert w["hint"].startswith("moving params['W'] does not change the loss at all")
    assert "hint: moving params['W']" in result.output
