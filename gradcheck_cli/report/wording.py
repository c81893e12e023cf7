"""The sentences every report shares (console, JUnit, HTML, the pytest plugin): what is off in
a tensor, which layer is the suspect, why a spec failed. Plain strings, no rich."""
from __future__ import annotations

from ..results import FAILED, PASSED, SpecResult, TensorCheck


def shape_text(shape, times: str = "x") -> str:
    """`4x3` in plain text (JUnit, logs); the terminal passes times="×"."""
    return times.join(map(str, shape)) if shape else "scalar"


def index_text(index) -> str:
    return "[" + ", ".join(map(str, index)) + "]"


def where_text(check: TensorCheck) -> str:
    """The worst element, or in fast mode the worst of the random directions."""
    return f"direction {check.worst_index[0]}" if check.directions else index_text(check.worst_index)


def what_is_off(check: TensorCheck) -> str:
    """`3 of 20 elements off; worst [1, 2]: analytic .., numeric ..` (or of the random directions)."""
    if check.directions:
        return (f"{check.mismatches} of {check.directions} random directions off; worst {where_text(check)}: "
                f"<grad, v> {check.analytic:.6g}, directional difference {check.numeric:.6g}")
    counted = f"{check.checked:,} sampled" if check.checked < check.elements else f"{check.elements:,}"
    return (f"{check.mismatches} of {counted} elements off; worst {where_text(check)}: analytic {check.analytic:.6g}, "
            f"numeric {check.numeric:.6g}")


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
        # a parameter forward does not read is forward's mistake (the `forward` diagnosis), not backward's
        blamed = {"forward": [], "backward": []}
        for check in lc.checks:
            if not check.passed:
                in_forward = check.diagnosis is not None and check.diagnosis.kind == "forward"
                blamed["forward" if in_forward else "backward"].append(check.tensor)
        said = [f"{where} wrong for {_and(tensors)}" for where, tensors in blamed.items() if tensors]
        parts.append(f"layer {lc.layer} ({lc.type}): {' and '.join(said[::-1])}")
    if right:
        parts.append(f"layer{'s' if len(right) > 1 else ''} {', '.join(right)} correct")
    return "; ".join(parts)


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def diagnosis_lines(result: SpecResult) -> list[str]:
    """`likely: factor in layer 0 b (95%): analytic = 0.2 × numeric ...`, one per diagnosed tensor
    of the layers that are wrong alone."""
    return [f"likely: {c.diagnosis.kind} in layer {c.layer} {c.tensor} ({c.diagnosis.confidence:.0%}): "
            f"{c.diagnosis.detail}" for lc in result.layer_checks for c in lc.checks if c.diagnosis]


def failing_tensors(result: SpecResult) -> list[TensorCheck]:
    return [c for c in result.checks if not c.passed]


def failure_message(result: SpecResult) -> str:
    """`2 tensors off: layer 1 (tanh) input, layer 2 (./layers.py:Swish) beta`."""
    wrong = failing_tensors(result)
    if not wrong:  # failed without a failing tensor: strict mode, else it should not happen
        return strict_reason(result) or suspect_line(result) or "gradients do not match"
    named = ", ".join(f"layer {c.layer} ({c.type}) {c.tensor}" for c in wrong)
    return f"{len(wrong)} tensor{'s' if len(wrong) != 1 else ''} off: {named}"


def tensor_line(check: TensorCheck) -> str:
    """One failing tensor: where, how far off, and the worst element's two values."""
    return (f"layer {check.layer} ({check.type}) {check.tensor}  shape {shape_text(check.shape)}  "
            f"max abs err {check.max_abs_error:.2e}  max rel err {check.max_rel_error:.2e}  "
            f"{what_is_off(check)}")


def tolerance_text(result: SpecResult) -> str:
    parts = [result.dtype]
    if result.rtol is not None:
        parts.append(f"rtol {result.rtol:g}")
    if result.atol is not None:
        parts.append(f"atol {result.atol:g}")
    return ", ".join(parts)


def failure_details(result: SpecResult) -> list[str]:
    """The lines that explain a failed spec: a tensor per line, then the suspect layer, what its
    mistake likely is, warnings and notes."""
    lines = [tensor_line(c) for c in failing_tensors(result)]
    line = suspect_line(result)
    if line:
        lines.append(f"suspect: {line}")
    lines += diagnosis_lines(result)
    lines += warning_lines(result)
    lines += [f"note: {note}" for note in result.notes]
    return lines


def warning_lines(result: SpecResult) -> list[str]:
    """`warning: layer 1 (./layers.py:ReLU): backward wrote into the grad_out array ...`, one per warning."""
    return [f"warning: {w.message}" for w in result.warnings]


def strict_reason(result: SpecResult) -> str | None:
    """Why a spec whose gradients all match failed: strict mode, and its warnings. (Otherwise a
    spec fails only with a tensor off, so no flag is needed to tell.)"""
    if result.outcome != FAILED or not result.warnings or failing_tensors(result):
        return None
    count = len(result.warnings)
    kinds = ", ".join(dict.fromkeys(w.kind for w in result.warnings))
    return (f"every gradient matches, but strict mode fails a spec with any warning: {count} "
            f"warning{'s' if count != 1 else ''} ({kinds})")
