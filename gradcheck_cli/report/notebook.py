"""One spec as HTML for Jupyter (`SpecResult._repr_html_`): a table of the checks with the
outcomes in color, then what is off, the suspect layer, warnings and notes. Inline styles only (a
notebook keeps no stylesheet of ours), every user string escaped."""
from __future__ import annotations

from html import escape

from .console import short_type
from .wording import diagnosis_lines, place_text, shape_text, suspect_line, tensor_label, what_is_off
from ..results import ERROR, FAILED, PASSED, SpecResult, TensorCheck

COLORS = {PASSED: "#1a7f37", FAILED: "#cf222e", ERROR: "#8250df"}
KINK_COLOR = "#9a6700"
NOTE_COLOR = "#57606a"
CELL = "padding:2px 8px;border-bottom:1px solid #d0d7de"
COLUMNS = (("layer", "right"), ("type", "left"), ("tensor", "left"), ("shape", "left"),
           ("max abs err", "right"), ("max rel err", "right"), ("status", "left"))


def _colored(text: str, color: str, bold: bool = True) -> str:
    weight = "font-weight:bold;" if bold else ""
    return f'<span style="color:{color};{weight}">{escape(text)}</span>'


def _line(text: str, color: str | None = None) -> str:
    style = f' style="margin:2px 0;color:{color}"' if color else ' style="margin:2px 0"'
    return f"<p{style}>{escape(text)}</p>"


def _status(check: TensorCheck) -> str:
    if not check.passed:
        return _colored("FAILED", COLORS[FAILED])
    if check.kinks:
        return _colored(f"kinks {check.kinks}", KINK_COLOR, bold=False)
    return _colored("passed", COLORS[PASSED], bold=False)


def _columns(result: SpecResult):
    """A graph spec's rows are named by node."""
    return ((("node", "left"),) + COLUMNS[1:]) if result.graph else COLUMNS


def _row(check: TensorCheck, columns=COLUMNS) -> str:
    error_color = None if check.passed else COLORS[FAILED]
    cells = [place_text(check), short_type(check.type), check.tensor, shape_text(check.shape, "×"),
             f"{check.max_abs_error:.2e}", f"{check.max_rel_error:.2e}"]
    html = [escape(cell) if i < 4 or error_color is None else _colored(cell, error_color, bold=False)
            for i, cell in enumerate(cells)] + [_status(check)]
    return "<tr>" + "".join(f'<td style="{CELL};text-align:{align}">{cell}</td>'
                            for cell, (_, align) in zip(html, columns)) + "</tr>"


def _header(result: SpecResult) -> str:
    parts = [f"<b>{escape(result.name or result.path)}</b>", escape(result.dtype), _colored(result.outcome,
                                                                                             COLORS[result.outcome])]
    if result.mode == "sample" and result.checks:
        checked, total = sum(c.checked for c in result.checks), sum(c.elements for c in result.checks)
        parts.append(_colored(f"sample mode: {checked:,} of {total:,} scalars", KINK_COLOR, bold=False))
    elif result.mode == "fast" and result.checks:
        parts.append(_colored(f"fast mode: {result.checks[0].directions} random directions per tensor",
                              KINK_COLOR, bold=False))
    parts.append(_colored(f"({result.seconds:.2f} s)", NOTE_COLOR, bold=False))
    return '<p style="margin:2px 0">' + " &nbsp;".join(parts) + "</p>"


def spec_html(result: SpecResult) -> str:
    html = ['<div class="gradcheck-result">', _header(result)]
    if result.error:
        html.append(_line(result.error if result.invalid else f"error: {result.error}", COLORS[ERROR]))
    else:
        head = "".join(f'<th style="{CELL};text-align:{align}">{escape(name)}</th>' for name, align in _columns(result))
        html.append(f'<table style="border-collapse:collapse;font-family:monospace"><thead><tr>{head}</tr></thead>'
                    f'<tbody>{"".join(_row(check, _columns(result)) for check in result.checks)}</tbody></table>')
    for check in result.checks:
        if not check.passed:
            html.append(_line(f"{tensor_label(check)}: {what_is_off(check)}",
                              COLORS[FAILED]))
    suspect = suspect_line(result)
    if suspect:
        html.append(f'<p style="margin:2px 0"><b>→ {escape(suspect)}</b></p>')
    html += [_line(likely, KINK_COLOR) for likely in diagnosis_lines(result)]
    for warning in result.warnings:
        where = f"layer {warning.layer} " if warning.layer is not None else \
            f"node {warning.node} " if warning.node is not None else ""
        html.append(_line(f"warning: {where}({warning.kind}): {warning.message}", KINK_COLOR))
    if result.taylor_order is not None:
        html.append(_line(f"Taylor test: the remainder shrinks like t^{result.taylor_order:.2f} "
                          "(2 for a correct gradient, 1 for a wrong one)", NOTE_COLOR))
    html += [_line(f"note: {note}", NOTE_COLOR) for note in result.notes]
    return "\n".join(html + ["</div>"])
