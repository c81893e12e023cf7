"""The `gradcheck` command through typer's CliRunner, the way a user or a CI job sees it."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest

import gradcheck_cli
from conftest import CALIBRATION, ROOT, SPECS, SUMMARY, invoke_cli, lines

BROKEN = {
    # spec -> (bug layer, its class, the tensors its backward gets wrong, the tensors it gets right)
    "specs/broken/bias_mean.yaml": (0, "AffineBiasMean", ["b"], ["input", "W"]),
    "specs/broken/no_transpose.yaml": (1, "AffineNoTranspose", ["input"], ["W", "b"]),
    "specs/broken/softmax_diagonal.yaml": (1, "SoftmaxDiagonal", ["input"], []),
}


@pytest.fixture
def at_root(monkeypatch):
    """Run from the repository root, so paths are given as a user types them: specs/mlp.yaml."""
    monkeypatch.chdir(ROOT)


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich tables in an output, as lists of stripped cells."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def summary(output: str) -> tuple[str, ...]:
    match = SUMMARY.match(lines(output)[-1])
    assert match, output
    return match.groups()


# --- version ---------------------------------------------------------------------------------


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"gradcheck {gradcheck_cli.__version__}"
    # the version a user sees is the one pip installed
    assert gradcheck_cli.__version__ == installed_version("gradcheck-cli")


# --- the example specs -----------------------------------------------------------------------


def test_run_mlp_shows_every_tensor_passed(at_root, invoke):
    result = invoke("run", "specs/mlp.yaml")
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output)
    assert [row[:4] for row in rows] == [
        ["0", "linear", "input", "4×3"],
        ["0", "linear", "W", "3×5"],
        ["0", "linear", "b", "5"],
        ["1", "tanh", "input", "4×5"],
        ["2", "linear", "input", "4×5"],
        ["2", "linear", "W", "5×2"],          # bias: false -> no b
    ]
    assert all(row[-1] == "passed" for row in rows), result.output
    for row in rows:  # max abs err and max rel err: small numbers in 1.23e-10 form
        assert all(float(cell) < 1e-6 for cell in row[4:6]), row
    assert "specs/mlp.yaml" in lines(result.output)[0]
    assert summary(result.output) == ("1", "1", "0", "0")
    assert "Traceback" not in result.output


def test_example_specs_all_pass(at_root, run_json):
    """What the README promises: `gradcheck run specs/*.yaml specs/custom` exits 0."""
    paths = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))
    assert len(paths) >= 6
    result, report = run_json(*paths, "specs/custom")
    assert result.exit_code == 0, result.output
    assert report["passed"] is True
    assert report["summary"]["specs"] == len(paths) + 2
    assert {s["outcome"] for s in report["specs"]} == {"passed"}
    assert {"specs/custom/swish.yaml", "specs/custom/layernorm.yaml"} <= {s["path"] for s in report["specs"]}
    assert any(c["tensor"] == "beta" and c["type"].endswith(":Swish") for s in report["specs"] for c in s["checks"])


def _layer_types(entries):
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        elif "type" in entry:
            yield entry["type"]
            yield from _layer_types(entry.get("layers", []))
        else:
            (name, options), = entry.items()
            yield name
            yield from _layer_types((options or {}).get("layers", []))


def test_example_specs_cover_every_builtin_and_loss_and_float32():
    import yaml

    from gradcheck_cli.model.registry import GATES, LAYERS, LOSSES

    specs = [yaml.safe_load(p.read_text()) for p in (ROOT / "specs").rglob("*.yaml")
             if "broken" not in p.parts]
    types = {t for s in specs for t in _layer_types(s.get("layers", []) + s.get("graph", []))}
    assert set(LAYERS) | set(GATES) <= types, (set(LAYERS) | set(GATES)) - types
    losses = {s.get("loss", "mse") if isinstance(s.get("loss", "mse"), str) else s["loss"]["type"] for s in specs}
    assert set(LOSSES) <= losses, set(LOSSES) - losses
    assert any(s.get("dtype") == "float32" for s in specs)


def test_run_broken_fails_and_names_the_buggy_tensors(at_root, invoke):
    result = invoke("run", "specs/broken")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert summary(result.output) == (str(len(BROKEN)), "0", str(len(BROKEN)), "0")
    rows = table_rows(result.output)
    verdicts = [line.strip() for line in result.output.splitlines() if line.strip().startswith("→")]
    assert len(verdicts) == len(BROKEN)
    for spec, (layer, cls, wrong, right) in BROKEN.items():
        for tensor in wrong:
            assert [str(layer), cls, tensor] in [row[:3] for row in rows if row[-1] == "FAILED"], (spec, tensor)
        for tensor in right:
            assert [str(layer), cls, tensor] in [row[:3] for row in rows if row[-1] == "passed"], (spec, tensor)
        named = " and ".join(wrong)
        assert any(v.startswith(f"→ layer {layer} (./layers.py:{cls}): backward wrong for {named};")
                   for v in verdicts), verdicts


def test_broken_specs_point_at_the_buggy_layer_in_json(at_root, run_json):
    result, report = run_json("specs/broken")
    assert result.exit_code == 1
    assert [s["path"] for s in report["specs"]] == sorted(BROKEN)
    for spec in report["specs"]:
        layer, cls, wrong, right = BROKEN[spec["path"]]
        assert spec["outcome"] == "failed"
        assert spec["suspect_layer"] == layer
        failed = {c["tensor"] for c in spec["checks"] if c["layer"] == layer and c["outcome"] == "failed"}
        assert failed == set(wrong), spec["path"]
        # checked alone, only the buggy layer is wrong, and only for those tensors
        alone = {entry["layer"]: entry for entry in spec["layers"]}
        assert [k for k, entry in alone.items() if entry["outcome"] != "passed"] == [layer]
        assert {c["tensor"] for c in alone[layer]["checks"] if c["outcome"] == "failed"} == set(wrong)


def test_bias_mean_report_shows_the_factor_of_the_batch_size(at_root, run_json):
    """The worst element's analytic and numeric values tell the story: mean = sum / N, N = 5."""
    _, report = run_json("specs/broken/bias_mean.yaml")
    (check,) = [c for c in report["specs"][0]["checks"] if (c["layer"], c["tensor"]) == (0, "b")]
    assert check["analytic"] * 5 == pytest.approx(check["numeric"], rel=1e-6)
    assert check["max_rel_error"] == pytest.approx(0.8, rel=1e-6)   # |a - 5a| / |5a|


# --- JSON report -----------------------------------------------------------------------------

CHECK_FIELDS = {"layer": int, "type": str, "tensor": str, "shape": list, "max_abs_error": float,
                "max_rel_error": float, "worst_index": list, "analytic": float, "numeric": float, "outcome": str}


def test_json_report_contract(at_root, tmp_path, invoke):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [4, 3]\nlayers:\n  - tanh\n  - {type: linear, out: three}\n")
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    result = invoke("run", "specs/mlp.yaml", "specs/broken/bias_mean.yaml", str(bad), "--json", str(target))
    assert result.exit_code == 2  # an invalid spec wins over a failed one
    report = json.loads(target.read_text())
    assert report["version"] == 2
    assert report["passed"] is False
    summary_ = report["summary"]
    assert (summary_["specs"], summary_["passed"], summary_["failed"], summary_["errors"]) == (3, 1, 1, 1)
    specs = {s["path"]: s for s in report["specs"]}
    assert set(specs) == {"specs/mlp.yaml", "specs/broken/bias_mean.yaml", str(bad)}  # paths as given
    mlp = specs["specs/mlp.yaml"]
    assert (mlp["name"], mlp["outcome"], mlp["error"]) == ("mlp", "passed", None)
    assert [(c["layer"], c["type"], c["tensor"], c["shape"]) for c in mlp["checks"]] == [
        (0, "linear", "input", [4, 3]), (0, "linear", "W", [3, 5]), (0, "linear", "b", [5]),
        (1, "tanh", "input", [4, 5]), (2, "linear", "input", [4, 5]), (2, "linear", "W", [5, 2])]
    for spec in report["specs"]:
        for check in spec["checks"]:
            for field, kind in CHECK_FIELDS.items():
                assert isinstance(check[field], kind), (field, check)
            assert len(check["worst_index"]) == len(check["shape"])
            assert all(0 <= i < n for i, n in zip(check["worst_index"], check["shape"]))
            assert check["outcome"] in ("passed", "failed")
            assert 0.0 <= check["max_abs_error"] and 0.0 <= check["max_rel_error"]
            assert abs(check["analytic"] - check["numeric"]) <= check["max_abs_error"] * (1 + 1e-12)
    assert all(c["outcome"] == "passed" for c in mlp["checks"])
    broken = specs["specs/broken/bias_mean.yaml"]
    assert (broken["name"], broken["outcome"], broken["error"]) == ("bias_mean", "failed", None)
    assert specs[str(bad)]["outcome"] == "error"
    assert specs[str(bad)]["name"] == "bad"
    assert specs[str(bad)]["error"] == f"{bad}:4: layers[1].out: expected a positive integer, got 'three'"
    assert specs[str(bad)]["checks"] == []


def test_json_on_stdout_is_pure_json(at_root, invoke):
    result = invoke("run", "specs/mlp.yaml", "specs/broken/no_transpose.yaml", "--json", "-")
    assert result.exit_code == 1
    report = json.loads(result.stdout)  # nothing but the report on standard output
    assert report["version"] == 2
    assert [s["outcome"] for s in report["specs"]] == ["passed", "failed"]
    # the human report moved to standard error
    assert "specs/mlp.yaml" in result.stderr
    assert summary(result.stderr) == ("2", "1", "1", "0")


def test_json_on_stdout_stays_pure_when_a_layer_prints(write_file, write_spec, invoke):
    """A debug print in a custom layer goes to standard error, not into the JSON."""
    write_file("chatty.py", """
        import numpy as np

        print("imported!")


        class Chatty:
            def forward(self, x):
                print("forward called")
                self.x = x
                return np.sin(x)

            def backward(self, g):
                print("backward called")
                return g * np.cos(self.x)
        """)
    path = write_spec("input: [3, 2]\nlayers: [./chatty.py:Chatty]\n")
    result = invoke("run", str(path), "--json", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["specs"][0]["outcome"] == "passed"
    assert "forward called" in result.stderr and "imported!" in result.stderr


def test_json_to_an_unwritable_place_is_a_usage_error(at_root, tmp_path, invoke):
    below_a_file = tmp_path / "notes.txt"  # a missing folder is created; one below a file cannot be
    below_a_file.write_text("mine\n")
    result = invoke("run", "specs/mlp.yaml", "--json", str(below_a_file / "folder" / "r.json"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "cannot write" in result.output


# --- calibration -----------------------------------------------------------------------------


@pytest.mark.skipif(not CALIBRATION.is_dir(), reason="../shared/calibration is not present")
def test_calibration_batch(tmp_path, invoke):
    target = tmp_path / "report.json"
    result = invoke("run", str(CALIBRATION), "--json", str(target))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    report = json.loads(target.read_text())
    specs = {Path(s["path"]).stem: s for s in report["specs"]}
    on_disk = {p.stem for p in CALIBRATION.glob("*.yaml")}
    assert set(specs) == on_disk
    verdicts = [line.strip() for line in result.output.splitlines() if line.strip().startswith("→")]
    for name, spec in specs.items():
        if name.startswith("ok_"):
            assert spec["outcome"] == "passed", name
            assert all(c["outcome"] == "passed" for c in spec["checks"])
        elif name.startswith("bug_"):
            assert spec["outcome"] == "failed", name
            bug_layers = sorted({c["layer"] for c in spec["checks"] if c["type"].endswith("Bug")})
            assert len(bug_layers) == 1, name
            (bug,) = bug_layers
            bug_type = next(c["type"] for c in spec["checks"] if c["layer"] == bug)
            assert spec["suspect_layer"] == bug, name
            assert any(c["outcome"] == "failed" for c in spec["checks"] if c["layer"] == bug), name
            assert any(v.startswith(f"→ layer {bug} ({bug_type}): backward wrong for") for v in verdicts), name
        elif name.startswith("err_"):
            assert spec["outcome"] == "error", name
            assert spec["checks"] == []
            error = spec["error"]
            assert "\n" not in error
            assert re.match(r"layer \d+ \(\./layers\.py:\w+\): ", error), error
            cls = re.match(r"layer \d+ \(\./layers\.py:(\w+)\)", error).group(1)
            assert cls in (CALIBRATION / f"{name}.yaml").read_text()
            assert f"error: {error}" in [line.strip() for line in result.output.splitlines()]
    counts = report["summary"]
    assert counts["passed"] == sum(n.startswith("ok_") for n in on_disk)
    assert counts["failed"] == sum(n.startswith("bug_") for n in on_disk)
    assert counts["errors"] == sum(n.startswith("err_") for n in on_disk)


# --- tolerances ------------------------------------------------------------------------------


def test_huge_rtol_makes_a_broken_spec_pass(at_root, invoke):
    assert invoke("run", "specs/broken/bias_mean.yaml").exit_code == 1
    result = invoke("run", "specs/broken/bias_mean.yaml", "--rtol", "10")
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output
    assert summary(result.output) == ("1", "1", "0", "0")


def test_huge_atol_makes_a_broken_spec_pass(at_root, run_json):
    result, report = run_json("specs/broken/no_transpose.yaml", "--atol", "100")
    assert result.exit_code == 0, result.output
    assert report["specs"][0]["tolerance"]["atol"] == 100


def test_tolerance_in_the_spec_is_overridden_by_the_command_line(write_spec, run_json, tmp_path):
    layers = (ROOT / "specs" / "broken" / "layers.py").resolve()
    path = write_spec(f"""
        input: [5, 3]
        layers:
          - {{type: "{layers}:AffineBiasMean", out: 4}}
        tolerance: {{rtol: 10}}
        """)
    result, _ = run_json(str(path))
    assert result.exit_code == 0, result.output          # the spec's own tolerance lets it pass
    result, _ = run_json(str(path), "--rtol", "1e-6")
    assert result.exit_code == 1, result.output          # the command line wins


def test_negative_rtol_is_a_usage_error(at_root, invoke):
    result = invoke("run", "specs/mlp.yaml", "--rtol", "-1")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# --- paths -----------------------------------------------------------------------------------


def test_folder_without_specs(tmp_path, invoke):
    (tmp_path / "notes.txt").write_text("not a spec")
    result = invoke("run", str(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{tmp_path}: no *.yaml or *.yml specs in this folder" in [line.strip() for line in lines(result.output)]
    assert summary(result.output) == ("1", "0", "0", "1")


def test_no_paths_is_a_usage_error(invoke):
    result = invoke("run")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_folder_is_searched_recursively_and_sorted(tmp_path, run_json):
    good = "input: [4, 3]\nlayers:\n  - {type: linear, out: 2}\n"
    for name in ("b.yaml", "a.yml", "sub/c.yaml", ".hidden/d.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(good)
    result, report = run_json(str(tmp_path))
    assert result.exit_code == 0
    assert [Path(s["path"]).relative_to(tmp_path).as_posix() for s in report["specs"]] == [
        "a.yml", "b.yaml", "sub/c.yaml"]


# --- misbehaving custom layers ---------------------------------------------------------------

BAD_LAYERS = '''
    import numpy as np


    class Good:
        def forward(self, x):
            self.x = x
            return np.sin(x)

        def backward(self, g):
            return g * np.cos(self.x)


    class RaisesInForward:
        def forward(self, x):
            raise ValueError("boom")

        def backward(self, g):
            return g


    class RaisesInBackward(Good):
        def backward(self, g):
            return {}["missing"]


    class ReturnsNaN(Good):
        def forward(self, x):
            y = np.sin(x)
            y[0, 0] = np.nan
            return y


    class InfGradient(Good):
        def backward(self, g):
            return g * np.inf


    class ForgetsGrad:
        """params gamma and beta, but backward fills only grads["gamma"]."""

        def __init__(self):
            self.params, self.grads = {}, {}

        def build(self, input_shape, rng):
            self.params["gamma"] = np.ones(input_shape[-1])
            self.params["beta"] = np.zeros(input_shape[-1])

        def forward(self, x):
            return x * self.params["gamma"] + self.params["beta"]

        def backward(self, g):
            self.grads["gamma"] = g.sum(axis=0)
            return g * self.params["gamma"]


    class GradOfWrongShape(ForgetsGrad):
        def backward(self, g):
            self.grads["gamma"] = g.sum(axis=0)
            self.grads["beta"] = g                   # (N, D) where (D,) belongs
            return g * self.params["gamma"]


    class WrongDxShape(Good):
        def backward(self, g):
            return g.T


    class ConstructorRaises(Good):
        def __init__(self):
            raise RuntimeError("no GPU")


    class ExitsInBackward(Good):
        def backward(self, g):
            import sys
            sys.exit(0)


    class RandomEachCall(Good):
        def forward(self, x):
            return np.sin(x) + 1e-3 * np.random.default_rng().standard_normal(x.shape)


    class RunningMean(Good):
        """Subtracts a running mean of its batches: the same x twice gives the same output (the
        running mean of one batch is that batch's mean), a batch in between does not."""

        def forward(self, x):
            mean = x.mean(axis=0)
            self.running = mean if not hasattr(self, "running") else 0.9 * self.running + 0.1 * mean
            return x - self.running

        def backward(self, g):
            return g
'''

def line_of(text: str, snippet: str) -> int:
    """The line of `snippet` in the file `write_file` makes of `text` (dedented, leading newline dropped)."""
    (number,) = [n for n, line in enumerate(text.lstrip("\n").splitlines(), 1) if snippet in line]
    return number


def raised_at(snippet: str) -> str:
    """`./bad_layers.py:15`: where the user's code raised, as errors name it."""
    return f"./bad_layers.py:{line_of(BAD_LAYERS, snippet)}"


# class -> the exact one-line error, after "layer 1 (./bad_layers.py:CLASS): " (run in the layers' folder)
BAD_CASES = {
    "RaisesInForward": raised_at('raise ValueError("boom")') + ": forward raised ValueError: boom",
    "RaisesInBackward": raised_at('return {}["missing"]') + ": backward raised KeyError: 'missing'",
    "ReturnsNaN": "the output of forward contains NaN",
    "InfGradient": "dL/dx returned by backward contains Inf",
    "ForgetsGrad": "backward did not set grads['beta']",
    "GradOfWrongShape": "grads['beta'] has shape (4, 3), expected (3,) (the shape of params['beta'])",
    "WrongDxShape": "backward returned dL/dx of shape (3, 4), expected (4, 3) (the shape of x)",
    "ConstructorRaises": raised_at('raise RuntimeError("no GPU")') + ": constructor raised RuntimeError: no GPU",
    "ExitsInBackward": raised_at("sys.exit(0)") + ": backward raised SystemExit: 0",
    "RandomEachCall": "forward gave different outputs for the same input (randomness or hidden state?); "
                      "gradients of such a layer cannot be checked",
    "RunningMean": "forward gave a different output for the same input after another input (state kept "
                   "between calls, such as a running statistic?); gradients of such a layer cannot be checked",
}


def custom_spec(cls: str) -> str:
    return f"""
        input: [4, 3]
        layers:
          - {{type: linear, out: 3}}
          - {{type: ./bad_layers.py:{cls}}}
          - {{type: linear, out: 2}}
        """


@pytest.mark.parametrize("cls", list(BAD_CASES))
def test_misbehaving_custom_layer_is_an_error_naming_it(write_spec, write_file, run_json, cls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # so the user's file is shown as ./bad_layers.py
    write_file("bad_layers.py", BAD_LAYERS)
    path = write_spec(custom_spec(cls))
    result, report = run_json(str(path))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (spec,) = report["specs"]
    assert spec["outcome"] == "error"
    assert spec["error"] == f"layer 1 (./bad_layers.py:{cls}): {BAD_CASES[cls]}"
    assert f"error: {spec['error']}" in [line.strip() for line in result.output.splitlines()]
    assert summary(result.output) == ("1", "0", "0", "1")


def test_misbehaving_custom_layers_do_not_stop_the_batch(write_spec, write_file, run_json, tmp_path):
    write_file("bad_layers.py", BAD_LAYERS)
    for cls in BAD_CASES:
        write_spec(custom_spec(cls), name=f"{cls}.yaml")
    write_spec(custom_spec("Good"), name="zz_good.yaml")
    write_spec("input: [4, 3]\nlayers: [{type: linear, out: 2}]\n", name="aa_good.yaml")
    result, report = run_json(str(tmp_path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    outcomes = {Path(s["path"]).stem: s["outcome"] for s in report["specs"]}
    assert outcomes == {**{cls: "error" for cls in BAD_CASES}, "zz_good": "passed", "aa_good": "passed"}
    assert summary(result.output) == (str(len(BAD_CASES) + 2), "2", "0", str(len(BAD_CASES)))


def test_scalar_parameter(write_spec, write_file, run_json):
    """A 0-d parameter is a numpy array like any other (formerly a BUG: np.nonzero on the 0-d
    verdict raised, and the correct layer ended as 'unexpected ValueError')."""
    write_file("scalar.py", '''
        import numpy as np


        class Temperature:
            """y = x / t with one learnable scalar t: params["t"] has shape ()."""

            def __init__(self):
                self.params, self.grads = {}, {}

            def build(self, input_shape, rng):
                self.params["t"] = np.array(2.0)

            def forward(self, x):
                self.x = x
                return x / self.params["t"]

            def backward(self, g):
                t = self.params["t"]
                self.grads["t"] = np.array(np.sum(-g * self.x / t ** 2))
                return g / t
        ''')
    path = write_spec("""
        input: [4, 3]
        layers:
          - {type: ./scalar.py:Temperature}
          - tanh
        """)
    result, report = run_json(str(path))
    assert result.exit_code == 0, result.output
    assert [(c["tensor"], c["shape"], c["outcome"]) for c in report["specs"][0]["checks"] if c["layer"] == 0] == [
        ("input", [4, 3], "passed"), ("t", [], "passed")]


# --- color -----------------------------------------------------------------------------------

COLOR_SGR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def test_no_color_output_has_no_escapes(at_root, invoke):
    result = invoke("run", "specs/mlp.yaml", "specs/broken/bias_mean.yaml")
    assert result.exit_code == 1
    assert "\x1b" not in result.output


def _run_in_terminal(env_extra: dict) -> bytes:
    pty = pytest.importorskip("pty")
    exe = shutil.which("gradcheck", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the gradcheck console script is not installed next to this python")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update({"TERM": "xterm-256color", "COLUMNS": "120", **env_extra})
    process = subprocess.Popen([exe, "run", "specs/broken/bias_mean.yaml"], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert process.wait(timeout=60) == 1
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_terminal_output_is_colored_unless_no_color():
    colored = _run_in_terminal({}).decode("utf-8", "replace")
    assert COLOR_SGR.search(colored), "a terminal should get colors"
    plain = _run_in_terminal({"NO_COLOR": "1"}).decode("utf-8", "replace")
    assert "FAILED" in plain
    assert not COLOR_SGR.search(plain), repr(COLOR_SGR.search(plain))


# --- custom layer loading and the contract ---------------------------------------------------


def test_layer_file_can_import_its_neighbour(write_spec, write_file, run_json):
    write_file("neighbour_ok_helpers.py", "SCALE = 3.0\n")
    write_file("layers.py", '''
        import neighbour_ok_helpers as helpers


        class Scale3:
            def forward(self, x):
                return 3.0 * x

            def backward(self, g):
                return helpers.SCALE * g
        ''')
    path = write_spec("""
        input: [4, 3]
        layers:
          - {type: ./layers.py:Scale3}
        loss: dot
        """)
    result, report = run_json(str(path))
    assert result.exit_code == 0, result.output


def test_same_named_neighbours_in_two_folders_do_not_collide(write_spec, write_file, run_json, tmp_path):
    for folder, scale in (("a", 2.0), ("b", 3.0)):
        write_file(f"{folder}/collide_helpers.py", f"SCALE = {scale}\n")
        write_file(f"{folder}/layers.py", f'''
            import collide_helpers as helpers


            class Scale:
                """y = {scale}·x; backward reads the factor from the neighbouring collide_helpers.py."""

                def forward(self, x):
                    return {scale} * x

                def backward(self, g):
                    return helpers.SCALE * g
            ''')
        write_spec("""
            input: [4, 3]
            layers:
              - {type: ./layers.py:Scale}
            loss: dot
            """, name=f"{folder}/spec.yaml")
    # b alone, in a fresh process, passes ...
    alone = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", str(tmp_path / "b" / "spec.yaml")],
                           capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=60)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    # ... and so must it after a, in one batch
    result, report = run_json(str(tmp_path / "a" / "spec.yaml"), str(tmp_path / "b" / "spec.yaml"))
    assert [s["outcome"] for s in report["specs"]] == ["passed", "passed"], result.output


def test_a_run_leaves_the_folder_of_custom_layers_as_it_was(write_spec, write_file, tmp_path):
    """No __pycache__ beside the user's layer file nor beside what it imports, even where Python
    writes bytecode (most machines: PYTHONDONTWRITEBYTECODE unset)."""
    write_file("tidy_helpers.py", "FACTOR = 2.0\n")
    write_file("tidy_layers.py", '''
        import tidy_helpers


        class Double:
            def forward(self, x):
                return tidy_helpers.FACTOR * x

            def backward(self, g):
                return tidy_helpers.FACTOR * g
        ''')
    path = write_spec("""
        input: [4, 3]
        layers:
          - {type: ./tidy_layers.py:Double}
        loss: dot
        """)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    run = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", str(path)], capture_output=True,
                         text=True, env={**env, "NO_COLOR": "1"}, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_params_that_are_not_a_dict_are_not_silently_skipped(write_spec, write_file, run_json):
    write_file("listy.py", '''
        import numpy as np


        class ListParams:
            """y = x W with params as a list: [W]. grads is wrong by a factor 2, never checked."""

            def __init__(self):
                self.params, self.grads = [], []

            def build(self, input_shape, rng):
                self.W = rng.standard_normal((input_shape[-1], input_shape[-1]))
                self.params = [self.W]

            def forward(self, x):
                self.x = x
                return x @ self.W

            def backward(self, g):
                self.grads = [2.0 * self.x.T @ g]
                return g @ self.W.T
        ''')
    path = write_spec("""
        input: [4, 3]
        layers:
          - {type: ./listy.py:ListParams}
          - tanh
        """)
    result, report = run_json(str(path))
    (spec,) = report["specs"]
    assert result.exit_code == 1
    # a list of parameters is paired by index with the list of gradients, and checked
    assert spec["outcome"] == "failed"
    assert [(c["layer"], c["tensor"]) for c in spec["checks"] if c["outcome"] == "failed"] == [(0, "params.0")]


def test_a_report_never_overwrites_a_spec_being_checked(tmp_path):
    spec = tmp_path / "mlp.yaml"
    spec.write_text((SPECS / "mlp.yaml").read_text())
    before = spec.read_text()
    result = invoke_cli("run", str(tmp_path), "--json", str(spec))
    assert result.exit_code == 2
    assert "that is one of the specs being checked; refusing to overwrite it" in result.output
    assert spec.read_text() == before


def test_two_reports_on_one_file_are_refused(tmp_path):
    result = invoke_cli("run", str(SPECS / "mlp.yaml"), "--json", str(tmp_path / "r"), "--junit-xml",
                        str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "--junit-xml" in result.output and "--json writes to the same file" in result.output
    assert not (tmp_path / "r").exists()


def test_verbose_table_in_a_log_keeps_each_tensor_on_one_line(write_spec, invoke):
    """Without a terminal (a CI log, a pipe) and without COLUMNS, the report is 160 columns wide:
    at rich's default of 80 the -v table folded its numbers over several lines."""
    path = write_spec("""
        input: [4, 3]
        layers:
          - {type: linear, out: 3}
          - tanh
          - {type: linear, out: 2}
        """)
    result = invoke("run", str(path), "-v", env={"COLUMNS": None})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert len(rows) == 7  # input, W, b; input; input, W, b
    assert all(re.search(r"│ +-?\d\.\d+(e-?\d+)? │ +-?\d\.\d+(e-?\d+)? │ passed │$", row) for row in rows), rows


@pytest.mark.parametrize("option", ["--rtol", "--atol", "--timeout"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_tolerance_or_timeout_must_be_finite(option, value):
    """nan passes every bound and inf tolerates anything: a broken spec would pass."""
    result = invoke_cli("run", "specs/broken/bias_mean.yaml", option, value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}': expected a finite number, got {value}" in result.output


def test_a_report_replaces_an_earlier_report_but_no_other_file(at_root, tmp_path, invoke):
    """Nothing the user wrote is overwritten: a layer file given as --html by mistake stays as
    it was, and the run does not start. An earlier report of the same kind is replaced."""
    layer_file = tmp_path / "swish.py"
    layer_file.write_text("class Swish: ...\n", encoding="utf-8")
    for option, name in (("--json", "r.json"), ("--junit-xml", "r.xml"), ("--html", "r.html")):
        target = tmp_path / name
        for _ in range(2):  # the second run replaces the first one's report
            result = invoke("run", "specs/mlp.yaml", option, str(target))
            assert result.exit_code == 0, result.output
        result = invoke("run", "specs/mlp.yaml", option, str(layer_file))
        assert result.exit_code == 2
        assert result.output.strip() == (f"{option} {layer_file}: the file exists and is not an earlier gradcheck "
                                         "report; refusing to overwrite it (remove it, or choose another name)")
        assert layer_file.read_text(encoding="utf-8") == "class Swish: ...\n"


@pytest.mark.parametrize("option", ["--junit-xml", "--html"])
def test_only_json_goes_to_standard_output(at_root, invoke, option):
    result = invoke("run", "specs/mlp.yaml", option, "-")
    assert result.exit_code == 2
    assert result.output.strip() == f"{option} -: only --json can go to standard output; give a file name"


def test_a_report_path_that_is_a_folder_is_refused_before_the_run(at_root, tmp_path, invoke):
    result = invoke("run", "specs/mlp.yaml", "--json", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.strip() == f"--json {tmp_path}: that is a folder; give a file name"


def test_the_process_ends_with_its_exit_code_and_all_its_output(at_root):
    """The process skips the interpreter's teardown: the exit code and every byte of output
    (a long JSON report on a pipe included) must still come through."""
    proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", "specs", "--json", "-"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 1, proc.stderr  # specs/broken fails
    report = json.loads(proc.stdout)
    assert len(report["specs"]) >= 12 and not report["passed"]
    assert SUMMARY.match(proc.stderr.strip().splitlines()[-1]), proc.stderr
