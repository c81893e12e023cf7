"""The terminal report: a table per spec, what is wrong and where, and a summary line."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .heatmap import heatmap
from .terminal import escaped_result
from .wording import (diagnosis_lines, place_text, shape_text, short_label, strict_reason, suspect_line, suspect_place,
                      tensor_label, warning_lines, what_is_off, where_text)
from ..results import ERROR, FAILED, PASSED, RunResult, SpecResult, TensorCheck

STYLE = {PASSED: "green", FAILED: "bold red", ERROR: "bold magenta"}
KINK_STYLE = "yellow"


def _status(check: TensorCheck) -> Text:
    if not check.passed:
        return Text("FAILED", style=STYLE[FAILED])
    if check.kinks:
        return Text(f"kinks {check.kinks}", style=KINK_STYLE)
    return Text("passed", style=STYLE[PASSED])


def short_type(type_: str) -> str:
    """A custom layer is shown by its class name in the table; messages give the whole path."""
    return type_.rpartition(":")[2]


def _number(value: float) -> str:
    return f"{value:.2e}"


# The table's columns: (header, justify, may wrap). Numbers, shapes and statuses never wrap: a
# number folded over two lines reads as two numbers. Names (a custom layer's class) may.
COLUMNS = [("layer", "right", False), ("type", "left", True), ("tensor", "left", True), ("shape", "left", False),
           ("max abs err", "right", False), ("max rel err", "right", False)]
VERBOSE_COLUMNS = [("worst at", "left", False), ("analytic", "right", False), ("numeric", "right", False)]
STATUS_COLUMN = [("status", "left", False)]
# -v on a narrow terminal: the three verbose values on a second line of each row, under the
# tensor and the two errors, the headers two lines to match.
FOLDED_COLUMNS = [("layer\n", "right", False), ("type\n", "left", True), ("tensor\nworst at", "left", True),
                  ("shape\n", "left", False), ("max abs err\nanalytic", "right", False),
                  ("max rel err\nnumeric", "right", False)]
FOLDED_STATUS = [("status\n", "left", False)]


def _table(columns, graph: bool = False) -> Table:
    table = Table(header_style="bold")
    for name, justify, wraps in columns:
        if graph and name.startswith("layer"):  # a graph spec's rows are named by node
            name, justify = name.replace("layer", "node", 1), "left"
        # A number too wide for its column ends in "…" rather than being cut silently.
        table.add_column(name, justify=justify, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    return table


def spec_table(result: SpecResult, verbose: bool = False, console: Console | None = None) -> Table:
    """The table of every checked tensor; with `verbose`, each one's worst element too: in three
    more columns when they fit in the console's width, else on a second line of each row."""
    table = _table((COLUMNS + VERBOSE_COLUMNS if verbose else COLUMNS) + STATUS_COLUMN, result.graph)
    for check in result.checks:
        cells = _cells(check)
        if verbose:
            cells += [where_text(check), f"{check.analytic:.8g}", f"{check.numeric:.8g}"]
        table.add_row(*cells, _status(check))
    if not verbose or console is None or _natural_width(table, console) <= console.width:
        return table
    folded = _table(FOLDED_COLUMNS + FOLDED_STATUS, result.graph)
    for check in result.checks:
        layer, type_, tensor, shape, abs_err, rel_err = _cells(check)
        folded.add_row(layer, type_, f"{tensor}\n{where_text(check)}", shape,
                       Text.assemble(abs_err, f"\n{check.analytic:.8g}"),
                       Text.assemble(rel_err, f"\n{check.numeric:.8g}"), _status(check))
    return folded


def _natural_width(table: Table, console: Console) -> int:
    """The table's width when nothing is folded (a console's own measure stops at its width)."""
    from rich.measure import Measurement
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def _cells(check: TensorCheck) -> list:
    style = None if check.passed else "red"
    return [place_text(check), short_type(check.type), check.tensor, shape_text(check.shape, "×"),
            Text(_number(check.max_abs_error), style=style), Text(_number(check.max_rel_error), style=style)]


def print_spec(console: Console, result: SpecResult, verbose: bool = False) -> None:
    result = escaped_result(result)  # a file name or a layer's message cannot move the cursor or recolor
    header = Text()
    header.append(result.path, style="bold")
    if result.name and not result.invalid:
        header.append(f"  {result.name}  {result.dtype}  ")
    else:
        header.append("  ")
    header.append(result.outcome, style=STYLE[result.outcome])
    if result.mode == "sample" and result.checks:
        checked = sum(c.checked for c in result.checks)
        total = sum(c.elements for c in result.checks)
        header.append(f"  sample mode: {checked:,} of {total:,} scalars", style="yellow")
    elif result.mode == "fast" and result.checks:
        header.append(f"  fast mode: {result.checks[0].directions} random directions per tensor", style="yellow")
    if not result.invalid:
        header.append(f"  ({result.seconds:.2f} s)", style="dim")
    console.print(header)
    if result.invalid:
        console.print(Text(f"  {result.error}", style="red"))
        return
    if result.error:
        console.print(Text(f"  error: {result.error}", style=STYLE[ERROR]))
        return
    console.print(spec_table(result, verbose, console))
    for check in result.checks:
        if not check.passed:
            console.print(Text(f"  {tensor_label(check)}: {what_is_off(check)}",
                               style="red"))
            if check.rel_errors is not None and check.elements > 1:
                console.print(heatmap(check, result.rtol or 1e-6))
    line = suspect_line(result)
    if line:
        console.print(Text(f"  → {line}", style="bold"))
    for likely in diagnosis_lines(result):
        console.print(Text(f"    {likely}", style="yellow"))
    for warning in warning_lines(result):
        console.print(Text(f"  {warning}", style="yellow"))
    reason = strict_reason(result)
    if reason:
        console.print(Text(f"  → {reason}", style=STYLE[FAILED]))
    if result.taylor_order is not None:
        console.print(Text(f"  Taylor test: the remainder shrinks like t^{result.taylor_order:.2f} "
                           "(2 for a correct gradient, 1 for a wrong one)", style="dim"))
    for note in result.notes:
        console.print(Text(f"  note: {note}", style="dim"))
    console.print()


def one_line(result: SpecResult) -> Text:
    """A spec in one line, for --quiet."""
    result = escaped_result(result)
    text = Text()
    if result.invalid:  # the error names the file (and line) itself: `spec.yaml:3: layers[0]...`
        text.append(result.error, style=STYLE[ERROR])
        return text
    text.append(f"{result.path}: ")
    text.append(result.outcome, style=STYLE[result.outcome])
    if len(result.seeds) > 1:  # --seeds N: which seed to reproduce it with
        text.append(f" at seed {result.seed}")
    if result.error:
        text.append(f": {result.error}")
    else:
        wrong = [short_label(c) for c in result.checks if not c.passed]
        if wrong:
            text.append(f": {', '.join(wrong)} off")
        if result.suspect_layer is not None:
            text.append(f"; suspect {suspect_place(result)}")
        if result.suspect_node is not None:
            text.append(f"; suspect node {result.suspect_node}")
        reason = strict_reason(result)
        if reason:
            text.append(f": {reason}")
        elif result.warnings:
            text.append(f"; {_count(len(result.warnings), 'warning')}")
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def summary_line(run: RunResult) -> Text:
    text = Text()
    total = len(run.specs)
    text.append(f"{total} spec{'s' if total != 1 else ''}: ")
    text.append(f"{run.count(PASSED)} passed", style=STYLE[PASSED] if run.count(PASSED) else None)
    text.append(", ")
    text.append(f"{run.count(FAILED)} failed", style=STYLE[FAILED] if run.count(FAILED) else None)
    text.append(", ")
    errors = run.count(ERROR)
    text.append(f"{errors} error{'s' if errors != 1 else ''}", style=STYLE[ERROR] if errors else None)
    warnings = sum(len(s.warnings) for s in run.specs)
    if warnings:  # a passing spec's warnings are not lost under -q
        text.append(", ")
        text.append(_count(warnings, "warning"), style="yellow")
    text.append(f" in {run.seconds:.2f} s")
    if run.interrupted:
        text.append(", interrupted", style="yellow")
    return text


def layers_table(layers: dict, losses: dict, gates: dict | None = None) -> Table:
    table = Table(header_style="bold", title="built-in layers, gates and losses" if gates else
                  "built-in layers and losses")
    for name in ("name", "kind", "options", "what it computes"):
        table.add_column(name, overflow="fold")
    for kind, registry in (("layer", layers), ("gate", gates or {}), ("loss", losses)):
        for name, builtin in registry.items():
            options = ", ".join(
                f"{key}" + ("" if o.required else f"={o.default}") for key, o in builtin.options.items()) or "—"
            table.add_row(name, kind, options, Text(builtin.summary))  # Text: "[t]" is not markup
    return table


class Progress:
    """A transient progress bar on an interactive terminal, once a run has taken a second (short
    runs never flash one); nothing when piped. Reports printed meanwhile appear above it."""

    DELAY_SECONDS = 1.0

    def __init__(self, console: Console, enabled: bool = True):
        import threading

        self.console = console
        self.enabled = enabled and console.is_terminal
        self._progress = None
        self._lock = threading.Lock()
        self._timer = None
        self._done = 0
        self._total = None

    def __enter__(self):
        if self.enabled:
            import threading
            self._timer = threading.Timer(self.DELAY_SECONDS, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _show(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress
        with self._lock:
            if self._timer is None:  # the run ended first
                return
            self._progress = RichProgress(SpinnerColumn(), TextColumn("checking"), BarColumn(), MofNCompleteColumn(),
                                          TimeElapsedColumn(), console=self.console, transient=True)
            self._task = self._progress.add_task("specs", total=self._total, completed=self._done)
            self._progress.start()

    def __exit__(self, *exc):
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._progress is not None:
                self._progress.stop()
        return False

    def set_total(self, total: int) -> None:
        with self._lock:
            self._total = total
            if self._progress is not None:
                self._progress.update(self._task, total=total)

    def print_spec(self, result: SpecResult, verbose: bool = False) -> None:
        print_spec(self.console, result, verbose)

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            if self._progress is not None:
                self._progress.advance(self._task)
