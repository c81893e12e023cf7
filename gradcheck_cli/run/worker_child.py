"""The worker's side of worker.py: what a freshly forked process does before, while and after
it runs its job. It settles in (a process group of its own, dying with its parent, standard
input from /dev/null, fresh output streams, the parent's atexit handlers dropped, faulthandler
writing to a pipe the parent reads, os._exit telling who called it), runs the job, sends the
result, runs the atexit handlers layer code registered, and ends with os._exit."""
from __future__ import annotations

import atexit
import io
import os
import pickle
import signal
import sys

from ..model import watch

EXIT_SLOT = 2048                 # in the shared memory: where os._exit says who called it
HEADER_BYTES = 8                 # the result's length, before its pickle

_EX_SOFTWARE = 70  # the worker's own code failed before it could send a result
WORKER_FAILED = "gradcheck's worker failed: "


def run_child(job, write_fd: int, dump_fd: int, beacon, held, libc, parent: int) -> None:
    real_exit, code = os._exit, _EX_SOFTWARE
    try:
        printed = _settle_in(dump_fd, beacon, held, real_exit, libc, parent)
        try:
            result = job()
        except BaseException as exc:  # a layer's KeyboardInterrupt, a BaseException subclass of its own
            result = job.escaped(exc)
        texts = {name: stream.getvalue() for name, stream in printed.items()}
        try:
            payload = pickle.dumps((result, texts), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            payload = pickle.dumps((job.escaped(exc), texts), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(write_fd, len(payload).to_bytes(HEADER_BYTES, "little") + payload)
        os.close(write_fd)
        code = 0
        atexit._run_exitfuncs()  # the handlers layer code registered (the parent's were cleared)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except BaseException as exc:
        if code:  # the worker's own failure: said where the parent looks when there is no result
            os.write(dump_fd, f"{WORKER_FAILED}{type(exc).__name__}: {exc}\n".encode("utf-8", "replace"))
    finally:
        real_exit(code)


def _settle_in(dump_fd: int, beacon, held, real_exit, libc, parent: int) -> dict:
    import faulthandler

    os.setpgid(0, 0)                             # the terminal's Ctrl-C is for the parent
    _die_with_parent(libc, parent)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for stopping in (signal.SIGTTOU, signal.SIGTTIN):  # a background group's terminal use: allowed, not stopped
        signal.signal(stopping, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, held)
    null = os.open(os.devnull, os.O_RDONLY)      # the spec `-` was read by the parent
    os.dup2(null, 0)
    os.close(null)
    printed = _fresh_streams()
    atexit._clear()                              # the parent's handlers are the parent's
    faulthandler.enable(os.fdopen(dump_fd, "w", closefd=False), all_threads=True)
    watch.share(beacon)

    def exit_told(code=0):
        frame = sys._getframe(1)
        text = f"os._exit({code!r})\0{frame.f_code.co_filename}\0{frame.f_lineno}".encode()[:1000]
        beacon[EXIT_SLOT:EXIT_SLOT + 2 + len(text)] = len(text).to_bytes(2, "little") + text
        real_exit(code)
    os._exit = exit_told
    return printed


_PR_SET_PDEATHSIG = 1
_loaded_libc: list = []


def libc():
    """The C library, loaded once in the parent (for prctl); None where there is none to load."""
    if not _loaded_libc:
        try:
            import ctypes
            _loaded_libc.append(ctypes.CDLL(None) if sys.platform.startswith("linux") else None)
        except (ImportError, OSError):
            _loaded_libc.append(None)
    return _loaded_libc[0]


def _die_with_parent(libc, parent: int) -> None:
    if libc is not None:  # elsewhere the parent's exit (end_workers) ends its workers
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before that took
        os._exit(1)


def _fresh_streams() -> dict:
    """New text streams over the same files: one that a parent's thread (the progress bar) was
    writing to at the fork keeps that thread's lock forever in the child. A stream without a
    file (pytest's capture, a test's StringIO) is collected, for the parent to print; returned."""
    from ..report.terminal import GuardedStream  # plain Python: no rich

    collected = {}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        guard = stream if isinstance(stream, GuardedStream) else None  # the CLI's: plain characters, never raises
        stream = guard.stream if guard is not None else stream
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            collected[name] = io.StringIO()
            setattr(sys, name, collected[name])
            continue
        fresh = open(fd, "w", encoding=getattr(stream, "encoding", None) or "utf-8",
                     errors=getattr(stream, "errors", None) or "backslashreplace",
                     closefd=False, buffering=1 if getattr(stream, "line_buffering", False) else -1)
        setattr(sys, name, fresh if guard is None else GuardedStream(fresh, guard.name))
    return collected


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
