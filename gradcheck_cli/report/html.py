"""The terminal report as a self-contained HTML page (inline styles, no scripts, no fetches),
to attach to a CI run. Rendered by the console renderer itself, so the two cannot drift."""
from __future__ import annotations

import html
import io
from pathlib import Path

from ..results import RunResult

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gradcheck">
<title>{title}</title>
<style>
{{stylesheet}}
body {{{{ color: {{foreground}}; background-color: {{background}}; }}}}
</style>
</head>
<body>
<pre style="font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace"
><code style="font-family:inherit">{{code}}</code></pre>
</body>
</html>
"""


def html_report(run: RunResult, verbose: bool = False) -> str:
    from rich.console import Console

    from .console import print_spec, summary_line

    # Colors whatever NO_COLOR or the terminal say: the page is a file, not this terminal.
    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", no_color=False, highlight=False, legacy_windows=False)
    for spec in run.specs:
        print_spec(console, spec, verbose)
    console.print(summary_line(run))
    title = html.escape(f"gradcheck: {run.count('passed')} passed, {run.count('failed')} failed, "
                        f"{run.count('error')} errors", quote=False)
    return console.export_html(inline_styles=True, code_format=PAGE.format(title=title))


def write_html(run: RunResult, path: str, verbose: bool = False) -> None:
    """Write the page to `path`, atomically: a reader never sees half a file."""
    from .files import write_atomically

    write_atomically(Path(path), html_report(run, verbose))
