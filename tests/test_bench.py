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

from bench import compare, floor, harness, methods, naive, scaling, tables, targets, torch_gradcheck  # noqa: E402

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
    for option in ("--scaling", "--scaling-only", "--no-torch", "--naive-budget", "--torch-budget", "--only",
                   "--repeat-budget"):
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
    inproc, result, _ = methods.time_gradcheck_in_process(tiny_spec, harness.full_mode_args()[1])
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


# The custom workloads' layers at tiny sizes: bench/custom_layers.py and bench/convnet_layers.py,
# in specs shaped like bench/custom_mlp.yaml and bench/convnet.yaml.
BENCH = ROOT / "bench"
TINY_CUSTOM_MLP = {"seed": 0, "input": [3, 4], "loss": "mse",
                   "layers": [{"type": "./custom_layers.py:Affine", "out": 3}, "./custom_layers.py:Tanh",
                              {"type": "./custom_layers.py:Affine", "out": 2}]}
TINY_CONVNET = {"seed": 0, "input": [2, 2, 6, 6], "loss": "cross_entropy", "layers": [
    {"type": "./convnet_layers.py:conv_forward_naive", "params": {"w": {"shape": [3, 2, 3, 3], "scale": 0.3},
                                                                  "b": {"shape": [3], "scale": 0.1}},
     "args": {"conv_param": {"stride": 1, "pad": 1}}},
    "./convnet_layers.py:relu",
    {"type": "./convnet_layers.py:max_pool_forward_naive",
     "args": {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}},
    {"type": "./convnet_layers.py:affine", "params": {"w": {"shape": [27, 4], "scale": 0.2}, "b": [4]}}]}


@pytest.fixture
def tiny_custom_specs(tmp_path) -> list[str]:
    """The tiny specs as files, beside copies of the bench's layer files (paths are relative to a spec)."""
    import shutil

    import yaml
    for name in ("custom_layers.py", "convnet_layers.py"):
        shutil.copy(BENCH / name, tmp_path / name)
    paths = []
    for name, spec in (("custom_mlp", TINY_CUSTOM_MLP), ("convnet", TINY_CONVNET)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("spec, tensors", [
    (TINY_CUSTOM_MLP, {(0, "input"), (0, "W"), (0, "b"), (1, "input"), (2, "input"), (2, "W"), (2, "b")}),
    (TINY_CONVNET, {(0, "input"), (0, "w"), (0, "b"), (1, "input"), (2, "input"), (3, "input"), (3, "w"),
                    (3, "b")}),
], ids=["custom_mlp", "convnet"])
def test_the_custom_workloads_layers_pass_gradchecks_full_check(spec, tensors):
    """Every gradient of the layers as written, found without declarations (W, b by their dW, db;
    a function pair's w, b from params) and compared at every scalar."""
    from gradcheck_cli.api import check_spec
    result = check_spec(spec, base=BENCH, mode="full")
    assert result.outcome == "passed", str(result)
    assert {(c.layer, c.tensor) for c in result.checks} == tensors
    assert all(c.checked == c.elements for c in result.checks)


def test_the_custom_mlp_holds_the_values_of_the_built_in_one():
    """What lets the custom MLP borrow the built-in MLP's torch rows, and makes custom / built-in a
    comparison of the same work: the same X, weights and targets."""
    _, builtin = harness.load_network(str(harness.DEFAULT_SPEC))
    _, custom = harness.load_network(str(harness.CUSTOM_SPEC))
    assert harness.same_values(custom, builtin)
    _, other = harness.load_network(str(harness.CONVNET_SPEC))
    assert not harness.same_values(custom, other)


def test_the_naive_loop_runs_the_users_layers_and_agrees_with_backprop(tiny_custom_specs):
    for path, scalars in zip(tiny_custom_specs, (3 * 4 + 4 * 3 + 3 + 3 * 2 + 2, 2 * 2 * 36 + 54 + 3 + 27 * 4 + 4)):
        answer = naive.naive_part(path, budget=60.0)
        assert answer["forward"] == "the user's forward code"
        assert (answer["scalars"], answer["checked"], answer["sampled"]) == (scalars, scalars, False)
        assert answer["max_rel_error"] < 1e-6


def test_the_user_forward_loss_is_the_networks(tiny_custom_specs):
    """The loop's L(X) through the user's own functions and the plain cross-entropy is gradcheck's L."""
    _, net = harness.load_network(tiny_custom_specs[1])
    loss = naive.custom_loss(net)
    assert loss is not None
    assert loss(net.x) == pytest.approx(net.loss_from(0, net.x), rel=1e-13)


def test_only_takes_a_list_of_workloads():
    assert compare.parser().parse_args([]).only == ("builtin", "custom", "convnet")
    assert compare.parser().parse_args(["--only", "custom,convnet"]).only == ("custom", "convnet")
    with pytest.raises(SystemExit):
        compare.parser().parse_args(["--only", "cnn"])


def test_repeats_stop_before_the_budget(monkeypatch):
    """Best of 5, but no run is started that the time spent says would pass the budget."""
    clock = [0.0]
    monkeypatch.setattr(methods.time, "perf_counter", lambda: clock[0])

    def run(seconds):
        clock[0] += seconds
        return seconds

    assert len(methods.repeated(lambda: run(1.0), 5, 60.0)) == 5
    assert len(methods.repeated(lambda: run(25.0), 5, 60.0)) == 2
    assert len(methods.repeated(lambda: run(300.0), 5, 60.0)) == 1
    assert len(methods.repeated(lambda: run(300.0), 5, None)) == 5


def fake_measured(process_s: float, inproc_s: float, naive_proc: float, naive_alone: float, mb: float,
                  torch_s: float | None = None) -> tables.Measured:
    from types import SimpleNamespace
    check = SimpleNamespace(elements=100)
    result = SimpleNamespace(checks=[check], outcome="passed", mode="full")
    process = {"seconds": process_s, "maxrss_mb": mb, "stdout": "1 spec: 1 passed\n", "rc": 0}
    gradcheck = methods.GradcheckTimes(runs=[process], process=process, inproc=inproc_s, result=result, startup=None,
                                       inproc_runs=1)
    naive_answer = {"seconds": naive_alone, "loop_seconds": naive_alone, "sampled": False, "checked": 80,
                    "scalars": 80, "forward": "the user's forward code", "max_rel_error": 1e-9}
    torch_res = ({"seconds": torch_s, "call_seconds": torch_s, "sampled": False, "checked": 80, "scalars": 80,
                  "import_seconds": 1.0, "threads": 1, "passed": True, "version": "2.x"}
                 if torch_s else {"skipped": "--no-torch"})
    return tables.Measured(gradcheck=gradcheck, flag=["--mode", "full"], base_scalars=80, floor_scalars=0,
                           naive_run={"seconds": naive_proc, "maxrss_mb": 50.0}, naive=naive_answer,
                           naive_proc=naive_proc, torch_run={"maxrss_mb": 300.0} if torch_s else None,
                           torch_res=torch_res, torch_proc=torch_s + 2.0 if torch_s else None, floor=None)


def test_the_targets_table_marks_every_target(capsys):
    """Made-up measurements: the custom MLP 6x faster than its loop but 3x the built-in's time, the
    convnet 2x faster than its loop and over the memory limit."""
    measured = {"builtin": fake_measured(1.0, 0.5, 7.0, 4.0, 120.0, torch_s=20.0),
                "custom": fake_measured(3.0, 1.5, 18.0, 9.0, 130.0),
                "convnet": fake_measured(10.0, 9.0, 20.0, 18.0, 600.0)}
    targets.print_targets(measured, measured["builtin"].gradcheck)
    text = capsys.readouterr().out
    row = r" +(\d+\.\d\dx|-) +(\d+\.\d\dx|-) +"
    expected = [
        r"^built-in MLP +naive / gradcheck \(issue 4\) +7\.00x +8\.00x +>= 4x +yes / yes$",
        r"^built-in MLP +torch / gradcheck \(issue 4\) +22\.00x +40\.00x +>= 15x +yes / yes$",
        r"^custom MLP +naive / gradcheck \(issue 15\) +6\.00x +6\.00x +>= 5x +yes / yes$",
        r"^custom MLP +gradcheck custom / built-in \(issue 15\) +3\.00x +3\.00x +<= 2x +NO / NO$",
        r"^convnet +naive / gradcheck \(issue 15\) +2\.00x +2\.00x +>= 5x +NO / NO$",
        r"^built-in MLP +gradcheck peak memory, process +120 MB +< 500 MB +yes$",
        r"^custom MLP +gradcheck peak memory, process +130 MB +< 500 MB +yes$",
        r"^convnet +gradcheck peak memory, process +600 MB +< 500 MB +NO$",
    ]
    for pattern in expected:
        assert re.search(pattern, text, re.M), (pattern, text)
    assert re.search(rf"^custom MLP +naive / gradcheck \(issue 15\){row}", text, re.M)


def test_a_custom_workloads_report_has_no_floor_and_says_where_torch_came_from(capsys):
    m = fake_measured(3.0, 1.5, 18.0, 9.0, 130.0, torch_s=20.0)
    m.torch_source = "its rows are bench/mlp.yaml's"
    tables.print_report(m, ratios=False)
    text = capsys.readouterr().out
    assert "floor" not in text and "start-up" not in text and "naive / gradcheck" not in text
    assert "torch 2.x: its rows are bench/mlp.yaml's" in text.splitlines()
    assert "best of 1: more would pass --repeat-budget" in text
    assert re.search(r"^naive loop, loop alone +9\.00 +80 .* 2 x the user's forward code per scalar, "
                     r"BLAS threads: default$", text, re.M)
