"""numpy's global random state around the calls of a custom layer.

Many layers draw with np.random (dropout: `mask = (np.random.rand(*x.shape) < p) / p`). The
checker calls forward thousands of times and must see one fixed function, so a layer that
reads the global state gets it seeded before each of its calls, from the spec's seed and the
layer's position: every perturbation sees the same mask, a run sees the masks of the run
before, and two dropout layers draw different masks. The caller's own stream (the user's
process, with the Python API) is put back afterwards.

Why it is done this way: np.random.get_state and set_state take about 50 µs each (the
Mersenne Twister's 624 words go through Python), np.random.seed about 3 µs, and a layer is
called many thousands of times. So
- only custom layers are watched (built-ins never touch np.random), and only during their
  first forward and backward pass (`settle` ends it); a layer that did not read the global
  state then runs untouched. A read shows as a draw: after np.random.seed(s) the next number
  is known, and it is another one once the layer has drawn;
- inside `preserved()` (one spec's whole check) the caller's state is saved once when the block
  opens and put back once when it closes; outside such a block every seeded call saves and
  restores it itself (correct, only slower);
- the state is process-wide, so seeded calls hold one lock: layers that read it run one at a
  time, even where the engine runs stacks on threads.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import numpy as np

_lock = threading.RLock()
_open_block: list | None = None    # [the caller's state] while a preserved() block is open
_SPAWN_TAG = 0x72616E64            # "rand": keeps these seeds apart from the spec's other draws


class GlobalRandom:
    """The global random state one custom layer sees: seeded before each of its calls while it
    is watched (its first pass), and afterwards only if it turned out to read it."""

    def __init__(self, seed: int, label: str):
        parts = [int(part) for part in label.split(".")]
        words = np.random.SeedSequence(seed, spawn_key=(_SPAWN_TAG, len(parts), *parts)).generate_state(2)
        self.call_seed, self.build_seed = int(words[0]), int(words[1])
        self.first_draw = np.random.RandomState(self.call_seed).random_sample()
        self.watching = True
        self.seeding = True          # watching, or found reading: every call is seeded
        self.reads: str | None = None  # "forward" or "backward": the first call seen drawing

    def call(self, what: str, method: Callable, argument):
        """method(argument) with the global state seeded for this layer, then the caller's back."""
        with _lock:
            saved = _save()
            try:
                np.random.seed(self.call_seed)
                result = method(argument)
                if self.watching and self.reads is None and np.random.random_sample() != self.first_draw:
                    self.reads = what
            finally:
                _restore(saved)
        return result

    def settle(self) -> None:
        """The first pass is over: from now on only a layer that read the global state is seeded."""
        self.watching = False
        self.seeding = self.reads is not None


@contextmanager
def seeded_build(random: GlobalRandom | None) -> Iterator[None]:
    """Around build: weights drawn with np.random are the same from run to run (a seed of their
    own, so they are not the numbers the layer's forward then draws)."""
    if random is None:
        yield
        return
    with _lock:
        saved = _save()
        try:
            np.random.seed(random.build_seed)
            yield
        finally:
            _restore(saved)


def preserved():
    """One block (a spec's check) inside which the caller's np.random state is saved once and
    restored once, however many seeded calls run. Nested blocks are the outer one."""
    return nullcontext() if _open_block is not None else _preserved()


def keeps_caller_state(function: Callable) -> Callable:
    """`function` runs inside a preserved() block (check_built: whoever calls it, the CLI or the
    Python API, gets the caller's state back and one save for the whole check)."""
    import functools

    @functools.wraps(function)
    def inside_a_block(*args, **kwargs):
        with preserved():
            return function(*args, **kwargs)
    return inside_a_block


@contextmanager
def _preserved() -> Iterator[None]:
    global _open_block
    with _lock:
        _open_block = [np.random.get_state()]
    try:
        yield
    finally:
        with _lock:
            np.random.set_state(_open_block[0])
            _open_block = None


_IN_BLOCK = object()


def _save():
    return _IN_BLOCK if _open_block is not None else np.random.get_state()


def _restore(saved) -> None:
    if saved is not _IN_BLOCK:
        np.random.set_state(saved)
