"""The closing table of one run: every workload's ratios against its targets, met or not, and
the peak memory of every gradcheck process. Issue 4's targets are on the built-in MLP (also
printed with its own table, as before); issue 15's on the custom layers: the same MLP written as
plain classes, and a cs231n convnet of naive-loop function pairs. Takes measurements; times
nothing."""
from __future__ import annotations

from dataclasses import dataclass

from bench.tables import TARGET_MB, TARGET_NAIVE, TARGET_TORCH, Measured, fmt_ratio, ratio, table

# Targets of issue 15, on the custom-layer workloads.
TARGET_CUSTOM_NAIVE = 5.0      # custom MLP: naive loop / gradcheck >= 5
TARGET_CUSTOM_BUILTIN = 2.0    # custom MLP: gradcheck custom / gradcheck built-in <= 2
TARGET_CONVNET_NAIVE = 5.0     # convnet: naive loop / gradcheck >= 5

TITLES = {"builtin": "built-in MLP", "custom": "custom MLP", "convnet": "convnet"}


@dataclass
class Target:
    workload: str
    name: str
    processes: float | None
    in_process: float | None
    shown: str                  # the target as printed: ">= 5x"
    met: object                 # met(value) -> bool

    def row(self) -> list[str]:
        verdict = " / ".join("-" if r is None else ("yes" if self.met(r) else "NO")
                             for r in (self.processes, self.in_process))
        return [self.workload, self.name, fmt_ratio(self.processes), fmt_ratio(self.in_process), self.shown, verdict]


def at_least(target: float):
    return f">= {target:g}x", lambda r: r >= target


def at_most(target: float):
    return f"<= {target:g}x", lambda r: r <= target


def naive_target(workload: str, m: Measured, target: float, issue: str) -> Target:
    g = m.gradcheck
    alone = m.naive["seconds"] if m.naive else None
    return Target(workload, f"naive / gradcheck ({issue})", ratio(m.naive_proc, g.process["seconds"]),
                  ratio(alone, g.inproc), *at_least(target))


def torch_target(workload: str, m: Measured) -> Target:
    g = m.gradcheck
    return Target(workload, "torch / gradcheck (issue 4)", ratio(m.torch_proc, g.process["seconds"]),
                  ratio(m.torch_res.get("seconds"), g.inproc), *at_least(TARGET_TORCH))


def custom_over_builtin(custom: Measured, builtin) -> Target:
    """gradcheck's time on the custom MLP over its time on the built-in one (the same values):
    what a user pays for writing the layers rather than naming them. `builtin`: GradcheckTimes."""
    g = custom.gradcheck
    return Target(TITLES["custom"], "gradcheck custom / built-in (issue 15)",
                  ratio(g.process["seconds"], builtin.process["seconds"]), ratio(g.inproc, builtin.inproc),
                  *at_most(TARGET_CUSTOM_BUILTIN))


def ratio_targets(measured: dict[str, Measured], builtin_gradcheck) -> list[Target]:
    """Every ratio a target is set for, for the workloads measured (`measured`: key -> Measured);
    `builtin_gradcheck`: the built-in MLP's GradcheckTimes, measured even when its section was not."""
    targets = []
    if "builtin" in measured:
        m = measured["builtin"]
        targets += [naive_target(TITLES["builtin"], m, TARGET_NAIVE, "issue 4"), torch_target(TITLES["builtin"], m)]
    if "custom" in measured:
        m = measured["custom"]
        targets.append(naive_target(TITLES["custom"], m, TARGET_CUSTOM_NAIVE, "issue 15"))
        if builtin_gradcheck is not None:
            targets.append(custom_over_builtin(m, builtin_gradcheck))
    if "convnet" in measured:
        targets.append(naive_target(TITLES["convnet"], measured["convnet"], TARGET_CONVNET_NAIVE, "issue 15"))
    return targets


def memory_rows(measured: dict[str, Measured]) -> list[list[str]]:
    rows = []
    for key, m in measured.items():
        mb = m.gradcheck.process["maxrss_mb"]
        rows.append([TITLES[key], "gradcheck peak memory, process", f"{mb:.0f} MB", "", f"< {TARGET_MB:g} MB",
                     "yes" if mb < TARGET_MB else "NO"])
    return rows


def targets_table(measured: dict[str, Measured], builtin_gradcheck) -> str:
    header = ["workload", "ratio", "processes", "in-process", "target", "met (processes / in-process)"]
    rows = [t.row() for t in ratio_targets(measured, builtin_gradcheck)]
    return table([header, *rows, *memory_rows(measured)], "llrrll")


def print_targets(measured: dict[str, Measured], builtin_gradcheck) -> None:
    print("targets, every workload of this run (one machine, one run):")
    print(targets_table(measured, builtin_gradcheck))
