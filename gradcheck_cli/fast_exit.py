"""How the `gradcheck` process ends: quickly, but without losing what must run at exit."""
from __future__ import annotations

import atexit
import os
import sys


def _observed() -> bool:
    """A tracer or profiler is attached: coverage.py, cProfile, a debugger."""
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: coverage.py's sysmon core
    tools = monitoring is not None and any(monitoring.get_tool(tool) for tool in range(6))
    return sys.gettrace() is not None or sys.getprofile() is not None or bool(tools)


def exit_fast(code: int) -> None:
    """End the process with `code` once its output is flushed."""
    # Reports are written and closed by now. What is left is the interpreter's teardown of every
    # module (numpy, rich, typer): 50-80 ms measured, a sixth of a small run. Skip it, but not the
    # atexit handlers (a layer file's own; coverage.py's in a measured subprocess), and not at all
    # under a tracer or profiler (`coverage run`, cProfile, a debugger): it finishes after we return.
    from .report.terminal import stream_lost
    code = stream_lost(code)  # a closed or full standard output: one line, and not exit code 0
    if _observed():
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: closed when the process started (`>&-`)
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`), a full disk (`> /dev/full`)
            code = code or 1
    os._exit(code)
