"""Timing each method as the comparison runs it: gradcheck as fresh processes and in-process, and
the naive loop and torch each in a fresh process of its own (`compare.py --part naive|torch`)."""
from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.harness import COMPARE_SCRIPT, REPEATS, best_seconds, last_line, make_run_options, run_child


@dataclass
class GradcheckTimes:
    runs: list[dict]        # every `gradcheck run` process, in order
    process: dict           # the fastest of them, with the largest peak MB of them all
    inproc: float           # best check_spec seconds
    result: object          # the SpecResult of the last in-process check
    startup: float          # a whole process on a one-layer spec

    @property
    def scalars(self) -> int:
        return sum(c.elements for c in self.result.checks)

    @property
    def summary(self) -> str:
        return last_line(self.process["stdout"])


def gradcheck_run_command(spec_path: str, flag: list[str]) -> list[str]:
    return [sys.executable, "-m", "gradcheck_cli", "run", str(spec_path), "-q", *flag]


def time_gradcheck_processes(spec_path: str, flag: list[str], env) -> tuple[dict, list[dict]]:
    """REPEATS fresh processes and the best kept, like the floor's matmul rate: on a shared machine
    the best run is the one least disturbed by others. Peak memory is the largest of them all."""
    runs = [run_child(gradcheck_run_command(spec_path, flag), env) for _ in range(REPEATS)]
    process = min(runs, key=lambda r: r["seconds"])
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


def time_gradcheck_in_process(spec_path: str, run_kwargs: dict) -> tuple[float, object]:
    """check_spec alone (no start-up), best of REPEATS: (seconds, the last result)."""
    from gradcheck_cli.run.batch import check_spec
    options = make_run_options(run_kwargs)
    results = []
    seconds = best_seconds(lambda: results.append(check_spec(str(spec_path), options)), REPEATS)
    result = results[-1]
    if result.outcome != "passed":
        print(f"note: the in-process check did not pass: {result.outcome} {result.error or ''}")
    if getattr(result, "mode", "full") not in (None, "full"):
        print(f"note: the in-process check ran in {result.mode} mode, not full")
    return seconds, result


def time_gradcheck(spec_path: str, flag: list[str], run_kwargs: dict, env) -> GradcheckTimes:
    """Fresh processes first (their peak RSS is their own), then the start-up, then in-process."""
    process, runs = time_gradcheck_processes(spec_path, flag, env)
    startup = startup_seconds(env)
    inproc, result = time_gradcheck_in_process(spec_path, run_kwargs)
    return GradcheckTimes(runs=runs, process=process, inproc=inproc, result=result, startup=startup)


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
