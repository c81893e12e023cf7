"""Measure the checker on the mutation suite: prints
`bugs caught X/Y, false alarms A/B, located L/Y` (python tests/mutation/measure.py)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mutation.cases import BUGGY, CORRECT  # noqa: E402

from gradcheck_cli.run.batch import check_spec  # noqa: E402


def run(case, folder: Path):
    spec = {"name": case.name, "seed": case.seed, "dtype": case.dtype, "input": list(case.input),
            "layers": case.layers, "loss": case.loss}
    path = folder / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return check_spec(str(path))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        caught = located = alarms = 0
        for case in BUGGY:
            result = run(case, folder)
            flagged = {c.tensor for c in result.checks if c.layer == case.bug_layer and not c.passed}
            if result.outcome == "failed":
                caught += 1
                if result.suspect_layer == case.bug_layer and flagged == set(case.bug_tensors):
                    located += 1
                else:
                    print(f"  not located: {case.name}: suspect {result.suspect_layer}, flagged {sorted(flagged)}")
            else:
                print(f"  missed: {case.name}: {result.outcome} {result.error or ''}")
        for case in CORRECT:
            result = run(case, folder)
            if result.outcome != "passed":
                alarms += 1
                print(f"  false alarm: {case.name}: {result.outcome} {result.error or ''}")
    f32 = sum(c.dtype == "float32" for c in BUGGY + CORRECT)
    print(f"{len(BUGGY)} planted bugs, {len(CORRECT)} correct cases ({f32} in float32)")
    print(f"bugs caught {caught}/{len(BUGGY)}, false alarms {alarms}/{len(CORRECT)}, located {located}/{len(BUGGY)}")
    return 0 if caught == located == len(BUGGY) and alarms == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
