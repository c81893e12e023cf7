"""The terminal report: a table per spec, what is wrong and where, and a summary line."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .results import ERROR, FAILED, PASSED, RunResult, SpecResult, TensorCheck

STYLE = {PASSED: "green", FAILED: "bold red", ERROR: "bold magenta"}
KINK_STYLE = "yellow"


def _shape(shape) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


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


def spec_table(result: SpecResult) -> Table:
    table = Table(header_style="bold")
    for name, justify in (("layer", "right"), ("type", "left"), ("tensor", "left"), ("shape", "left"),
                          ("max abs err", "right"), ("max rel err", "right"), ("status", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for check in result.checks:
        style = None if check.passed else "red"
        table.add_row(str(check.layer), short_type(check.type), check.tensor, _shape(check.shape),
                      Text(_number(check.max_abs_error), style=style),
                      Text(_number(check.max_rel_error), style=style), _status(check))
    return table


def _index(index) -> str:
    return "[" + ", ".join(map(str, index)) + "]"


def suspect_line(result: SpecResult) -> str | None:
    """`layer 2 (./layers.py:Swish): backward wrong for input and beta; layers 0, 1, 3 correct`."""
    if not result.layer_checks:
        return None
    wrong = [lc for lc in result.layer_checks if lc.outcome != PASSED]
    right = [str(lc.layer) for lc in result.layer_checks if lc.outcome == PASSED]
    if not wrong:
        return ("every layer's backward is right on its own; the mismatch comes from how they are "
                "combined (a layer that depends on state from another call?)")
    parts = []
    for lc in wrong:
        tensors = lc.wrong_tensors
        named = ", ".join(tensors[:-1]) + f" and {tensors[-1]}" if len(tensors) > 1 else tensors[0]
        parts.append(f"layer {lc.layer} ({lc.type}): backward wrong for {named}")
    if right:
        parts.append(f"layer{'s' if len(right) > 1 else ''} {', '.join(right)} correct")
    return "; ".join(parts)


def print_spec(console: Console, result: SpecResult, verbose: bool = False) -> None:
    header = Text()
    header.append(result.path, style="bold")
    if result.name and not result.invalid:
        header.append(f"  {result.name}  {result.dtype}  ")
    else:
        header.append("  ")
    header.append(result.outcome, style=STYLE[result.outcome])
    if not result.invalid:
        header.append(f"  ({result.seconds:.2f} s)", style="dim")
    console.print(header)
    if result.invalid:
        console.print(Text(f"  {result.error}", style="red"))
        return
    if result.error:
        console.print(Text(f"  error: {result.error}", style=STYLE[ERROR]))
        return
    console.print(spec_table(result))
    for check in result.checks:
        if not check.passed:
            console.print(Text(
                f"  layer {check.layer} ({check.type}) {check.tensor}: {check.mismatches} of {check.elements} "
                f"elements off; worst {_index(check.worst_index)}: analytic {check.analytic:.6g}, "
                f"numeric {check.numeric:.6g}", style="red"))
    line = suspect_line(result)
    if line:
        console.print(Text(f"  → {line}", style="bold"))
    for note in result.notes:
        console.print(Text(f"  note: {note}", style="dim"))
    console.print()


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
    text.append(f" in {run.seconds:.2f} s")
    return text
