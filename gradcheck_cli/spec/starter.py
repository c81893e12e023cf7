"""`gradcheck init`: a starter spec, a custom layer beside it, and the spec's JSON Schema.

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


SPEC_FILE = "example.gradcheck.yaml"
LAYER_FILE = "example_layers.py"
SCHEMA_FILE = "gradcheck-schema.json"


def starter_files(directory: Path) -> dict[Path, str]:
    """What init writes, by path, the spec first; each of them must not exist yet."""
    spec_path, layer_path = directory / SPEC_FILE, directory / LAYER_FILE
    return {spec_path: STARTER_SPEC.format(spec=spec_path, layer_file=layer_path.name),
            layer_path: STARTER_LAYER}


def write_starter(directory: Path) -> list[Path]:
    """Write the starter files; FileExistsError (naming the file) rather than overwrite one."""
    from .schema import spec_schema

    files = starter_files(directory)
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
