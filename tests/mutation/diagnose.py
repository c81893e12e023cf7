"""Measure the diagnosis on the mutation suite: prints
`diagnosed D/Y (right kind), wrong kind W, silent S` (python tests/mutation/diagnose.py [--mode M] [--samples K] [-v]).

Y: the planted bugs with an expected kind (cases.py, written before the diagnosis); D of them got
it on every wrong tensor that expects one. W: bugs where some tensor got another kind than the
one expected (a kind where "none" was expected counts too). S: the rest of Y, where the
diagnosis said nothing. Also counted: diagnoses anywhere but on the planted bug's own tensors."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mutation.cases import BUGGY, CORRECT  # noqa: E402

from gradcheck_cli.run.batch import RunOptions, check_spec  # noqa: E402


def run(case, folder: Path, mode: str | None = None, samples: int = 64):
    spec = {"name": case.name, "seed": case.seed, "dtype": case.dtype, "input": list(case.input),
            "layers": case.layers, "loss": case.loss}
    path = folder / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return check_spec(str(path), RunOptions(mode=mode, samples=samples) if mode else RunOptions())


def kinds_found(result, case) -> dict:
    """{wrong tensor of the bug layer: its diagnosis kind, or "none"}."""
    alone = {c.tensor: c for c in result.layer_checks[case.bug_layer].checks} if result.layer_checks else {}
    return {t: (alone[t].diagnosis.kind if t in alone and alone[t].diagnosis else "none") for t in case.bug_tensors}


def stray_diagnoses(result, case) -> list[str]:
    """Diagnoses on anything but the planted bug's own tensors (alone, or in the network)."""
    found = [c for c in result.checks + [c for lc in result.layer_checks for c in lc.checks] if c.diagnosis]
    return [f"layer {c.layer} {c.tensor}: {c.diagnosis.kind}" for c in found
            if c.layer != case.bug_layer or c.tensor not in case.bug_tensors]


def verdict(expected: dict, got: dict) -> str:
    """right | wrong | silent | quiet (nothing expected, nothing said)."""
    if any(got[t] not in ("none", expected[t]) for t in expected):
        return "wrong"
    if all(kind == "none" for kind in expected.values()):
        return "quiet"
    return "right" if all(got[t] == expected[t] for t in expected if expected[t] != "none") else "silent"


def measure(mode: str | None = None, verbose: bool = False, samples: int = 64) -> dict:
    counts = {"right": 0, "wrong": 0, "silent": 0, "quiet": 0, "stray": 0, "expected": 0, "none_expected": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for case in BUGGY:
            result = run(case, Path(tmp), mode, samples)
            if result.outcome != "failed":
                print(f"  {result.outcome} {case.name}: {result.error}")
            expected, got = case.expected_kinds(), kinds_found(result, case)
            outcome = verdict(expected, got)
            counts[outcome] += 1
            counts["expected" if outcome != "quiet" and any(k != "none" for k in expected.values())
                   else "none_expected"] += 1
            stray = stray_diagnoses(result, case)
            counts["stray"] += bool(stray)
            if verbose or outcome in ("wrong", "silent") or stray:
                shown = ", ".join(f"{t}: {got[t]} (expected {expected[t]})" for t in sorted(expected))
                print(f"  {outcome:<6} {case.name}: {shown}" + (f"; stray: {stray}" if stray else ""))
            if verbose:
                for c in result.layer_checks[case.bug_layer].checks if result.layer_checks else []:
                    if c.diagnosis:
                        print(f"           {c.tensor}: {c.diagnosis.detail} ({c.diagnosis.confidence})")
        for case in CORRECT:
            result = run(case, Path(tmp), mode, samples)
            if any(c.diagnosis for c in result.checks + [c for lc in result.layer_checks for c in lc.checks]):
                counts["stray"] += 1
                print(f"  stray  {case.name}: a correct case got a diagnosis")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["full", "sample", "fast"], default=None)
    parser.add_argument("--samples", type=int, default=64, help="sample mode: coordinates per tensor")
    parser.add_argument("-v", action="store_true")
    args = parser.parse_args()
    c = measure(args.mode, args.v, args.samples)
    print(f"{len(BUGGY)} planted bugs: {c['expected']} with an expected kind, {c['none_expected']} expecting none"
          f" (quiet {c['quiet']}/{c['none_expected']}); mode {args.mode or 'default (full)'}")
    print(f"diagnosed {c['right']}/{c['expected']} (right kind), wrong kind {c['wrong']}, silent {c['silent']}"
          f"; stray diagnoses {c['stray']}")
    good = c["right"] >= 0.8 * c["expected"] and (c["wrong"] < c["silent"] or c["wrong"] == 0) and not c["stray"]
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(main())
