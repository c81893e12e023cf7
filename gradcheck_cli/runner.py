"""Run specs: find them, check each, turn every failure into an outcome. Never prints."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import LayerError, SpecError
from .results import ERROR, FAILED, PASSED, RunResult, SpecResult

SPEC_SUFFIXES = (".yaml", ".yml")
DEFAULT_MAX_ELEMENTS = 20_000_000  # scalars in the input and the parameters: ~160 MB in float64


@dataclass(frozen=True)
class RunOptions:
    rtol: float | None = None
    atol: float | None = None
    jobs: int = 1
    timeout: float | None = None            # seconds per spec
    allow_custom: bool = True
    max_elements: int = DEFAULT_MAX_ELEMENTS
    shard: tuple[int, int] = (1, 1)         # run the K-th of N slices
    mode: str | None = None                 # full | fast | sample; None: full up to FULL_MODE_LIMIT
    samples: int = 64                       # sample mode: coordinates per tensor
    directions: int = 4                     # fast mode: random directions per tensor


FULL_MODE_LIMIT = 200_000  # scalars (inputs of every layer and parameters) checked one by one


def take_shard(files: list[str], shard: tuple[int, int]) -> list[str]:
    """The K-th of N disjoint slices, round-robin so slow folders spread over the shards."""
    k, n = shard
    return files[k - 1::n]


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


def check_spec(path: str, options: RunOptions = RunOptions()) -> SpecResult:
    """Check one spec file; whatever goes wrong becomes the result's outcome and error."""
    # Imported here so that `gradcheck --help` does not pay for numpy.
    import numpy as np

    from .checker import (FLOAT64, Precision, backprop, check_layers_alone, check_network,
                          choose_precision, taylor_order)
    from .network import build_network
    from .spec import load_spec
    from .verdict import DEFAULT_TOLERANCES, Tolerance
    from .numeric import default_step

    start = time.perf_counter()
    rtol, atol = options.rtol, options.atol
    try:
        spec = load_spec(path, allow_custom=options.allow_custom)
        guard_size(spec, options.max_elements)
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
            mode = _choose_mode(options, trace, result.notes)
            result.mode = mode.name
            if precision.shadow:
                with net.params_as(FLOAT64):
                    shadow_trace = backprop(net, net.x.astype(FLOAT64))
                    result.checks = check_network(net, precision, trace, shadow_trace, mode, spec.seed)
                    result.taylor_order = taylor_order(net, shadow_trace, spec.seed)
            else:
                shadow_trace = None
                result.checks = check_network(net, precision, trace, None, mode, spec.seed)
                result.taylor_order = taylor_order(net, trace, spec.seed)
            if all(c.passed for c in result.checks):
                result.outcome = PASSED
            elif mode.name == "fast":  # layers alone would cost a full check: the last layer flagged
                result.outcome = FAILED
                result.suspect_layer = max(c.layer for c in result.checks if not c.passed)
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


def _choose_mode(options: RunOptions, trace, notes: list[str]):
    from .checker import Mode
    if options.mode is not None:
        return Mode(options.mode, options.samples, options.directions)
    scalars = sum(x.size for x in trace.inputs) + sum(g.size for grads in trace.param_grads for g in grads.values())
    if scalars <= FULL_MODE_LIMIT:
        return Mode("full")
    notes.append(f"{scalars:,} scalars, above the {FULL_MODE_LIMIT:,} checked one by one by default: fast mode "
                 f"({options.directions} random directions per tensor); --mode full checks every scalar")
    return Mode("fast", options.samples, options.directions)


def guard_size(spec, max_elements: int) -> None:
    """Refuse, before any work, a spec whose arrays would not fit: the input, and the
    parameters of built-in linear layers (custom layers are not known until they run)."""
    import math

    from .spec import layer_sizes
    total = math.prod(spec.input) + sum(layer_sizes(spec.layers, spec.input[-1]))
    if total > max_elements:
        itemsize = 4 if spec.dtype == "float32" else 8
        raise SpecError(f"about {total:,} scalars in the input and parameters ({total * itemsize / 1e9:.1f} GB, "
                        f"checked one by one); the limit is {max_elements:,}: raise it with --max-elements",
                        spec.path, spec.marks.line(("input",)), where="input")


class Interrupted(Exception):
    """Ctrl-C: carries the results finished so far."""

    def __init__(self, result: RunResult):
        super().__init__("interrupted")
        self.result = result


def run(paths: list[str], options: RunOptions = RunOptions(), on_result=None) -> RunResult:
    """Check every spec the paths name; results (and on_result calls) in the order of the
    files, whatever the number of jobs. Ctrl-C raises Interrupted with what is finished."""
    start = time.perf_counter()
    files, problems = discover(paths)
    files = take_shard(files, options.shard)
    results: list[SpecResult] = []

    def finished(result: SpecResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    for result in problems:
        finished(result)
    try:
        if options.jobs <= 1 and options.timeout is None:
            for path in files:
                finished(check_spec(path, options))
        else:
            from .parallel import run_in_processes
            run_in_processes(files, options, check_spec, finished)
    except KeyboardInterrupt:
        raise Interrupted(RunResult(results, time.perf_counter() - start)) from None
    return RunResult(results, time.perf_counter() - start)
