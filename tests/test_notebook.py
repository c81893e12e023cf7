"""The Python API in a notebook, executed headless as Jupyter would run it: a layer class defined in
a cell, checked, and the result displayed as a table."""
from __future__ import annotations

import json
import sys
import textwrap

import nbformat
from nbclient import NotebookClient

KERNEL = "gradcheck-test-python"

CELLS = [
    """
    import numpy as np
    from gradcheck_cli import check_layer
    """,
    """
    class Affine:                       # defined here: no file to import it from
        def __init__(self, w_factor=1.0):
            self.w_factor, self.params, self.grads = w_factor, {}, {}

        def build(self, input_shape, rng):
            self.params["W"] = rng.standard_normal((input_shape[-1], 2))

        def forward(self, x):
            self.x = x
            return x @ self.params["W"]

        def backward(self, grad_out):
            self.grads["W"] = self.w_factor * self.x.T @ grad_out
            return grad_out @ self.params["W"].T
    """,
    "check_layer(Affine(w_factor=2.0), input_shape=(4, 3))",
    "result = check_layer([Affine(), 'tanh'], np.ones((4, 3)))\nprint(result)\nresult.passed",
]


def _kernel_for_this_interpreter(folder) -> None:
    """A kernel spec that runs this very Python (the venv's, with gradcheck installed), found through
    JUPYTER_PATH before any kernel the machine has installed."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "gradcheck test", "language": "python"}), encoding="utf-8")


def _output(cell, kind: str) -> str:
    for output in cell.outputs:
        if output.output_type == "error":
            raise AssertionError("\n".join(output.traceback))
        if kind == "stream" and output.output_type == "stream":
            return output.text
        if kind != "stream" and output.output_type in ("execute_result", "display_data") and kind in output.data:
            return output.data[kind]
    raise AssertionError(f"no {kind} output in {cell.source!r}: {cell.outputs}")


def test_a_notebook_checks_a_layer_defined_in_a_cell_and_shows_a_table(tmp_path, monkeypatch):
    _kernel_for_this_interpreter(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no profile written into the home folder
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in CELLS])
    NotebookClient(notebook, kernel_name=KERNEL, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()

    failed = notebook.cells[2]
    html = _output(failed, "text/html")
    assert "<table" in html and html.count("<tr>") == 1 + 2  # the header, then input and W
    assert 'color:#cf222e;font-weight:bold;">failed</span>' in html
    assert "→ layer 0 (Affine): backward wrong for W" in html

    passed = notebook.cells[3]
    printed = _output(passed, "stream")
    assert printed.startswith("check_layer  Affine, tanh  float64  passed")
    assert "│     0 │ Affine │ W      │ 3×2   │" in printed and "\x1b" not in printed
    assert _output(passed, "text/plain") == "True"
