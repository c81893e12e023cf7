"""`gradcheck init`: a starter spec, a custom layer beside it (a class, or a function pair in
the cs231n style), and the spec's JSON Schema.

The spec is named `*.gradcheck.yaml`, so that `gradcheck run DIR` and the pytest plugin
(`pytest DIR`) both find it."""
from __future__ import annotations

import json
from pathlib import Path

STARTER_SPEC = """\
# yaml-language-server: $schema=gradcheck-schema.json
# A starter spec: `gradcheck run {spec}` checks it, and so does pytest (any *.gradcheck.yaml
# below the test paths is a test). Add your own layers below.
name: example
seed: 0
input: [4, 3]            # 4 rows (data points) x 3 features
layers:
  - {{type: linear, out: 5}}
  - {{type: ./{layer_file}:Swish, beta: 1.5}}
  - {{type: linear, out: 2}}
loss: mse
"""

STARTER_LAYER = '''\
"""A custom layer for gradcheck: Swish, y = x * sigmoid(beta * x), with a learnable beta."""
import numpy as np


class Swish:
    def __init__(self, beta=1.0):
        self.beta0 = beta
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        """input_shape: (N, D). One beta per feature: params["beta"] of shape (D,)."""
        self.params["beta"] = np.full(input_shape[-1], self.beta0)

    def forward(self, x):
        """x: (N, D) -> y: (N, D)."""
        self.x = x
        self.s = 1.0 / (1.0 + np.exp(-self.params["beta"] * x))
        return x * self.s

    def backward(self, grad_out):
        """grad_out = dL/dy: (N, D) -> dL/dx: (N, D); fills grads["beta"]: (D,)."""
        x, s, beta = self.x, self.s, self.params["beta"]
        ds = s * (1.0 - s)                      # sigmoid'(beta x)
        self.grads["beta"] = np.sum(grad_out * x * ds * x, axis=0)   # sum over the batch rows
        return grad_out * (s + x * ds * beta)
'''


FUNCTION_SPEC = """\
# yaml-language-server: $schema=gradcheck-schema.json
# A starter spec: `gradcheck run {spec}` checks it. Add your own layers below.
# A function pair NAME_forward(x, ...) -> (out, cache) / NAME_backward(dout, cache) -> (dx, ...):
#   params: the arrays after x, by shape, drawn from the seed (init: normal, zeros or ones; scale)
#   args:   its other arguments, by name (a fresh copy at every call)
name: starter
seed: 0
input: [4, 3]            # 4 rows (data points) x 3 features
layers:
  - {{type: ./{layer_file}:affine, params: {{w: [3, 5], b: {{shape: [5], init: zeros}}}}}}
  - {{type: ./{layer_file}:leaky_relu, args: {{relu_param: {{slope: 0.1}}}}}}
  - {{type: linear, out: 2}}
loss: mse
"""

FUNCTION_LAYER = '''\
"""Layers for gradcheck as function pairs, the cs231n style: NAME_forward returns (out, cache),
NAME_backward(dout, cache) returns dx, then one gradient per array of params, in the forward's
order."""
import numpy as np


def affine_forward(x, w, b):
    """x: (N, D), w: (D, M), b: (M,) -> out: (N, M)."""
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    """dout: (N, M) -> dx: (N, D), dw: (D, M), db: (M,)."""
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)      # db: a sum over the batch rows


def leaky_relu_forward(x, relu_param):
    """x: (N, D) -> out: (N, D); relu_param: {"slope": s}, the slope below 0."""
    slope = relu_param["slope"]
    return np.where(x > 0, x, slope * x), (x, slope)


def leaky_relu_backward(dout, cache):
    """dout: (N, D) -> dx: (N, D) alone: the forward takes no arrays in params."""
    x, slope = cache
    return np.where(x > 0, dout, slope * dout)
'''

STYLES = {"class": (STARTER_SPEC, STARTER_LAYER), "function": (FUNCTION_SPEC, FUNCTION_LAYER)}


SPEC_FILE = "example.gradcheck.yaml"
LAYER_FILE = "example_layers.py"
SCHEMA_FILE = "gradcheck-schema.json"


def starter_files(directory: Path, style: str = "class") -> dict[Path, str]:
    """What init writes, by path, the spec first, the layer file in `style` (a key of STYLES);
    each of them must not exist yet."""
    spec_text, layer_text = STYLES[style]
    spec_path, layer_path = directory / SPEC_FILE, directory / LAYER_FILE
    return {spec_path: spec_text.format(spec=spec_path, layer_file=layer_path.name), layer_path: layer_text}


def write_starter(directory: Path, style: str = "class") -> list[Path]:
    """Write the starter files; FileExistsError (naming the file) rather than overwrite one."""
    from .schema import spec_schema

    files = starter_files(directory, style)
    for path in files:
        if path.exists():
            raise FileExistsError(str(path))
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        with open(path, "x", encoding="utf-8") as handle:  # "x": never over a file made meanwhile
            handle.write(text)
    written = list(files)
    schema_path = directory / SCHEMA_FILE
    if not schema_path.exists():  # an existing schema is the user's to keep
        schema_path.write_text(json.dumps(spec_schema(), indent=2) + "\n", encoding="utf-8")
        written.append(schema_path)
    return written
