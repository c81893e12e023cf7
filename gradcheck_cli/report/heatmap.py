"""The heatmap under a failing tensor: its relative error per element as colored cells."""
from __future__ import annotations

from rich.text import Text

from ..results import TensorCheck

HEAT_ROWS, HEAT_COLUMNS = 12, 40
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


def heatmap(check: TensorCheck, rtol: float) -> Text:
    """Relative error per element, one colored cell each (blocks of elements for big tensors),
    so that a transposed W or one wrong row shows at a glance."""
    import numpy as np

    values = np.atleast_2d(np.asarray(check.rel_errors))
    values = values.reshape(values.shape[0], -1) if values.ndim > 2 else values
    pooled = _pool(values, HEAT_ROWS, HEAT_COLUMNS)
    text = Text()
    if pooled.shape != values.shape:
        text.append(f"    (each cell: the worst of a block of about {values.shape[0] / pooled.shape[0]:.0f} × "
                    f"{values.shape[1] / pooled.shape[1]:.0f} elements)\n", style="dim")
    scale = max(rtol, 1e-300)
    for row in pooled:
        text.append("    ")
        for value in row:
            _, color, glyph, _ = next(level for level in HEAT_LEVELS if value / scale <= level[0])
            text.append(glyph, style=color)
        text.append("\n")
    text.append("    relative error: ", style="dim")
    for _, color, glyph, label in HEAT_LEVELS:
        text.append(glyph, style=color)
        text.append(f" {label}  ", style="dim")
    return text
