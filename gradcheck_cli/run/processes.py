"""Specs in worker processes: for --jobs N, and for --timeout, since only a process can be
stopped when a layer hangs. This process loads each spec, as `-j 1` does; a spec with custom code
gets a fresh worker (worker.py: forked, ended with what it started, never hanging on the threads a
layer left), at most N at once. A small spec of built-in layers runs no user code and is checked
here, between the workers' results, unless --timeout must be able to stop it: a worker costs it
more than it would take (bench/jobs.py). Results are handed on in the order of the files."""
from __future__ import annotations

import contextlib
import functools
import os
import time

from ..results import ERROR, SpecResult
from ..spec.stdin import shown_path
from .isolation import SpecJob, Worker, no_worker, outcome, readable, runs_user_code, warm

POLL_SECONDS = 0.05
# A spec of built-in layers with no more input and parameter scalars than this is checked here
# (a few ms: bench/jobs.py); a worker's fork and copied pages would cost as much.
CHECKED_HERE_SCALARS = 1_000


def plan(jobs: int, specs: int, cores: int | None) -> tuple[int, int]:
    """(workers at once, threads each may use): never more workers than specs, and the cores
    shared among them, so that N workers' BLAS and engine threads do not fight for the cores."""
    workers = max(1, min(jobs, specs))
    return workers, max(1, (cores or 1) // workers)


def checked_here(spec, options) -> bool:
    """Whether a loaded spec is checked in this process: built-in layers only, small (at every
    seed of --seeds), and no --timeout (only a worker can be stopped)."""
    if options.timeout is not None or runs_user_code(spec):
        return False
    from .batch import spec_scalars
    try:
        return spec_scalars(spec)[0] * max(1, options.seeds) <= CHECKED_HERE_SCALARS
    except Exception:  # a shape the estimate does not know: a worker, as before
        return False


def run_in_processes(files: list[str], options, finished) -> None:
    workers, threads = plan(options.jobs, len(files), os.cpu_count())
    with threads_held(threads):
        _run(files, options, finished, workers)


def _run(files: list[str], options, finished, workers: int) -> None:
    from .batch import check_valid, load_checked

    pending = list(enumerate(files))
    running: dict[Worker, tuple[int, SpecJob, float]] = {}
    done: dict[int, SpecResult] = {}
    next_to_report = 0
    try:
        while pending or running:
            checked = False  # at most one spec checked here between looks at the workers
            while pending and len(running) < workers and not checked:
                index, path = pending.pop(0)
                start = time.perf_counter()
                spec = load_checked(path, options)
                if isinstance(spec, SpecResult):
                    done[index] = spec
                elif checked_here(spec, options):
                    done[index], checked = check_valid(spec, path, options, start), True
                else:
                    job = SpecJob(functools.partial(check_valid, spec, path, options, start), shown_path(path),
                                  spec.name)
                    warm()
                    try:
                        running[Worker(job)] = (index, job, start)
                    except OSError as exc:
                        done[index] = SpecResult(path=job.path, name=job.name, outcome=ERROR, error=no_worker(exc))
            if running:  # wakes as soon as a worker sends its result or ends
                readable([fd for worker in running for fd in worker.fds()], 0 if checked else POLL_SECONDS)
            now = time.monotonic()
            for worker, (index, job, start) in list(running.items()):
                if worker.poll():
                    done[index] = outcome(worker, job)
                    done[index].seconds = time.perf_counter() - start
                    del running[worker]
                elif options.timeout is not None and now - worker.started > options.timeout:
                    name, _, what = worker.running()
                    worker.kill()
                    del running[worker]
                    during = f", in layer {name} {what}" if name else ""
                    done[index] = SpecResult(path=job.path, name=job.name, outcome=ERROR,
                                             error=f"timed out after {options.timeout:g} s{during}")
            while next_to_report in done:
                finished(done.pop(next_to_report))
                next_to_report += 1
    except KeyboardInterrupt:
        for index in sorted(done):  # finished, but waiting for an earlier spec: keep them
            finished(done.pop(index))
        raise
    finally:
        for worker in running:
            worker.kill()


@contextlib.contextmanager
def threads_held(threads: int):
    """BLAS's pool and the engine's chunks held to `threads` threads while the workers run. Set
    here, before the forks, and inherited: OpenBLAS told so in a fresh fork restarts its pool
    (~17 ms a worker, measured)."""
    if threads >= (os.cpu_count() or 1):
        yield
        return
    from ..check import numeric
    was, numeric.CORES = numeric.CORES, threads
    try:
        with numeric._blas_controller().limit(limits=threads, user_api="blas"):
            yield
    finally:
        numeric.CORES = was
