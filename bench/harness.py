"""What every method of the benchmark shares: the network built from the spec, best-of-n timing,
fresh processes with their own peak memory, and gradcheck's full mode."""
from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "bench" / "mlp.yaml"
CUSTOM_SPEC = ROOT / "bench" / "custom_mlp.yaml"      # DEFAULT_SPEC's MLP as plain custom classes
CONVNET_SPEC = ROOT / "bench" / "convnet.yaml"        # a cs231n convnet of naive-loop function pairs
COMPARE_SCRIPT = ROOT / "bench" / "compare.py"
REPEATS = 5             # gradcheck's full check, best of this many (process and in-process)


def load_network(spec_path: str):
    from gradcheck_cli.model.network import build_network
    from gradcheck_cli.spec.load import load_spec
    spec = load_spec(str(spec_path))
    return spec, build_network(spec)


def tensors_of(net) -> list[tuple[str, np.ndarray]]:
    """The network input X and every parameter, as (name, the array the network uses)."""
    found = [("X", net.x)]
    for entry in net.stack.walk():
        for key, value in entry.params().items():
            found.append((f"{entry.label}.{key}", value))
    return found


def same_values(net, other) -> bool:
    """Whether two built networks hold the same numbers: X, every parameter in order, and the
    loss's fixed targets (what a torch check of one is a check of the other on)."""
    ours, theirs = tensors_of(net), tensors_of(other)
    if len(ours) != len(theirs) or type(net.loss) is not type(other.loss):
        return False
    if not all(a.shape == b.shape and np.array_equal(a, b) for (_, a), (_, b) in zip(ours, theirs)):
        return False
    targets = [(k, v) for k, v in vars(net.loss).items() if isinstance(v, np.ndarray)]
    return all(np.array_equal(v, getattr(other.loss, k, None)) for k, v in targets)


def best_seconds(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# Runs one command and reports its wall time and peak RSS. A child's ru_maxrss starts from the
# high-water mark of the process that spawned it (Linux records the old address space's peak at
# exec; with vfork that is the parent's), so the command is started from this small fresh Python,
# not from the benchmark, whose in-process runs are large: getrusage(RUSAGE_CHILDREN) here is the
# command's own peak.
LAUNCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": seconds, "rc": code,
               "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, out)
"""


def run_child(cmd: list[str], env=None) -> dict:
    """Run a fresh process: wall time, exit code, output and its own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        subprocess.run([sys.executable, "-c", LAUNCHER, report.name, *cmd], stdout=out, stderr=err,
                       cwd=ROOT, env=env, check=True)
        measured = json.load(open(report.name))
        out.seek(0)
        err.seek(0)
        return {"seconds": measured["seconds"], "rc": measured["rc"], "maxrss_mb": measured["maxrss_kb"] / 1024.0,
                "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def compile_bytecode() -> None:
    """Compile gradcheck_cli and the benchmark to cached bytecode, as pip does on install and
    Python on a first run: processes are timed as a user runs them from the second time on,
    even where PYTHONDONTWRITEBYTECODE is set (it stops writing the cache, not reading it)."""
    import compileall
    compileall.compile_dir(ROOT / "gradcheck_cli", quiet=1)
    compileall.compile_dir(ROOT / "bench", quiet=1)


def full_mode_args() -> tuple[list[str], dict, str]:
    """Force the exhaustive check where this gradcheck has modes: (CLI flag, RunOptions fields, note)."""
    from gradcheck_cli import cli
    from gradcheck_cli.run.batch import RunOptions
    run_cmd = getattr(cli.run, "__wrapped__", cli.run)
    has_flag = "mode" in inspect.signature(run_cmd).parameters
    kwargs = {"mode": "full"} if "mode" in {f.name for f in dataclasses.fields(RunOptions)} else {}
    return (["--mode", "full"] if has_flag else []), kwargs, full_mode_note(has_flag, bool(kwargs))


def full_mode_note(has_flag: bool, has_field: bool) -> str:
    if not (has_flag or has_field):
        return "this gradcheck has no modes: its check is the full one"
    forced = (["--mode full for the process"] if has_flag else []) + \
        (["RunOptions(mode='full') in-process"] if has_field else [])
    return "full mode forced (" + " / ".join(forced) + ")"


def make_run_options(kwargs: dict):
    from gradcheck_cli.run.batch import RunOptions
    if not kwargs:
        return RunOptions()
    try:
        return RunOptions(**kwargs)
    except TypeError:
        # RunOptions.mode may be a structured value rather than a name
        from gradcheck_cli.check import precision
        mode_cls = getattr(precision, "Mode", None)
        return RunOptions(mode=mode_cls("full")) if mode_cls else RunOptions()


def load_note() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    busy = one > 1.25
    return (f"average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
            + ("; other processes are running, so every time here is inflated" if busy else ""))
