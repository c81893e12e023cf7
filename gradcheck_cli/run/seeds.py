"""--seeds N: each spec checked at N seeds, its own and the next ones (seed, seed+1, ...): every
random draw (the input, the parameters, the targets) changes, so that a branch of a layer that
one draw never reaches (x < -1) is reached by another. One result per spec: the worst outcome
over its seeds, with the checks of the first seed that gave it, and a note saying which."""
from __future__ import annotations

import dataclasses
import time

from ..results import ERROR, FAILED, PASSED, SpecResult

WORSE = {PASSED: 0, FAILED: 1, ERROR: 2}


def check_at_seeds(spec, options, check_one, start: float) -> SpecResult:
    """`check_one(spec, options)` at every seed of `options.seeds`, made into one result."""
    seeds = list(range(spec.seed, spec.seed + options.seeds))
    once = dataclasses.replace(options, seeds=1)
    results = [check_one(dataclasses.replace(spec, seed=seed), once) for seed in seeds]
    worst = max(results, key=lambda result: WORSE[result.outcome])   # the first of the worst
    shown = seeds[results.index(worst)]
    worst.notes.insert(0, seeds_note(seeds, [result.outcome for result in results], shown))
    worst.seeds, worst.seed = seeds, shown
    worst.seconds = time.perf_counter() - start
    return worst


def seeds_note(seeds: list[int], outcomes: list[str], shown: int) -> str:
    """`checked at 8 seeds: 0..7; failed at seeds 3, 5; the checks shown are seed 3's`."""
    span = f"{seeds[0]}..{seeds[-1]}"
    parts = []
    for outcome in (FAILED, ERROR):
        at = [str(seed) for seed, got in zip(seeds, outcomes) if got == outcome]
        if at:
            parts.append(f"{outcome if outcome == FAILED else 'error'} at seed{'s' if len(at) > 1 else ''} "
                         f"{', '.join(at)}")
    said = "; ".join(parts) if parts else "all passed"
    return f"checked at {len(seeds)} seeds: {span}; {said}; the checks shown are seed {shown}'s"
