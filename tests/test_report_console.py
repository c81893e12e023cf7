"""The terminal report's pictures: heatmaps of relative error, and the suspect line."""
from __future__ import annotations

import numpy as np

from gradcheck_cli.report.heatmap import HEAT_COLUMNS, HEAT_LEVELS, HEAT_ROWS, heatmap
from gradcheck_cli.report.wording import suspect_line
from gradcheck_cli.results import LayerCheck, SpecResult, TensorCheck

GLYPHS = {color: glyph for _, color, glyph, _ in HEAT_LEVELS}


def _check(rel_errors) -> TensorCheck:
    rel_errors = np.asarray(rel_errors, dtype=float)
    return TensorCheck(layer=1, type="x.py:Affine", tensor="W", shape=rel_errors.shape, max_abs_error=1.0,
                       max_rel_error=float(rel_errors.max()), worst_index=(0, 1), analytic=1.0, numeric=2.0,
                       outcome="failed", elements=rel_errors.size, mismatches=1, rel_errors=rel_errors)


def _cell_styles(text) -> list[list[str]]:
    """The color of each cell, row by row, read back from the rendered Text."""
    rows, row = [], []
    for span in text.spans:
        cell = text.plain[span.start:span.end]
        if cell in GLYPHS.values():
            row.append(str(span.style))
            assert cell == GLYPHS[str(span.style)], "each color has its own glyph, for plain logs"
        if text.plain[span.end:span.end + 1] == "\n" and row:
            rows.append(row)
            row = []
    return rows


def test_a_transposed_square_matrix_shows_its_diagonal():
    """W used without its transpose is right on the diagonal only: the picture shows it."""
    rel = np.full((4, 4), 0.5)
    np.fill_diagonal(rel, 1e-9)
    rows = _cell_styles(heatmap(_check(rel), rtol=1e-6))
    assert len(rows) == 4
    assert [[style == "green" for style in row] for row in rows] == np.eye(4, dtype=bool).tolist()
    assert all(style in ("green", "red") for row in rows for style in row)


def test_one_wrong_row_is_one_red_row():
    rel = np.full((5, 3), 1e-10)
    rel[2] = 0.3
    rows = _cell_styles(heatmap(_check(rel), rtol=1e-6))
    assert [set(row) for row in rows] == [{"green"}, {"green"}, {"red"}, {"green"}, {"green"}]


def test_the_picture_reads_without_color():
    """NO_COLOR or a plain CI log: the glyphs alone tell a wrong row from the right ones."""
    rel = np.full((3, 4), 1e-10)
    rel[1] = 0.3
    rel[2, 0] = 5e-6
    picture = heatmap(_check(rel), rtol=1e-6).plain.splitlines()
    assert [line.strip() for line in picture[:3]] == ["░░" * 4, "██" * 4, "▒▒" + "░░" * 3]


def test_a_big_tensor_is_summarised_by_the_worst_of_each_block():
    rel = np.full((100, 300), 1e-10)
    rel[57, 201] = 1.0
    text = heatmap(_check(rel), rtol=1e-6)
    rows = _cell_styles(text)
    assert len(rows) == HEAT_ROWS and all(len(row) == HEAT_COLUMNS for row in rows)
    assert sum(style == "red" for row in rows for style in row) == 1
    assert "each cell: the worst of a block" in text.plain


def test_suspect_line_names_the_layer_and_the_correct_ones():
    def alone(layer, wrong):
        checks = [_check([[1e-9]]) for _ in wrong]
        for check, name in zip(checks, wrong):
            check.tensor = name
        return LayerCheck(layer, "x.py:Swish" if wrong else "linear", "failed" if wrong else "passed", checks)

    result = SpecResult(path="s.yaml", name="s", outcome="failed",
                        layer_checks=[alone(0, []), alone(1, []), alone(2, ["input", "beta"]), alone(3, [])])
    assert suspect_line(result) == "layer 2 (x.py:Swish): backward wrong for input and beta; layers 0, 1, 3 correct"


def _tensor(rel_errors, tensor="input") -> TensorCheck:
    check = _check(rel_errors)
    check.tensor = tensor
    return check


def test_an_image_batch_is_one_small_map_per_sample_and_channel():
    """(N, C, H, W): a map of (h, w) per (n, c), the worst first; the legend says what a map is."""
    rel = np.full((2, 3, 2, 3), 1e-10)
    rel[1, 2] = 0.5          # sample 1, channel 2: all wrong
    rel[0, 1, 0, 0] = 5e-6   # one cell a little off
    assert heatmap(_tensor(rel), rtol=1e-6).plain.splitlines() == [
        "    (each map: one sample n and channel c, a cell per (h, w); 2 of 6 maps above rtol; all shown, the worst "
        "first)",
        "    n=1 c=2   n=0 c=1   n=0 c=0   n=0 c=2   n=1 c=0   n=1 c=1",
        "    ██████    ▒▒░░░░    ░░░░░░    ░░░░░░    ░░░░░░    ░░░░░░",
        "    ██████    ░░░░░░    ░░░░░░    ░░░░░░    ░░░░░░    ░░░░░░",
        "    relative error: ░░ ≤ rtol  ▒▒ ≤ 10·rtol  ▓▓ ≤ 1000·rtol  ██ more  ",
    ]


def test_a_sequence_is_one_map_per_time_step():
    """(N, T, D): backpropagation through time cut short shows as the early steps in red."""
    rel = np.full((3, 4, 2), 1e-10)
    rel[:, :3] = 0.3
    assert heatmap(_tensor(rel), rtol=1e-6).plain.splitlines() == [
        "    (each map: one time step t, a row per sample n, a column per feature d; 3 of 4 maps above rtol; all "
        "shown, the worst first)",
        "    t=0    t=1    t=2    t=3",
        "    ████   ████   ████   ░░░░",
        "    ████   ████   ████   ░░░░",
        "    ████   ████   ████   ░░░░",
        "    relative error: ░░ ≤ rtol  ▒▒ ≤ 10·rtol  ▓▓ ≤ 1000·rtol  ██ more  ",
    ]


def test_at_most_eight_maps_the_worst_first():
    rel = np.full((2, 6, 1, 2), 1e-10)   # a parameter of 12 maps (a conv weight's (F, C, kh, kw))
    rel[1, 4, 0, 1] = 1.0
    rel[0, 2, 0, 0] = 1e-4
    rel[1, 1] = 5e-6
    assert heatmap(_tensor(rel, "W"), rtol=1e-6).plain.splitlines() == [
        "    (each map: W[i, j, :, :], a cell per element; 3 of 12 maps above rtol; the 8 worst shown, the worst "
        "first)",
        "    i=1 j=4   i=0 j=2   i=1 j=1   i=0 j=0   i=0 j=1   i=0 j=3   i=0 j=4   i=0 j=5",
        "    ░░██      ▓▓░░      ▒▒▒▒      ░░░░      ░░░░      ░░░░      ░░░░      ░░░░",
        "    relative error: ░░ ≤ rtol  ▒▒ ≤ 10·rtol  ▓▓ ≤ 1000·rtol  ██ more  ",
    ]


def test_big_maps_wrap_and_are_pooled():
    rel = np.full((1, 3, 30, 30), 1e-10)
    rel[0, 2, 12, 7] = 1.0
    lines = heatmap(_tensor(rel), rtol=1e-6).plain.splitlines()
    assert lines[0].endswith("; each cell: the worst of a block of about 4 × 2 elements)")
    assert lines[1].split() == ["n=0", "c=2", "n=0", "c=0"]       # two 32-character maps side by side
    assert sum(line.count("██") for line in lines[2:-1]) == 1
    assert all(len(line) <= 100 for line in lines[1:-1])  # the maps fit in 100 columns
