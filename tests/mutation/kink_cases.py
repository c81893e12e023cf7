"""Kinks in composition, declared: networks whose inputs sit exactly on kinks (a zero-initialized
linear layer before a ReLU, a constant before a max pooling), built from tests/data/kinks/layers.py.

A VALID case must pass with kinks counted (every layer's backward is a valid local choice). An
INVALID case must fail, with `suspect` as the suspect layer (None: every layer right alone,
the mistake is in how they combine, and no kink explains it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAYERS_FILE = Path(__file__).resolve().parents[1] / "data" / "kinks" / "layers.py"


def custom(cls_name, **options):
    return {"type": f"{LAYERS_FILE}:{cls_name}", **options}


def zero_linear(out, bias=False):
    """W = 0: without a bias every output is exactly 0."""
    return {"type": "linear", "out": out, "bias": bias, "init": "zeros"}


def lin(out, **options):
    return {"type": "linear", "out": out, **options}


@dataclass(frozen=True)
class KinkCase:
    name: str
    layers: list
    input: tuple = (4, 3)
    loss: str = "mse"
    dtype: str = "float64"
    seed: int = 0
    mode: str = "full"                 # or "fast", "sample" (8 samples per tensor)
    valid: bool = True
    suspect: int | None = None         # invalid cases: the layer that must be named

    def spec(self) -> dict:
        return {"name": self.name, "seed": self.seed, "dtype": self.dtype, "input": list(self.input),
                "layers": self.layers, "loss": self.loss}


POOL_INPUT = (2, 2, 4, 4)   # (N, C, H, W): 2x2 windows, all tied after Constant

VALID = [
    KinkCase("zero_linear_relu", [zero_linear(5), "relu", lin(2)]),
    KinkCase("zero_linear_relu_fast", [zero_linear(5), "relu", lin(2)], mode="fast"),
    KinkCase("zero_linear_relu_sample", [zero_linear(5), "relu", lin(2)], mode="sample"),
    KinkCase("zero_linear_relu_float32", [zero_linear(5), "relu", lin(2)], dtype="float32", seed=3),
    KinkCase("zero_linear_relu_one_at_zero", [zero_linear(4), custom("ReLU", at_zero=1.0), lin(2)], seed=1),
    KinkCase("zero_linear_relu_half_at_zero", [zero_linear(4), custom("ReLU", at_zero=0.5), lin(3)],
             loss="cross_entropy", seed=2),
    KinkCase("zero_linear_leaky_relu", [zero_linear(5), "leaky_relu", lin(2)], seed=4),
    KinkCase("zero_linear_abs", [zero_linear(4), custom("Abs", at_zero=1.0), lin(2)], seed=5),
    KinkCase("two_zero_blocks", [zero_linear(5), "relu", zero_linear(4), "relu", lin(2)], seed=6),
    KinkCase("zero_residual_branch", [lin(4), {"type": "residual", "layers": [zero_linear(4), "relu", lin(4)]},
                                      lin(2)], seed=7),
    KinkCase("constant_max_pool_first", [custom("Constant"), custom("MaxPool", route="first"), lin(2)],
             input=POOL_INPUT, seed=8),
    KinkCase("constant_max_pool_last", [custom("Constant"), custom("MaxPool", route="last"), lin(2)],
             input=POOL_INPUT, seed=9),
    KinkCase("constant_max_pool_share", [custom("Constant"), custom("MaxPool", route="share"), lin(2)],
             input=POOL_INPUT, seed=10),
    KinkCase("zero_linear_max_pool_first", [zero_linear(4), custom("MaxPool", route="first"), lin(3)],
             input=POOL_INPUT, seed=11),
    KinkCase("zero_linear_max_pool_share_sample", [zero_linear(4), custom("MaxPool", route="share"), lin(3)],
             input=POOL_INPUT, seed=12, mode="sample"),
    KinkCase("zero_linear_max_pool_share_fast", [zero_linear(4), custom("MaxPool", route="share"), lin(3)],
             input=POOL_INPUT, seed=13, mode="fast"),
    KinkCase("zero_linear_maxout_first", [zero_linear(6), custom("Maxout", route="first"), lin(2)], seed=14),
    KinkCase("rounded_max_pool_first", [custom("Rounded"), custom("MaxPool", route="first"), lin(2)],
             input=POOL_INPUT, seed=15),
]

INVALID = [
    KinkCase("relu_two_at_zero", [zero_linear(5), custom("ReLU", at_zero=2.0), lin(2)], valid=False, suspect=1),
    KinkCase("relu_minus_one_at_zero", [zero_linear(5), custom("ReLU", at_zero=-1.0), lin(2)], seed=1,
             valid=False, suspect=1),
    KinkCase("leaky_relu_beyond_one_at_zero", [zero_linear(4), custom("LeakyReLU", at_zero=1.5), lin(2)], seed=2,
             valid=False, suspect=1),
    KinkCase("relu_two_at_zero_fast", [zero_linear(5), custom("ReLU", at_zero=2.0), lin(2)], mode="fast",
             valid=False, suspect=1),
    KinkCase("relu_off_above_zero_beside_kinks", [lin(5), custom("ZeroColumns", count=2),
                                                  custom("ReLU", above=1.001), lin(2)], seed=3,
             valid=False, suspect=2),
    KinkCase("affine_behind_a_kink_wrong_dx", [zero_linear(4), "relu", custom("Affine", out=3, dx_factor=2.0),
                                               lin(2)], seed=4, valid=False, suspect=2),
    KinkCase("max_pool_to_every_tie", [custom("Constant"), custom("MaxPoolToEveryTie"), lin(2)],
             input=POOL_INPUT, seed=5, valid=False, suspect=1),
    KinkCase("max_pool_to_every_tie_after_zero_linear", [zero_linear(4), custom("MaxPoolToEveryTie"), lin(3)],
             input=POOL_INPUT, seed=6, valid=False, suspect=1),
    KinkCase("max_pool_to_every_tie_fast", [custom("Constant"), custom("MaxPoolToEveryTie"), lin(2)],
             input=POOL_INPUT, seed=7, mode="fast", valid=False, suspect=1),
    KinkCase("max_pool_to_every_tie_sample", [custom("Constant"), custom("MaxPoolToEveryTie"), lin(2)],
             input=POOL_INPUT, seed=8, mode="sample", valid=False, suspect=1),
    KinkCase("max_pool_half_to_every_tie", [custom("Constant"), custom("MaxPoolHalfToEveryTie"), lin(2)],
             input=POOL_INPUT, seed=9, valid=False, suspect=1),
    KinkCase("max_pool_twice_to_first", [custom("Constant"), custom("MaxPoolTwiceToFirst"), lin(2)],
             input=POOL_INPUT, seed=10, valid=False, suspect=1),
    KinkCase("max_pool_to_every_tie_float32", [custom("Constant"), custom("MaxPoolToEveryTie"), lin(2)],
             input=POOL_INPUT, seed=11, dtype="float32", valid=False, suspect=1),
    KinkCase("maxout_to_both_at_a_tie", [zero_linear(6), custom("Maxout", route="both"), lin(2)], seed=12,
             valid=False, suspect=1),
    KinkCase("rounded_max_pool_to_every_tie", [custom("Rounded"), custom("MaxPoolToEveryTie"), lin(2)],
             input=POOL_INPUT, seed=15, valid=False, suspect=1),
    KinkCase("zero_affine_ones_where_upstream_is_zero", [custom("ZeroAffineOnesWhereZero", out=4), "relu", lin(2)],
             seed=16, valid=False, suspect=0),
    # wrong only for the upstream gradient the network gives: located by the layer alone with that one
    KinkCase("relu_two_at_zero_for_small_upstream_only", [zero_linear(5), custom("ReLUByUpstreamSize"), lin(2)],
             seed=14, valid=False, suspect=1),
    KinkCase("composition_bug_beside_kinks", [zero_linear(5, bias=False), "relu", lin(4),
                                              custom("TanhByUpstreamSize"), lin(2)], seed=13,
             valid=False, suspect=3),
]
