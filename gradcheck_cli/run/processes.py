"""Specs in worker processes: for --jobs N, and for --timeout, since only a process can be
stopped when a layer hangs. Every spec gets a fresh worker (worker.py: forked, ended with what
it started, never hanging on the threads a layer left). Results are handed on in the order of
the files."""
from __future__ import annotations

import functools
import time

from ..results import ERROR, SpecResult
from ..spec.stdin import shown_path
from .isolation import SpecJob, Worker, no_worker, outcome, readable, warm

POLL_SECONDS = 0.05


def run_in_processes(files: list[str], options, check, finished) -> None:
    jobs = max(1, options.jobs)
    pending = list(enumerate(files))
    running: dict[Worker, tuple[int, SpecJob]] = {}
    done: dict[int, SpecResult] = {}
    next_to_report = 0
    warm()
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index, path = pending.pop(0)
                job = SpecJob(functools.partial(check, path, options), shown_path(path))
                try:
                    running[Worker(job)] = (index, job)
                except OSError as exc:
                    done[index] = SpecResult(path=job.path, name=job.name, outcome=ERROR, error=no_worker(exc))
            readable([fd for worker in running for fd in worker.fds()], POLL_SECONDS)
            now = time.monotonic()
            for worker, (index, job) in list(running.items()):
                if worker.poll():
                    done[index] = outcome(worker, job)
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
