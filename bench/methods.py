"""Timing each method as the comparison runs it: gradcheck as fresh processes and in-process, and
the naive loop and torch each in a fresh process of its own (`compare.py --part naive|torch`)."""
from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import COMPARE_SCRIPT, REPEATS, last_line, make_run_options, run_child


@dataclass
class GradcheckTimes:
    runs: list[dict]        # every `gradcheck run` process, in order
    process: dict           # the fastest of them, with the largest peak MB of them all
    inproc: float | None    # best check_spec seconds (None: skipped, a process run alone took the budget)
    result: object          # the SpecResult of the last in-process check (None when skipped)
    startup: float | None   # a whole process on a one-layer spec (None: not measured with this workload)
    inproc_runs: int = REPEATS   # how many in-process runs the best was taken from
    counted_scalars: int = 0     # what the check compares, counted on the network (for a skipped in-process run)

    @property
    def scalars(self) -> int:
        return sum(c.elements for c in self.result.checks) if self.result is not None else self.counted_scalars

    @property
    def summary(self) -> str:
        return last_line(self.process["stdout"])


def gradcheck_run_command(spec_path: str, flag: list[str]) -> list[str]:
    return [sys.executable, "-m", "gradcheck_cli", "run", str(spec_path), "-q", *flag]


def repeated(run, repeats: int, budget: float | None) -> list:
    """run() up to `repeats` times, fewer when another run would take the time spent past
    `budget` seconds (a slow workload: one run at least): the list of what each run returned."""
    results, spent = [], 0.0
    while len(results) < repeats:
        start = time.perf_counter()
        results.append(run())
        spent += time.perf_counter() - start
        if budget is not None and spent * (len(results) + 1) / len(results) > budget:
            break
    return results


def time_gradcheck_processes(spec_path: str, flag: list[str], env, budget: float | None = None) -> tuple[dict, list]:
    """REPEATS fresh processes (fewer over `budget` seconds) and the best kept, like the floor's
    matmul rate: on a shared machine the best run is the one least disturbed by others. Peak
    memory is the largest of them all."""
    runs = repeated(lambda: run_child(gradcheck_run_command(spec_path, flag), env), REPEATS, budget)
    process = dict(min(runs, key=lambda r: r["seconds"]))
    process["maxrss_mb"] = max(r["maxrss_mb"] for r in runs)
    if process["rc"] != 0:
        print(f"note: `gradcheck run` exited {process['rc']}: {(process['stdout'] + process['stderr']).strip()}")
    return process, runs


def startup_seconds(env) -> float:
    """What a whole `gradcheck run` process costs before and after any real check."""
    with tempfile.TemporaryDirectory() as folder:
        tiny = Path(folder) / "tiny.yaml"
        tiny.write_text("input: [2, 3]\nlayers: [{type: linear, out: 2}]\n", encoding="utf-8")
        return min(run_child(gradcheck_run_command(str(tiny), []), env)["seconds"] for _ in range(REPEATS))


def time_gradcheck_in_process(spec_path: str, run_kwargs: dict,
                              budget: float | None = None) -> tuple[float, object, int]:
    """check_spec alone (no start-up), best of REPEATS (fewer over `budget` seconds):
    (seconds, the last result, how many runs)."""
    from gradcheck_cli.run.batch import check_spec
    options = make_run_options(run_kwargs)

    def timed():
        start = time.perf_counter()
        result = check_spec(str(spec_path), options)
        return time.perf_counter() - start, result

    runs = repeated(timed, REPEATS, budget)
    seconds, result = min(s for s, _ in runs), runs[-1][1]
    if result.outcome != "passed":
        print(f"note: the in-process check did not pass: {result.outcome} {result.error or ''}")
    if getattr(result, "mode", "full") not in (None, "full"):
        print(f"note: the in-process check ran in {result.mode} mode, not full")
    return seconds, result, len(runs)


def checked_scalars(spec_path: str) -> int:
    """What a full check compares, counted on the built network: the input of every top-level
    layer (integer ids excepted) and every parameter."""
    import math

    from bench.harness import load_network
    _, net = load_network(spec_path)
    inputs = sum(math.prod(e.input_shape) for e in net.stack.entries if not e.integer_input)
    return inputs + sum(p.size for e in net.stack.walk() for p in e.params().values())


def time_gradcheck(spec_path: str, flag: list[str], run_kwargs: dict, env, budget: float | None = None,
                   startup: bool = True) -> GradcheckTimes:
    """Fresh processes first (their peak RSS is their own), then the start-up (when asked), then
    in-process; each repeated up to REPEATS times, fewer when that would pass `budget` seconds.
    When a single process took longer than the budget, the in-process check is not run at all
    (the process row and its peak memory are what the targets read)."""
    process, runs = time_gradcheck_processes(spec_path, flag, env, budget)
    started = startup_seconds(env) if startup else None
    if budget is not None and process["seconds"] > budget:
        return GradcheckTimes(runs=runs, process=process, inproc=None, result=None, startup=started, inproc_runs=0,
                              counted_scalars=checked_scalars(spec_path))
    inproc, result, inproc_runs = time_gradcheck_in_process(spec_path, run_kwargs, budget)
    return GradcheckTimes(runs=runs, process=process, inproc=inproc, result=result, startup=started,
                          inproc_runs=inproc_runs)


def start_part(part: str, spec_path: str, budget: float, env) -> dict:
    """`compare.py --part PART SPEC` as a fresh process; its answer is the last line of its output."""
    budget_flag = f"--{part}-budget"
    return run_child([sys.executable, str(COMPARE_SCRIPT), "--part", part, str(spec_path), budget_flag, str(budget)],
                     env)


def run_naive(spec_path: str, budget: float, env) -> tuple[dict, dict | None]:
    """(the process, the loop's answer or None when it failed)."""
    naive_run = start_part("naive", spec_path, budget, env)
    naive = json.loads(last_line(naive_run["stdout"])) if naive_run["rc"] == 0 else None
    if naive is None:
        print(f"note: the naive loop failed: {naive_run['stderr'].strip()[-500:]}")
    return naive_run, naive


def run_torch(spec_path: str, budget: float, skip: bool, env) -> tuple[dict | None, dict]:
    """(the process or None, torch's answer: its timings, or {"skipped": why})."""
    if skip:
        return None, {"skipped": "--no-torch"}
    torch_run = start_part("torch", spec_path, budget, env)
    if torch_run["rc"] != 0:
        return torch_run, {"skipped": f"the torch run failed: {torch_run['stderr'].strip()[-300:]}"}
    return torch_run, json.loads(last_line(torch_run["stdout"]))


def user_process_seconds(run: dict | None, answer: dict | None, timed_key: str) -> float | None:
    """A process as a user would run it: without the benchmark's own estimates and sanity checks,
    and with the extrapolation when only part of the work was timed (`timed_key`: the seconds
    actually timed, `seconds`: those extrapolated to all scalars)."""
    if run is None or not answer or "seconds" not in answer:
        return None
    return run["seconds"] - answer["extra_seconds"] + answer["seconds"] - answer[timed_key]
