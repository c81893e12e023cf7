"""A layer file imports what it imports in its repository: its neighbours, its own package
(absolutely or relatively), modules of the current folder. An import that fails names the
layer file's line."""
from __future__ import annotations

import sys
import textwrap

import pytest

from test_spec_errors import check_invalid

SCALE_PAIR = textwrap.dedent('''


    def scale_forward(x):
        return FACTOR * x, None


    def scale_backward(dout, cache):
        return FACTOR * dout
''')


def test_a_layer_file_inside_a_package_imports_it_as_in_its_repository(tmp_path, monkeypatch, write_file,
                                                                       write_spec, run_json):
    """cs231n/layers.py does `from cs231n.layer_utils import *`; others `from .utils import f`,
    or `import utils` from the same folder. All work, with the spec elsewhere and the current
    folder somewhere else again."""
    write_file("repo/mypkg/__init__.py", "")
    write_file("repo/mypkg/layer_utils.py", "THREE = 3.0\n")
    write_file("repo/mypkg/fast.py", "from mypkg.layer_utils import THREE\n\nTWO = THREE - 1.0\n")
    write_file("repo/mypkg/plain.py", "HALF = 0.5\n")
    write_file("repo/mypkg/layers.py", "from mypkg.layer_utils import THREE\nfrom .fast import TWO\nimport plain\n\n"
                                       "FACTOR = THREE * TWO * plain.HALF\n" + SCALE_PAIR)
    write_spec("""
        input: [4, 3]
        layers:
          - {type: ../repo/mypkg/layers.py:scale}
        """, name="specs/spec.yaml")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    _, report = run_json(str(tmp_path / "specs" / "spec.yaml"))
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed", spec["error"]
    assert "mypkg" not in sys.modules and "plain" not in sys.modules  # forgotten: the next spec's may differ


def test_a_layer_file_imports_from_the_current_folder(tmp_path, monkeypatch, write_file, write_spec, run_json):
    write_file("project/settings_of_the_run.py", "FACTOR = 2.0\n")
    write_file("specs/layers.py", "from settings_of_the_run import FACTOR\n" + SCALE_PAIR)
    write_spec("input: [4, 3]\nlayers:\n  - {type: ./layers.py:scale}\n", name="specs/spec.yaml")
    monkeypatch.chdir(tmp_path / "project")
    _, report = run_json(str(tmp_path / "specs" / "spec.yaml"))
    assert report["specs"][0]["outcome"] == "passed", report["specs"][0]["error"]


def test_modules_found_through_the_python_path_are_kept(tmp_path, monkeypatch, write_file, write_spec):
    """A virtual environment inside the current folder: what a layer imports from it for the
    first time stays imported in the caller's process (re-importing an extension module can
    break it); its neighbour from the spec's folder is forgotten. (The Python API runs in the
    caller's process; `gradcheck run` checks the spec in a worker, which keeps nothing.)"""
    from gradcheck_cli import check_spec

    write_file("venv/site-packages/installed_lib_xyz/__init__.py", "FACTOR = 2.0\n")
    write_file("neighbour_xyz.py", "OFFSET = 0.0\n")
    write_file("layers.py", "from installed_lib_xyz import FACTOR\nimport neighbour_xyz\n" + SCALE_PAIR)
    write_spec("input: [4, 3]\nlayers:\n  - {type: ./layers.py:scale}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "venv" / "site-packages"))
    monkeypatch.delitem(sys.modules, "installed_lib_xyz", raising=False)
    result = check_spec("spec.yaml")
    assert result.outcome == "passed", result.error
    assert "installed_lib_xyz" in sys.modules
    assert "neighbour_xyz" not in sys.modules


@pytest.mark.parametrize("source, message", [
    ("import numpy as np\n\nimport no_such_module_xyz\n",
     "./layers.py:3: importing failed: ModuleNotFoundError: No module named 'no_such_module_xyz'"),
    ("import numpy as np\n\n\ndef f(x)\n    return x\n",
     "./layers.py:4: importing failed: SyntaxError: expected ':'"),
    ("from broken_helper import VALUE\n",
     "./layers.py:1: importing failed: ZeroDivisionError: division by zero (raised at broken_helper.py:1)"),
    ("import sys\n\nsys.exit('not a module')\n",
     "./layers.py:3: importing failed: SystemExit: not a module"),
])
def test_an_import_error_names_the_layer_file_and_line(tmp_path, monkeypatch, write_file, write_spec, run_json,
                                                       source, message):
    monkeypatch.chdir(tmp_path)
    write_file("broken_helper.py", "VALUE = 1 / 0\n")
    write_file("layers.py", source)
    write_spec("input: [4, 3]\nlayers:\n  - {type: ./layers.py:scale}\n")
    check_invalid(run_json, "spec.yaml", f"spec.yaml:3: layers[0]: {message}")


def test_an_import_error_in_a_module_reference_names_the_line(tmp_path, monkeypatch, write_file, write_spec,
                                                              run_json):
    monkeypatch.chdir(tmp_path)
    write_file("modpkg_xyz/__init__.py", "")
    write_file("modpkg_xyz/layers.py", "import numpy as np\n\nSCALE = np.ones(3) @ np.ones(4)\n")
    write_spec("input: [4, 3]\nlayers:\n  - {type: 'modpkg_xyz.layers:scale'}\n")
    result, report = run_json("spec.yaml")
    assert result.exit_code == 2
    assert report["specs"][0]["error"].startswith(
        "spec.yaml:3: layers[0]: importing modpkg_xyz.layers failed at modpkg_xyz/layers.py:3: ValueError: matmul")


def test_two_repositories_with_a_namespace_package_of_the_same_name(tmp_path, monkeypatch, write_file, run_json):
    """Two students' cs231n folders, one without __init__.py, checked in one run: the second
    one's `from cs231n.fast_layers import *` is its own fast_layers, not the first one's (which
    needs a module this machine lacks)."""
    write_file("bob/cs231n/__init__.py", "")
    for student, fast in (("alice", "import no_such_module_xyz\n"), ("bob", "TWO = 2.0\n")):
        write_file(f"{student}/cs231n/fast_layers.py", fast)
        write_file(f"{student}/cs231n/layer_utils.py",
                   "from cs231n.fast_layers import *\n\nFACTOR = 2.0\n" + SCALE_PAIR)
        write_file(f"specs/{student}.yaml",
                   f"input: [4, 3]\nlayers:\n  - {{type: ../{student}/cs231n/layer_utils.py:scale}}\n")
    monkeypatch.chdir(tmp_path)
    _, report = run_json("specs/alice.yaml", "specs/bob.yaml")
    alice, bob = report["specs"]
    assert alice["error"] == ("specs/alice.yaml:3: layers[0]: ../alice/cs231n/layer_utils.py:1: importing failed: "
                              "ModuleNotFoundError: No module named 'no_such_module_xyz' "
                              "(raised at alice/cs231n/fast_layers.py:1)")
    assert bob["outcome"] == "passed", bob["error"]


def test_what_a_layer_file_prints_on_import_stays_out_of_the_json_on_standard_output(
        tmp_path, monkeypatch, write_file, write_spec, invoke):
    """cs231n's fast_layers.py prints a hint when its Cython extension is not compiled."""
    import json
    monkeypatch.chdir(tmp_path)
    write_file("layers.py", "print('You will need to compile a Cython extension')\nFACTOR = 2.0\n" + SCALE_PAIR)
    write_spec("input: [4, 3]\nlayers:\n  - {type: ./layers.py:scale}\n")
    result = invoke("run", "spec.yaml", "--json", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passed"] is True
    assert "You will need to compile a Cython extension" in result.stderr
