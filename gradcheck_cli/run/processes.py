"""Specs in worker processes: for --jobs N, and for --timeout, since only a process can be
stopped when a layer hangs. Results are handed on in the order of the files."""
from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import wait

from ..results import ERROR, SpecResult

POLL_SECONDS = 0.05


def _work(connection, check, path, options) -> None:
    try:
        result = check(path, options)
    except (KeyboardInterrupt, SystemExit):
        return
    connection.send(result)
    connection.close()


def run_in_processes(files: list[str], options, check, finished) -> None:
    context = multiprocessing.get_context("fork")
    jobs = max(1, options.jobs)
    pending = list(enumerate(files))
    running: dict = {}          # connection -> (index, path, process, started)
    done: dict[int, SpecResult] = {}
    next_to_report = 0
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index, path = pending.pop(0)
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_work, args=(send, check, path, options), daemon=True)
                process.start()
                send.close()
                running[receive] = (index, path, process, time.monotonic())
            for connection in wait(list(running), timeout=POLL_SECONDS):
                index, path, process, _ = running.pop(connection)
                try:
                    done[index] = connection.recv()
                except (EOFError, OSError):
                    code = process.exitcode if process.exitcode is not None else "?"
                    done[index] = _crashed(path, f"the worker process died (exit code {code}): "
                                                 "a layer crashed the interpreter?")
                connection.close()
                process.join()
            now = time.monotonic()
            for connection, (index, path, process, started) in list(running.items()):
                if options.timeout is not None and now - started > options.timeout:
                    process.kill()
                    process.join()
                    connection.close()
                    del running[connection]
                    done[index] = _crashed(path, f"timed out after {options.timeout:g} s")
            while next_to_report in done:
                finished(done.pop(next_to_report))
                next_to_report += 1
    except KeyboardInterrupt:
        for index in sorted(done):  # finished, but waiting for an earlier spec: keep them
            finished(done.pop(index))
        raise
    finally:
        for connection, (_, _, process, _) in running.items():
            process.kill()
            process.join()
            connection.close()


def _crashed(path: str, message: str) -> SpecResult:
    from pathlib import Path

    from ..spec.load import load_spec
    from ..spec.stdin import shown_path
    try:
        name = load_spec(path).name  # the same name a finished spec would report
    except Exception:
        name = Path(shown_path(path)).stem
    return SpecResult(path=shown_path(path), name=name, outcome=ERROR, error=message)
