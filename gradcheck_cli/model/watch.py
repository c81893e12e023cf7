"""What runs around every call of a custom layer's code (its loading, build, forward, backward).

- Which layer is running, and in what: kept here, and, in an isolated worker (run/worker.py),
  written to memory shared with the parent, so that a worker that dies in a layer (a segfault,
  os._exit) is reported with the layer's name. Between calls it says that no layer is running.
- numpy's own functions: numpy, numpy.linalg, numpy.random and numpy.fft are compared after
  each call with what they were when the spec's build began. A layer that replaces one
  (`np.dot = fast_dot`) would change the numbers of every check that follows, its own and
  other specs'; it is an error naming the layer, and numpy's functions are put back.

Why a comparison of each module's values rather than something cleverer: `list(vars(np).values())
== before` is an identity test per entry at C speed, about 3 µs for the four modules (~700
entries), against 25-400 µs for one call of the smallest custom layers measured; it sees every
way of replacing a function (setattr, vars(np)[name] = ..., del), and needs no hook in numpy.
Built-in layers are not watched: they run no user code.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

from ..errors import LayerError, shown_file

WATCHED_MODULES = ("numpy", "numpy.linalg", "numpy.random", "numpy.fft")
SHOWN = {"numpy": "np", "numpy.linalg": "np.linalg", "numpy.random": "np.random", "numpy.fft": "np.fft"}
IDLE = ("", "", "")                # (layer name, label, what): no layer's code is running

_current: tuple = IDLE
_beacon = None                     # a shared buffer (mmap) in an isolated worker, else None
_encoded: dict[tuple, bytes] = {}
_snapshot: list = []               # per watched module: (module, its dict then, its values then)


def begin() -> None:
    """A spec's build begins: numpy as it is now is numpy as it must stay."""
    global _current, _snapshot
    _current = IDLE
    _snapshot = [_taken(sys.modules[name]) for name in WATCHED_MODULES if name in sys.modules]


def _taken(module) -> tuple:
    namespace = vars(module)
    return module, dict(namespace), list(namespace.values())


def current() -> tuple:
    """(name, label, what) of the layer whose code is running ("2 (./x.py:Foo)", "2", "forward");
    IDLE between calls."""
    return _current


def share(buffer) -> None:
    """From now on, each call is also written to `buffer` (an isolated worker's shared memory)."""
    global _beacon
    _beacon = buffer
    _encoded.clear()
    _tell(IDLE)


def _tell(state: tuple) -> None:
    global _current
    _current = state
    if _beacon is not None:
        data = _encoded.get(state)
        if data is None:
            body = "\0".join(state).encode("utf-8", "replace")[:1000]
            data = _encoded[state] = len(body).to_bytes(2, "little") + body
        _beacon[0:len(data)] = data


def read_beacon(buffer) -> tuple:
    """What `share` wrote last: (name, label, what), or IDLE."""
    size = int.from_bytes(buffer[0:2], "little")
    parts = buffer[2:2 + size].decode("utf-8", "replace").split("\0")
    return tuple(parts) if len(parts) == 3 else IDLE


def layer_index(label: str) -> int | None:
    """The top-level layer a label ("2.0": layer 0 of layer 2's branch) belongs to."""
    head = label.split(".")[0]
    return int(head) if head.isdigit() else None


def call(entry, what: str, method: Callable, argument):
    """method(argument), a call of entry's custom layer: named while it runs, numpy compared
    after it; seeded when the layer reads numpy's global random state (random_state.py)."""
    random = entry.random
    _tell((entry.name, entry.label, what))
    try:
        result = random.call(what, method, argument) if random is not None and random.seeding else method(argument)
    except (Exception, SystemExit):  # the caller names the layer in its error
        _after(entry.name, entry.label, what)
        raise
    _after(entry.name, entry.label, what)  # a BaseException leaves the layer named, for whoever catches it
    return result


@contextmanager
def around(name: str, label: str, what: str) -> Iterator[None]:
    """A stretch of a custom layer's code other than forward/backward (its loading, its build)."""
    _tell((name, label, what))
    try:
        yield
    except (Exception, SystemExit):
        _after(name, label, what)
        raise
    _after(name, label, what)


def around_entry(entry, what: str):
    """around() for a custom layer's entry; nothing for a built-in's."""
    return nullcontext() if entry.random is None else around(entry.name, entry.label, what)


def _after(name: str, label: str, what: str) -> None:
    """After a call: no layer running, numpy as it was, or a LayerError naming the layer (numpy
    put back). A replacement made between calls (by a thread a layer left running) is seen after
    the next call, of whichever layer comes next."""
    _tell(IDLE)
    for module, _, values in _snapshot:
        try:
            same = list(vars(module).values()) == values
        except Exception:  # a replacement whose == is an array's
            same = False
        if not same:
            break
    else:
        return
    replaced = _put_back()
    if replaced:
        raise LayerError(name, f"{what} replaced numpy's {', '.join(replaced)}: numpy is shared by every layer "
                         "and spec, so nothing computed after it could be trusted (numpy's own functions are put "
                         "back; call a function of your own instead)", index=layer_index(label))


def _put_back() -> list[str]:
    """Restore what was replaced or deleted; take in what was only added (numpy imports its
    submodules lazily). Returns the replaced names as `np.dot (by fast_dot, ./tamper.py:6)`."""
    replaced = []
    for i, (module, before, _) in enumerate(_snapshot):
        namespace = vars(module)
        prefix = SHOWN.get(module.__name__, module.__name__)
        for key, value in before.items():
            now = namespace.get(key, _MISSING)
            if now is not value:
                replaced.append(f"{prefix}.{key} ({_described(now)})")
                namespace[key] = value
        _snapshot[i] = _taken(module)
    return replaced


_MISSING = object()


def _described(replacement) -> str:
    if replacement is _MISSING:
        return "deleted"
    code = getattr(replacement, "__code__", None)
    name = getattr(replacement, "__qualname__", None) or type(replacement).__name__
    return f"by {name}" if code is None else f"by {name}, {shown_file(code.co_filename)}:{code.co_firstlineno}"
