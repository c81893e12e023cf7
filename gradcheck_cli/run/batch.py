"""Run specs: find them, check each, turn every failure into an outcome. Never prints."""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import defaults
from ..errors import LayerError, SpecError
from ..results import ERROR, FAILED, PASSED, RunResult, SpecResult
from ..spec.reading import spec_problem
from ..spec.stdin import STDIN, shown_path, stdin_read_ahead

from .guards import guard_built, guard_size, spec_scalars  # noqa: F401 (where the runner's callers find them)

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RunOptions:
    rtol: float | None = None
    atol: float | None = None
    jobs: int = defaults.JOBS
    timeout: float | None = None            # seconds per spec
    allow_custom: bool = True
    max_elements: int = defaults.MAX_ELEMENTS
    shard: tuple[int, int] = (1, 1)         # run the K-th of N slices
    mode: str | None = None                 # full | fast | sample; None: full up to 200,000 scalars
    samples: int = defaults.SAMPLES
    directions: int = defaults.DIRECTIONS
    strict: bool = defaults.STRICT          # any warning fails the spec
    seeds: int = defaults.SEEDS             # each spec at its seed and the next seeds - 1


def take_shard(files: list, shard: tuple[int, int]) -> list:
    """The K-th of N disjoint slices, round-robin so slow folders spread over the shards."""
    k, n = shard
    return files[k - 1::n]


def discover(paths: list[str]) -> list[str | SpecResult]:
    """In the order given: the spec files named, or found below folders (sorted, hidden
    entries skipped), each file once; an invalid result in place of a path that is neither, of
    a folder that cannot be read and of a spec below a folder that is no regular file (a FIFO,
    a dangling link): never skipped without a word. `-` is standard input, kept as `-`."""
    found: list[str | SpecResult] = []
    for given in paths:
        if given == STDIN:
            found.append(given)
            continue
        if not given.strip():  # Path("") is the current folder: not what an empty argument meant
            found.append(_invalid(given, SpecError("empty path", given)))
            continue
        is_folder, problem = spec_problem(given, missing="no such file or folder")
        if problem:
            found.append(_invalid(given, SpecError(problem, given)))
        elif not is_folder:
            found.append(given)
        else:
            below = _specs_below(given)
            if not below:
                found.append(_invalid(given, SpecError("no *.yaml or *.yml specs in this folder", given)))
            found += below
    seen: set[Path] = set()
    unique = []
    for item in found:  # a spec named twice (a file and its folder, say) is checked once
        where = Path(item).resolve() if isinstance(item, str) else None
        if where in seen:
            continue
        if where is not None:
            seen.add(where)
        unique.append(item)
    return unique


def _specs_below(folder: str) -> list[str | SpecResult]:
    """The *.yaml / *.yml files below `folder` in sorted order (as Path sorts them), hidden
    entries and symlinked folders not entered; a folder that cannot be listed, and a spec that
    is no regular file, as an invalid result in its place."""
    below: list[tuple[Path, str | SpecResult]] = []

    def unreadable(exc: OSError) -> None:
        where = exc.filename if isinstance(exc.filename, str) else folder
        shown = os.path.join(folder, os.path.relpath(where, folder)) if where != folder else folder
        error = SpecError(f"cannot read this folder ({exc.strerror or exc}); the specs in it would go unchecked",
                          shown)
        below.append((Path(os.path.relpath(where, folder)), _invalid(shown, error)))

    for parent, folders, files in os.walk(folder, onerror=unreadable):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.endswith(SPEC_SUFFIXES):
                continue
            path = os.path.join(parent, name)
            relative = Path(os.path.relpath(path, folder))
            shown = os.path.join(folder, str(relative))
            _, problem = spec_problem(path)
            below.append((relative, _invalid(shown, SpecError(problem, shown)) if problem else shown))
    return [item for _, item in sorted(below, key=lambda pair: pair[0])]


def _invalid(path: str, error: SpecError) -> SpecResult:
    return SpecResult(path=path, name=Path(path).stem, outcome=ERROR, error=str(error), invalid=True)


def check_spec(path: str, options: RunOptions = RunOptions()) -> SpecResult:
    """Check one spec file, in this process; whatever goes wrong becomes the result's outcome
    and error (isolation.check_isolated runs a spec with custom code in a worker instead)."""
    start = time.perf_counter()
    spec = load_checked(path, options)
    return spec if isinstance(spec, SpecResult) else check_valid(spec, path, options, start)


def load_checked(path: str, options: RunOptions):
    """The spec, loaded and within the size limit; else its invalid result."""
    from ..spec.load import load_spec
    try:
        spec = load_spec(path, allow_custom=options.allow_custom)
        guard_size(spec, options.max_elements)
    except SpecError as exc:
        return _invalid(shown_path(path), exc)  # `-` is shown as stdin
    return spec


def check_valid(spec, path: str, options: RunOptions, start: float) -> SpecResult:
    """check_loaded, and an invalid result for a spec found invalid as it is built."""
    try:
        return check_loaded(spec, options, start, limit=options.max_elements)
    except SpecError as exc:
        result = _invalid(shown_path(path), exc)
        result.name, result.seconds = spec.name, time.perf_counter() - start
        return result


def check_loaded(spec, options: RunOptions = RunOptions(), start: float | None = None,
                 limit: int | None = None) -> SpecResult:
    """Check a loaded Spec (the Python API builds one from its arguments). Raises SpecError when the
    spec turns out invalid as it is built (`limit`: more input and parameter scalars than that, once
    built; the API, on the caller's own objects, sets none); whatever else goes wrong becomes the
    result's outcome."""
    # Imported here so that `gradcheck --help` does not pay for numpy.
    import numpy as np

    from ..model.network import build_network
    from ..model.random_state import preserved
    from ..check.numeric import one_blas_thread
    from ..check.spec_check import Settings, check_built

    start = time.perf_counter() if start is None else start
    if options.seeds > 1:
        from .seeds import check_at_seeds
        return check_at_seeds(spec, options, check_loaded, start)
    result = SpecResult(path=spec.path, name=spec.name, outcome=PASSED, dtype=spec.dtype, seeds=[spec.seed],
                        seed=spec.seed, graph=spec.graph is not None)
    settings = Settings(rtol=spec.rtol if options.rtol is None else options.rtol,
                        atol=spec.atol if options.atol is None else options.atol,
                        step=spec.step, mode=options.mode, samples=options.samples,
                        directions=options.directions, seed=spec.seed)
    try:
        # overflow etc. show up as NaN/Inf, which are checked; the caller's np.random state is put back
        # BLAS on one thread: the check's products are many and mid-sized, where OpenBLAS's threads
        # spin more than they gain (bench/mlp.yaml: 0.45 s with them, 0.25 s without, loaded 2 cores)
        with np.errstate(all="ignore"), preserved(), one_blas_thread():
            network = build_network(spec)
            if limit is not None:
                guard_built(network, limit)  # what custom layers hold is known only now
            found = check_built(network, settings)
        result.outcome, result.checks, result.layer_checks = found.outcome, found.checks, found.layer_checks
        result.suspect_layer, result.taylor_order, result.notes = found.suspect_layer, found.taylor_order, found.notes
        result.suspect_node = found.suspect_node
        result.warnings = found.warnings
        result.rtol, result.atol = found.precision.tolerance.rtol, found.precision.tolerance.atol
        result.step, result.mode = found.precision.step, found.mode.name
    except SpecError:
        raise  # the spec is invalid after all: the caller decides how that is told
    except LayerError as exc:
        result.outcome, result.error, result.checks = ERROR, str(exc), []
        result.suspect_layer, result.suspect_node = exc.index, getattr(exc, "node", None)
    except RecursionError:
        result.outcome, result.error = ERROR, "recursion too deep while running the layers"
    except MemoryError:
        result.outcome, result.error = ERROR, "out of memory while running the layers"
    except (Exception, SystemExit) as exc:  # numpy gave up on what a layer returned; sys.exit() in a layer
        text = str(exc).strip().splitlines()
        result.outcome, result.checks = ERROR, []
        result.error = f"unexpected {type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
    if options.strict:
        apply_strict(result)
    result.seconds = time.perf_counter() - start
    return result


def apply_strict(result: SpecResult) -> None:
    """Strict mode: a spec that passed with a warning fails (report.wording.strict_reason says why)."""
    if result.outcome == PASSED and result.warnings:
        result.outcome = FAILED


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: carries the results finished so far, and the exit code (130, 143)."""

    def __init__(self, result: RunResult, code: int = 130):
        super().__init__("interrupted")
        self.result = result
        self.code = code
        self.reason = "interrupted" if code == 130 else "terminated"


def _one_blas_thread():
    from ..check.numeric import one_blas_thread
    return one_blas_thread()


def run(paths: list[str], options: RunOptions = RunOptions(), on_result=None, on_start=None) -> RunResult:
    """Check every spec the paths name; results (and on_result calls) in the order of the
    paths, whatever the number of jobs; `on_start(count)` once they are found. A spec with
    custom code runs in a worker process of its own (isolation.py). Ctrl-C (or SIGTERM, with
    run/signals.py) raises Interrupted with what is finished; no worker outlives the run."""
    from .isolation import check_isolated, end_workers
    from .signals import reports_held

    start = time.perf_counter()
    pending = take_shard(discover(paths), options.shard)
    if on_start:
        on_start(len(pending))
    files = [item for item in pending if isinstance(item, str)]
    results: list[SpecResult] = []

    def finished(result: SpecResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    def report_ready() -> None:
        """Paths that were no spec at all take their turn as soon as the files before them are done."""
        while pending and not isinstance(pending[0], str):
            finished(pending.pop(0))

    def file_done(result: SpecResult) -> None:
        pending.pop(0)
        finished(result)
        report_ready()

    report_ready()
    try:
        # BLAS on one thread for the whole run, as every check holds it (check/numeric.py), set
        # once here: workers forked meanwhile inherit it, where setting it anew restarts
        # OpenBLAS's thread pool in each (~17 ms a worker, measured)
        with _one_blas_thread() if files else contextlib.nullcontext():
            if options.jobs <= 1 and options.timeout is None:
                for path in files:
                    file_done(check_isolated(path, options))
            else:
                from .processes import run_in_processes
                with stdin_read_ahead() if STDIN in files else contextlib.nullcontext():
                    run_in_processes(files, options, file_done)
        end_workers()  # those done get a moment for their layers' atexit handlers
        reports_held()  # the run is over: from here on a signal is remembered, and the reports written
    except KeyboardInterrupt as stop:
        end_workers(grace=0)
        raise Interrupted(RunResult(results, time.perf_counter() - start, interrupted=True),
                          128 + getattr(stop, "signum", 2)) from None
    return RunResult(results, time.perf_counter() - start)
