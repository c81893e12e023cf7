"""The sentences every report shares (console, JUnit, HTML, the pytest plugin): what is off in
a tensor, which layer is the suspect, why a spec failed. Plain strings, no rich."""
from __future__ import annotations

from ..results import FAILED, PASSED, LayerCheck, SpecResult, TensorCheck


def shape_text(shape, times: str = "x") -> str:
    """`4x3` in plain text (JUnit, logs); the terminal passes times="×"."""
    return times.join(map(str, shape)) if shape else "scalar"


def index_text(index) -> str:
    return "[" + ", ".join(map(str, index)) + "]"


def where_text(check: TensorCheck) -> str:
    """The worst element, or in fast mode the worst of the random directions."""
    return f"direction {check.worst_index[0]}" if check.directions else index_text(check.worst_index)


def tensor_label(check: TensorCheck) -> str:
    """`layer 1 (tanh) input` in a stack spec (`loss (./l.py:svm_loss) input` for a custom loss's
    own row); `h.out (tanh)`, `a.W (linear)` in a graph spec."""
    if check.layer is None and check.node is not None:
        return f"{check.node}.{check.tensor} ({check.type})"
    return f"{place(check)} {check.tensor}"


def short_label(check: TensorCheck) -> str:
    """`layer 1 input` (a stack), `h.out` (a graph): the one-line summary's names."""
    if check.node == "loss":
        return f"loss {check.tensor}"
    return f"{check.node}.{check.tensor}" if check.layer is None and check.node is not None else \
        f"layer {check.layer} {check.tensor}"


def place_text(check: TensorCheck) -> str:
    """The table's first column: the layer index of a stack, the node of a graph."""
    return str(check.layer) if check.layer is not None or check.node is None else check.node


def what_is_off(check: TensorCheck) -> str:
    """`3 of 20 elements off; worst [1, 2]: analytic .., numeric ..` (or of the random directions)."""
    if check.directions:
        return (f"{check.mismatches} of {check.directions} random directions off; worst {where_text(check)}: "
                f"<grad, v> {check.analytic:.6g}, directional difference {check.numeric:.6g}")
    counted = f"{check.checked:,} sampled" if check.checked < check.elements else f"{check.elements:,}"
    return (f"{check.mismatches} of {counted} elements off; worst {where_text(check)}: analytic {check.analytic:.6g}, "
            f"numeric {check.numeric:.6g}")


def place(check: TensorCheck | LayerCheck) -> str:
    """`layer 2 (./layers.py:Swish)`; `loss (./layers.py:softmax_loss)` for a custom loss's own row;
    `node s (add)` in a graph spec."""
    if check.node == "loss":
        return f"loss ({check.type})"
    if check.layer is None and check.node is not None:
        return f"node {check.node} ({check.type})"
    return f"layer {check.layer} ({check.type})"


def suspect_place(result: SpecResult) -> str | None:
    """`layer 2`, or `loss` when the suspect is a custom loss."""
    if result.suspect_layer is None:
        return None
    is_loss = any(lc.node == "loss" and lc.layer == result.suspect_layer for lc in result.layer_checks)
    return "loss" if is_loss else f"layer {result.suspect_layer}"


def suspect_line(result: SpecResult) -> str | None:
    """`layer 2 (./layers.py:Swish): backward wrong for input and beta; layers 0, 1, 3 correct`
    (in a graph spec: `node s (add): backward wrong for input.1; nodes a, h correct`); a custom
    loss comes first when wrong (the suspect), and last when right (`... and the loss correct`)."""
    if not result.layer_checks:
        return None
    wrong = sorted((lc for lc in result.layer_checks if lc.outcome != PASSED), key=lambda lc: lc.node != "loss")
    right = [str(lc.layer) if lc.layer is not None else lc.node for lc in result.layer_checks
             if lc.outcome == PASSED and lc.node != "loss"]
    loss_right = any(lc.outcome == PASSED and lc.node == "loss" for lc in result.layer_checks)
    unit = "node" if result.layer_checks[0].layer is None else "layer"
    if not wrong:
        return (f"every {unit}'s backward is right on its own; the mismatch comes from how they are "
                f"combined (a {unit} that depends on state from another call?)")
    parts = []
    for lc in wrong:
        # a parameter forward does not read is forward's mistake (the `forward` diagnosis), not backward's
        blamed = {"forward": [], "backward": []}
        for check in lc.checks:
            if not check.passed:
                in_forward = check.diagnosis is not None and check.diagnosis.kind == "forward"
                blamed["forward" if in_forward else "backward"].append(check.tensor)
        said = [f"{where} wrong for {_and(tensors)}" for where, tensors in blamed.items() if tensors]
        parts.append(f"{place(lc)}: {' and '.join(said[::-1])}")
    correct = [f"{unit}{'s' if len(right) > 1 else ''} {', '.join(right)}"] if right else []
    if correct or loss_right:
        parts.append(" and ".join(correct + ["the loss"] * loss_right) + " correct")
    return "; ".join(parts)


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def diagnosis_lines(result: SpecResult) -> list[str]:
    """`likely: factor in layer 0 b (95%): analytic = 0.2 × numeric ...`, one per diagnosed tensor
    of the layers that are wrong alone."""
    return [f"likely: {c.diagnosis.kind} in {_alone_place(lc, c)} ({c.diagnosis.confidence:.0%}): "
            f"{c.diagnosis.detail}" for lc in result.layer_checks for c in lc.checks if c.diagnosis]


def _alone_place(layer_check: LayerCheck, check: TensorCheck) -> str:
    """`layer 0 b`, `the loss's input`, `node h input.1`: where a diagnosed tensor sits."""
    if layer_check.node == "loss":
        return f"the loss's {check.tensor}"
    if layer_check.layer is None and layer_check.node is not None:
        return f"node {layer_check.node} {check.tensor}"
    return f"layer {check.layer} {check.tensor}"


def failing_tensors(result: SpecResult) -> list[TensorCheck]:
    return [c for c in result.checks if not c.passed]


def failure_message(result: SpecResult) -> str:
    """`2 tensors off: layer 1 (tanh) input, layer 2 (./layers.py:Swish) beta`."""
    wrong = failing_tensors(result)
    if not wrong:  # failed without a failing tensor: strict mode, else it should not happen
        return strict_reason(result) or suspect_line(result) or "gradients do not match"
    named = ", ".join(tensor_label(c) for c in wrong)
    return f"{len(wrong)} tensor{'s' if len(wrong) != 1 else ''} off: {named}"


def tensor_line(check: TensorCheck) -> str:
    """One failing tensor: where, how far off, and the worst element's two values."""
    return (f"{tensor_label(check)}  shape {shape_text(check.shape)}  "
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
