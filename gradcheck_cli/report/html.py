"""The terminal report as a self-contained HTML page (inline styles, no scripts, no fetches),
to attach to a CI run. Rendered by the console renderer itself, so the two cannot drift."""
from __future__ import annotations

import html
import io
from pathlib import Path

from ..results import RunResult

PAGE_COLUMNS = 200  # the width tables are laid out in; longer lines run on, unfolded

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
pre {{{{ white-space: pre; overflow-x: auto; max-width: none; margin: 0; }}}}
</style>
</head>
<body>
<pre style="font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace;white-space:pre"
><code style="font-family:inherit;white-space:pre">{{code}}</code></pre>
</body>
</html>
"""


def html_report(run: RunResult, verbose: bool = False) -> str:
    from rich.console import Console

    from .console import print_spec, summary_line

    # Colors whatever NO_COLOR or the terminal say: the page is a file, not this terminal. A page
    # scrolls sideways, so it is as wide as a log (every -v column on one line) and no message is
    # folded (soft_wrap): a browser window shows what fits and scrolls to the rest.
    console = Console(record=True, width=PAGE_COLUMNS, file=io.StringIO(), force_terminal=True, soft_wrap=True,
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
