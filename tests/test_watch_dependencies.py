"""What a spec depends on, for `gradcheck run --watch` (run/dependencies.py): the spec, the layer
and loss files it names, the modules those import from the spec's folder, transitively, read
without importing anything of the user's."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from gradcheck_cli.run.dependencies import imported_files, spec_dependencies


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path.resolve()


LAYER = """
import numpy as np
from helpers import scale

class Double:
    def forward(self, x):
        return scale(x)

    def backward(self, grad_out):
        return 2.0 * grad_out
"""


def test_a_spec_depends_on_itself_its_layer_file_and_the_sibling_module_that_imports(tmp_path):
    spec = write(tmp_path, "double.yaml", "input: [3, 2]\nlayers: [{type: ./layers.py:Double}, tanh]\n")
    layers = write(tmp_path, "layers.py", LAYER)
    helpers = write(tmp_path, "helpers.py", "import os\nfrom more import TWO\n\ndef scale(x):\n    return TWO * x\n")
    more = write(tmp_path, "more.py", "import helpers  # a cycle: followed once\nTWO = 2.0\n")
    write(tmp_path, "unrelated.py", "X = 1\n")
    assert spec_dependencies(str(spec)) == {spec, layers, helpers, more}


def test_a_spec_of_built_ins_depends_only_on_itself(tmp_path):
    spec = write(tmp_path, "plain.yaml", "input: [3, 2]\nlayers: [tanh, {type: linear, out: 2}]\n")
    assert spec_dependencies(str(spec)) == {spec}


def test_layer_files_in_another_folder_a_package_and_relative_imports(tmp_path):
    spec = write(tmp_path / "specs", "net.yaml", """
        input: [3, 2]
        layers:
          - {type: ../lib/pkg/layers.py:Double}
          - {type: residual, layers: [{type: ../lib/pkg/layers.py:Double}]}
        loss: {type: ../lib/losses.py:half_sum}
        """)
    layers = write(tmp_path / "lib" / "pkg", "layers.py", "from .ops import scale\nfrom . import consts\n")
    ops = write(tmp_path / "lib" / "pkg", "ops.py", "from ..shared import base\n")
    consts = write(tmp_path / "lib" / "pkg", "consts.py", "")
    init = write(tmp_path / "lib" / "pkg", "__init__.py", "")
    losses = write(tmp_path / "lib", "losses.py", "from pkg.ops import scale\n")
    shared = write(tmp_path / "lib", "shared.py", "")  # `from ..shared` from pkg/ops.py climbs above the package
    assert spec_dependencies(str(spec)) == {spec, layers, ops, consts, init, losses, shared}


def test_a_module_named_by_its_dotted_name_in_the_specs_folder(tmp_path):
    spec = write(tmp_path, "net.yaml", "input: [3, 2]\nlayers: [{type: mypkg.layers:Double}]\n")
    init = write(tmp_path / "mypkg", "__init__.py", "")
    layers = write(tmp_path / "mypkg", "layers.py", "from mypkg.util import f\nimport mypkg.extra as extra\n")
    util = write(tmp_path / "mypkg", "util.py", "")
    extra = write(tmp_path / "mypkg", "extra.py", "")
    assert spec_dependencies(str(spec)) == {spec, init, layers, util, extra}


def test_graph_nodes_name_layer_files_too(tmp_path):
    spec = write(tmp_path, "graph.yaml", """
        inputs: {x: [3, 2]}
        graph:
          - {name: h, type: ./nodes.py:Double, in: x}
        """)
    nodes = write(tmp_path, "nodes.py", LAYER)
    helpers = write(tmp_path, "helpers.py", "")
    assert spec_dependencies(str(spec)) == {spec, nodes, helpers}


def test_a_layer_file_not_there_yet_is_a_dependency_still(tmp_path):
    """Once it is written, the spec is checked again."""
    spec = write(tmp_path, "net.yaml", "input: [3, 2]\nlayers: [{type: ./later.py:Double}]\n")
    assert spec_dependencies(str(spec)) == {spec, (tmp_path / "later.py").resolve()}


def test_an_invalid_spec_has_no_dependencies_known(tmp_path):
    spec = write(tmp_path, "bad.yaml", "input: [3, 2]\nlayers: [{type: linear}]\n")  # out missing
    assert spec_dependencies(str(spec)) is None


def test_imports_that_are_not_the_users_files_are_not_followed(tmp_path):
    """numpy, the standard library, an installed package: not below the spec's folder."""
    layer = write(tmp_path, "layers.py", "import numpy, json, os.path\nfrom collections import OrderedDict\n"
                                         "def f():\n    import helpers  # inside a function: counted\n")
    helpers = write(tmp_path, "helpers.py", "import this_does_not_exist\n")
    assert imported_files(layer, [tmp_path.resolve()]) == {helpers}


def test_a_file_that_does_not_parse_imports_nothing(tmp_path):
    layer = write(tmp_path, "layers.py", "import helpers\ndef broken(:\n")
    write(tmp_path, "helpers.py", "")
    assert imported_files(layer, [tmp_path.resolve()]) == set()


def test_reading_the_dependencies_imports_no_user_code(tmp_path):
    spec = write(tmp_path, "double.yaml", "input: [3, 2]\nlayers: [{type: ./layers.py:Double}]\n")
    write(tmp_path, "layers.py", LAYER)
    write(tmp_path, "helpers.py", "raise SystemExit('imported')\n")
    assert len(spec_dependencies(str(spec))) == 3
    assert not [m for m in list(sys.modules.values()) if str(tmp_path) in str(getattr(m, "__file__", None))]
