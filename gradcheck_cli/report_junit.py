"""The JUnit XML report: one <testcase> per spec, as the CI test-report viewers (GitLab,
Jenkins, GitHub test reporters) read it. A failed spec carries the failing tensors in the
<failure> message and body; a spec whose layer raised, or that is invalid, is an <error>."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .report_console import suspect_line, what_is_off
from .results import ERROR, FAILED, RunResult, SpecResult, TensorCheck

FAILURE_TYPE = "GradientMismatch"
ERROR_TYPE = "LayerError"
INVALID_TYPE = "InvalidSpec"

# Characters XML 1.0 cannot carry at all, not even escaped (a layer's error text may hold them).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value >= 0 else "0.000"


def failing_tensors(result: SpecResult) -> list[TensorCheck]:
    return [c for c in result.checks if not c.passed]


def failure_message(result: SpecResult) -> str:
    """`2 tensors off: layer 1 (tanh) input, layer 2 (./layers.py:Swish) beta`."""
    wrong = failing_tensors(result)
    if not wrong:  # failed without a failing tensor: should not happen, but say something
        return suspect_line(result) or "gradients do not match"
    named = ", ".join(f"layer {c.layer} ({c.type}) {c.tensor}" for c in wrong)
    return f"{len(wrong)} tensor{'s' if len(wrong) != 1 else ''} off: {named}"


def tensor_line(check: TensorCheck) -> str:
    """One failing tensor: where, how far off, and the worst element's two values."""
    return (f"layer {check.layer} ({check.type}) {check.tensor}  shape {_shape(check.shape)}  "
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
    """The lines that explain a failed spec: a tensor per line, then the suspect layer and notes."""
    lines = [tensor_line(c) for c in failing_tensors(result)]
    line = suspect_line(result)
    if line:
        lines.append(f"suspect: {line}")
    lines += [f"note: {note}" for note in result.notes]
    return lines


def _testcase(parent: ET.Element, spec: SpecResult) -> None:
    case = ET.SubElement(parent, "testcase", {
        "classname": _clean(spec.path),
        "name": _clean(spec.name or Path(spec.path).stem),
        "time": _seconds(spec.seconds),
    })
    if spec.outcome == FAILED:
        failure = ET.SubElement(case, "failure", {"message": _clean(failure_message(spec)), "type": FAILURE_TYPE})
        body = [f"{spec.path}: {spec.name} ({tolerance_text(spec)})"] + failure_details(spec)
        failure.text = _clean("\n".join(body) + "\n")
    elif spec.outcome == ERROR:
        message = spec.error or "error"
        error = ET.SubElement(case, "error", {"message": _clean(message),
                                              "type": INVALID_TYPE if spec.invalid else ERROR_TYPE})
        error.text = _clean(message + "\n")


def junit_xml(run: RunResult) -> str:
    """The whole report as a UTF-8 XML document (the declaration included)."""
    counts = {
        "tests": str(len(run.specs) + run.interrupted),
        "failures": str(run.count(FAILED)),
        "errors": str(run.count(ERROR) + run.interrupted),
        "skipped": "0",
        "time": _seconds(run.seconds),
    }
    suites = ET.Element("testsuites", {"name": "gradcheck", **counts})
    suite = ET.SubElement(suites, "testsuite", {"name": "gradcheck", **counts})
    for spec in run.specs:
        _testcase(suite, spec)
    if run.interrupted:  # a CI upload of a cut-short run must not look green
        case = ET.SubElement(suite, "testcase", {"classname": "gradcheck", "name": "interrupted", "time": "0.000"})
        ET.SubElement(case, "error", {"message": "interrupted (Ctrl-C): only the specs finished before are here"})
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(run: RunResult, path: str) -> None:
    """Write the report to `path`, atomically: a reader never sees half a file."""
    from .report_json import write_atomically

    write_atomically(Path(path), junit_xml(run))
