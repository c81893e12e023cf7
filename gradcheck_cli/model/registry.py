"""Every built-in layer and loss, by the name a spec uses, read top to bottom.

Each entry declares what a spec may say about it (its options) and where its class lives; the
class is imported only when a network is built, so `gradcheck schema`, `gradcheck layers` and
spec validation never import numpy. To add a layer: write its class in layers.py (forward and
backward side by side), then add one line here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..spec.options import Option


@dataclass(frozen=True)
class Builtin:
    name: str
    where: str                   # "module:Class" inside gradcheck_cli.model
    summary: str                 # one line: what `gradcheck layers` and the schema show
    options: dict[str, Option] = field(default_factory=dict)
    inputs: tuple[int, int | None] = (1, 1)  # how many inputs a graph node of it takes: (least, most or None)

    def load(self) -> type:
        module, _, cls = self.where.partition(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


def _table(*entries: Builtin) -> dict[str, Builtin]:
    return {entry.name: entry for entry in entries}


LAYERS = _table(
    Builtin("linear", "layers:Linear", "Y = X W + b.   X: (N, m), W: (m, n), b: (n,) -> Y: (N, n).", {
        "out": Option("positive_int", doc="number of output features n"),
        "bias": Option("bool", True, doc="add a learnable bias b"),
        "init": Option("string", "normal", choices=("normal", "zeros"),
                       doc="W ~ N(0, 1/m), or W = 0 (with bias: false every output is then exactly 0)"),
    }),
    Builtin("sigmoid", "layers:Sigmoid", "σ(x) = 1 / (1 + e^-x);  σ' = σ (1 - σ)."),
    Builtin("tanh", "layers:Tanh", "tanh(x);  tanh' = 1 - tanh²."),
    Builtin("relu", "layers:ReLU",
            "max(x, 0);  derivative 1 where x > 0, else 0 (0 is a valid subgradient at the kink)."),
    Builtin("leaky_relu", "layers:LeakyReLU", "x where x > 0, else slope·x;  derivative 1 or slope.", {
        "slope": Option("number", 0.01, doc="slope for x < 0"),
    }),
    Builtin("elu", "layers:ELU", "x where x > 0, else alpha·(e^x - 1);  derivative 1 or alpha·e^x.", {
        "alpha": Option("positive_number", 1.0, doc="scale of the negative part"),
    }),
    Builtin("softplus", "layers:Softplus", "log(1 + e^x);  derivative σ(x)."),
    Builtin("gelu", "layers:GELU", "x·Φ(x) in its tanh form: 0.5·x·(1 + tanh(c·(x + 0.044715·x³))), c = √(2/π)."),
    Builtin("silu", "layers:SiLU", "x·σ(x) (swish);  derivative σ(x)·(1 + x·(1 - σ(x)))."),
    Builtin("softmax", "layers:Softmax", "Each row to probabilities: y = e^x / Σ e^x over the last axis."),
    Builtin("log_softmax", "layers:LogSoftmax",
            "y = x - logsumexp(x) over the last axis;  dL/dx = g - softmax(x)·Σ g."),
    Builtin("flatten", "layers:Flatten",
            "(N, d1, d2, ...) -> (N, d1·d2·...): each row flattened;  dL/dx is G reshaped back."),
    Builtin("residual", "layers:Residual", "y = x + f(x), f a stack of layers: a copy gate, the branch, an add gate.", {
        "layers": Option("layers", doc="the branch f, a list of layers like the top level"),
    }),
)

# Gates join or reshape the activations of a graph spec (several inputs, no parameters); gates.py.
GATES = _table(
    Builtin("add", "gates:Add",
            "s = a + b + ...: the upstream gradient is copied to every input, dL/da = dL/db = dL/ds.",
            inputs=(2, None)),
    Builtin("multiply", "gates:Multiply",
            "s = a ⊙ b, element-wise: dL/da = G ⊙ b, dL/db = G ⊙ a (each input's gradient holds the other).",
            inputs=(2, 2)),
    Builtin("concat", "gates:Concat",
            "s = [a, b, ...] along `axis`: backward cuts G back into the inputs' pieces along that axis.", {
                "axis": Option("integer", -1, doc="the axis to join along (negative: from the end)"),
            }, inputs=(2, None)),
    Builtin("matmul", "gates:MatMul",
            "S = A B over the last two axes (attention's scores Q Kᵀ): dL/dA = G Bᵀ, dL/dB = Aᵀ G.", inputs=(2, 2)),
    Builtin("transpose", "gates:Transpose",
            "Y = Xᵀ over the last two axes: dL/dX = Gᵀ (a transpose is its own adjoint)."),
)

LOSSES = _table(
    Builtin("mse", "losses:MSE", "L = mean((Y - T)²), T ~ N(0, 1);  dL/dY = 2 (Y - T) / size."),
    Builtin("cross_entropy", "losses:CrossEntropy",
            "Logits Y: (N, C), integer classes t: L = mean over rows of -log softmax(Y)[t];"),
    Builtin("bce_with_logits", "losses:BCEWithLogits",
            "Logits Z, targets t in {0, 1}: L = mean(log(1 + e^Z) - t·Z);  dL/dZ = (σ(Z) - t) / size."),
    Builtin("dot", "losses:Dot", "L = sum(R ⊙ Y) with a fixed random R: dL/dY = R, the raw vector-Jacobian product."),
)
