"""Custom layers cannot harm the run: each spec with custom code is checked in a fresh worker
forked from this process (worker.py), which has numpy and the engine loaded already. A spec of
built-in layers only runs no user code, and is checked here.

What a worker that died is reported as: an error naming the spec, the layer that was running
and in what (its loading, build, forward, backward), how the worker ended (os._exit and where,
the signal, the line of the layer's code in faulthandler's traceback). The other specs'
results are not touched by it.

Fork is safe on Linux. macOS can fork, but its system libraries (Accelerate, the Objective-C
runtime) are not fork-safe, and Windows cannot: there, without --jobs and --timeout, a spec's
custom code runs in this process (a layer's BaseException is still that spec's error).
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from ..errors import shown_file
from ..model import watch
from ..results import ERROR, SpecResult
from .worker import Worker, end_workers, readable  # noqa: F401  (end_workers, readable: for batch, processes)
from .worker_child import WORKER_FAILED

FORK_SAFE = sys.platform.startswith("linux")
ENDED_EARLY = "which ended its worker process before the check was done"
CRASH_SIGNALS = {getattr(signal, name) for name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT")
                 if hasattr(signal, name)}


class SpecJob:
    """What a worker runs: `check()` -> SpecResult; `escaped(exc)` the result when a BaseException
    (a layer's KeyboardInterrupt, its own BaseException subclass) escaped the check."""

    def __init__(self, check, path: str, name: str | None = None):
        self.check, self.path, self._name = check, path, name

    def __call__(self) -> SpecResult:
        return self.check()

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = spec_name(self.path)
        return self._name

    def escaped(self, exc: BaseException) -> SpecResult:
        from ..errors import one_line, raised
        name, label, what = watch.current()
        if name:
            message = f"layer {name}: {raised(what, exc)}"
        else:
            message = f"unexpected {one_line(exc)}, while no custom layer's code was running"
        return SpecResult(path=self.path, name=self.name, outcome=ERROR, error=message,
                          suspect_layer=watch.layer_index(label))


def spec_name(path: str) -> str:
    """The name a finished spec would report (its YAML read again: no layer code runs)."""
    from ..spec.load import load_spec
    from ..spec.stdin import shown_path
    try:
        return load_spec(path).name
    except Exception:
        return Path(shown_path(path)).stem


# What a spec of built-in layers holds; a spec that holds more (a field added for another kind of
# spec: a graph, custom losses) counts as running user code until this is taught otherwise.
PLAIN_FIELDS = {"path", "file", "name", "seed", "dtype", "input_spec", "layers", "loss", "rtol", "atol", "step",
                "marks", "x"}


def runs_user_code(spec) -> bool:
    """Whether checking `spec` may run code of the user's: any layer or loss not a built-in, or
    anything this does not know."""
    import dataclasses
    try:
        from ..model.registry import LAYERS, LOSSES
        from ..spec.load import walk
        unknown = [f.name for f in dataclasses.fields(spec) if f.name not in PLAIN_FIELDS and getattr(spec, f.name)]
        layers = all(layer.target is None and layer.type in LAYERS for layer in walk(spec.layers))
        loss = spec.loss
        return bool(unknown) or not (layers and getattr(loss, "target", None) is None and loss.type in LOSSES)
    except Exception:
        return True


def check_isolated(path: str, options, build_only: bool = False) -> SpecResult:
    """batch.check_spec, with a spec that runs user code checked in a worker of its own;
    `build_only`: `gradcheck validate`'s work instead (built_valid)."""
    from ..spec.stdin import shown_path
    from .batch import check_valid, load_checked

    start = time.perf_counter()
    spec = load_checked(path, options)
    if isinstance(spec, SpecResult):
        return spec
    work = built_valid if build_only else check_valid
    if not runs_user_code(spec):
        return work(spec, path, options, start)
    job = SpecJob(lambda: work(spec, path, options, start), shown_path(path), spec.name)
    if not FORK_SAFE:
        try:
            return job()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return job.escaped(exc)
    warm()
    try:
        worker = Worker(job)
    except OSError as exc:
        return SpecResult(path=job.path, name=job.name, outcome=ERROR, error=no_worker(exc))
    try:
        worker.wait()
    finally:
        if not worker.done:  # Ctrl-C meanwhile
            worker.kill()
    result = outcome(worker, job)
    result.seconds = time.perf_counter() - start
    return result


def built_valid(spec, path: str, options, start: float) -> SpecResult:
    """A loaded spec built (one forward per layer; a custom class layer's backward once, to find
    its parameters), no gradient checked: passed (valid), an error (a layer errored) or invalid."""
    import numpy as np

    from ..errors import LayerError, SpecError
    from ..model.network import build_network
    from ..results import PASSED
    from ..spec.stdin import shown_path
    result = SpecResult(path=shown_path(path), name=spec.name, outcome=PASSED)
    from .batch import guard_built
    try:
        with np.errstate(all="ignore"):  # as in `run`: what overflows is the check's business
            built = build_network(spec)
            guard_built(built, options.max_elements)  # as in `run`: every parameter built counts
        result.warnings = list(getattr(built, "warnings", []))  # a graph's input or output nothing takes
    except SpecError as exc:
        result.outcome, result.error, result.invalid = ERROR, str(exc), True
    except LayerError as exc:
        result.outcome, result.error, result.suspect_layer = ERROR, str(exc), exc.index
    result.seconds = time.perf_counter() - start
    return result


_warm: list[bool] = []


class _Double:
    """y = 2x: gradcheck's own custom layer, checked once in the parent by warm()."""

    def forward(self, x):
        return 2.0 * x

    def backward(self, grad_out):
        return 2.0 * grad_out


def warm() -> None:
    """Once, before the first fork: do in the parent what every worker would otherwise do for
    itself. The built-in layers are imported, and one check of a custom layer of gradcheck's own
    (no user code) loads the engine and fills the caches a custom layer's path goes through
    (inspect's signatures, compiled regular expressions): ~10 ms a worker, measured.
    threadpoolctl's view of the BLAS libraries and the folders an error's traceback is searched
    outside of are found once, and the module a worker's fresh streams come from is imported (the
    CLI has it; the pytest plugin not: ~2 ms a worker, measured)."""
    if _warm:
        return
    from ..api import check_layer
    from ..check.numeric import _blas_controller
    from ..errors import _not_users
    from ..model.registry import LAYERS, LOSSES
    from ..report import terminal  # noqa: F401
    _warm.append(True)
    for builtin in [*LAYERS.values(), *LOSSES.values()]:
        builtin.load()
    check_layer(_Double, input_shape=(2, 3))
    _blas_controller()
    _not_users()


def no_worker(exc: OSError) -> str:
    return f"could not start a worker process to check it in: {exc.strerror or exc}"


def outcome(worker: Worker, job: SpecJob) -> SpecResult:
    """The worker's result, or the error of a worker that ended without one."""
    if worker.result is not None:
        return worker.result
    message, label = ended_message(worker)
    return SpecResult(path=job.path, name=job.name, outcome=ERROR, error=message,
                      suspect_layer=watch.layer_index(label))


def ended_message(worker: Worker) -> tuple[str, str]:
    """(the error, the label of the layer that was running) for a worker that ended without a result."""
    code, exit_call, dump = worker.ended()
    name, label, what = worker.running()
    if exit_call:
        call, filename, line = exit_call.split("\0")
        how = f"called {call} at {shown_file(filename)}:{line}, {ENDED_EARLY}"
    elif WORKER_FAILED in dump:  # a bug of gradcheck's, not a layer's
        return dump[dump.index(WORKER_FAILED):].splitlines()[0], label
    elif code >= 0:
        how = f"exited from its worker process with code {code} before the check was done (exit in C code?)"
    else:
        number, place = -code, crash_place(dump)
        try:
            signame = signal.Signals(number).name
        except ValueError:
            signame = "?"
        how = f"killed its worker process with signal {number} ({signame}){f' at {place}' if place else ''}"
        if number in CRASH_SIGNALS:
            how += ": a crash in native code (ctypes, a C extension)"
        elif number == signal.SIGKILL:
            how += " (out of memory, or killed from outside)"
    if name:
        return f"layer {name}: {what} {how}", label
    return f"while no custom layer's code was running, something (a thread a layer left behind?) {how}", label


def crash_place(dump: str) -> str | None:
    """`./faults.py:9`: the innermost frame of the user's code in the crashed thread's traceback."""
    import re

    from ..errors import _not_users
    section = dump.split("Current thread", 1)[-1].split("\n\n", 1)[0] if "Current thread" in dump else dump
    for filename, line in re.findall(r'File "(.+)", line (\d+)', section):
        if not filename.startswith("<") and not any(filename.startswith(p) for p in _not_users()):
            return f"{shown_file(filename)}:{line}"
    return None

