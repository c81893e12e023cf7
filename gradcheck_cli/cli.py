"""The `gradcheck` command: thin typer commands over the runner and the two renderers."""
from __future__ import annotations

from typing import List, Optional

import typer

from . import __version__

app = typer.Typer(
    name="gradcheck",
    help="Check hand-written backward passes against central finite differences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gradcheck {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    """Check hand-written backward passes against central finite differences."""


@app.command()
def run(
    paths: List[str] = typer.Argument(..., help="Spec files, or folders searched for *.yaml/*.yml."),
    json_path: Optional[str] = typer.Option(None, "--json", metavar="FILE",
                                            help="Write the JSON report to FILE ('-': standard output)."),
    rtol: Optional[float] = typer.Option(None, "--rtol", min=0.0, help="Relative tolerance for every spec."),
    atol: Optional[float] = typer.Option(None, "--atol", min=0.0, help="Absolute tolerance for every spec."),
) -> None:
    """Check every spec: analytic gradients against central differences, a table per spec.

    Exit code 0: all passed; 1: a check failed or a layer errored; 2: a spec is invalid."""
    from rich.console import Console

    from . import report_console
    from .runner import run as run_specs

    # With the JSON on standard output, the human report moves to standard error.
    console = Console(stderr=json_path == "-", highlight=False)
    result = run_specs(paths, rtol=rtol, atol=atol,
                       on_result=lambda spec: report_console.print_spec(console, spec))
    console.print(report_console.summary_line(result))
    if json_path is not None:
        from .report_json import write_json
        try:
            write_json(result, json_path)
        except OSError as exc:
            console.print(f"{json_path}: cannot write the JSON report: {exc.strerror}", style="red")
            raise typer.Exit(2)
    raise typer.Exit(result.exit_code)
