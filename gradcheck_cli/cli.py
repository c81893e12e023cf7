"""The `gradcheck` command: thin typer commands over pure modules. A domain error becomes one
printed line and an exit code: 0 all passed, 1 a check failed or a layer errored, 2 bad input."""
from __future__ import annotations

import contextlib
import math
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__, defaults
from .fast_exit import exit_fast
from .report.terminal import escape_controls, guarded
from .run.signals import reports_held, stopping

app = typer.Typer(
    name="gradcheck",
    help="Check hand-written backward passes against central finite differences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gradcheck {__version__}")
        raise typer.Exit()


LOG_WIDTH = 160  # columns of the report in a log or a pipe, where there is no terminal to fit


def _console(stderr: bool = False):
    from rich.console import Console
    # soft_wrap: a message stays one line however narrow the terminal (grep-able in CI logs)
    console = Console(file=guarded(stderr), highlight=False, soft_wrap=True)  # plain characters where need be
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = LOG_WIDTH  # rich's 80 would fold the numbers of a -v table
    return console


def _fail(message: str, code: int = 2):
    _console(stderr=True).print(escape_controls(message), style="red", markup=False)
    raise typer.Exit(code)


def _finite(value: float | None) -> float | None:
    """nan passes every min= bound (all comparisons with it are false), and inf tolerates
    anything: both would let a wrong gradient pass."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number, got {value}")
    return value


def _parse_shard(value: str | None) -> tuple[int, int]:
    if value is None:
        return (1, 1)
    try:
        k, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise typer.BadParameter(f"expected K/N like 1/4, got {value!r}", param_hint="'--shard'") from None
    if not 1 <= k <= n:
        raise typer.BadParameter(f"expected 1 <= K <= N, got {value!r}", param_hint="'--shard'")
    return (k, n)


@app.callback()
def main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    """Check hand-written backward passes against central finite differences."""
    from .spec.reading import cwd_problem
    if cwd_problem():  # a deleted working folder: every relative path is meaningless
        _fail(cwd_problem())


@app.command()
@stopping  # SIGTERM ends a run as Ctrl-C does (143); a second signal cannot cut the reports short
def run(
    paths: List[str] = typer.Argument(..., metavar="PATH...",
                                      help="Spec files, folders searched for *.yaml/*.yml, or - (standard input)."),
    json_path: Optional[str] = typer.Option(None, "--json", metavar="FILE",
                                            help="Write the JSON report to FILE ('-': standard output)."),
    junit_path: Optional[str] = typer.Option(None, "--junit-xml", metavar="FILE",
                                             help="Write a JUnit XML report (one testcase per spec)."),
    html_path: Optional[str] = typer.Option(None, "--html", metavar="FILE",
                                            help="Write the terminal report as a self-contained HTML page."),
    rtol: Optional[float] = typer.Option(None, "--rtol", min=0.0, callback=_finite,
                                         help="Relative tolerance for every spec."),
    atol: Optional[float] = typer.Option(None, "--atol", min=0.0, callback=_finite,
                                         help="Absolute tolerance for every spec."),
    jobs: int = typer.Option(defaults.JOBS, "--jobs", "-j", min=1, help="Check specs in N processes."),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.1, metavar="SECONDS", callback=_finite,
                                            help="Give up on a spec after this long (its outcome: error)."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="K/N",
                                        help="Run only the K-th of N disjoint slices of the specs (CI matrices)."),
    no_custom: bool = typer.Option(False, "--no-custom",
                                   help="Refuse custom layers and losses: they are Python code and would run."),
    max_elements: int = typer.Option(defaults.MAX_ELEMENTS, "--max-elements", min=1,
                                     help="Refuse specs with more input and parameter scalars than this."),
    mode: Optional[str] = typer.Option(None, "--mode", metavar="full|fast|sample",
                                       help=f"full: every scalar (default up to {defaults.FULL_MODE_LIMIT:,}); "
                                            "fast: random directions "
                                            "per tensor; sample: random coordinates per tensor."),
    samples: int = typer.Option(defaults.SAMPLES, "--samples", min=1, help="Coordinates per tensor in sample mode."),
    directions: int = typer.Option(defaults.DIRECTIONS, "--directions", min=1,
                                   help="Random directions per tensor in fast mode."),
    strict: bool = typer.Option(defaults.STRICT, "--strict",
                                help="Fail a spec with any warning (a layer's hazard, shown under its table)."),
    seeds: int = typer.Option(defaults.SEEDS, "--seeds", min=1, help="Each spec at N seeds: its seed, seed+1, ..."),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Print the summary and one line per spec that did not pass."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show each tensor's worst element and values."),
    watch: bool = typer.Option(False, "--watch", help="Check again on every save of a spec, a layer file it names "
                               "or a module those import from its folder; Ctrl-C ends."),
) -> None:
    """Check every spec: analytic gradients against central differences, a table per spec.

    Exit code 0: all passed; 1: a check failed or a layer errored; 2: a spec is invalid;
    130: interrupted, 143: terminated (SIGTERM; reports then hold the specs finished so far)."""
    from .report import console as report_console
    from .run.batch import Interrupted, RunOptions, run as run_specs

    if mode not in (None, "full", "fast", "sample"):
        raise typer.BadParameter(f"expected full, fast or sample, got {mode!r}", param_hint="'--mode'")
    options = RunOptions(rtol=rtol, atol=atol, jobs=jobs, timeout=timeout, allow_custom=not no_custom,
                         max_elements=max_elements, shard=_parse_shard(shard), mode=mode, samples=samples,
                         directions=directions, strict=strict, seeds=seeds)
    from .errors import UsageError
    from .report.files import check_report_targets
    try:
        targets = check_report_targets(paths, {"--json": json_path, "--junit-xml": junit_path, "--html": html_path})
    except UsageError as exc:
        _fail(str(exc))
    if watch:  # run/watching.py: the report drawn again and the report files written after every run
        from .watch_command import watch_command
        raise typer.Exit(watch_command(paths, options, targets, _console(), _console(stderr=True), quiet, verbose))
    # With the JSON on standard output, the human report moves to standard error.
    console = _console(stderr=json_path == "-")
    progress = report_console.Progress(console, enabled=not quiet)

    def show(spec) -> None:
        if not quiet:
            progress.print_spec(spec, verbose)
        elif spec.outcome != "passed":
            console.print(report_console.one_line(spec))
        progress.advance()

    code = None
    # With the JSON on standard output, what the layers print goes to standard error instead.
    layer_prints = contextlib.redirect_stdout(console.file)  # guarded: a closed or full stdout is no layer's error
    try:
        with progress, layer_prints:
            result = run_specs(paths, options, on_result=show, on_start=progress.set_total)
    except Interrupted as stop:
        result, code = stop.result, stop.code
        console.print(f"{stop.reason}: reports hold the specs finished so far", style="yellow")
    held = reports_held()  # a signal from now on is remembered, and the reports written whole
    console.print(report_console.summary_line(result))
    from .report.files import write_reports  # each to its absolute path; exit code 2 if one cannot be written
    code = (held.code or result.exit_code) if code is None else code
    raise typer.Exit(write_reports(result, targets, code, console, _console(stderr=True)))


@app.command()
def validate(
    paths: List[str] = typer.Argument(..., metavar="PATH...",
                                      help="Spec files, folders searched for *.yaml/*.yml, or - (standard input)."),
    no_custom: bool = typer.Option(False, "--no-custom", help="Refuse custom layers and losses."),
    max_elements: int = typer.Option(defaults.MAX_ELEMENTS, "--max-elements", min=1,
                                     help="Refuse specs with more input and parameter scalars than this."),
) -> None:
    """Parse and build each spec (one forward per layer, for the shapes; a custom class layer
    also runs backward once, to find its parameters), without checking any gradient. Exit code
    0: all valid; 1: a layer errored while building; 2: a spec is invalid."""
    from .run.batch import RunOptions, discover
    from .run.isolation import check_isolated, end_workers

    console = _console()
    found = discover(paths)
    invalid = errored = 0
    options = RunOptions(allow_custom=not no_custom, max_elements=max_elements)  # as in `run`: size refused
    for path in found:  # a spec with custom code is built in a worker of its own, as `run` checks it
        result = check_isolated(path, options, build_only=True) if isinstance(path, str) else path
        if result.invalid:
            invalid += 1
            console.print(escape_controls(result.error), style="red", markup=False)
        elif result.error:
            errored += 1
            console.print(escape_controls(f"{result.path}: error: {result.error}"), style="red", markup=False)
        else:
            console.print(escape_controls(f"{result.path}: valid"), style="green", markup=False)
            for warning in result.warnings:  # a graph's input or output nothing takes
                console.print(escape_controls(f"  warning: {warning.message}"), style="yellow", markup=False)
    end_workers()
    total = len(found)
    console.print(f"{total - invalid - errored} of {total} spec{'s' if total != 1 else ''} valid")
    raise typer.Exit(2 if invalid else 1 if errored else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec format (for editors and CI validators)."""
    import json

    from .spec.schema import spec_schema
    typer.echo(json.dumps(spec_schema(), indent=2))


@app.command()
def layers() -> None:
    """List the built-in layers, gates (graph specs) and losses with their options."""
    from .report import console as report_console
    from .model.registry import GATES, LAYERS, LOSSES
    _console().print(report_console.layers_table(LAYERS, LOSSES, GATES))


@app.command()
def jacobian(
    spec: str = typer.Argument(..., help="A spec file."),
    layer: str = typer.Option(..., "--layer", "-l", help="Index of the top-level layer (a graph spec: a node's name)."),
    row: int = typer.Option(0, "--row", help="Which data row's Jacobian to show."),
    no_custom: bool = typer.Option(False, "--no-custom", help="Refuse custom layers and losses."),
    max_elements: int = typer.Option(defaults.MAX_ELEMENTS, "--max-elements", min=1,
                                     help="Refuse specs with more input and parameter scalars than this."),
) -> None:
    """Print one layer's analytic and numeric Jacobians side by side, differences in red
    (the finite differences, tolerances and match rule of `run`)."""
    from .report.jacobian import print_jacobian
    from .errors import LayerError, SpecError
    from .check.jacobian import layer_jacobians
    from .run.batch import guard_size
    from .spec.load import load_spec

    try:
        loaded = load_spec(spec, allow_custom=not no_custom)
        guard_size(loaded, max_elements)  # as in `run`: nothing is built that would not fit
        jac = layer_jacobians(loaded, layer, row)
    except SpecError as exc:
        _fail(str(exc))
    except LayerError as exc:
        _fail(f"{spec}: {exc}", 1)
    if not print_jacobian(_console(), jac):
        raise typer.Exit(1)


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="Where to write the starter files."),
    style: str = typer.Option("class", "--style", metavar="function|class",
                              help="The layer file's style: a class, or function pairs (cs231n)."),
) -> None:
    """Write a starter spec and a custom layer file that pass. Never overwrites a file."""
    from .spec.starter import STYLES, write_starter

    if style not in STYLES:
        raise typer.BadParameter(f"expected function or class, got {style!r}", param_hint="--style")
    try:
        written = write_starter(directory, style)
    except FileExistsError as exc:
        _fail(f"{exc}: already exists; gradcheck init never overwrites files")
    except OSError as exc:
        _fail(f"{directory}: cannot write: {exc.strerror or exc}")
    typer.echo(f"wrote {', '.join(map(str, written))}; now run: gradcheck run {written[0]} (or: pytest {directory})")


def entry_point() -> None:
    """`python -m gradcheck_cli` and the console script."""
    if os.environ.get("FORCE_COLOR") == "0":
        os.environ.pop("FORCE_COLOR")
    try:
        app(prog_name="gradcheck")
        code = 0
    except SystemExit as done:
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    except OSError as exc:  # typer's echo to a full standard output (schema, --version, init): one line
        code = guarded(stderr=True).write(f"standard output: cannot write ({exc.strerror or exc})\n") and 1
    exit_fast(code)
