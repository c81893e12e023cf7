"""Measure kinks in composition (python tests/mutation/kinks.py): prints
`kinks in composition: valid passed K/M, invalid failed F/G`.

A valid case counts when it passes with kinks counted (it did sit on kinks); an invalid one
when it fails with its declared suspect layer."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mutation.kink_cases import INVALID, VALID, KinkCase  # noqa: E402

from gradcheck_cli.results import SpecResult  # noqa: E402
from gradcheck_cli.run.batch import RunOptions, check_spec  # noqa: E402


def run(case: KinkCase, folder: Path) -> SpecResult:
    path = folder / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(case.spec(), sort_keys=False))
    return check_spec(str(path), RunOptions(mode=case.mode, samples=8, directions=4))


def verdict(case: KinkCase, result: SpecResult) -> str | None:
    """None when the case came out as declared, else what went wrong."""
    if case.valid:
        kinks = sum(c.kinks for c in result.checks)
        if result.outcome != "passed":
            wrong = [(c.layer, c.tensor) for c in result.checks if not c.passed]
            return f"{result.outcome} {result.error or wrong}, suspect {result.suspect_layer}"
        return None if kinks else "passed, but with no kink counted: the case does not sit on a kink"
    if result.outcome != "failed":
        return f"{result.outcome} {result.error or ''}".strip()
    if result.suspect_layer != case.suspect:
        return f"failed, but suspect {result.suspect_layer} (declared {case.suspect})"
    return None


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        outcomes = {}
        for case in VALID + INVALID:
            problem = verdict(case, run(case, folder))
            outcomes[case.name] = problem is None
            if problem:
                print(f"  {'valid' if case.valid else 'invalid'} {case.name}: {problem}")
    passed = sum(outcomes[c.name] for c in VALID)
    failed = sum(outcomes[c.name] for c in INVALID)
    print(f"kinks in composition: valid passed {passed}/{len(VALID)}, invalid failed {failed}/{len(INVALID)}")
    return 0 if passed == len(VALID) and failed == len(INVALID) else 1


if __name__ == "__main__":
    raise SystemExit(main())
