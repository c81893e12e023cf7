"""The heatmap under a failing tensor: its relative error per element as colored cells. A
4-D (N, C, H, W) tensor is shown as a small (h, w) map per sample and channel, a 3-D (N, T, D)
one as an (n, d) map per time step: the worst maps first, at most MAX_MAPS."""
from __future__ import annotations

from rich.text import Text

from ..results import TensorCheck

HEAT_ROWS, HEAT_COLUMNS = 12, 40
MAP_ROWS, MAP_COLUMNS = 8, 16  # one of several maps is smaller
MAX_MAPS = 8
MAPS_WIDTH = 100               # maps side by side up to this many characters
# (relative error / rtol up to, color, glyph, label): darker glyphs for worse cells, so the
# picture reads without color too (NO_COLOR, a plain log).
HEAT_LEVELS = ((1.0, "green", "░░", "≤ rtol"), (10.0, "yellow", "▒▒", "≤ 10·rtol"),
               (1e3, "dark_orange", "▓▓", "≤ 1000·rtol"), (float("inf"), "red", "██", "more"))


def _pool(values, rows: int, columns: int):
    """Shrink a 2-D array to at most rows x columns cells, each the max of its block."""
    import numpy as np

    r_edges = np.linspace(0, values.shape[0], min(rows, values.shape[0]) + 1).astype(int)
    c_edges = np.linspace(0, values.shape[1], min(columns, values.shape[1]) + 1).astype(int)
    return np.array([[values[r0:r1, c0:c1].max() for c0, c1 in zip(c_edges, c_edges[1:])]
                     for r0, r1 in zip(r_edges, r_edges[1:])])


def _cells(text: Text, row, scale: float) -> None:
    for value in row:
        _, color, glyph, _ = next(level for level in HEAT_LEVELS if value / scale <= level[0])
        text.append(glyph, style=color)


def _legend(text: Text) -> None:
    text.append("    relative error: ", style="dim")
    for _, color, glyph, label in HEAT_LEVELS:
        text.append(glyph, style=color)
        text.append(f" {label}  ", style="dim")


def _block_note(values, pooled) -> str | None:
    if pooled.shape == values.shape:
        return None
    return (f"each cell: the worst of a block of about {values.shape[0] / pooled.shape[0]:.0f} × "
            f"{values.shape[1] / pooled.shape[1]:.0f} elements")


def heatmap(check: TensorCheck, rtol: float) -> Text:
    """Relative error per element, one colored cell each (blocks of elements for big tensors),
    so that a transposed W, one wrong row, channel or time step shows at a glance."""
    import numpy as np

    values = np.asarray(check.rel_errors)
    if values.ndim in (3, 4) and values[0].size > 1:
        return _maps(check, values, rtol)
    values = np.atleast_2d(values)
    values = values.reshape(values.shape[0], -1) if values.ndim > 2 else values
    pooled = _pool(values, HEAT_ROWS, HEAT_COLUMNS)
    text = Text()
    note = _block_note(values, pooled)
    if note:
        text.append(f"    ({note})\n", style="dim")
    scale = max(rtol, 1e-300)
    for row in pooled:
        text.append("    ")
        _cells(text, row, scale)
        text.append("\n")
    _legend(text)
    return text


def _slices(check: TensorCheck, values) -> tuple[list[tuple[str, object]], str]:
    """(caption, 2-D map) for every map of a 3-D or 4-D tensor, and what a map and a cell are."""
    if values.ndim == 4:
        n, c = ("n", "c") if check.tensor == "input" else ("i", "j")
        maps = [(f"{n}={i} {c}={j}", values[i, j]) for i in range(values.shape[0]) for j in range(values.shape[1])]
        what = ("each map: one sample n and channel c, a cell per (h, w)" if check.tensor == "input" else
                f"each map: {check.tensor}[i, j, :, :], a cell per element")
        return maps, what
    t = "t" if check.tensor == "input" else "j"
    maps = [(f"{t}={j}", values[:, j, :]) for j in range(values.shape[1])]
    what = ("each map: one time step t, a row per sample n, a column per feature d" if check.tensor == "input" else
            f"each map: {check.tensor}[:, j, :], a row per i, a column per k")
    return maps, what


def _maps(check: TensorCheck, values, rtol: float) -> Text:
    import numpy as np

    maps, what = _slices(check, values)
    order = sorted(range(len(maps)), key=lambda i: -float(np.max(maps[i][1])))  # stable: ties in index order
    shown = [maps[i] for i in order[:MAX_MAPS]]
    pooled = [(caption, _pool(np.atleast_2d(grid), MAP_ROWS, MAP_COLUMNS)) for caption, grid in shown]
    width = max(max(len(caption), 2 * grid.shape[1]) for caption, grid in pooled)
    per_line = max(1, min(len(pooled), (MAPS_WIDTH - 4) // (width + 3)))
    scale = max(rtol, 1e-300)
    text = Text()
    off = sum(float(np.max(grid)) > scale for _, grid in maps)
    count = f"{off} of {len(maps)} maps above rtol; " + \
        ("all shown" if len(maps) <= MAX_MAPS else f"the {MAX_MAPS} worst shown") + ", the worst first"
    text.append(f"    ({what}; {count}", style="dim")
    note = _block_note(np.atleast_2d(shown[0][1]), pooled[0][1])
    text.append(f"; {note})\n" if note else ")\n", style="dim")
    for start in range(0, len(pooled), per_line):
        group = pooled[start:start + per_line]
        text.append("    " + "   ".join(caption.ljust(width) for caption, _ in group).rstrip() + "\n")
        for r in range(max(grid.shape[0] for _, grid in group)):
            text.append("    ")
            for k, (_, grid) in enumerate(group):
                if r < grid.shape[0]:
                    _cells(text, grid[r], scale)
                    pad = width - 2 * grid.shape[1]
                else:
                    pad = width
                if k + 1 < len(group):
                    text.append(" " * (pad + 3))
            text.append("\n")
    _legend(text)
    return text
