"""Inputs within a step h of a kink: the finite difference there straddles the kink, its
estimates at h and h/2 disagree as much as the derivative itself, and such an element is
looked at again with a finer step instead of being waved through as "noise"."""
from __future__ import annotations

import pytest

LAYERS = '''
    import numpy as np


    class Shrink:
        """y = 1e-6·x: the next layer's inputs land within a step (6e-6) of 0."""

        def forward(self, x):
            return 1e-6 * x

        def backward(self, g):
            return 1e-6 * g


    class Abs:
        """y = |x|, kink at 0; `factor` plants a bug in backward."""

        def __init__(self, factor=1.0):
            self.factor = factor

        def forward(self, x):
            self.x = x
            return np.abs(x)

        def backward(self, g):
            return self.factor * g * np.sign(self.x)
    '''

MODES = [["--mode", "full"], ["--mode", "fast"], ["--mode", "sample", "--samples", "8"]]


def _spec(write_file, write_spec, factor: float):
    write_file("near_kink.py", LAYERS)
    return write_spec(f"""
        seed: 4
        input: [6, 5]
        layers:
          - ./near_kink.py:Shrink
          - {{type: ./near_kink.py:Abs, factor: {factor}}}
          - {{type: linear, out: 2}}
        loss: dot
        """)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m[1])
def test_a_correct_layer_next_to_its_kink_passes(write_file, write_spec, run_json, mode):
    result, report = run_json(str(_spec(write_file, write_spec, 1.0)), *mode)
    assert result.exit_code == 0, result.output
    assert report["specs"][0]["outcome"] == "passed"


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m[1])
def test_a_wrong_backward_next_to_its_kink_is_caught(write_file, write_spec, run_json, mode):
    """Backward 1.5·sign(x) where sign(x) is right: the one-sided estimates that straddle the
    kink bracket [0, 1], and a slack of 4x their disagreement used to let 1.5 pass."""
    result, report = run_json(str(_spec(write_file, write_spec, 1.5)), *mode)
    assert result.exit_code == 1, result.output
    (spec,) = report["specs"]
    assert [c["outcome"] for c in spec["checks"] if c["layer"] == 1] == ["failed"]
    assert spec["suspect_layer"] == 1
