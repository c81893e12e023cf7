"""Benchmark (not a test): gradcheck's full check against a naive finite-difference loop,
torch.autograd.gradcheck (slow mode) and the arithmetic floor, on one network.

    python bench/compare.py [SPEC]              # SPEC defaults to bench/mlp.yaml
    python bench/compare.py --scaling           # ... then full-check time on MLPs of growing size
    python bench/compare.py --scaling-only      # only the scaling table

Every method sees the same network: built by gradcheck_cli.model.network.build_network from SPEC
(same seed, so the same input, weights and loss targets). See bench/README.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "bench" / "mlp.yaml"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

# Targets of issue 4, on the standard workload.
TARGET_NAIVE = 4.0      # naive / gradcheck >= 4
TARGET_TORCH = 15.0     # torch / gradcheck >= 15
TARGET_FLOOR = 1.5      # gradcheck / floor <= 1.5
TARGET_MB = 500.0       # peak memory of the gradcheck process < 500 MB
REPEATS = 5             # gradcheck's full check, best of this many (process and in-process)


# ---------------------------------------------------------------------------------------------
# helpers

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


def compile_bytecode() -> None:
    """Compile gradcheck_cli and this script to cached bytecode, as pip does on install and
    Python on a first run: processes are timed as a user runs them from the second time on,
    even where PYTHONDONTWRITEBYTECODE is set (it stops writing the cache, not reading it)."""
    import compileall
    compileall.compile_dir(ROOT / "gradcheck_cli", quiet=1)
    compileall.compile_file(Path(__file__).resolve(), quiet=1)


def startup_seconds(env) -> float:
    """What a whole `gradcheck run` process costs before and after any real check."""
    with tempfile.TemporaryDirectory() as folder:
        tiny = Path(folder) / "tiny.yaml"
        tiny.write_text("input: [2, 3]\nlayers: [{type: linear, out: 2}]\n", encoding="utf-8")
        return min(run_child([sys.executable, "-m", "gradcheck_cli", "run", str(tiny), "-q"], env)["seconds"]
                   for _ in range(REPEATS))


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def full_mode_args() -> tuple[list[str], dict, str]:
    """Force the exhaustive check where this gradcheck has modes (CLI flag, RunOptions field)."""
    from gradcheck_cli import cli
    from gradcheck_cli.run.batch import RunOptions
    run_cmd = getattr(cli.run, "__wrapped__", cli.run)
    has_flag = "mode" in inspect.signature(run_cmd).parameters
    fields = {f.name for f in dataclasses.fields(RunOptions)}
    kwargs = {"mode": "full"} if "mode" in fields else {}
    if has_flag or kwargs:
        note = "full mode forced (" + " / ".join(
            (["--mode full for the process"] if has_flag else [])
            + (["RunOptions(mode='full') in-process"] if kwargs else [])) + ")"
    else:
        note = "this gradcheck has no modes: its check is the full one"
    return (["--mode", "full"] if has_flag else []), kwargs, note


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


def best_seconds(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# ---------------------------------------------------------------------------------------------
# 2. the naive loop (run in a child process: `compare.py --part naive SPEC`)

ELEMENTWISE = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
}


def plain_loss(net):
    """L(X) written out in plain numpy from the network's own parameter arrays (so an in-place
    perturbation of a weight is seen), or None when the spec has a layer or loss not written here."""
    from gradcheck_cli.model.losses import MSE, Dot
    ops = []
    for entry in net.stack.entries:
        if entry.type == "linear":
            params = entry.params()
            ops.append((params["W"], params.get("b")))
        elif entry.type in ELEMENTWISE:
            ops.append(ELEMENTWISE[entry.type])
        else:
            return None
    if isinstance(net.loss, MSE):
        target = net.loss.target

        def loss_of(y):
            return float(np.mean((y - target) ** 2))
    elif isinstance(net.loss, Dot):
        weights = net.loss.weights

        def loss_of(y):
            return float(np.sum(weights * y))
    else:
        return None

    def loss(x):
        for op in ops:
            if isinstance(op, tuple):
                W, b = op
                x = x @ W if b is None else x @ W + b
            else:
                x = op(x)
        return loss_of(x)

    return loss


def naive_part(spec_path: str, budget: float) -> dict:
    from gradcheck_cli.check.backprop import backprop
    build_start = time.perf_counter()
    spec, net = load_network(spec_path)
    build_seconds = time.perf_counter() - build_start
    loss = plain_loss(net)
    forward = "plain numpy forward"
    if loss is None:
        loss = lambda x: net.loss_from(0, x)  # noqa: E731
        forward = "net.loss_from(0, x)"
    x = net.x
    assert abs(loss(x) - net.loss_from(0, x)) <= 1e-12 * max(1.0, abs(net.loss_from(0, x)))
    tensors = tensors_of(net)
    total = sum(t.size for _, t in tensors)
    step = float(np.finfo(net.dtype).eps) ** (1.0 / 3.0)

    # What would the whole loop cost? Two forwards per scalar.
    extra_start = time.perf_counter()
    per_forward = best_seconds(lambda: [loss(x) for _ in range(20)], 3) / 20
    estimate = 2 * total * per_forward
    rng = np.random.default_rng(0)
    if estimate <= budget:
        chosen = [np.arange(t.size) for _, t in tensors]
        sampled = False
    else:
        fraction = budget / estimate
        chosen = [np.sort(rng.choice(t.size, max(1, math.ceil(fraction * t.size)), replace=False))
                  for _, t in tensors]
        sampled = True
    count = sum(len(c) for c in chosen)
    extra = time.perf_counter() - extra_start

    numeric = []
    start = time.perf_counter()
    for (_, theta), indices in zip(tensors, chosen):
        flat = theta.reshape(-1)           # a view: the network sees every change
        assert np.shares_memory(flat, theta)
        values = np.empty(len(indices))
        for n, i in enumerate(indices.tolist()):
            old = flat[i]
            h = step * max(1.0, abs(float(old)))
            flat[i] = old + h
            up = loss(x)
            flat[i] = old - h
            down = loss(x)
            flat[i] = old
            values[n] = (up - down) / (2.0 * h)
        numeric.append(values)
    loop_seconds = time.perf_counter() - start

    # Sanity (not timed): the loop's derivatives against backpropagation.
    extra_start = time.perf_counter()
    trace = backprop(net, net.x)
    analytic = [trace.input_grads[0]]
    for k, entry in enumerate(net.stack.entries):
        analytic += list(trace.param_grads[k].values())
    worst = 0.0
    if len(analytic) == len(tensors):
        for a, n, indices in zip(analytic, numeric, chosen):
            a = a.reshape(-1)[indices]
            scale = max(float(np.max(np.abs(a), initial=0.0)), 1e-30)
            worst = max(worst, float(np.max(np.abs(a - n), initial=0.0)) / scale)
    else:
        worst = float("nan")
    extra += time.perf_counter() - extra_start
    return {"loop_seconds": loop_seconds, "extra_seconds": extra, "seconds": loop_seconds * total / count,
            "checked": count,
            "scalars": total, "sampled": sampled, "estimate": estimate, "forward": forward,
            "build_seconds": build_seconds, "max_rel_error": worst}


# ---------------------------------------------------------------------------------------------
# 3. torch.autograd.gradcheck, slow mode (child process: `compare.py --part torch SPEC`)

def torch_part(spec_path: str, budget: float) -> dict:
    start = time.perf_counter()
    try:
        import torch
    except ImportError as exc:
        return {"skipped": f"torch is not importable ({exc})"}
    import_seconds = time.perf_counter() - start
    from torch import nn
    from torch.nn import functional as F

    from gradcheck_cli.model.losses import MSE, BCEWithLogits, CrossEntropy, Dot

    spec, net = load_network(spec_path)
    activations = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "silu": F.silu,
                   "softplus": F.softplus, "gelu": lambda x: F.gelu(x, approximate="tanh"),
                   "softmax": lambda x: torch.softmax(x, -1), "log_softmax": lambda x: torch.log_softmax(x, -1)}
    ops, weights = [], []
    for entry in net.stack.entries:
        if entry.type == "linear":
            W = entry.params()["W"]
            b = entry.params().get("b")
            ops.append(("linear", b is not None))
            weights.append(torch.from_numpy(W.T.copy()))     # torch keeps W as (out, in)
            if b is not None:
                weights.append(torch.from_numpy(b.copy()))
        elif entry.type in activations:
            ops.append((entry.type, False))
        else:
            return {"skipped": f"no torch equivalent written for layer {entry.name}"}
    loss = net.loss
    if isinstance(loss, MSE):
        target = torch.from_numpy(loss.target)
        loss_fn = lambda y: F.mse_loss(y, target)  # noqa: E731
    elif isinstance(loss, Dot):
        dot_weights = torch.from_numpy(loss.weights)
        loss_fn = lambda y: (dot_weights * y).sum()  # noqa: E731
    elif isinstance(loss, CrossEntropy):
        labels = torch.from_numpy(loss.labels)
        loss_fn = lambda y: F.cross_entropy(y, labels)  # noqa: E731
    elif isinstance(loss, BCEWithLogits):
        target = torch.from_numpy(loss.target)
        loss_fn = lambda y: F.binary_cross_entropy_with_logits(y, target)  # noqa: E731
    else:
        return {"skipped": f"no torch equivalent written for loss {type(loss).__name__}"}

    class Equivalent(nn.Module):
        """The spec's network in torch, its weights passed in (so gradcheck perturbs them)."""

        def forward(self, x, *params):
            params = iter(params)
            for kind, bias in ops:
                if kind == "linear":
                    x = F.linear(x, next(params), next(params) if bias else None)
                else:
                    x = activations[kind](x)
            return loss_fn(x)

    module = Equivalent()
    inputs = [torch.from_numpy(net.x.astype(np.float64).copy())] + weights
    inputs = [t.clone().requires_grad_() for t in inputs]
    scalars = sum(t.numel() for t in inputs)

    extra_start = time.perf_counter()
    with torch.no_grad():
        torch_loss = float(module(*inputs))
    numpy_loss = net.loss_from(0, net.x)
    # Small tensors: torch's intra-op threads can cost more than they give (badly so on a busy
    # machine). Use whichever of 1 thread and torch's default is faster for this network.
    default_threads = torch.get_num_threads()
    per_call = {}
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        with torch.no_grad():
            per_call[threads] = best_seconds(lambda: [module(*inputs) for _ in range(20)], 3) / 20
    threads = min(per_call, key=per_call.get)
    torch.set_num_threads(threads)
    # Over budget: check only some tensors (gradcheck perturbs just the inputs that require
    # grad, each scalar costing two forwards of the whole network) and extrapolate.
    estimate = 2 * scalars * per_call[threads]
    checked = scalars
    if estimate > budget:
        checked = 0
        for t in sorted(inputs, key=lambda t: t.numel()):
            if checked and 2 * (checked + t.numel()) * per_call[threads] > budget:
                t.requires_grad_(False)
            else:
                checked += t.numel()
    extra = time.perf_counter() - extra_start
    start = time.perf_counter()
    passed = torch.autograd.gradcheck(module, tuple(inputs), fast_mode=False, raise_exception=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds * scalars / checked, "call_seconds": seconds, "checked": checked,
            "sampled": checked < scalars, "extra_seconds": extra, "import_seconds": import_seconds,
            "passed": bool(passed), "scalars": scalars, "version": torch.__version__, "threads": threads,
            "default_threads": default_threads, "loss_difference": abs(torch_loss - numpy_loss)}


# ---------------------------------------------------------------------------------------------
# 4. the floor

def linear_layers(net) -> list[tuple[str, int, int, int, int]]:
    """(label, N rows, m, n, scalars of input and params) for every linear layer."""
    found = []
    for entry in net.stack.walk():
        if entry.type != "linear":
            continue
        W = entry.params()["W"]
        b = entry.params().get("b")
        m, n = W.shape
        rows = math.prod(entry.input_shape[:-1])
        found.append((entry.label, rows, m, n, rows * m + W.size + (b.size if b is not None else 0)))
    return found


def floor_flops(net) -> float:
    """Matmul FLOPs of a layer-local full check: per scalar of a linear layer's input and params,
    two evaluations of that layer alone, 2·N·m·n FLOPs each."""
    return float(sum(scalars * 2 * (2 * rows * m * n) for _, rows, m, n, scalars in linear_layers(net)))


def matmul_rate(rows: int, m: int, n: int, window: float = 1.5) -> float:
    """Best float64 FLOP/s of (rows, m) @ (m, n) on this machine: the best of many samples over
    `window` seconds, so that on a shared machine a quiet moment is caught."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((rows, m)), rng.standard_normal((m, n))
    out = np.empty((rows, n))
    np.matmul(a, b, out=out)  # warm up
    inner = max(1, int(1e8 // (2 * rows * m * n)))  # ~0.1 GFLOP per timed sample
    best, end = math.inf, time.perf_counter() + window
    while time.perf_counter() < end:
        start = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=out)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2 * rows * m * n / best


def stack_budget() -> int:
    try:
        from gradcheck_cli.check.numeric import STACK_BUDGET
        return int(STACK_BUDGET)
    except ImportError:
        return 1 << 22


def floor_part(net) -> dict:
    rates = {"512x512 @ 512x512": matmul_rate(512, 512, 512)}
    per_layer = []
    budget = stack_budget()
    for label, rows, m, n, scalars in linear_layers(net):
        stack = max(1, budget // (rows * max(m, n)))
        key = f"({stack * rows}, {m}) @ ({m}, {n})"
        if key not in rates:
            rates[key] = matmul_rate(stack * rows, m, n)
        per_layer.append((scalars * 4 * rows * m * n, rates[key]))
    flops = floor_flops(net)
    best = max(rates.values())
    return {"flops": flops, "rates": rates, "best_rate": best, "seconds": flops / best,
            "seconds_shaped": sum(f / r for f, r in per_layer)}


# ---------------------------------------------------------------------------------------------
# report

def fmt_s(seconds) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def fmt_ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(rows: list[list[str]], align: str) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe_spec(spec) -> str:
    layers = ", ".join(layer.type if not layer.options else
                       f"{layer.type} {layer.options.get('out', '')}".strip() for layer in spec.layers)
    return f"{spec.name}: input {list(spec.input)} -> {layers} -> {spec.loss.type}, {spec.dtype}, seed {spec.seed}"


def compare(spec_path: str, args) -> None:
    spec, net = load_network(spec_path)
    rel = os.path.relpath(spec_path, Path.cwd())
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(f"spec     {rel}  ({describe_spec(spec)})")
    print(f"machine  {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
          f"BLAS threads: {threads}")
    flag, run_kwargs, mode_note = full_mode_args()
    print(f"gradcheck: {mode_note}")
    print(f"load     {load_note()}")
    print()
    env = child_env()

    # 1. gradcheck: fresh processes first (their peak RSS is their own), then in-process. Each is
    # timed REPEATS times and the best kept, like the floor's matmul rate: on a shared machine the
    # best run is the one least disturbed by others.
    compile_bytecode()
    runs = [run_child([sys.executable, "-m", "gradcheck_cli", "run", str(spec_path), "-q", *flag], env)
            for _ in range(REPEATS)]
    process = min(runs, key=lambda r: r["seconds"])
    process["maxrss_mb"] = max(r["maxrss_mb"] for r in runs)
    if process["rc"] != 0:
        print(f"note: `gradcheck run` exited {process['rc']}: {(process['stdout'] + process['stderr']).strip()}")
    summary = process["stdout"].strip().splitlines()[-1] if process["stdout"].strip() else ""
    startup = startup_seconds(env)
    from gradcheck_cli.run.batch import check_spec
    options = make_run_options(run_kwargs)
    inproc = math.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = check_spec(str(spec_path), options)
        inproc = min(inproc, time.perf_counter() - start)
    if result.outcome != "passed":
        print(f"note: the in-process check did not pass: {result.outcome} {result.error or ''}")
    if getattr(result, "mode", "full") not in (None, "full"):
        print(f"note: the in-process check ran in {result.mode} mode, not full")
    gc_scalars = sum(c.elements for c in result.checks)
    base_scalars = sum(t.size for _, t in tensors_of(net))

    # 2. the naive loop, 3. torch: each in a fresh process of its own.
    me = [sys.executable, str(Path(__file__).resolve())]
    naive_run = run_child(me + ["--part", "naive", str(spec_path), "--naive-budget", str(args.naive_budget)], env)
    naive = json.loads(naive_run["stdout"].strip().splitlines()[-1]) if naive_run["rc"] == 0 else None
    if naive is None:
        print(f"note: the naive loop failed: {naive_run['stderr'].strip()[-500:]}")
    torch_run, torch_res = None, {"skipped": "--no-torch"}
    if not args.no_torch:
        torch_run = run_child(me + ["--part", "torch", str(spec_path), "--torch-budget", str(args.torch_budget)], env)
        if torch_run["rc"] == 0:
            torch_res = json.loads(torch_run["stdout"].strip().splitlines()[-1])
        else:
            torch_res = {"skipped": f"the torch run failed: {torch_run['stderr'].strip()[-300:]}"}

    # 4. the floor
    floor = floor_part(net)

    # A process as a user would run it: without the benchmark's own estimates and sanity checks,
    # and with the naive loop's extrapolation when it was sampled.
    naive_proc = (naive_run["seconds"] - naive["extra_seconds"] + naive["seconds"] - naive["loop_seconds"]
                  if naive else None)
    torch_proc = (torch_run["seconds"] - torch_res["extra_seconds"] + torch_res["seconds"] - torch_res["call_seconds"]
                  if "seconds" in torch_res else None)

    def per(seconds, scalars):
        return "-" if seconds is None or not scalars else f"{1e6 * seconds / scalars:.1f}"

    rows = [["method", "seconds", "scalars", "us/scalar", "peak MB", "what was timed"]]
    rows.append(["gradcheck full check, process", fmt_s(process["seconds"]), f"{gc_scalars:,}",
                 per(process["seconds"], gc_scalars), f"{process['maxrss_mb']:.0f}",
                 "python -m gradcheck_cli run SPEC -q" + (" --mode full" if flag else "")
                 + f" (best of {REPEATS}; all: {', '.join(format(r['seconds'], '.2f') for r in runs)})"])
    rows.append(["gradcheck full check, in-process", fmt_s(inproc), f"{gc_scalars:,}", per(inproc, gc_scalars), "",
                 f"runner.check_spec(SPEC) ({result.outcome}, {len(result.checks)} tensors; best of {REPEATS})"])
    if naive:
        extra = (f", sampled {naive['checked']:,} of {naive['scalars']:,} scalars in "
                 f"{naive['loop_seconds']:.2f} s and extrapolated") if naive["sampled"] else ""
        rows.append(["naive loop, process", fmt_s(naive_proc),
                     f"{base_scalars:,}", per(naive_proc, base_scalars), f"{naive_run['maxrss_mb']:.0f}",
                     "fresh process: imports, build, loop" + (" (extrapolated)" if naive["sampled"] else "")])
        rows.append(["naive loop, loop alone", fmt_s(naive["seconds"]), f"{base_scalars:,}",
                     per(naive["seconds"], base_scalars), "",
                     f"2 x {naive['forward']} per scalar{extra}"])
    if "seconds" in torch_res:
        rows.append(["torch gradcheck slow, process", fmt_s(torch_proc), f"{torch_res['scalars']:,}",
                     per(torch_proc, torch_res["scalars"]), f"{torch_run['maxrss_mb']:.0f}",
                     f"fresh process, import torch {torch_res['import_seconds']:.2f} s"
                     + (" (extrapolated)" if torch_res["sampled"] else "")])
        rows.append(["torch gradcheck slow, call alone", fmt_s(torch_res["seconds"]), f"{torch_res['scalars']:,}",
                     per(torch_res["seconds"], torch_res["scalars"]), "",
                     f"gradcheck(fast_mode=False), float64, {torch_res['threads']} thread(s), "
                     f"{'passed' if torch_res['passed'] else 'FAILED'}"
                     + (f", {torch_res['checked']:,} scalars checked in {torch_res['call_seconds']:.2f} s "
                        "and extrapolated" if torch_res["sampled"] else "")])
    rows.append(["floor (matmul FLOPs / rate)", fmt_s(floor["seconds"]), f"{gc_and_floor_scalars(net):,}",
                 per(floor["seconds"], gc_and_floor_scalars(net)), "",
                 f"{floor['flops'] / 1e9:.1f} GFLOP at {floor['best_rate'] / 1e9:.1f} GFLOP/s (best measured)"])
    print(table(rows, "lrrrrl"))
    print()
    print("scalars: naive and torch perturb the network input and every parameter "
          f"({base_scalars:,}); gradcheck also checks the input of every layer ({gc_scalars:,});")
    print("the floor counts the input and parameters of the linear layers "
          f"({gc_and_floor_scalars(net):,}).")
    if naive:
        print(f"naive loop vs backprop: max |numeric - analytic| / max |analytic| per tensor = "
              f"{naive['max_rel_error']:.1e} (sanity check, not timed)")
    if "skipped" in torch_res:
        print(f"torch: skipped: {torch_res['skipped']}")
    else:
        print(f"torch {torch_res['version']}: the equivalent module's loss differs from gradcheck's network's by "
              f"{torch_res['loss_difference']:.1e}; ran with {torch_res['threads']} intra-op thread(s) "
              f"(the faster of 1 and torch's default {torch_res['default_threads']} on this network)")
    print("matmul rates (float64, best sample over 1.5 s each): " + "; ".join(f"{k}: {v / 1e9:.1f} GFLOP/s"
                                                            for k, v in floor["rates"].items()))
    print(f"floor at the workload-shaped GEMM rates instead of the best: {floor['seconds_shaped']:.2f} s")
    if summary:
        print(f"gradcheck's own summary: {summary}")
    print(f"start-up: `gradcheck run` on a one-layer spec takes {startup:.2f} s as a whole process (best of "
          f"{REPEATS}): Python, numpy, typer, rich and PyYAML; part of the process rows above, not of the floor")
    print()

    # ratios
    def ratio(a, b):
        return None if a is None or b is None or b <= 0 else a / b

    naive_alone = naive["seconds"] if naive else None
    torch_alone = torch_res.get("seconds")
    ratios = [
        ("naive / gradcheck", ratio(naive_proc, process["seconds"]), ratio(naive_alone, inproc),
         f">= {TARGET_NAIVE:g}x", lambda r: r >= TARGET_NAIVE),
        ("torch / gradcheck", ratio(torch_proc, process["seconds"]), ratio(torch_alone, inproc),
         f">= {TARGET_TORCH:g}x", lambda r: r >= TARGET_TORCH),
        ("gradcheck / floor", ratio(process["seconds"], floor["seconds"]), ratio(inproc, floor["seconds"]),
         f"<= {TARGET_FLOOR:g}x", lambda r: r <= TARGET_FLOOR),
    ]
    rows = [["ratio", "processes", "in-process", "target", "met (processes / in-process)"]]
    for name, a, b, target, ok in ratios:
        verdict = " / ".join("-" if r is None else ("yes" if ok(r) else "NO") for r in (a, b))
        rows.append([name, fmt_ratio(a), fmt_ratio(b), target, verdict])
    mb = process["maxrss_mb"]
    rows.append(["gradcheck peak memory", f"{mb:.0f} MB", "", f"< {TARGET_MB:g} MB",
                 "yes" if mb < TARGET_MB else "NO"])
    print(table(rows, "lrrll"))
    print(f"load at the end: {load_note()}")
    print("processes: each method as a fresh process, as a user runs it; in-process: the timed work alone")
    print("(gradcheck's check_spec call, the naive loop, the torch.autograd.gradcheck call).")


def load_note() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    busy = one > 1.25
    return (f"average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
            + ("; other processes are running, so every time here is inflated" if busy else ""))


def gc_and_floor_scalars(net) -> int:
    return sum(s for *_, s in linear_layers(net))


# ---------------------------------------------------------------------------------------------
# scaling

SCALING_FEATURES = (64, 128, 256, 512, 1024)


def scaling(args) -> None:
    """Scalars against seconds with the cost of one perturbation held fixed: only the input's
    feature count m grows, and with it X and W1 of layer 0; the layers after W1 stay as they
    are, so each W1 scalar costs the same and the W1 check must take time in proportion.
    (The other tensors are cheaper per scalar, so the total's per-scalar cost shifts with the
    mix.)"""
    from gradcheck_cli.check import jobs as checker  # check_tensor, as the job list calls it
    from gradcheck_cli.run.batch import check_spec
    _, run_kwargs, mode_note = full_mode_args()
    options = make_run_options(run_kwargs)
    features = [int(m) for m in args.scaling_features.split(",")]
    print(f"scaling: gradcheck's full check, in-process; {mode_note}")
    print("input [32, m] -> linear 128 -> tanh -> linear 128 -> tanh -> linear 10 -> mse, float64, seed 0")
    print()
    per_tensor: dict = {}
    plain_check = checker.check_tensor

    def timed_check(layer, type_, tensor, *rest, **kwargs):
        start = time.perf_counter()
        result = plain_check(layer, type_, tensor, *rest, **kwargs)
        key = (layer, tensor)
        per_tensor[key] = min(per_tensor.get(key, math.inf), time.perf_counter() - start)
        return result

    rows = [["m", "scalars", "seconds", "us/scalar", "W1 scalars", "W1 seconds", "us/W1 scalar", "outcome"]]
    totals, w1 = [], []
    checker.check_tensor = timed_check
    try:
        with tempfile.TemporaryDirectory() as folder:
            for m in features:
                path = Path(folder) / f"mlp_{m}.yaml"
                path.write_text(
                    f"name: mlp_{m}\nseed: 0\ndtype: float64\ninput: [32, {m}]\nlayers:\n"
                    "  - {type: linear, out: 128}\n  - tanh\n  - {type: linear, out: 128}\n"
                    "  - tanh\n  - {type: linear, out: 10}\nloss: mse\n", encoding="utf-8")
                per_tensor.clear()
                check_spec(str(path), options)  # warm-up: imports, caches
                seconds = best_seconds(lambda: check_spec(str(path), options), 2)
                result = check_spec(str(path), options)
                scalars = sum(c.elements for c in result.checks)
                w1_scalars, w1_seconds = 128 * m, per_tensor[(0, "W")]
                totals.append((scalars, seconds))
                w1.append((w1_scalars, w1_seconds))
                rows.append([str(m), f"{scalars:,}", f"{seconds:.2f}", f"{1e6 * seconds / scalars:.1f}",
                             f"{w1_scalars:,}", f"{w1_seconds:.2f}", f"{1e6 * w1_seconds / w1_scalars:.1f}",
                             result.outcome])
    finally:
        checker.check_tensor = plain_check
    print(table(rows, "rrrrrrrl"))
    if len(w1) >= 2:
        slope = np.polyfit(np.log([p[0] for p in w1]), np.log([p[1] for p in w1]), 1)[0]
        print(f"W1 check: seconds grow like scalars^{slope:.2f} (least squares on log-log; 1.00 is linear)")
        # The tensors that do not grow with m cost the same at every size: the whole check is
        # linear as a + b·scalars, which a log-log slope would not show.
        scalars, seconds = np.array(totals, dtype=float).T
        b, a = np.polyfit(scalars, seconds, 1)
        worst = np.max(np.abs(a + b * scalars - seconds) / seconds)
        steps = [f"{1e6 * (t1 - t0) / (n1 - n0):.1f}" for (n0, t0), (n1, t1) in zip(totals, totals[1:])]
        print(f"whole check: a straight line through (scalars, seconds) is within {100 * worst:.0f}% at every size; "
              f"us per added scalar from one size to the next: {', '.join(steps)}")


# ---------------------------------------------------------------------------------------------

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC), help="spec file (default bench/mlp.yaml)")
    parser.add_argument("--scaling", action="store_true", help="after the comparison, time MLPs of growing size")
    parser.add_argument("--scaling-only", action="store_true", help="only the scaling table")
    parser.add_argument("--scaling-features", default=",".join(map(str, SCALING_FEATURES)),
                        help="input feature counts of the scaling MLPs (default %(default)s)")
    parser.add_argument("--no-torch", action="store_true", help="skip torch.autograd.gradcheck")
    parser.add_argument("--naive-budget", type=float, default=40.0,
                        help="seconds the naive loop may take; above its estimate, a random subset of "
                             "scalars is timed and the time extrapolated (default %(default)s)")
    parser.add_argument("--torch-budget", type=float, default=90.0,
                        help="skip torch when its estimated time is over this (default %(default)s)")
    parser.add_argument("--part", choices=("naive", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    spec = str(Path(args.spec).resolve())
    if args.part == "naive":
        with np.errstate(all="ignore"):
            print(json.dumps(naive_part(spec, args.naive_budget)))
        return
    if args.part == "torch":
        print(json.dumps(torch_part(spec, args.torch_budget)))
        return
    start = time.perf_counter()
    if not args.scaling_only:
        compare(spec, args)
    if args.scaling or args.scaling_only:
        if not args.scaling_only:
            print()
        scaling(args)
    print(f"\n(compare.py ran {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
