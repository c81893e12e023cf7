"""What `gradcheck run --watch` shows: every spec's latest report, drawn again after each run. On
a terminal the screen is cleared and the report drawn in its place; in a pipe or a log, each
run's report follows a separator line naming the file(s) whose change started it."""
from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from . import console as report_console
from .terminal import escape_controls
from ..results import PASSED


def shown_file(path: Path) -> str:
    """A changed file as a user reads it: relative to the current folder when below it."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


def changed_text(changed: list[Path]) -> str:
    names = [shown_file(path) for path in changed]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return escape_controls(f"{shown} changed")


class WatchView:
    def __init__(self, console: Console, quiet: bool = False, verbose: bool = False):
        self.console, self.quiet, self.verbose = console, quiet, verbose
        self.redraw = console.is_terminal

    def checking(self, changed: list[Path], stale: list[str]) -> None:
        """Before a run: which change started it (nothing before the first run)."""
        if not changed:
            return
        count = f"{len(stale)} spec{'s' if len(stale) != 1 else ''}"
        line = f"{changed_text(changed)}: checking {count} again"
        if self.redraw:
            self.console.print(Text(line, style="dim"))
        else:
            self.console.print(Text(f"──── {line} " + "─" * 8, style="bold"))

    def show(self, number: int, changed: list[Path], checked: list[str], run) -> None:
        """Every spec's latest report and the summary line (on a terminal, in place of the last)."""
        if self.redraw:
            self.console.clear()
            when = time.strftime("%H:%M:%S")
            self.console.print(Text(f"gradcheck --watch, run {number} at {when}"
                                    + (f": {changed_text(changed)}" if changed else ""), style="dim"))
        for spec in run.specs:
            if not self.quiet:
                report_console.print_spec(self.console, spec, self.verbose)
            elif spec.outcome != PASSED:
                self.console.print(report_console.one_line(spec))
        summary = report_console.summary_line(run)
        if changed:
            summary.append(f"; {len(checked)} checked again", style="dim")
        self.console.print(summary)

    def watching(self, files: int) -> None:
        self.console.print(Text(f"watching {files} file{'s' if files != 1 else ''} for changes (Ctrl-C ends)",
                                style="dim"))
        self.console.file.flush()  # in a pipe (| tee log), each run is seen as it ends
