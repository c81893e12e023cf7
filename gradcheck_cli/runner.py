"""Run specs: find them, check each, turn every failure into an outcome. Never prints."""
from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import LayerError, SpecError
from .results import ERROR, FAILED, PASSED, RunResult, SpecResult

SPEC_SUFFIXES = (".yaml", ".yml")


def discover(paths: list[str]) -> tuple[list[str], list[SpecResult]]:
    """Spec files named or found below folders (sorted, hidden entries skipped), and an
    invalid result for each path that is neither."""
    found, problems = [], []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            below = sorted(
                p for p in path.rglob("*")
                if p.suffix in SPEC_SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not below:
                problems.append(_invalid(given, SpecError("no *.yaml or *.yml specs in this folder", given)))
            found += [os.path.join(given, str(p.relative_to(path))) for p in below]
        elif path.exists():
            found.append(given)
        else:
            problems.append(_invalid(given, SpecError("no such file or folder", given)))
    return found, problems


def _invalid(path: str, error: SpecError) -> SpecResult:
    return SpecResult(path=path, name=Path(path).stem, outcome=ERROR, error=str(error), invalid=True)


def check_spec(path: str, rtol: float | None = None, atol: float | None = None) -> SpecResult:
    """Check one spec file; whatever goes wrong becomes the result's outcome and error."""
    # Imported here so that `gradcheck --help` does not pay for numpy.
    import numpy as np

    from .checker import FLOAT64, Precision, backprop, check_layers_alone, check_network, choose_precision
    from .network import build_network
    from .spec import load_spec
    from .verdict import DEFAULT_TOLERANCES, Tolerance
    from .numeric import default_step

    start = time.perf_counter()
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return _invalid(path, exc)
    result = SpecResult(path=path, name=spec.name, outcome=PASSED, dtype=spec.dtype)
    try:
        with np.errstate(all="ignore"):  # overflow etc. show up as NaN/Inf, which are checked
            net = build_network(spec)
            trace = backprop(net, net.x)
            precision, result.notes = choose_precision(
                net, trace, spec.rtol if rtol is None else rtol, spec.atol if atol is None else atol, spec.step)
            result.rtol, result.atol, result.step = precision.tolerance.rtol, precision.tolerance.atol, precision.step
            if precision.shadow:
                with net.params_as(FLOAT64):
                    shadow_trace = backprop(net, net.x.astype(FLOAT64))
                    result.checks = check_network(net, precision, trace, shadow_trace)
            else:
                shadow_trace = None
                result.checks = check_network(net, precision, trace, None)
            if all(c.passed for c in result.checks):
                result.outcome = PASSED
            else:
                result.outcome = FAILED
                local = precision
                if precision.shadow:  # alone, each layer is checked at float64 strictness
                    default = DEFAULT_TOLERANCES["float64"]
                    local = Precision(False, FLOAT64, Tolerance(
                        default.rtol if rtol is None and spec.rtol is None else precision.tolerance.rtol,
                        default.atol if atol is None and spec.atol is None else precision.tolerance.atol),
                        spec.step or default_step(FLOAT64))
                    with net.params_as(FLOAT64):
                        result.layer_checks = check_layers_alone(net, shadow_trace, local, spec.seed)
                else:
                    result.layer_checks = check_layers_alone(net, trace, local, spec.seed)
                wrong = [lc.layer for lc in result.layer_checks if lc.outcome != PASSED]
                result.suspect_layer = wrong[0] if wrong else None
    except SpecError as exc:
        result = _invalid(path, exc)
        result.name = spec.name
    except LayerError as exc:
        result.outcome, result.error, result.checks = ERROR, str(exc), []
        result.suspect_layer = exc.index
    except RecursionError:
        result.outcome, result.error = ERROR, "recursion too deep while running the layers"
    except MemoryError:
        result.outcome, result.error = ERROR, "out of memory while running the layers"
    except Exception as exc:  # a layer returned something so odd that numpy itself gave up
        text = str(exc).strip().splitlines()
        result.outcome, result.checks = ERROR, []
        result.error = f"unexpected {type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    result.seconds = time.perf_counter() - start
    return result


def run(paths: list[str], rtol: float | None = None, atol: float | None = None, on_result=None) -> RunResult:
    """Check every spec the paths name, in order; `on_result(result)` after each."""
    start = time.perf_counter()
    files, problems = discover(paths)
    results = list(problems)
    for result in problems:
        if on_result:
            on_result(result)
    for path in files:
        result = check_spec(path, rtol, atol)
        results.append(result)
        if on_result:
            on_result(result)
    return RunResult(results, time.perf_counter() - start)
