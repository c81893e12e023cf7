"""Declarative mutation cases for gradcheck: one network spec per Case, built from layers.py.

A CORRECT case must pass. A BUGGY case must fail, and the layer at top-level index bug_layer
must be reported with exactly bug_tensors wrong ("input" = its returned dL/dx, else param names).
tests/mutation/selfcheck.py verifies every declaration independently of gradcheck_cli.

Every BUGGY case also says which diagnosis its wrong tensors should get (`kind`), written down
before the diagnosis existed: one of KINDS for all of them, or {tensor: kind}, "none" where no
fingerprint fits and the diagnosis must stay silent. tests/mutation/diagnose.py measures it.
"""
from dataclasses import dataclass
from pathlib import Path

LAYERS_FILE = Path(__file__).with_name("layers.py")


def custom(cls_name, **options):
    """A spec layer entry for a class of layers.py."""
    return {"type": f"{LAYERS_FILE}:{cls_name}", **options}


@dataclass(frozen=True)
class Case:
    name: str                      # unique, snake_case
    layers: list                   # spec layer entries: custom(...) or built-ins
    input: tuple = (4, 3)          # shape of X
    loss: str = "mse"              # "mse", "dot", "cross_entropy" (needs 2-D logits), "bce_with_logits"
    dtype: str = "float64"         # or "float32"
    seed: int = 0
    bug_layer: int | None = None   # top-level index of the layer with the planted bug; None for a correct case
    bug_tensors: frozenset = frozenset()  # which of that layer's tensors are wrong: "input" or param names
    kind: str | dict | None = None  # the expected diagnosis: a kind for every wrong tensor, or {tensor: kind}

    def expected_kinds(self) -> dict:
        """{wrong tensor: expected kind or "none"}."""
        if isinstance(self.kind, dict):
            return {t: self.kind.get(t, "none") for t in self.bug_tensors}
        return {t: self.kind for t in self.bug_tensors}


# The diagnosis kinds (gradcheck_cli.check.diagnosis documents what each means).
KINDS = ("forward", "upstream_ignored", "swapped", "sign", "factor", "transpose", "diagonal_only", "branch",
         "partial", "zero", "passthrough", "skip_missing")


def lin(out, **options):
    """Built-in linear layer entry."""
    return {"type": "linear", "out": out, **options}


INPUT = frozenset({"input"})


def wrong(*names):
    """bug_tensors for a param-grad bug, e.g. wrong("W")."""
    return frozenset(names)


F32 = "float32"

CORRECT: list[Case] = [
    # affine family
    Case("ok_square_affine", [lin(4), custom("SquareAffine"), "tanh", lin(2)], seed=1),
    Case("ok_square_affine_first", [custom("SquareAffine"), "sigmoid", lin(2)], input=(5, 4), loss="dot", seed=2),
    Case("ok_affine_nonsquare", [custom("Affine", out=5), "sigmoid", lin(2)], input=(5, 3), seed=3),
    Case("ok_affine_nobias_last", [lin(5), "tanh", custom("AffineNoBias", out=3)], loss="cross_entropy", seed=4),
    Case("ok_scale", [custom("Scale"), "tanh", lin(2)], input=(5, 3), seed=4),
    Case("ok_scale_shift", [lin(4), custom("ScaleShift"), "softplus", lin(3)], loss="cross_entropy", seed=5),
    Case("ok_bias", [lin(4), custom("Bias"), "sigmoid", lin(2)], input=(5, 3), loss="bce_with_logits", seed=6),
    # element-wise smooth
    Case("ok_softplus", [lin(6), custom("Softplus"), lin(2)], input=(4, 5), seed=3),
    Case("ok_swish", [lin(4), custom("Swish", beta=1.5), lin(2)], seed=7),
    Case("ok_cube", [lin(4), custom("Cube"), lin(2)], input=(3, 4), seed=5),
    Case("ok_sin_first", [custom("Sin"), lin(3)], loss="dot", seed=8),
    Case("ok_lecun_tanh", [lin(4), custom("LeCunTanh"), "elu", lin(2)], seed=9),
    Case("ok_gaussian", [lin(4), custom("Gaussian"), lin(2)], seed=10),
    # softmax family and norms
    Case("ok_softmax", [lin(4), custom("Softmax"), lin(2)], seed=11),
    Case("ok_log_softmax_last", [lin(4), custom("LogSoftmax")], loss="dot", seed=12),
    Case("ok_layer_norm", [lin(5), custom("LayerNorm"), "tanh", lin(2)], seed=13),
    Case("ok_batch_norm", [lin(4, bias=False), custom("BatchNorm"), "tanh", lin(2)], input=(6, 3), seed=14),
    # the linear bias right before batch norm has an exactly zero gradient (analytic and numeric)
    Case("ok_batch_norm_zero_bias_grad", [lin(4), custom("BatchNorm"), "sigmoid", lin(2)], input=(5, 3), seed=15),
    Case("ok_rms_norm", [lin(4), custom("RMSNorm"), "gelu", lin(2)], seed=16),
    # blocks
    Case("ok_residual", [lin(4), custom("Residual"), lin(2)], seed=17),
    Case("ok_gated", [lin(4), custom("Gated"), lin(3)], loss="cross_entropy", seed=18),
    Case("ok_attention_first", [custom("SelfAttention", T=2), lin(2)], input=(3, 8), seed=19),
    Case("ok_attention_middle", [lin(6), custom("SelfAttention", T=3), "tanh", lin(2)], input=(3, 4), seed=20),
    Case("ok_builtin_residual_with_custom",
         [lin(4), {"type": "residual", "layers": [custom("SquareAffine"), "tanh"]}, lin(2)], seed=21),
    # kinks (random data: no input near a kink)
    Case("ok_maxout", [lin(6), custom("Maxout", k=2), lin(2)], seed=22),
    Case("ok_abs", [lin(4), custom("Abs"), lin(2)], seed=108),
    Case("ok_relu", [lin(5), custom("ReLU"), lin(2)], seed=140),
    Case("ok_leaky_relu", [lin(5), custom("LeakyReLU", slope=0.1), lin(2)], seed=105),
    # relu exactly on its kink: columns 1 and 3 are exactly 0 at the relu's input
    Case("ok_builtin_relu_exact_kink", [lin(5), custom("ZeroCols", cols=[1, 3]), "relu", lin(2)], seed=182),
    Case("ok_custom_relu_exact_kink", [lin(5), custom("ZeroCols", cols=[0]), custom("ReLU"), lin(2)], seed=27),
    # shape-changing layers
    Case("ok_pair_product", [lin(5), custom("PairProduct"), lin(2)], seed=28),
    Case("ok_bilinear_first", [custom("Bilinear", out=3), "tanh", lin(2)], seed=29),
    Case("ok_square_concat", [lin(3), custom("SquareConcat"), lin(2)], seed=30),
    Case("ok_deep_mix", [custom("SquareAffine"), custom("LayerNorm"), custom("Swish"), custom("Gated"), lin(3)],
         input=(4, 4), loss="cross_entropy", seed=31),
    # float32: smooth, well-conditioned networks
    Case("f32_ok_square_affine", [lin(4), custom("SquareAffine"), "tanh", lin(2)], dtype=F32, seed=41),
    Case("f32_ok_scale", [custom("Scale"), "tanh", lin(2)], input=(5, 3), dtype=F32, seed=42),
    Case("f32_ok_softplus", [lin(6), custom("Softplus"), lin(2)], input=(4, 5), dtype=F32, seed=43),
    Case("f32_ok_swish", [lin(4), custom("Swish"), lin(2)], dtype=F32, seed=44),
    Case("f32_ok_layer_norm", [lin(5), custom("LayerNorm"), "tanh", lin(2)], dtype=F32, seed=45),
    Case("f32_ok_softmax", [lin(4), custom("Softmax"), lin(2)], dtype=F32, seed=46),
    Case("f32_ok_gated", [lin(4), custom("Gated"), lin(3)], loss="cross_entropy", dtype=F32, seed=47),
    Case("f32_ok_cube", [lin(4), custom("Cube"), lin(2)], input=(3, 4), dtype=F32, seed=48),
]

BUGGY: list[Case] = [
    # affine family
    Case("bug_square_affine_no_transpose", [lin(4), custom("SquareAffineNoTranspose"), "tanh", lin(2)],
         seed=1, bug_layer=1, bug_tensors=INPUT, kind="transpose"),
    Case("bug_square_affine_w_transposed", [custom("SquareAffineWTransposed"), "tanh", lin(2)],
         input=(4, 4), seed=2, bug_layer=0, bug_tensors=wrong("W"), kind="transpose"),
    Case("bug_affine_bias_mean", [custom("AffineBiasMean", out=5), "sigmoid", lin(2)],
         input=(5, 3), seed=3, bug_layer=0, bug_tensors=wrong("b"), kind="factor"),
    Case("bug_affine_w_scaled_by_n_last", [lin(4), "tanh", custom("AffineWScaledByN", out=3)],
         loss="cross_entropy", seed=4, bug_layer=2, bug_tensors=wrong("W"), kind="factor"),
    Case("bug_affine_nobias_sign_flip", [lin(5), custom("AffineNoBiasSignFlip", out=3), "tanh", lin(2)],
         seed=5, bug_layer=1, bug_tensors=INPUT, kind="sign"),
    Case("bug_scale_mean_grad", [custom("ScaleMeanGrad"), "tanh", lin(2)],
         input=(5, 3), seed=4, bug_layer=0, bug_tensors=wrong("gamma"), kind="factor"),
    Case("bug_scale_dx_ignores_gamma", [lin(4), custom("ScaleDxIgnoresGamma"), "tanh", lin(2)],
         seed=6, bug_layer=1, bug_tensors=INPUT, kind="passthrough"),
    Case("bug_scale_shift_beta_tiny", [lin(4), "tanh", custom("ScaleShiftBetaTiny"), lin(2)],
         seed=7, bug_layer=2, bug_tensors=wrong("beta"), kind="factor"),
    Case("bug_bias_first_row", [lin(4), custom("BiasFirstRow"), "sigmoid", lin(2)],
         input=(5, 3), seed=8, bug_layer=1, bug_tensors=wrong("b"), kind="partial"),
    # element-wise
    Case("bug_softplus_at_output", [lin(6), custom("SoftplusAtOutput"), lin(2)],
         input=(4, 5), seed=3, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_swish_dx_tiny", [lin(4), custom("SwishDxTiny"), lin(2)],
         seed=9, bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("bug_swish_beta_grad_last", [lin(4), "tanh", custom("SwishBetaGradMissingX", beta=1.5)],
         loss="dot", seed=10, bug_layer=2, bug_tensors=wrong("beta"), kind="none"),
    Case("bug_cube_slight", [lin(4), custom("CubeSlight"), lin(2)],
         input=(3, 4), seed=5, bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("bug_sin_sign_flip_first", [custom("SinSignFlip"), lin(3)],
         seed=11, bug_layer=0, bug_tensors=INPUT, kind="sign"),
    Case("bug_lecun_tanh_at_output", [lin(4), custom("LeCunTanhAtOutput"), lin(2)],
         seed=12, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_gaussian_one_percent", [lin(4), custom("GaussianOnePercent"), "silu", lin(2)],
         seed=13, bug_layer=1, bug_tensors=INPUT, kind="factor"),
    # softmax family and norms
    Case("bug_softmax_diagonal_last", [lin(4), custom("SoftmaxDiagonal")],
         seed=14, bug_layer=1, bug_tensors=INPUT, kind="diagonal_only"),
    Case("bug_softmax_wrong_axis", [lin(4), custom("SoftmaxWrongAxis"), lin(2)],
         seed=15, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_log_softmax_no_sum_last", [lin(4), custom("LogSoftmaxNoSum")],
         loss="dot", seed=16, bug_layer=1, bug_tensors=INPUT, kind="diagonal_only"),
    Case("bug_layer_norm_no_mean", [lin(5), custom("LayerNormNoMean"), "tanh", lin(2)],
         seed=17, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_layer_norm_gamma_uses_x_first", [custom("LayerNormGammaUsesX"), "sigmoid", lin(2)],
         input=(4, 5), seed=18, bug_layer=0, bug_tensors=wrong("gamma"), kind="none"),
    Case("bug_batch_norm_const_stats", [lin(4, bias=False), custom("BatchNormConstStats"), "tanh", lin(2)],
         input=(6, 3), seed=19, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_batch_norm_beta_mean", [lin(4), "tanh", custom("BatchNormBetaMean"), lin(2)],
         input=(5, 3), seed=20, bug_layer=2, bug_tensors=wrong("beta"), kind="factor"),
    Case("bug_batch_norm_wrong_axis", [lin(4, bias=False), custom("BatchNormWrongAxis"), "sigmoid", lin(2)],
         input=(5, 3), seed=21, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_rms_norm_no_cross", [lin(4), custom("RMSNormNoCross"), lin(2)],
         seed=22, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_rms_norm_gamma_first_row_last", [lin(5), "tanh", custom("RMSNormGammaFirstRow")],
         loss="dot", seed=23, bug_layer=2, bug_tensors=wrong("gamma"), kind="partial"),
    # blocks
    Case("bug_residual_no_identity", [lin(4), custom("ResidualNoIdentity"), lin(2)],
         seed=24, bug_layer=1, bug_tensors=INPUT, kind="skip_missing"),
    Case("bug_residual_w_grad_first", [custom("ResidualWGradNoDeriv"), lin(2)],
         input=(4, 4), seed=25, bug_layer=0, bug_tensors=wrong("W"), kind="none"),
    Case("bug_gated_missing_gate_path", [lin(4), custom("GatedMissingGatePath"), lin(2)],
         seed=26, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_gated_w_grad_missing_x", [lin(4), "tanh", custom("GatedWGradMissingX"), lin(3)],
         loss="cross_entropy", seed=27, bug_layer=2, bug_tensors=wrong("W"), kind="none"),
    Case("bug_attention_no_softmax_jacobian", [lin(6), custom("AttentionNoSoftmaxJacobian", T=2), "tanh", lin(2)],
         input=(3, 4), seed=28, bug_layer=1, bug_tensors=wrong("input", "W_q", "W_k"), kind="none"),
    Case("bug_attention_v_no_transpose_first", [custom("AttentionVNoTranspose", T=2), lin(2)],
         input=(3, 8), seed=29, bug_layer=0, bug_tensors=wrong("input", "W_v"), kind="none"),
    # kinks
    Case("bug_maxout_first_of_group", [lin(6), custom("MaxoutFirstOfGroup", k=2), lin(2)],
         seed=30, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("bug_abs_no_sign", [lin(4), custom("AbsNoSign"), lin(2)],
         seed=31, bug_layer=1, bug_tensors=INPUT, kind="branch"),
    Case("bug_relu_double_positive", [lin(5), custom("ReLUDoublePositive"), lin(2)],
         seed=125, bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("bug_leaky_relu_wrong_side", [lin(5), custom("LeakyReLUWrongSide", slope=0.1), lin(2)],
         seed=33, bug_layer=1, bug_tensors=INPUT, kind="branch"),
    Case("bug_zero_cols_pass_through", [lin(5), custom("ZeroColsPassThrough", cols=[0, 3]), "tanh", lin(2)],
         seed=34, bug_layer=1, bug_tensors=INPUT, kind="partial"),
    # shape-changing
    Case("bug_pair_product_one_sided", [lin(5), custom("PairProductOneSided"), lin(2)],
         seed=35, bug_layer=1, bug_tensors=INPUT, kind="partial"),
    Case("bug_bilinear_u_grad_first", [custom("BilinearUGradWrongFactor", out=3), "tanh", lin(2)],
         seed=36, bug_layer=0, bug_tensors=wrong("U"), kind="none"),
    Case("bug_square_concat_missing_two", [lin(3), custom("SquareConcatMissingTwo"), lin(2)],
         loss="bce_with_logits", seed=37, bug_layer=1, bug_tensors=INPUT, kind="none"),
    # a buggy layer right next to a relu sitting exactly on its kink
    Case("bug_scale_dx_after_exact_kink",
         [lin(5), custom("ZeroCols", cols=[1, 3]), "relu", custom("ScaleDxIgnoresGamma"), lin(2)],
         seed=38, bug_layer=3, bug_tensors=INPUT, kind="passthrough"),
    Case("bug_scale_mean_after_exact_kink",
         [lin(5), custom("ZeroCols", cols=[0, 2]), custom("ReLU"), custom("ScaleMeanGrad"), lin(2)],
         seed=39, bug_layer=3, bug_tensors=wrong("gamma"), kind="factor"),
    Case("bug_relu_double_on_exact_kink", [lin(5), custom("ZeroCols", cols=[2]), custom("ReLUDoublePositive"), lin(2)],
         seed=40, bug_layer=2, bug_tensors=INPUT, kind="factor"),
    # float32: gross bugs only
    Case("f32_bug_square_affine_no_transpose", [lin(4), custom("SquareAffineNoTranspose"), "tanh", lin(2)],
         dtype=F32, seed=51, bug_layer=1, bug_tensors=INPUT, kind="transpose"),
    Case("f32_bug_softmax_diagonal", [lin(5), custom("SoftmaxDiagonal"), lin(2)],
         dtype=F32, seed=52, bug_layer=1, bug_tensors=INPUT, kind="diagonal_only"),
    Case("f32_bug_sin_sign_flip", [lin(4), custom("SinSignFlip"), lin(2)],
         dtype=F32, seed=53, bug_layer=1, bug_tensors=INPUT, kind="sign"),
    Case("f32_bug_softplus_at_output", [lin(6), custom("SoftplusAtOutput"), lin(2)],
         input=(4, 5), dtype=F32, seed=54, bug_layer=1, bug_tensors=INPUT, kind="none"),
    Case("f32_bug_scale_mean_grad_first", [custom("ScaleMeanGrad"), "tanh", lin(2)],
         input=(5, 3), dtype=F32, seed=55, bug_layer=0, bug_tensors=wrong("gamma"), kind="factor"),
    Case("f32_bug_bias_first_row", [lin(4), "tanh", custom("BiasFirstRow"), lin(2)],
         input=(5, 3), dtype=F32, seed=56, bug_layer=2, bug_tensors=wrong("b"), kind="partial"),
    Case("f32_bug_affine_nobias_sign_flip_last", [lin(4), "tanh", custom("AffineNoBiasSignFlip", out=3)],
         loss="cross_entropy", dtype=F32, seed=57, bug_layer=2, bug_tensors=INPUT, kind="sign"),
]

# float32 layers that compute in float32 whatever they are given: no float64 twin
CORRECT += [
    Case("f32_forced_ok_softplus", [lin(6), custom("Softplus32"), "tanh", lin(3)], input=(6, 5), dtype=F32, seed=61),
    Case("f32_forced_ok_scale", [lin(8), custom("Scale32"), "tanh", lin(4)], input=(6, 5), loss="cross_entropy",
         dtype=F32, seed=62),
    Case("f32_forced_ok_softmax", [lin(8), custom("Softmax32"), "tanh", lin(4)], input=(6, 5), dtype=F32, seed=63),
    Case("f32_forced_ok_layer_norm", [lin(8), custom("LayerNorm32"), "tanh", lin(4)], input=(6, 5), dtype=F32,
         seed=64),
]
BUGGY += [
    Case("f32_forced_bug_scale_mean_grad", [lin(8), custom("Scale32MeanGrad"), "tanh", lin(4)], input=(6, 5),
         dtype=F32, seed=65, bug_layer=1, bug_tensors=wrong("gamma"), kind="factor"),
    Case("f32_forced_bug_softmax_diagonal", [lin(8), custom("Softmax32Diagonal"), "tanh", lin(4)], input=(6, 5),
         dtype=F32, seed=66, bug_layer=1, bug_tensors=INPUT, kind="diagonal_only"),
    Case("f32_forced_bug_layer_norm_no_mean_term", [lin(8), custom("LayerNorm32NoMeanTerm"), "tanh", lin(4)],
         input=(6, 5), dtype=F32, seed=67, bug_layer=1, bug_tensors=INPUT, kind="none"),
]

# The diagnosis families (see layers.py): several styles, and inputs of 3 and 4 dimensions.
IMAGE, SEQUENCE = (3, 2, 4, 5), (3, 4, 2)   # (N, C, H, W): N·H·W, C·H·W, N·C·W, N·C·H all differ; (N, T, D)
FLAT = custom("Flatten")


def pair(name, **options):
    """A function pair of layers.py: NAME_forward / NAME_backward."""
    return custom(name, **options)


def vector(d, init="normal"):
    """A function pair's parameter of shape (d,)."""
    return {"shape": [d], "init": init}


CORRECT += [
    Case("ok_dense_attributes", [custom("Dense", out=4), "tanh", lin(2)], input=(6, 3), seed=70),
    Case("ok_dense_loop", [lin(4), custom("DenseLoop", out=3), "tanh", lin(2)], input=(5, 3), seed=71),
    Case("ok_residual_dense", [lin(4), custom("ResidualDense"), lin(2)], seed=72),
    Case("ok_fully_connected_ml", [custom("FullyConnectedML", n_out=3), "tanh", lin(2)], input=(5, 1), seed=73),
    Case("ok_sigmoid_pair", [lin(4), pair("sigmoid"), lin(2)], seed=74),
    Case("ok_tanh_pair", [lin(4), pair("tanh"), lin(2)], seed=75),
    Case("ok_relu_pair", [lin(5), pair("relu"), lin(2)], seed=132),
    Case("ok_softmax_pair", [lin(4), pair("softmax"), lin(2)], seed=77),
    Case("ok_scale_shift_pair", [lin(4), pair("scale_shift", params={"gamma": vector(4, "ones"), "beta": vector(4)}),
                                 "tanh", lin(2)], seed=78),
    Case("ok_dropout", [lin(5), custom("Dropout", p=0.8, seed=3), lin(2)], seed=79),
    Case("ok_tanh_sigmoid_square", [lin(4), custom("Tanh"), custom("Sigmoid"), custom("Square"), lin(2)], seed=80),
    Case("ok_mean_features", [lin(4), custom("MeanFeatures"), lin(2)], input=(5, 3), seed=81),
    Case("ok_elu_clip", [lin(5), custom("ELU"), custom("Clip"), lin(2)], seed=82),
    Case("ok_l2_normalize", [lin(4), custom("L2Normalize"), lin(2)], seed=83),
    Case("ok_channel_scale_image", [custom("ChannelScale"), FLAT, lin(2)], input=IMAGE, seed=84),
    Case("ok_time_mix", [custom("TimeMix"), FLAT, lin(2)], input=SEQUENCE, seed=85),
    Case("ok_cumsum", [custom("CumSum"), FLAT, lin(2)], input=SEQUENCE, seed=86),
    Case("ok_rnn", [custom("RNN", hidden=3), FLAT, lin(2)], input=SEQUENCE, seed=87),
    Case("ok_softmax_sequence", [custom("Softmax"), FLAT, lin(2)], input=SEQUENCE, seed=88),
    Case("f32_ok_dropout", [lin(5), custom("Dropout", p=0.8, seed=3), lin(2)], dtype=F32, seed=89),
]

BUGGY += [
    # a constant factor: 1/N, p, 2, 1/2, D, 1/(N·H·W), -1
    Case("bug_dense_bias_mean", [custom("DenseBiasMean", out=4), "tanh", lin(2)], input=(6, 3), seed=90,
         bug_layer=0, bug_tensors=wrong("b"), kind="factor"),
    Case("bug_dropout_no_rescale", [lin(5), custom("DropoutNoRescale", p=0.8, seed=3), lin(2)], seed=91,
         bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("bug_tanh_doubled", [lin(4), custom("TanhDoubled"), lin(2)], seed=92,
         bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("bug_square_half", [lin(4), custom("SquareHalf"), lin(2)], seed=93,
         bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("bug_mean_features_no_divide", [lin(4), custom("MeanFeaturesNoDivide"), lin(2)], input=(5, 3), seed=94,
         bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("bug_channel_scale_mean_image", [custom("ChannelScaleMeanGrad"), FLAT, lin(2)], input=IMAGE, seed=95,
         bug_layer=0, bug_tensors=wrong("gamma"), kind="factor"),
    Case("bug_sigmoid_pair_sign_flip", [lin(4), pair("sigmoid_sign_flip"), lin(2)], seed=96,
         bug_layer=1, bug_tensors=INPUT, kind="sign"),
    Case("bug_fully_connected_ml_w_sign", [custom("FullyConnectedMLWSign", n_out=3), "tanh", lin(2)], seed=97,
         bug_layer=0, bug_tensors=wrong("W"), kind="sign"),
    # a transpose
    Case("bug_dense_square_w_transposed", [custom("DenseSquareWTransposed", out=4), "tanh", lin(2)], input=(5, 4),
         seed=98, bug_layer=0, bug_tensors=wrong("W"), kind="transpose"),
    Case("bug_time_mix_no_transpose", [custom("TimeMixNoTranspose"), FLAT, lin(2)], input=SEQUENCE, seed=99,
         bug_layer=0, bug_tensors=INPUT, kind="transpose"),
    Case("bug_cumsum_no_reverse", [custom("CumSumNoReverse"), FLAT, lin(2)], input=SEQUENCE, seed=100,
         bug_layer=0, bug_tensors=INPUT, kind="transpose"),
    # a branch: wrong only where the input is negative
    Case("bug_leaky_relu_negative_sign", [lin(5), custom("LeakyReLUNegativeSign", slope=0.1), lin(2)], seed=101,
         bug_layer=1, bug_tensors=INPUT, kind="branch"),
    Case("bug_elu_negative_branch", [lin(5), custom("ELUNegativeBranch"), lin(2)], seed=102,
         bug_layer=1, bug_tensors=INPUT, kind="branch"),
    Case("bug_relu_pair_leak", [lin(5), pair("relu_leak"), lin(2)], seed=103,
         bug_layer=1, bug_tensors=INPUT, kind="branch"),
    # a missing path: zero where the numeric value is not
    Case("bug_scale_shift_dbeta_zeros", [lin(4), custom("ScaleShiftDbetaZeros"), "tanh", lin(2)], seed=104,
         bug_layer=1, bug_tensors=wrong("beta"), kind="zero"),
    Case("bug_clip_mask_never", [lin(5), custom("ClipMaskNever"), lin(2)], seed=105,
         bug_layer=1, bug_tensors=INPUT, kind="zero"),
    Case("bug_fully_connected_ml_bias_forgotten", [lin(3), custom("FullyConnectedMLBiasForgotten", n_out=3), lin(2)],
         seed=106, bug_layer=1, bug_tensors=wrong("b"), kind="zero"),
    # right on some rows, channels or time steps only
    Case("bug_dense_loop_first_sample", [lin(4), custom("DenseLoopFirstSample", out=3), "tanh", lin(2)],
         input=(5, 3), seed=107, bug_layer=1, bug_tensors=wrong("input", "W", "b"), kind="partial"),
    Case("bug_channel_scale_off_by_one_image", [custom("ChannelScaleOffByOne"), FLAT, lin(2)], input=IMAGE,
         seed=108, bug_layer=0, bug_tensors=wrong("input", "gamma"), kind={"input": "partial", "gamma": "zero"}),
    Case("bug_rnn_truncated_bptt", [custom("RNNTruncated", hidden=3), FLAT, lin(2)], input=SEQUENCE, seed=109,
         bug_layer=0, bug_tensors=wrong("input", "W", "U"), kind={"input": "partial"}),
    Case("bug_cumsum_drops_future", [custom("CumSumDropsFuture"), FLAT, lin(2)], input=SEQUENCE, seed=110,
         bug_layer=0, bug_tensors=INPUT, kind="partial"),
    # the upstream gradient ignored
    Case("bug_sigmoid_ignores_upstream", [lin(4), custom("SigmoidIgnoresUpstream"), lin(2)], seed=111,
         bug_layer=1, bug_tensors=INPUT, kind="upstream_ignored"),
    Case("bug_dense_w_ignores_upstream", [custom("DenseWIgnoresUpstream", out=4), "tanh", lin(2)], input=(5, 3),
         seed=112, bug_layer=0, bug_tensors=wrong("W"), kind="upstream_ignored"),
    Case("bug_scale_shift_pair_ignores_upstream",
         [lin(4), pair("scale_shift_ignores_upstream", params={"gamma": vector(4, "ones"), "beta": vector(4)}),
          "tanh", lin(2)], seed=113, bug_layer=1, bug_tensors=wrong("gamma"), kind="upstream_ignored"),
    # a Jacobian reduced to its diagonal
    Case("bug_softmax_pair_diagonal", [lin(4), pair("softmax_diagonal"), lin(2)], seed=114,
         bug_layer=1, bug_tensors=INPUT, kind="diagonal_only"),
    Case("bug_softmax_diagonal_sequence", [custom("SoftmaxDiagonal"), FLAT, lin(2)], input=SEQUENCE, seed=115,
         bug_layer=0, bug_tensors=INPUT, kind="diagonal_only"),
    Case("bug_l2_normalize_diagonal", [lin(4), custom("L2NormalizeDiagonal"), lin(2)], seed=116,
         bug_layer=1, bug_tensors=INPUT, kind="diagonal_only"),
    # the gradients of two parameters swapped
    Case("bug_scale_shift_swapped", [lin(4), custom("ScaleShiftSwapped"), "tanh", lin(2)], seed=117,
         bug_layer=1, bug_tensors=wrong("gamma", "beta"), kind="swapped"),
    Case("bug_layer_norm_swapped", [lin(5), custom("LayerNormSwapped"), "tanh", lin(2)], seed=118,
         bug_layer=1, bug_tensors=wrong("gamma", "beta"), kind="swapped"),
    Case("bug_fully_connected_ml_swapped", [custom("FullyConnectedMLSwapped", n_out=3), "tanh", lin(2)],
         input=(5, 1), seed=119, bug_layer=0, bug_tensors=wrong("W", "b"), kind="swapped"),
    # forward reads a copy: moving the parameter changes nothing
    Case("bug_scale_stale_copy", [lin(4), custom("ScaleStaleCopy"), "tanh", lin(2)], seed=120,
         bug_layer=1, bug_tensors=wrong("gamma"), kind="forward"),
    Case("bug_affine_stale_bias", [custom("AffineStaleBias", out=4), "tanh", lin(2)], seed=121,
         bug_layer=0, bug_tensors=wrong("b"), kind="forward"),
    # dout returned unchanged; the identity path's + dout missing
    Case("bug_tanh_pair_passthrough", [lin(4), pair("tanh_passthrough"), lin(2)], seed=122,
         bug_layer=1, bug_tensors=INPUT, kind="passthrough"),
    Case("bug_residual_dense_no_identity", [lin(4), custom("ResidualDenseNoIdentity"), lin(2)], seed=123,
         bug_layer=1, bug_tensors=INPUT, kind="skip_missing"),
    # float32
    Case("f32_bug_dropout_no_rescale", [lin(5), custom("DropoutNoRescale", p=0.8, seed=3), lin(2)], dtype=F32,
         seed=124, bug_layer=1, bug_tensors=INPUT, kind="factor"),
    Case("f32_bug_scale_shift_swapped", [lin(4), custom("ScaleShiftSwapped"), "tanh", lin(2)], dtype=F32, seed=125,
         bug_layer=1, bug_tensors=wrong("gamma", "beta"), kind="swapped"),
]
