"""Ctrl-C and SIGTERM (what CI sends on cancel) end a run the same way: the specs finished so far
are reported, the workers are ended, and the exit code says which signal it was (130, 143).

Only the first signal interrupts. Any later one, while the workers are ended and while the
reports are written, is remembered and nothing more: a second Ctrl-C cannot cut a report short.
A signal that comes while the reports of a finished run are written is remembered too, and
becomes the exit code once they are written.
"""
from __future__ import annotations

import functools
import signal
import threading

STOPPING = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """The run was asked to stop by `signum` (a KeyboardInterrupt, so every Ctrl-C path takes it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """Installed around `gradcheck run` (the `stopping` decorator), its run and its reports;
    `restore()` puts back the handlers there were (the command may run inside another program:
    a test, an embedding)."""

    def __init__(self, install: bool = True):
        self.signum: int | None = None      # the first signal
        self.raising = True
        self._previous = {}
        if install and threading.current_thread() is threading.main_thread():
            for signum in STOPPING:
                self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            return                          # already stopping: remembered once is enough
        self.signum = signum
        if self.raising:
            raise Stopped(signum)

    def hold(self) -> None:
        """From now on (the reports are being written) a signal is only remembered."""
        self.raising = False

    @property
    def code(self) -> int | None:
        """128 + the first signal, if there was one."""
        return None if self.signum is None else 128 + self.signum

    def restore(self) -> None:
        """The handlers there were, put back; unless a signal came: the process is stopping, and
        one more signal on its way out would only cut short what is left (or print a traceback)."""
        if self.signum is not None:
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}


_installed: list[StopSignals] = []


def stopping(command):
    """A command (`gradcheck run`) decorated: StopSignals installed while it runs."""
    @functools.wraps(command)
    def with_stop_signals(*args, **kwargs):
        _installed.append(StopSignals())
        try:
            return command(*args, **kwargs)
        except Stopped as stop:  # before the run began: nothing to report, only the exit code to give
            raise SystemExit(128 + stop.signum) from None
        finally:
            _installed.pop().restore()
    return with_stop_signals


def reports_held() -> StopSignals:
    """The reports are being written: from now on a signal is only remembered (its `code` then
    is the exit code). Outside a `stopping` command, a StopSignals that installed nothing."""
    signals = _installed[-1] if _installed else StopSignals(install=False)
    signals.hold()
    return signals
