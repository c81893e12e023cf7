"""Benchmark (not a test): gradcheck's full check against a naive finite-difference loop,
torch.autograd.gradcheck (slow mode) and the arithmetic floor, on a built-in MLP; then the same
MLP written as plain custom classes, and a cs231n convnet of naive-loop function pairs.

    python bench/compare.py [SPEC]              # SPEC defaults to bench/mlp.yaml
    python bench/compare.py --only custom       # one workload: builtin (SPEC), custom or convnet
    python bench/compare.py --scaling           # ... then full-check time on MLPs of growing size
    python bench/compare.py --scaling-only      # only the scaling table

Every method of a workload sees the same network: built by gradcheck_cli.model.network.build_network
from its spec (same seed, so the same input, weights and loss targets). See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# Run as a script, only bench/ itself is on sys.path: the repository root makes `bench.*` and
# gradcheck_cli importable without an install.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.floor import floor_part, floor_scalars  # noqa: E402
from bench.harness import (CONVNET_SPEC, CUSTOM_SPEC, DEFAULT_SPEC, child_env, compile_bytecode,  # noqa: E402
                           full_mode_args, load_network, same_values, tensors_of)
from bench.methods import run_naive, run_torch, time_gradcheck, user_process_seconds  # noqa: E402
from bench.scaling import SCALING_FEATURES, scaling  # noqa: E402
from bench.tables import Measured, print_header, print_report, print_section  # noqa: E402
from bench.targets import TITLES, print_targets  # noqa: E402

WORKLOADS = ("builtin", "custom", "convnet")


def measure(spec_path: str, net, flag: list[str], run_kwargs: dict, args, *, torch: bool = True,
            floor: bool = True, startup: bool = True) -> Measured:
    """1. gradcheck (processes, then in-process), 2. the naive loop, 3. torch, 4. the floor."""
    env = child_env()
    gradcheck = time_gradcheck(spec_path, flag, run_kwargs, env, args.repeat_budget, startup)
    naive_run, naive = run_naive(spec_path, args.naive_budget, env)
    torch_run, torch_res = run_torch(spec_path, args.torch_budget, args.no_torch or not torch, env)
    return Measured(gradcheck=gradcheck, flag=flag, base_scalars=sum(t.size for _, t in tensors_of(net)),
                    floor_scalars=floor_scalars(net) if floor else 0,
                    naive_run=naive_run, naive=naive, naive_proc=user_process_seconds(naive_run, naive, "loop_seconds"),
                    torch_run=torch_run, torch_res=torch_res,
                    torch_proc=user_process_seconds(torch_run, torch_res, "call_seconds"),
                    floor=floor_part(net) if floor else None)


def compare_builtin(spec_path: str, args, flag, run_kwargs) -> Measured:
    spec, net = load_network(spec_path)
    print_section(TITLES["builtin"], spec_path, spec)
    measured = measure(spec_path, net, flag, run_kwargs, args)
    print_report(measured)
    return measured


def builtin_reference(builtin: Measured | None, args, flag, run_kwargs):
    """The built-in MLP (bench/mlp.yaml) the custom one is measured against: this run's built-in
    workload when it ran on that spec, else gradcheck (and torch, unless --no-torch) timed here
    without a table of its own. (gradcheck's times, torch's (run, answer, process seconds))."""
    if builtin is not None:
        return builtin.gradcheck, (builtin.torch_run, builtin.torch_res, builtin.torch_proc)
    env = child_env()
    gradcheck = time_gradcheck(str(DEFAULT_SPEC), flag, run_kwargs, env, args.repeat_budget, startup=False)
    torch_run, torch_res = run_torch(str(DEFAULT_SPEC), args.torch_budget, args.no_torch, env)
    return gradcheck, (torch_run, torch_res, user_process_seconds(torch_run, torch_res, "call_seconds"))


def compare_custom(args, flag, run_kwargs, builtin: Measured | None):
    """The MLP of bench/mlp.yaml as plain custom classes: gradcheck and the naive loop on it; torch
    is the built-in MLP's, on the same values (checked here). `builtin`: this run's measurement of
    bench/mlp.yaml, if any. Returns (Measured, the built-in's gradcheck times)."""
    spec, net = load_network(str(CUSTOM_SPEC))
    print_section(TITLES["custom"], str(CUSTOM_SPEC), spec)
    builtin_gradcheck, (torch_run, torch_res, torch_proc) = builtin_reference(builtin, args, flag, run_kwargs)
    m = measure(str(CUSTOM_SPEC), net, flag, run_kwargs, args, torch=False, floor=False, startup=False)
    if same_values(net, load_network(str(DEFAULT_SPEC))[1]):
        m.torch_run, m.torch_res, m.torch_proc = torch_run, torch_res, torch_proc
        m.torch_source = ("its rows are bench/mlp.yaml's: that spec's network holds the same values as this one "
                          "(X, every weight and the loss's targets are equal, checked), so the same torch module "
                          "and call are its equivalent")
    else:
        m.torch_res = {"skipped": "the custom MLP's values differ from bench/mlp.yaml's, so its torch module is not "
                                  "this network's"}
    print_report(m, ratios=False)
    return m, builtin_gradcheck


def compare_convnet(args, flag, run_kwargs) -> Measured:
    """A cs231n convnet of naive-loop function pairs: gradcheck against the naive loop."""
    spec, net = load_network(str(CONVNET_SPEC))
    print_section(TITLES["convnet"], str(CONVNET_SPEC), spec)
    m = measure(str(CONVNET_SPEC), net, flag, run_kwargs, args, torch=False, floor=False, startup=False)
    m.torch_res = {"skipped": "no torch equivalent is written for the convnet (its target is the naive loop)"}
    print_report(m, ratios=False)
    return m


def compare(spec_path: str, args) -> None:
    """Each workload asked for, in turn (its own tables), then every target in one table."""
    flag, run_kwargs, mode_note = full_mode_args()
    print_header(mode_note)
    compile_bytecode()
    measured, builtin_gradcheck = {}, None
    if "builtin" in args.only:
        measured["builtin"] = compare_builtin(spec_path, args, flag, run_kwargs)
        print()
    if "custom" in args.only:
        # the custom MLP is bench/mlp.yaml's: this run's built-in measurement serves when it is of that spec
        builtin = measured.get("builtin") if spec_path == str(DEFAULT_SPEC) else None
        measured["custom"], builtin_gradcheck = compare_custom(args, flag, run_kwargs, builtin)
        print()
    if "convnet" in args.only:
        measured["convnet"] = compare_convnet(args, flag, run_kwargs)
        print()
    print_targets(measured, builtin_gradcheck)


def workloads(text: str) -> tuple[str, ...]:
    chosen = tuple(w.strip() for w in text.split(",") if w.strip())
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(WORKLOADS)} (comma-separated), got {text!r}")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC),
                   help="spec of the built-in workload (default bench/mlp.yaml)")
    p.add_argument("--only", type=workloads, default=WORKLOADS, metavar="WORKLOADS",
                   help="the workloads to measure, comma-separated: builtin (SPEC), custom (bench/custom_mlp.yaml), "
                        "convnet (bench/convnet.yaml); default all of them")
    p.add_argument("--scaling", action="store_true", help="after the comparison, time MLPs of growing size")
    p.add_argument("--scaling-only", action="store_true", help="only the scaling table")
    p.add_argument("--scaling-features", default=",".join(map(str, SCALING_FEATURES)),
                   help="input feature counts of the scaling MLPs (default %(default)s)")
    p.add_argument("--no-torch", action="store_true", help="skip torch.autograd.gradcheck")
    p.add_argument("--naive-budget", type=float, default=40.0,
                   help="seconds the naive loop may take; above its estimate, a random subset of "
                        "scalars is timed and the time extrapolated (default %(default)s)")
    p.add_argument("--torch-budget", type=float, default=90.0,
                   help="seconds torch may take; above its estimate, only some of the tensors are checked "
                        "and the time extrapolated (default %(default)s)")
    p.add_argument("--repeat-budget", type=float, default=60.0,
                   help="seconds the repeated runs of one gradcheck measurement may take: best of 5, or of fewer "
                        "when another run would pass this (one at least) (default %(default)s)")
    p.add_argument("--part", choices=("naive", "torch"), help=argparse.SUPPRESS)
    return p


def answer_part(part: str, spec: str, args) -> None:
    """A method's own child process: its answer as one JSON line."""
    if part == "naive":
        from bench.naive import naive_part
        with np.errstate(all="ignore"):
            print(json.dumps(naive_part(spec, args.naive_budget)))
    else:
        from bench.torch_gradcheck import torch_part
        print(json.dumps(torch_part(spec, args.torch_budget)))


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    spec = str(Path(args.spec).resolve())
    if args.part:
        answer_part(args.part, spec, args)
        return
    start = time.perf_counter()
    if not args.scaling_only:
        compare(spec, args)
    if args.scaling or args.scaling_only:
        if not args.scaling_only:
            print()
        scaling([int(m) for m in args.scaling_features.split(",")])
    print(f"\n(compare.py ran {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
