"""One job (a spec's check) in a fresh process forked from this one, which has numpy and the
engine loaded already: whatever the job's layer code does to its process (exits, crashes,
leaves threads running, changes the folder, sys.path or sys.modules, raises a BaseException)
stays there. The worker sends its result through a pipe, runs the atexit handlers that layer
code registered, and ends with os._exit, so that threads it left cannot keep it alive.

A worker that ends without a result is told by how it ended, and named by the layer that was
running (model/watch.py writes it into memory shared with the parent before each call), with
the line of the layer's code where the C-level traceback (faulthandler) or os._exit shows one.
Each worker leads a process group of its own, dies with its parent (PR_SET_PDEATHSIG), and is
ended with what it started once it is done; the terminal's Ctrl-C reaches only the parent,
which ends its workers itself.
"""
from __future__ import annotations

import math
import mmap
import os
import pickle
import select
import signal
import sys
import time
import warnings

from ..model import watch
from .worker_child import EXIT_SLOT, HEADER_BYTES, run_child
from .worker_child import libc as load_libc

BEACON_BYTES = 4096
EXIT_GRACE_SECONDS = 5.0         # after its result: time left for the layers' atexit handlers
POLL_SECONDS = 0.05
_HELD = {signal.SIGINT, signal.SIGTERM}
_live: dict[int, "Worker"] = {}  # every worker not yet reaped, finished or not


class Worker:
    """A forked process running `job()`; `poll()` until `done`, then `result` or `ended()`."""

    def __init__(self, job):
        for stream in (sys.stdout, sys.stderr):  # else what they hold would be written twice
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        self.beacon = mmap.mmap(-1, BEACON_BYTES)
        self._data = bytearray()
        self.result = None
        self.status: int | None = None       # exit code, or -signal, once it ended
        self.done = False
        self.deadline: float | None = None   # when it must be gone (after its result: the grace)
        self.dump = ""
        self._reaped = False
        read_fd, write_fd = os.pipe()
        dump_read, dump_write = os.pipe()
        libc, parent = load_libc(), os.getpid()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)  # no Ctrl-C between fork and bookkeeping
        try:
            try:
                with warnings.catch_warnings():  # Python 3.12+ warns of forking a process with threads
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
            except OSError:  # no more processes, no memory: the caller says so in the spec's result
                for fd in (read_fd, write_fd, dump_read, dump_write):
                    os.close(fd)
                raise
            if pid == 0:
                os.close(read_fd)
                os.close(dump_read)
                run_child(job, write_fd, dump_write, self.beacon, held, libc, parent)  # never returns
            os.close(write_fd)
            os.close(dump_write)
            self.pid, self.started = pid, time.monotonic()
            self._read_fd, self._dump_fd = read_fd, dump_read
            try:
                self._pidfd = os.pidfd_open(pid)
            except (AttributeError, OSError):    # before Linux 5.3: its end is polled for
                self._pidfd = None
            _live[pid] = self
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def fds(self) -> list[int]:
        """What becomes readable when the worker has news: its pipe, its end."""
        return [fd for fd in (self._read_fd, self._pidfd) if fd is not None and fd >= 0]

    def poll(self) -> bool:
        """Take what the worker sent; done once the result is whole or the worker has ended."""
        if self.done:
            return True
        self._read_available()
        if self.result is None and self._exited():
            self._read_available()  # all it wrote before it ended
        if self.result is not None or self.status is not None or self._exited():
            self._finish()
        return self.done

    def wait(self, timeout: float | None = None) -> bool:
        """Poll until done, at most `timeout` seconds; whether it is done."""
        limit = None if timeout is None else time.monotonic() + timeout
        while not self.poll():
            left = POLL_SECONDS if self._pidfd is None else 1.0  # a pidfd wakes us when it ends
            if limit is not None:
                if limit <= time.monotonic():
                    return False
                left = min(left, limit - time.monotonic())
            readable(self.fds(), left)
        return True

    def _read_available(self) -> None:
        while self._read_fd >= 0 and self.result is None:
            if not readable([self._read_fd], 0):
                return
            chunk = os.read(self._read_fd, 1 << 16)
            if not chunk:
                os.close(self._read_fd)
                self._read_fd = -1
                return
            self._data += chunk
            size = int.from_bytes(self._data[:HEADER_BYTES], "little") if len(self._data) >= HEADER_BYTES else -1
            if size >= 0 and len(self._data) >= HEADER_BYTES + size:
                self.result, printed = pickle.loads(bytes(self._data[HEADER_BYTES:HEADER_BYTES + size]))
                for name, text in printed.items():  # what it printed to a stream without a file
                    getattr(sys, name).write(text)

    def _exited(self) -> bool:
        """Whether the process has ended (it stays a zombie, so that its group can still be ended)."""
        if self.status is None and self.pid is not None:
            try:
                if hasattr(os, "waitid"):
                    info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                    if info is not None:
                        self.status = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
                else:  # macOS before Python 3.13: reaped as it is seen
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                    if pid:
                        self.status, self._reaped = os.waitstatus_to_exitcode(status), True
            except ChildProcessError:  # reaped by someone else (SIGCHLD ignored): its pid is no longer ours
                self.status, self.pid = 0, None
        return self.status is not None

    def _finish(self) -> None:
        self.done = True
        self.deadline = time.monotonic() + EXIT_GRACE_SECONDS
        if self.result is None:
            self.dump = _read_all(self._dump_fd)  # faulthandler's, if it crashed
        for fd in (self._read_fd, self._dump_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._dump_fd = -1
        reap()

    def ended(self) -> tuple[int, str, str]:
        """(exit code or -signal, what os._exit's caller recorded, faulthandler's dump) of a worker
        that ended without a result."""
        size = int.from_bytes(self.beacon[EXIT_SLOT:EXIT_SLOT + 2], "little")
        exit_call = self.beacon[EXIT_SLOT + 2:EXIT_SLOT + 2 + size].decode("utf-8", "replace")
        return self.status if self.status is not None else 0, exit_call, self.dump

    def running(self) -> tuple:
        """What the worker's layers were doing last (model/watch.py's (name, label, what))."""
        return watch.read_beacon(self.beacon)

    def kill(self) -> None:
        """End it now, with whatever it started, and reap it."""
        if not self.done:
            self.done = True
            for fd in (self._read_fd, self._dump_fd):
                if fd >= 0:
                    os.close(fd)
            self._read_fd = self._dump_fd = -1
        self.deadline = 0.0
        reap()

    def _reap(self, now: float) -> bool:
        """Reaped (and its process group ended) once it ended or its time is up."""
        if not self._exited() and (self.deadline is None or now < self.deadline):
            return False
        for target in (os.killpg, os.kill) if self.pid is not None else ():  # its group: what its layers started
            try:
                target(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            if self.pid is not None and not self._reaped:
                os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        if self._pidfd is not None and self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        return True


def reap() -> None:
    """Reap the workers that ended, and end those past their time (after their result, the grace)."""
    now = time.monotonic()
    for pid, worker in list(_live.items()):
        if (worker.done or worker.deadline is not None) and worker._reap(now):
            del _live[pid]


def end_workers(grace: float = EXIT_GRACE_SECONDS) -> None:
    """No worker outlives this call: those done get `grace` seconds for their atexit handlers,
    the others (and all, with grace 0) are killed."""
    limit = time.monotonic() + grace
    for worker in list(_live.values()):
        if not worker.done:
            worker.kill()
        worker.deadline = limit if worker.deadline is None else min(worker.deadline, limit)
    while _live:
        reap()
        if _live:
            time.sleep(0.005)


def readable(fds: list[int], timeout: float | None) -> list[int]:
    """Those of `fds` ready to read within `timeout` seconds (poll: no limit on fd numbers)."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000)))]


def _read_all(fd: int) -> str:
    chunks = []
    while readable([fd], 0):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")
