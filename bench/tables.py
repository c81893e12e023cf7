"""The comparison's printed report: the methods table, the notes under it and the ratios against
the targets of issue 4. Takes measurements, prints text; times nothing."""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass

from bench.harness import REPEATS, load_note

# Targets of issue 4, on the standard workload.
TARGET_NAIVE = 4.0      # naive / gradcheck >= 4
TARGET_TORCH = 15.0     # torch / gradcheck >= 15
TARGET_FLOOR = 1.5      # gradcheck / floor <= 1.5
TARGET_MB = 500.0       # peak memory of the gradcheck process < 500 MB


@dataclass
class Measured:
    """Everything the comparison measured, as the report reads it."""
    gradcheck: object           # methods.GradcheckTimes
    flag: list[str]             # the CLI flag that forced full mode, if any
    base_scalars: int           # X and every parameter: what naive and torch perturb
    floor_scalars: int
    naive_run: dict
    naive: dict | None          # the naive loop's answer, None when it failed
    naive_proc: float | None
    torch_run: dict | None
    torch_res: dict             # torch's answer or {"skipped": why}
    torch_proc: float | None
    floor: dict | None          # None: no floor for this workload (custom layers: no FLOPs to count)
    torch_source: str = ""      # where the torch rows come from when measured on another spec (same values)


def fmt_s(seconds) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def fmt_ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def per_scalar(seconds, scalars) -> str:
    return "-" if seconds is None or not scalars else f"{1e6 * seconds / scalars:.1f}"


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def table(rows: list[list[str]], align: str) -> str:
    """Columns padded to their widest cell ('l' or 'r' per column), a rule under the header."""
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


def print_header(mode_note: str) -> None:
    import numpy as np
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(f"machine  {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
          f"BLAS threads: {threads}")
    print(f"gradcheck: {mode_note}")
    print()


def method_row(name: str, seconds, scalars: int, peak: str, timed: str) -> list[str]:
    return [name, fmt_s(seconds), f"{scalars:,}", per_scalar(seconds, scalars), peak, timed]


def gradcheck_rows(m: Measured) -> list[list[str]]:
    g = m.gradcheck
    all_runs = ", ".join(format(r["seconds"], ".2f") for r in g.runs)
    command = "python -m gradcheck_cli run SPEC -q" + (" --mode full" if m.flag else "")
    return [
        method_row("gradcheck full check, process", g.process["seconds"], g.scalars, f"{g.process['maxrss_mb']:.0f}",
                   f"{command} ({best_of(len(g.runs))}; all: {all_runs})"),
        method_row("gradcheck full check, in-process", g.inproc, g.scalars, "",
                   f"runner.check_spec(SPEC) ({g.result.outcome}, {len(g.result.checks)} tensors; "
                   f"{best_of(g.inproc_runs)})" if g.result is not None else
                   "skipped: one process run took longer than --repeat-budget"),
    ]


def best_of(runs: int) -> str:
    return f"best of {runs}" if runs == REPEATS else f"best of {runs}: more would pass --repeat-budget"


def naive_rows(m: Measured) -> list[list[str]]:
    naive = m.naive
    if not naive:
        return []
    extrapolated = " (extrapolated)" if naive["sampled"] else ""
    sampled = (f", sampled {naive['checked']:,} of {naive['scalars']:,} scalars in "
               f"{naive['loop_seconds']:.2f} s and extrapolated") if naive["sampled"] else ""
    return [
        method_row("naive loop, process", m.naive_proc, m.base_scalars, f"{m.naive_run['maxrss_mb']:.0f}",
                   "fresh process: imports, build, loop" + extrapolated),
        method_row("naive loop, loop alone", naive["seconds"], m.base_scalars, "",
                   f"2 x {naive['forward']} per scalar, BLAS threads: {naive.get('blas_threads', 'default')}"
                   f"{sampled}"),
    ]


def torch_rows(m: Measured) -> list[list[str]]:
    res = m.torch_res
    if "seconds" not in res:
        return []
    extrapolated = " (extrapolated)" if res["sampled"] else ""
    sampled = (f", {res['checked']:,} scalars checked in {res['call_seconds']:.2f} s "
               "and extrapolated") if res["sampled"] else ""
    return [
        method_row("torch gradcheck slow, process", m.torch_proc, res["scalars"], f"{m.torch_run['maxrss_mb']:.0f}",
                   f"fresh process, import torch {res['import_seconds']:.2f} s{extrapolated}"),
        method_row("torch gradcheck slow, call alone", res["seconds"], res["scalars"], "",
                   f"gradcheck(fast_mode=False), float64, {res['threads']} thread(s), "
                   f"{'passed' if res['passed'] else 'FAILED'}{sampled}"),
    ]


def floor_row(m: Measured) -> list[list[str]]:
    floor = m.floor
    if floor is None:
        return []
    return [method_row("floor (matmul FLOPs / rate)", floor["seconds"], m.floor_scalars, "",
                       f"{floor['flops'] / 1e9:.1f} GFLOP at {floor['best_rate'] / 1e9:.1f} GFLOP/s (best measured)")]


def methods_table(m: Measured) -> str:
    header = ["method", "seconds", "scalars", "us/scalar", "peak MB", "what was timed"]
    return table([header, *gradcheck_rows(m), *naive_rows(m), *torch_rows(m), *floor_row(m)], "lrrrrl")


def scalars_notes(m: Measured) -> list[str]:
    lines = ["scalars: naive and torch perturb the network input and every parameter "
             f"({m.base_scalars:,}); gradcheck also checks the input of every layer ({m.gradcheck.scalars:,})"
             + (";" if m.floor else ".")]
    if m.floor:
        lines.append(f"the floor counts the input and parameters of the linear layers ({m.floor_scalars:,}).")
    if m.naive:
        lines.append(f"naive loop vs backprop: max |numeric - analytic| / max |analytic| per tensor = "
                     f"{m.naive['max_rel_error']:.1e} (sanity check, not timed)")
    return lines


def torch_note(res: dict, source: str = "") -> str:
    if "skipped" in res:
        return f"torch: skipped: {res['skipped']}"
    if source:
        return f"torch {res['version']}: {source}"
    return (f"torch {res['version']}: the equivalent module's loss differs from gradcheck's network's by "
            f"{res['loss_difference']:.1e}; ran with {res['threads']} intra-op thread(s) "
            f"(the faster of 1 and torch's default {res['default_threads']} on this network)")


def floor_and_startup_notes(m: Measured) -> list[str]:
    floor, g = m.floor, m.gradcheck
    lines = []
    if floor:
        rates = "; ".join(f"{k}: {v / 1e9:.1f} GFLOP/s" for k, v in floor["rates"].items())
        lines += [f"matmul rates (float64, best sample over 1.5 s each): {rates}",
                  f"floor at the workload-shaped GEMM rates instead of the best: {floor['seconds_shaped']:.2f} s"]
    if g.summary:
        lines.append(f"gradcheck's own summary: {g.summary}")
    if g.startup is not None:
        lines.append(f"start-up: `gradcheck run` on a one-layer spec takes {g.startup:.2f} s as a whole process (best "
                     f"of {REPEATS}): Python, numpy, typer, rich and PyYAML; part of the process rows above, not of "
                     "the floor")
    return lines


def notes(m: Measured) -> list[str]:
    return [*scalars_notes(m), torch_note(m.torch_res, m.torch_source), *floor_and_startup_notes(m)]


def ratio_rows(m: Measured) -> list[list[str]]:
    g, floor = m.gradcheck, m.floor["seconds"] if m.floor else None
    naive_alone = m.naive["seconds"] if m.naive else None
    ratios = [
        ("naive / gradcheck", ratio(m.naive_proc, g.process["seconds"]), ratio(naive_alone, g.inproc),
         f">= {TARGET_NAIVE:g}x", lambda r: r >= TARGET_NAIVE),
        ("torch / gradcheck", ratio(m.torch_proc, g.process["seconds"]), ratio(m.torch_res.get("seconds"), g.inproc),
         f">= {TARGET_TORCH:g}x", lambda r: r >= TARGET_TORCH),
        ("gradcheck / floor", ratio(g.process["seconds"], floor), ratio(g.inproc, floor),
         f"<= {TARGET_FLOOR:g}x", lambda r: r <= TARGET_FLOOR),
    ]
    if m.floor is None:
        ratios = [r for r in ratios if r[0] != "gradcheck / floor"]
    rows = []
    for name, processes, in_process, target, met in ratios:
        verdict = " / ".join("-" if r is None else ("yes" if met(r) else "NO") for r in (processes, in_process))
        rows.append([name, fmt_ratio(processes), fmt_ratio(in_process), target, verdict])
    return rows


def memory_row(m: Measured) -> list[str]:
    mb = m.gradcheck.process["maxrss_mb"]
    return ["gradcheck peak memory", f"{mb:.0f} MB", "", f"< {TARGET_MB:g} MB", "yes" if mb < TARGET_MB else "NO"]


def ratios_table(m: Measured) -> str:
    header = ["ratio", "processes", "in-process", "target", "met (processes / in-process)"]
    return table([header, *ratio_rows(m), memory_row(m)], "lrrll")


def print_section(title: str, spec_path: str, spec) -> None:
    """The heading of one workload: its spec and the load as it starts."""
    print(f"== {title} ==")
    print(f"spec     {os.path.relpath(spec_path)}  ({describe_spec(spec)})")
    print(f"load     {load_note()}")
    print()


def print_report(m: Measured, ratios: bool = True) -> None:
    """The methods table and its notes; with `ratios`, issue 4's ratios table (the built-in MLP's)."""
    print(methods_table(m))
    print()
    print("\n".join(notes(m)))
    if not ratios:
        return
    print()
    print(ratios_table(m))
    print(f"load at the end: {load_note()}")
    print("processes: each method as a fresh process, as a user runs it; in-process: the timed work alone")
    print("(gradcheck's check_spec call, the naive loop, the torch.autograd.gradcheck call).")
