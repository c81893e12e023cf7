"""One spec's terminal report for the Python API: as plain text (`str(result)`, the message of
`assert_gradients`) and as rich renderables (`rich.print(result)`). Drawn by the console renderer
itself, so the three cannot drift."""
from __future__ import annotations

import io

WIDTH = 120


def render(result, width: int = WIDTH, color_system: str | None = None) -> str:
    """The report as `gradcheck run` prints it; ANSI styles only when a color system is given."""
    from rich.console import Console

    from .console import print_spec

    # Every setting explicit: neither the environment (FORCE_COLOR, NO_COLOR, COLUMNS) nor a Jupyter
    # kernel (where rich would display instead of writing to the file) may change the text.
    console = Console(file=io.StringIO(), width=width, color_system=color_system,
                      force_terminal=color_system is not None, force_jupyter=False, force_interactive=False,
                      no_color=color_system is None, highlight=False, emoji=False, legacy_windows=False)
    print_spec(console, result)
    return console.file.getvalue()


def plain_text(result) -> str:
    lines = [line.rstrip() for line in render(result).splitlines()]
    return "\n".join(lines).strip("\n")


def rich_renderables(result, console, options):
    from rich.text import Text

    color_system = console.color_system
    if color_system == "windows":  # a legacy Windows console: plain ANSI is what Text.from_ansi reads
        color_system = "standard"
    yield Text.from_ansi(render(result, options.max_width, color_system).rstrip("\n"))
