"""Layers that harm the process they run in, each in its own way (tests/test_isolation.py).
Each is an identity layer otherwise, so that the harm is the only thing wrong with it."""
import atexit
import ctypes
import os
import sys
import threading
import time

import numpy as np


class Identity:
    def forward(self, x):
        return x * 1.0

    def backward(self, grad_out):
        return grad_out * 1.0


class ExitsZero(Identity):
    def forward(self, x):
        os._exit(0)


class ExitsThree(Identity):
    def backward(self, grad_out):
        os._exit(3)


class SysExit(Identity):
    def forward(self, x):
        sys.exit(0)


class Segfault(Identity):
    def forward(self, x):
        ctypes.string_at(0)


class Aborts(Identity):
    def backward(self, grad_out):
        os.abort()


class LeavesThread(Identity):
    """A non-daemon thread that never ends: an interpreter's normal exit would wait for it."""

    def build(self, input_shape):
        threading.Thread(target=lambda: time.sleep(3600), daemon=False).start()


class ChangesFolder(Identity):
    def build(self, input_shape):
        os.chdir(os.environ.get("GRADCHECK_TEST_ELSEWHERE", "/"))


class ChangesPath(Identity):
    """Puts a folder first on sys.path and a fake `json` module into sys.modules."""

    def build(self, input_shape):
        sys.path.insert(0, "/nonexistent/planted")
        sys.modules["json"] = type(sys)("json")
        sys.modules["planted_by_a_layer"] = type(sys)("planted_by_a_layer")


class Checks(Identity):
    """Correct; its spec passes only where sys.path and sys.modules are as they should be."""

    def forward(self, x):
        assert "/nonexistent/planted" not in sys.path, "sys.path kept a previous spec's change"
        assert "planted_by_a_layer" not in sys.modules, "sys.modules kept a previous spec's change"
        import json
        json.dumps([1])
        return x * 1.0


class CustomBase(BaseException):
    """Not an Exception: `except Exception` does not catch it."""


class RaisesBase(Identity):
    def forward(self, x):
        raise CustomBase("a layer's own BaseException")


class InterruptsItsConstructor(Identity):
    def __init__(self):
        raise KeyboardInterrupt


class RaisesInterrupt(Identity):
    def backward(self, grad_out):
        raise KeyboardInterrupt


def _fast_dot(a, b, out=None):
    return np.matmul(a, b) * 1.01   # 1% off: every later dot is wrong


class PatchesNumpy:
    """y = x W, with np.dot replaced by a wrong one on the first forward."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        self.params["W"] = rng.standard_normal((input_shape[-1], 3))

    def forward(self, x):
        np.dot = _fast_dot
        self.x = x
        return np.dot(x, self.params["W"])

    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        return grad_out @ self.params["W"].T


class Dot:
    """y = x W with np.dot, correct: it passes where np.dot is numpy's."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def build(self, input_shape, rng):
        self.params["W"] = rng.standard_normal((input_shape[-1], 3))

    def forward(self, x):
        self.x = x
        return np.dot(x, self.params["W"])

    def backward(self, grad_out):
        self.grads["W"] = np.dot(self.x.T, grad_out)
        return np.dot(grad_out, self.params["W"].T)


class RegistersAtexit(Identity):
    """Writes a file at exit: its worker must run the handler before it ends."""

    def build(self, input_shape):
        target = os.environ["GRADCHECK_TEST_ATEXIT"]
        atexit.register(lambda: open(target, "w").write(str(os.getpid())))


class Hangs(Identity):
    """Records its pid, then never returns (until its process is ended)."""

    def forward(self, x):
        target = os.environ.get("GRADCHECK_TEST_PIDS")
        if target:
            with open(target, "a") as file:
                file.write(f"{os.getpid()}\n")
        time.sleep(3600)


class Forks(Identity):
    """Starts a process of its own that would sleep for an hour; records its pid."""

    def build(self, input_shape):
        pid = os.fork()
        if pid == 0:
            time.sleep(3600)
            os._exit(0)
        with open(os.environ["GRADCHECK_TEST_PIDS"], "a") as file:
            file.write(f"{pid}\n")
