"""The benchmark is not run in CI (it takes minutes), but its pieces are: a broken import or a
moved seam of gradcheck_cli (check_tensor, RunOptions, the losses) shows here, on a tiny spec."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import floor, harness, methods, naive, scaling, tables, torch_gradcheck  # noqa: E402

# X 2x3, W 3x2, b 2, W 2x1, b 1: the 17 scalars the naive loop and torch perturb.
TINY = "name: tiny\nseed: 0\ndtype: float64\ninput: [2, 3]\nlayers:\n" \
       "  - {type: linear, out: 2}\n  - tanh\n  - {type: linear, out: 1}\nloss: mse\n"


@pytest.fixture
def tiny_spec(tmp_path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return str(path)


def test_the_script_runs_from_the_repository_root():
    """`python bench/compare.py --help`: every sibling module imports when run as a script."""
    out = subprocess.run([sys.executable, "bench/compare.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    for option in ("--scaling", "--scaling-only", "--no-torch", "--naive-budget", "--torch-budget"):
        assert option in out.stdout


def test_the_naive_loop_agrees_with_backprop(tiny_spec):
    answer = naive.naive_part(tiny_spec, budget=10.0)
    assert (answer["scalars"], answer["checked"], answer["sampled"]) == (17, 17, False)
    assert answer["forward"] == "plain numpy forward"
    assert answer["max_rel_error"] < 1e-6


def test_the_scaling_table_times_each_tensor(tiny_spec):
    """The scaling table times W1 by wrapping check_tensor where the job list calls it."""
    from gradcheck_cli.run.batch import check_spec
    _, run_kwargs, _ = harness.full_mode_args()
    with scaling.timing_each_tensor() as per_tensor:
        result = check_spec(tiny_spec, harness.make_run_options(run_kwargs))
    assert result.outcome == "passed"
    assert {(0, "W"), (0, "b"), (2, "W"), (2, "b")} <= set(per_tensor)


def test_torch_is_skipped_or_passes(tiny_spec):
    pytest.importorskip("torch")
    answer = torch_gradcheck.torch_part(tiny_spec, budget=10.0)
    assert answer["passed"] and answer["scalars"] == 17 and answer["loss_difference"] < 1e-12


def test_the_floor_counts_two_layer_evaluations_per_scalar(tiny_spec):
    """Linear 0: N=2, m=3, n=2, 2·3 + 6 + 2 = 14 scalars; linear 2: N=2, m=2, n=1, 2·2 + 2 + 1 = 7;
    each scalar costs two evaluations of its layer, 2·N·m·n FLOPs each."""
    _, net = harness.load_network(tiny_spec)
    assert floor.floor_scalars(net) == 21
    assert floor.floor_flops(net) == 14 * 2 * (2 * 2 * 3 * 2) + 7 * 2 * (2 * 2 * 2 * 1)
    assert floor.matmul_rate(64, 64, 64, window=0.01) > 0


def test_the_report_prints_every_row_and_target(tiny_spec, capsys, monkeypatch):
    """The tables from real measurements on the tiny spec (in-process parts; made-up processes,
    and a fixed matmul rate: the tiny layers' GEMM shapes take seconds to time)."""
    monkeypatch.setattr(floor, "matmul_rate", lambda rows, m, n, window=1.5: 1e9)
    _, net = harness.load_network(tiny_spec)
    inproc, result = methods.time_gradcheck_in_process(tiny_spec, harness.full_mode_args()[1])
    process = {"seconds": 0.5, "maxrss_mb": 80.0, "stdout": "1 spec: 1 passed\n", "rc": 0}
    gradcheck = methods.GradcheckTimes(runs=[process], process=process, inproc=inproc, result=result, startup=0.2)
    answer = naive.naive_part(tiny_spec, budget=10.0)
    naive_run = {"seconds": 1.0 + answer["extra_seconds"], "maxrss_mb": 40.0}
    measured = tables.Measured(
        gradcheck=gradcheck, flag=["--mode", "full"], base_scalars=17, floor_scalars=floor.floor_scalars(net),
        naive_run=naive_run, naive=answer, naive_proc=methods.user_process_seconds(naive_run, answer, "loop_seconds"),
        torch_run=None, torch_res={"skipped": "--no-torch"}, torch_proc=None, floor=floor.floor_part(net))
    tables.print_report(measured)
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split() == ["method", "seconds", "scalars", "us/scalar", "peak", "MB", "what", "was", "timed"]
    labels = [line[:33].strip() for line in lines[2:7]]
    assert labels == ["gradcheck full check, process", "gradcheck full check, in-process", "naive loop, process",
                      "naive loop, loop alone", "floor (matmul FLOPs / rate)"]
    assert "torch: skipped: --no-torch" in lines
    assert "gradcheck's own summary: 1 spec: 1 passed" in lines
    ratio = r" +\d+\.\d\dx +\d+\.\d\dx +"
    verdict = r" +(yes|NO) / (yes|NO)$"
    assert re.search(rf"^naive / gradcheck{ratio}>= 4x{verdict}", text, re.M)
    assert re.search(rf"^gradcheck / floor{ratio}<= 1.5x{verdict}", text, re.M)
    assert re.search(r"^torch / gradcheck +- +- +>= 15x +- / -$", text, re.M)
    assert re.search(r"^gradcheck peak memory +80 MB +< 500 MB +yes$", text, re.M)
