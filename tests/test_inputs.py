"""Inputs beyond one float matrix: integer ids (a word embedding), floats drawn in a range (for
log and sqrt), and --seeds N (a branch one draw misses). The layers are in tests/data/inputs,
their planted bugs in tests/data/inputs/bugs."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

# Imported before pytester's in-process runs (see test_plugin_options.py): numpy's C extension
# cannot be loaded twice in one process.
import gradcheck_cli.check.spec_check  # noqa: F401
import gradcheck_cli.run.batch  # noqa: F401
from conftest import ROOT, lines, strip_seconds
from gradcheck_cli import SpecError, check_function, check_layer, check_spec

pytest_plugins = ["pytester"]

DATA = ROOT / "tests" / "data" / "inputs"
BUGS = DATA / "bugs"
EMBEDDINGS = ["embedding_class.yaml", "embedding_function.yaml"]
# every tensor but layer 0's input, which is integer ids
CHECKED = [(0, "W"), (1, "input"), (2, "input"), (2, "W"), (2, "b")]


def checked(spec: dict) -> list[tuple[int, str]]:
    return [(c["layer"], c["tensor"]) for c in spec["checks"]]


def failing(spec: dict) -> set[tuple[int, str]]:
    return {(c["layer"], c["tensor"]) for c in spec["checks"] if c["outcome"] == "failed"}


def load_module(path: Path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"inputs_{path.parent.name}_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_folder(path: Path, monkeypatch) -> str:
    monkeypatch.chdir(path.parent)
    return path.name


# --- integer ids: W checked, no input row ------------------------------------------------------


@pytest.mark.parametrize("name", EMBEDDINGS)
def test_a_word_embedding_on_ids_is_checked_without_an_input_row(run_json, monkeypatch, name):
    result, report = run_json(in_folder(DATA / name, monkeypatch))
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed", spec["error"] or result.output
    assert checked(spec) == CHECKED
    assert spec["notes"][0].endswith("its input is integer ids, not perturbed: no input row")
    assert 1.8 < spec["taylor_order"] < 2.2  # the Taylor test moves W, not the ids
    assert result.exit_code == 0


@pytest.mark.parametrize("name", EMBEDDINGS)
def test_dW_not_accumulating_repeated_ids_is_caught_and_located_at_W(run_json, monkeypatch, name):
    """dW[ids] = dout keeps one gradient of an id seen twice: caught at W, layer 0 the suspect."""
    result, report = run_json(in_folder(BUGS / name, monkeypatch))
    (spec,) = report["specs"]
    assert spec["outcome"] == "failed"
    assert failing(spec) == {(0, "W")}
    assert spec["suspect_layer"] == 0
    alone = spec["layers"][0]
    assert (alone["outcome"], [c["tensor"] for c in alone["checks"]]) == ("failed", ["W"])
    assert result.exit_code == 1


@pytest.mark.parametrize("mode", ["fast", "sample"])
@pytest.mark.parametrize("name", EMBEDDINGS)
def test_fast_and_sample_mode_check_ids_specs(run_json, monkeypatch, mode, name):
    _, report = run_json(in_folder(DATA / name, monkeypatch), "--mode", mode, "--samples", "20")
    (spec,) = report["specs"]
    assert (spec["outcome"], spec["mode"], checked(spec)) == ("passed", mode, CHECKED)
    _, report = run_json(str(BUGS / name), "--mode", mode, "--samples", "150")
    (spec,) = report["specs"]
    assert (spec["outcome"], failing(spec), spec["suspect_layer"]) == ("failed", {(0, "W")}, 0)


@pytest.mark.parametrize("folder", [DATA, BUGS])
@pytest.mark.parametrize("name", EMBEDDINGS)
def test_a_float32_spec_keeps_its_ids_integer(tmp_path, folder, name):
    """Floats are cast to float32 and checked on their float64 twin; the ids stay integers."""
    for file in ("layers.py", name):
        shutil.copy(folder / file, tmp_path / file)
    spec = tmp_path / name
    spec.write_text("dtype: float32\n" + spec.read_text(encoding="utf-8"), encoding="utf-8")
    result = check_spec(spec)
    assert [(c.layer, c.tensor) for c in result.checks] == CHECKED
    assert result.dtype == "float32"
    assert "float32: numeric side computed in float64 on a float64 twin of the network" in result.notes
    if folder is DATA:
        assert result.passed, str(result)
    else:
        assert [c.tensor for c in result.checks if not c.passed] == ["W"] and result.suspect_layer == 0


def test_an_embedding_returning_float64_in_a_float32_spec_is_noted():
    class Wide:
        def build(self, input_shape, rng):
            self.W = rng.standard_normal((5, 3))

        def forward(self, ids):
            self.ids = ids
            return self.W.astype(np.float64)[ids]    # float64, whatever the spec's dtype

        def backward(self, dout):
            self.dW = np.zeros(self.W.shape)
            np.add.at(self.dW, self.ids, dout)

    result = check_spec({"dtype": "float32", "input": {"shape": [4, 3], "integers": 5}, "layers": [Wide(), "tanh"]})
    assert result.passed, str(result)
    assert "layer 0 (Wide) returns a wider dtype than float32, so the layers after it do not run in the spec's " \
           "dtype" in result.notes


class Recording:
    """An embedding that keeps every input forward is given, and returns a gradient for the ids
    (ignored: ids have none)."""

    def __init__(self):
        self.seen = []

    def build(self, input_shape, rng):
        self.W = rng.standard_normal((10, 3))

    def forward(self, ids):
        self.seen.append(ids.copy())
        self.ids = ids
        return self.W[ids]

    def backward(self, dout):
        self.dW = np.zeros_like(self.W)
        np.add.at(self.dW, self.ids, dout)
        return np.full(self.ids.shape, 1e6)   # a "dx" for the ids: never compared


def never_perturbed(seen: list[np.ndarray], ids: np.ndarray) -> None:
    """Every input forward saw is integer, made of the original's rows (the stateful-layer probes
    give it fewer rows, or reversed), and most calls were the original itself."""
    rows = {row.tobytes() for row in ids}
    assert all(np.issubdtype(x.dtype, np.integer) for x in seen)
    assert all(row.tobytes() in rows for x in seen for row in x)
    assert sum(np.array_equal(x, ids) for x in seen) >= len(seen) - 3


def test_check_layer_keeps_an_integer_x_as_ids_and_never_perturbs_it():
    ids = np.random.default_rng(1).integers(0, 10, size=(3, 5))
    given = ids.copy()
    layer = Recording()
    result = check_layer([layer, "tanh"], ids)
    assert result.passed, str(result)
    assert [(c.layer, c.tensor) for c in result.checks] == [(0, "W"), (1, "input")]
    assert len(layer.seen) > 30 * 2  # every perturbation of W ran forward on the ids
    never_perturbed(layer.seen, ids)
    assert np.array_equal(ids, given)


def test_ids_drawn_by_the_spec_are_never_perturbed(tmp_path):
    layer = Recording()
    result = check_spec({"seed": 3, "input": {"shape": (4, 6), "integers": 10}, "layers": [layer]})
    assert [(c.layer, c.tensor) for c in result.checks] == [(0, "W")] and result.passed
    ids = layer.seen[0]
    assert ids.shape == (4, 6) and ids.min() >= 0 and ids.max() < 10
    never_perturbed(layer.seen, ids)


def test_check_function_with_ids_takes_dW_alone():
    layers = load_module(DATA / "layers.py")
    ids = np.random.default_rng(2).integers(0, 8, size=(4, 6))
    result = check_function(layers.word_embedding_forward, layers.word_embedding_backward, ids,
                            params={"W": (8, 3)})
    assert result.passed, str(result)
    assert [(c.layer, c.tensor) for c in result.checks] == [(0, "W")]


@pytest.mark.parametrize("backward, outcome, error", [
    ("return dW", "passed", None),
    ("return (dW,)", "passed", None),
    ("return np.ones(x.shape), dW", "passed", None),   # a dx for the ids is ignored
    ("return None, dW", "passed", None),
    ("return dW, dW, dW", "error", "layer 0 (./pairs.py:emb): emb_backward returned 3 values, expected 1: the "
     "gradients of W in the forward's order (x is integer ids: no dx needed)"),
    ("return dW[:2]", "error", "layer 0 (./pairs.py:emb): emb_backward returned the gradient of W (value 1 of 1) "
     "with shape (2, 3), expected (8, 3), the shape of W"),
])
def test_what_a_function_pair_may_return_for_ids(tmp_path, write_file, backward, outcome, error):
    write_file("pairs.py", f"""
        import numpy as np

        def emb_forward(x, W):
            return W[x], (x, W)

        def emb_backward(dout, cache):
            x, W = cache
            dW = np.zeros_like(W)
            np.add.at(dW, x, dout)
            {backward}
        """)
    result = check_spec({"input": {"shape": [4, 6], "integers": 8},
                         "layers": [{"type": "./pairs.py:emb", "params": {"W": [8, 3]}}]}, base=tmp_path)
    assert (result.outcome, result.error) == (outcome, error)


@pytest.mark.parametrize("layer, name", [("linear: {out: 2}", "linear"), ("tanh", "tanh"),
                                         ("{type: residual, layers: [tanh]}", "residual")])
def test_a_built_in_layer_fed_ids_is_a_spec_error_at_its_line(tmp_path, monkeypatch, write_spec, invoke, layer, name):
    monkeypatch.chdir(tmp_path)
    write_spec(f"""
        input: {{shape: [4, 7], integers: 50}}
        layers:
          - {layer}
        """)
    expected = f"spec.yaml:3: layers[0]: layer 0 ({name}) takes floats; input is integer ids: put an embedding " \
               "layer first"
    run = invoke("run", "spec.yaml")
    assert run.exit_code == 2 and "Traceback" not in run.output
    assert lines(run.output)[1].strip() == expected
    validate = invoke("validate", "spec.yaml")
    assert validate.exit_code == 2
    assert lines(validate.output)[0] == expected


def test_check_layer_with_ids_refuses_a_built_in_layer_first():
    with pytest.raises(SpecError) as raised:
        check_layer({"type": "linear", "out": 2}, np.zeros((4, 7), dtype=int))
    assert str(raised.value) == ("check_layer: layer: layer 0 (linear) takes floats; input is integer ids: put an "
                                 "embedding layer first")


def test_ids_into_layers_without_parameters_is_no_pass(tmp_path, write_file, write_spec, invoke):
    """Nothing would be compared: that is an invalid spec, not a passed one."""
    write_file("onehot.py", """
        import numpy as np

        class OneHot:
            def forward(self, ids):
                return np.eye(5)[ids]
            def backward(self, g):
                return None
        """)
    spec = write_spec("""
        input: {shape: [4, 3], integers: 5}
        layers:
          - ./onehot.py:OneHot
        """)
    result = invoke("run", spec, "-q")
    assert result.exit_code == 2
    assert lines(result.output)[0] == (f"{spec}:1: input: nothing to check: the input is integer ids, which have no "
                                       "gradient, and no layer has parameters")


def test_jacobian_of_a_layer_fed_ids_says_there_is_none(invoke):
    result = invoke("jacobian", DATA / "embedding_class.yaml", "--layer", "0")
    assert result.exit_code == 2
    assert result.output.strip().endswith("--layer 0: its input is integer ids, which have no Jacobian; its "
                                          "parameters are checked by `gradcheck run`")
    assert invoke("jacobian", DATA / "embedding_class.yaml", "--layer", "1").exit_code == 0


def test_integer_ids_do_not_count_against_max_elements(run_json):
    """Only what is perturbed counts: the 28 ids do not. Before any layer runs, the linear layer's
    parameters are estimated as 7 x 2 + 2 (a custom layer's output width is not known yet); once
    built, every parameter counts: the embedding's 50 x 3 and the linear layer's 3 x 2 + 2."""
    _, report = run_json(str(DATA / "embedding_class.yaml"), "--max-elements", "158")
    assert report["specs"][0]["outcome"] == "passed"
    _, report = run_json(str(DATA / "embedding_class.yaml"), "--max-elements", "157")
    assert report["specs"][0]["error"] == (
        f"{DATA / 'embedding_class.yaml'}:2: input: about 158 scalars in the input and parameters (0.0 GB, checked "
        "one by one); layer 0 (./layers.py:WordEmbedding) holds 150 of them; the limit is 157: raise it with "
        "--max-elements")
    _, report = run_json(str(DATA / "embedding_class.yaml"), "--max-elements", "15")
    assert report["specs"][0]["error"].startswith(f"{DATA / 'embedding_class.yaml'}:2: input: about 16 scalars in "
                                                  "the input and parameters")


# --- floats in a range ------------------------------------------------------------------------


def test_log_and_sqrt_pass_on_an_input_drawn_in_their_domain(run_json, monkeypatch):
    result, report = run_json(in_folder(DATA / "log_sqrt.yaml", monkeypatch))
    (spec,) = report["specs"]
    assert spec["outcome"] == "passed", spec["error"] or result.output
    assert checked(spec)[0] == (0, "input")


def test_the_same_layers_on_standard_normal_input_produce_nan(tmp_path):
    for file in ("layers.py", "log_sqrt.yaml"):
        shutil.copy(DATA / file, tmp_path / file)
    spec = tmp_path / "log_sqrt.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("{shape: [4, 3], low: 0.1, high: 2.0}", "[4, 3]"),
                    encoding="utf-8")
    result = check_spec(spec)
    assert (result.outcome, result.error) == ("error", "layer 0 (./layers.py:Log): the output of forward contains NaN")


def test_a_range_draws_uniformly_within_it():
    seen = []

    class Square:
        def forward(self, x):
            seen.append(x.copy())
            return x * x

        def backward(self, g):
            return 2 * g * seen[-1]

    assert check_spec({"input": {"shape": [50, 4], "low": 0.1, "high": 2.0}, "layers": [Square()]}).passed
    x = seen[0]
    assert x.min() >= 0.1 and x.max() < 2.0 and x.mean() == pytest.approx(1.05, abs=0.1)


# --- --seeds N -------------------------------------------------------------------------------

BRANCH = BUGS / "branch.yaml"  # backward wrong only for x < -1; seed 0 draws nothing below -1


def test_a_branch_bug_one_seed_misses_is_caught_at_eight(run_json):
    result, report = run_json(str(BRANCH))
    assert (report["specs"][0]["outcome"], report["specs"][0]["seeds"], result.exit_code) == ("passed", [0], 0)
    result, report = run_json(str(BRANCH), "--seeds", "8")
    (spec,) = report["specs"]
    assert result.exit_code == 1
    assert (spec["outcome"], spec["seeds"], spec["seed"]) == ("failed", list(range(8)), 1)
    assert spec["notes"][0] == "checked at 8 seeds: 0..7; failed at seeds 1, 2, 6; the checks shown are seed 1's"
    assert failing(spec) == {(0, "input")} and spec["suspect_layer"] == 0
    assert "note: checked at 8 seeds: 0..7; failed at seeds 1, 2, 6; the checks shown are seed 1's" in result.output


def test_the_checks_shown_are_those_of_that_seed(run_json, tmp_path):
    """Seed 1's own report, run alone, has the very numbers --seeds 8 showed."""
    _, many = run_json(str(BRANCH), "--seeds", "8")
    alone = tmp_path / "branch.yaml"
    shutil.copy(BUGS / "layers.py", tmp_path / "layers.py")
    alone.write_text(BRANCH.read_text(encoding="utf-8").replace("seed: 0", "seed: 1"), encoding="utf-8")
    _, one = run_json(str(alone))
    assert many["specs"][0]["checks"] == one["specs"][0]["checks"]


def test_seeds_start_at_the_spec_seed_and_all_passing_says_so(run_json):
    result, report = run_json(str(DATA / "log_sqrt.yaml"), "--seeds", "3")
    (spec,) = report["specs"]
    assert (spec["outcome"], spec["seeds"], spec["seed"]) == ("passed", [0, 1, 2], 0)
    assert spec["notes"][0] == "checked at 3 seeds: 0..2; all passed; the checks shown are seed 0's"
    result, report = run_json(str(BRANCH), "--seeds", "2", "-q")
    assert "branch.yaml: failed at seed 1: layer 0 input off; suspect layer 0" in lines(result.output)[0]


def test_an_error_at_one_seed_is_the_outcome(tmp_path):
    """The worst outcome over the seeds: a layer that breaks at one seed's draw makes it an error."""
    from gradcheck_cli.run.seeds import seeds_note
    assert seeds_note([4, 5, 6], ["passed", "failed", "error"], 6) == (
        "checked at 3 seeds: 4..6; failed at seed 5; error at seed 6; the checks shown are seed 6's")
    outcomes = [check_spec({"seed": s, "input": [1, 2], "layers": [SqrtOfFirst()]}).outcome for s in range(4)]
    assert outcomes == ["passed", "error", "error", "passed"]  # x[0, 0] drawn negative at seeds 1 and 2
    result = check_spec({"input": [1, 2], "layers": [SqrtOfFirst()]}, seeds=4)
    assert (result.outcome, result.seeds, result.seed) == ("error", [0, 1, 2, 3], 1)
    assert result.error == "layer 0 (SqrtOfFirst): the output of forward contains NaN"
    assert result.notes[0] == "checked at 4 seeds: 0..3; error at seeds 1, 2; the checks shown are seed 1's"


class SqrtOfFirst:
    """sqrt of the first entry: NaN for a seed that draws it negative."""

    def forward(self, x):
        self.x = x
        return np.sqrt(x[:, :1]) + x

    def backward(self, g):
        dx = g.copy()
        dx[:, :1] += g.sum(axis=1, keepdims=True) * 0.5 / np.sqrt(self.x[:, :1])
        return dx


def test_the_python_api_takes_seeds():
    LeakyBelowMinusOne = load_module(BUGS / "layers.py").LeakyBelowMinusOne
    assert check_layer(LeakyBelowMinusOne(), input_shape=(2, 3)).passed
    result = check_layer(LeakyBelowMinusOne(), input_shape=(2, 3), seeds=8)
    assert (result.outcome, result.seed, result.seeds) == ("failed", 1, list(range(8)))
    assert check_spec(BRANCH, seeds=8).outcome == "failed"
    with pytest.raises(SpecError, match="check_layer: seeds: expected a positive integer, got 0"):
        check_layer("tanh", input_shape=(2, 3), seeds=0)


def test_seeds_below_one_are_a_usage_error(invoke):
    result = invoke("run", str(BRANCH), "--seeds", "0")
    assert result.exit_code == 2 and "--seeds" in result.output


def test_seeds_work_across_processes(run_json):
    _, one = run_json(str(BRANCH), str(DATA / "log_sqrt.yaml"), "--seeds", "8")
    _, many = run_json(str(BRANCH), str(DATA / "log_sqrt.yaml"), "--seeds", "8", "--jobs", "2")
    assert strip_seconds(one["specs"]) == strip_seconds(many["specs"])


def test_the_pytest_plugin_takes_gradcheck_seeds(pytester):
    shutil.copy(BUGS / "layers.py", pytester.path / "layers.py")
    shutil.copy(BRANCH, pytester.path / "branch.gradcheck.yaml")
    plugin = ("-p", "gradcheck_cli.pytest_plugin") if not _installed() else ("-p", _installed())
    pytester.runpytest(*plugin).assert_outcomes(passed=1)
    result = pytester.runpytest(*plugin, "-o", "gradcheck_seeds=8")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*checked at 8 seeds: 0..7; failed at seeds 1, 2, 6*"])


def _installed() -> str | None:
    import importlib.metadata
    return next((ep.name for ep in importlib.metadata.entry_points(group="pytest11")
                 if ep.value == "gradcheck_cli.pytest_plugin"), None)
