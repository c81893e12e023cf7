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
import json
import sys
import time
from pathlib import Path

# Run as a script, only bench/ itself is on sys.path: the repository root makes `bench.*` and
# gradcheck_cli importable without an install.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.floor import floor_part, floor_scalars  # noqa: E402
from bench.harness import (DEFAULT_SPEC, child_env, compile_bytecode, full_mode_args, load_network,  # noqa: E402
                           tensors_of)
from bench.methods import run_naive, run_torch, time_gradcheck, user_process_seconds  # noqa: E402
from bench.scaling import SCALING_FEATURES, scaling  # noqa: E402
from bench.tables import Measured, print_header, print_report  # noqa: E402


def measure(spec_path: str, net, flag: list[str], run_kwargs: dict, args) -> Measured:
    """1. gradcheck (processes, then in-process), 2. the naive loop, 3. torch, 4. the floor."""
    env = child_env()
    compile_bytecode()
    gradcheck = time_gradcheck(spec_path, flag, run_kwargs, env)
    naive_run, naive = run_naive(spec_path, args.naive_budget, env)
    torch_run, torch_res = run_torch(spec_path, args.torch_budget, args.no_torch, env)
    return Measured(gradcheck=gradcheck, flag=flag, base_scalars=sum(t.size for _, t in tensors_of(net)),
                    floor_scalars=floor_scalars(net),
                    naive_run=naive_run, naive=naive, naive_proc=user_process_seconds(naive_run, naive, "loop_seconds"),
                    torch_run=torch_run, torch_res=torch_res,
                    torch_proc=user_process_seconds(torch_run, torch_res, "call_seconds"),
                    floor=floor_part(net))


def compare(spec_path: str, args) -> None:
    spec, net = load_network(spec_path)
    flag, run_kwargs, mode_note = full_mode_args()
    print_header(spec_path, spec, mode_note)
    print_report(measure(spec_path, net, flag, run_kwargs, args))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC), help="spec file (default bench/mlp.yaml)")
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
