"""Rules of the code's layout that a change could break without any other test noticing."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import gradcheck_cli

PACKAGE = Path(gradcheck_cli.__file__).parent
# The rooms that compute: they must work without a terminal (no rich, no typer).
NUMERIC_ROOMS = ("spec", "model", "check", "run")
MAX_MODULE_LINES = 300


def _modules(room: str) -> list[str]:
    return [f"gradcheck_cli.{room}.{info.name}" for info in pkgutil.iter_modules([str(PACKAGE / room)])]


def _imported_after(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after `statement`."""
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_every_room_has_modules():
    for room in NUMERIC_ROOMS + ("report",):
        assert _modules(room), room


def test_the_numerics_import_neither_rich_nor_typer():
    """Spec loading, layers, losses, network, finite differences, verdicts and the batch runner
    work without a terminal."""
    names = [m for room in NUMERIC_ROOMS for m in _modules(room)]
    names += ["gradcheck_cli.results", "gradcheck_cli.defaults", "gradcheck_cli.errors",
              "gradcheck_cli.report.json_report", "gradcheck_cli.report.junit"]
    imported = _imported_after("; ".join(f"import {name}" for name in names))
    assert "numpy" in imported
    assert not imported & {"rich", "typer", "click"}


def test_the_command_line_imports_numpy_only_when_a_command_needs_it():
    """`gradcheck --help` and `--version` stay instant: numpy and rich load inside commands."""
    imported = _imported_after("import gradcheck_cli.cli")
    assert "typer" in imported
    assert not imported & {"numpy", "rich", "yaml"}


def _imported_by_command(*args: str) -> set[str]:
    return _imported_after("from typer.testing import CliRunner; from gradcheck_cli.cli import app; "
                           f"r = CliRunner().invoke(app, {list(args)!r}); assert r.exit_code == 0, r.output")


def test_schema_and_layers_do_not_import_numpy():
    """Option declarations live in the registry, readable without the numeric classes."""
    assert "numpy" not in _imported_by_command("schema")
    assert "numpy" not in _imported_by_command("layers")


def test_validating_a_spec_of_built_ins_does_not_import_numpy(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [2, 3]\nlayers: [{type: linear, out: 2}, tanh]\n")
    assert "numpy" not in _imported_after(f"from gradcheck_cli.spec.load import load_spec; load_spec({str(spec)!r})")


def test_no_module_is_over_the_size_limit():
    """A module a newcomer can read in one sitting; split it by job when it grows."""
    too_long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not too_long


def test_the_registry_summaries_are_the_classes_first_docstring_lines():
    from gradcheck_cli.model.registry import LAYERS, LOSSES
    for builtin in [*LAYERS.values(), *LOSSES.values()]:
        doc = (builtin.load().__doc__ or "").strip().splitlines()
        assert doc and doc[0] == builtin.summary, builtin.name
