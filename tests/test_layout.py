"""Rules of the code's layout that a change could break without any other test noticing."""
from __future__ import annotations

import subprocess
import sys

NUMERICS = ["layers", "losses", "network", "backprop", "numeric", "verdict", "stacked", "columns", "checker",
            "pipeline", "runner", "results", "report_json"]


def _imported_after(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after `statement`."""
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_the_numerics_import_neither_rich_nor_typer():
    """Layers, losses, network, finite differences and verdicts work without a terminal."""
    imported = _imported_after("; ".join(f"import gradcheck_cli.{name}" for name in NUMERICS))
    assert "numpy" in imported
    assert not imported & {"rich", "typer", "click"}


def test_the_command_line_imports_numpy_only_when_a_command_needs_it():
    """`gradcheck --help` and `--version` stay instant: numpy and rich load inside commands."""
    imported = _imported_after("import gradcheck_cli.cli")
    assert "typer" in imported
    assert not imported & {"numpy", "rich", "yaml"}
