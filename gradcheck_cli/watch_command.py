"""`gradcheck run --watch`: the command's side of run/watching.py. The report is drawn after every
run (report/watch_view.py) and the report files are written again (only over an earlier report,
as report/files.py writes them). Ctrl-C (or SIGTERM) ends it: 130 (143), no traceback; a run
it cuts short leaves the report files as the last whole run wrote them."""
from __future__ import annotations

import os
from pathlib import Path

# Tests end the watch after this many runs (the exit code then is the last run's).
RUNS_VARIABLE = "GRADCHECK_WATCH_RUNS"


def watch_command(paths: list[str], options, targets: dict[str, str], console, errors, quiet: bool,
                  verbose: bool) -> int:
    """Watch until stopped; returns the exit code. `targets`: the checked report files
    (report.files.check_report_targets); `console`, `errors`: cli.py's, on standard output and error."""
    from .report.terminal import escape_controls
    from .spec.stdin import STDIN
    problem = ("--watch: standard input (-) cannot be watched; give spec files or folders" if STDIN in paths else
               "--json - cannot go with --watch (a JSON document on standard output per run); give a file name"
               if targets.get("--json") == "-" else None)
    try:
        import watchfiles  # noqa: F401  (a dependency; said plainly if it is missing)
    except ImportError:
        problem = problem or "--watch needs the watchfiles package: pip install watchfiles"
    if problem:
        errors.print(escape_controls(problem), style="red", markup=False)
        return 2

    from .report.console import Progress
    from .report.files import write_reports
    from .report.watch_view import WatchView
    from .run.batch import Interrupted, run
    from .run.signals import reports_held
    from .run.watching import watch

    view = WatchView(console, quiet, verbose)
    runs = int(os.environ.get(RUNS_VARIABLE) or 0) or None
    codes: list[int] = []

    def check(stale: list[str], run_options):
        progress = Progress(console, enabled=not quiet)
        with progress:
            return run(stale, run_options, on_result=lambda _: progress.advance(), on_start=progress.set_total)

    def shown(rerun) -> None:
        view.show(rerun.number, rerun.changed, rerun.checked, rerun.result)
        held = reports_held()  # a signal while the reports are written is remembered, then ends the watch
        codes.append(write_reports(rerun.result, targets, rerun.result.exit_code, console, errors))
        if runs is None or rerun.number < runs:
            view.watching(rerun.watched)
        if held.signum is not None:
            raise KeyboardInterrupt
        held.raising = True  # watching again: Ctrl-C ends it

    ignored = {Path(target) for target in targets.values() if target != "-"}  # a report written is no change
    try:
        watch(paths, options, shown, on_checking=view.checking, run_specs=check, runs=runs, ignored=ignored)
    except Interrupted as stop:
        said = ": the report files hold the last whole run" if codes else ": no report file written"
        said = said if targets else ""
        console.print(f"{stop.reason}{said}", style="yellow")
        return stop.code
    except KeyboardInterrupt:
        console.print("stopped watching", style="dim")
        return reports_held().code or 130
    return codes[-1] if codes else 0
