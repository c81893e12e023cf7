"""The JSON report, version 2. The fields are a contract: a field may be added without a new
version; a field renamed or removed, or a change of what one means, bumps VERSION (README, "JSON
report"). Version 2 added graph specs: `node` on checks, layers and warnings, `suspect_node`, and
`layer` null for a graph's checks. Written to a temporary file and renamed, so a reader never
sees half."""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

from ..results import LayerCheck, RunResult, SpecResult, TensorCheck

VERSION = 2


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def tensor_dict(check: TensorCheck) -> dict:
    return {
        "layer": check.layer,
        "node": check.node,
        "type": check.type,
        "tensor": check.tensor,
        "shape": list(check.shape),
        "max_abs_error": _number(check.max_abs_error),
        "max_rel_error": _number(check.max_rel_error),
        "worst_index": list(check.worst_index),
        "analytic": _number(check.analytic),
        "numeric": _number(check.numeric),
        "outcome": check.outcome,
        "elements": check.elements,
        "mismatches": check.mismatches,
        "kinks": check.kinks,
        "checked": check.checked,
        "coverage": round(check.checked / check.elements, 6) if check.elements and not check.directions else None,
        "directions": check.directions or None,
        "diagnosis": None if check.diagnosis is None else dataclasses.asdict(check.diagnosis),
    }


def layer_dict(layer: LayerCheck) -> dict:
    return {"layer": layer.layer, "node": layer.node, "type": layer.type, "outcome": layer.outcome,
            "checks": [tensor_dict(c) for c in layer.checks]}


def spec_dict(spec: SpecResult) -> dict:
    return {
        "path": spec.path,
        "name": spec.name,
        "outcome": spec.outcome,
        "error": spec.error,
        "checks": [tensor_dict(c) for c in spec.checks],
        "suspect_layer": spec.suspect_layer,
        "suspect_node": spec.suspect_node,
        "layers": [layer_dict(layer) for layer in spec.layer_checks],
        "dtype": spec.dtype,
        "mode": spec.mode,
        "tolerance": {"rtol": spec.rtol, "atol": spec.atol},
        "step": spec.step,
        "taylor_order": None if spec.taylor_order is None else round(spec.taylor_order, 3),
        "notes": spec.notes,
        "warnings": [{"layer": w.layer, "node": w.node, "kind": w.kind, "message": w.message} for w in spec.warnings],
        "seeds": spec.seeds,
        "seed": spec.seed,
        "seconds": round(spec.seconds, 4),
    }


def report_dict(run: RunResult) -> dict:
    return {
        "version": VERSION,
        "passed": run.passed,
        "interrupted": run.interrupted,
        "summary": {
            "specs": len(run.specs),
            "passed": run.count("passed"),
            "failed": run.count("failed"),
            "errors": run.count("error"),
            "seconds": round(run.seconds, 4),
        },
        "specs": [spec_dict(s) for s in run.specs],
    }


def report_text(run: RunResult) -> str:
    return json.dumps(report_dict(run), indent=2) + "\n"


def write_json(run: RunResult, target: str) -> None:
    """`target` is a file path, or "-" for standard output."""
    text = report_text(run)
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from .files import write_atomically
    write_atomically(Path(target), text)
