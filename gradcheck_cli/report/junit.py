"""The JUnit XML report: one <testcase> per spec, as the CI test-report viewers (GitLab,
Jenkins, GitHub test reporters) read it. A failed spec carries the failing tensors in the
<failure> message and body; a spec whose layer raised, or that is invalid, is an <error>. A
spec's warnings (a layer's hazards) are its <system-out>, passed or not."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .terminal import escape_controls
from .wording import failure_details, failure_message, tolerance_text, warning_lines
from ..results import ERROR, FAILED, RunResult, SpecResult

FAILURE_TYPE = "GradientMismatch"
ERROR_TYPE = "LayerError"
INVALID_TYPE = "InvalidSpec"

# Characters XML 1.0 cannot carry at all, not even escaped (a layer's error text may hold them).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """Written out as an escape (`\\x1b`), as on the terminal: what a name or a message held stays visible."""
    return _NOT_XML.sub(lambda match: escape_controls(match.group()) if match.group() < " "
                        else f"\\u{ord(match.group()):04x}", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value >= 0 else "0.000"


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
    if spec.warnings:  # a passing spec's warnings too: CI viewers show a testcase's output
        ET.SubElement(case, "system-out").text = _clean("\n".join(warning_lines(spec)) + "\n")


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
    from .files import write_atomically

    write_atomically(Path(path), junit_xml(run))
