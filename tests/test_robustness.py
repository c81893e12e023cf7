"""gradcheck under hostile input: fuzzed specs, alias bombs, huge inputs, hangs, Ctrl-C, edge values."""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, invoke_cli, strip_seconds

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

BASE = {
    "name": "fuzz",
    "seed": 0,
    "input": [3, 2],
    "layers": [{"type": "linear", "out": 3}, "tanh", {"linear": {"out": 2, "bias": False}}],
    "loss": "mse",
}

FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _child_env():
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR",)}
    env.update({"NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"})
    return env


def _run_text(text: str):
    """Write TEXT as a spec, `gradcheck run FILE --json OUT` in-process; check the contract."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text, encoding="utf-8")
        out = Path(tmp) / "out.json"
        result = invoke_cli("run", path, "--json", out, "--mode", "fast", "--max-elements", "500")
        assert result.exit_code in (0, 1, 2), (text, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            text, repr(result.exception))
        assert "Traceback" not in result.output, (text, result.output)
        assert result.output.strip(), text
        if result.exit_code in (0, 1):
            json.loads(out.read_text(encoding="utf-8"))
        return result


# --- (1) fuzzing -------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["linear", "tanh", "softmax", "mse", "cross_entropy", "residual",
                                           "./nope.py:X", "float16", "-1", "1e999", "~", "!!python/none"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=12)


def _paths(doc, prefix=()):
    """Every (container path) to a key or index in the document."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _container(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated_docs(draw):
    import copy
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _container(doc, path)
        action = draw(st.sampled_from(["delete", "replace", "negative", "nest", "add"]))
        key = path[-1]
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(values)
        elif action == "negative":
            parent[key] = draw(st.one_of(st.integers(-10**6, 0), st.floats(max_value=0, allow_nan=False)))
        elif action == "nest":
            depth = draw(st.integers(1, 60))
            v = parent[key]
            for _ in range(depth):
                v = [v]
            parent[key] = v
        else:
            if isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(values)
            else:
                parent.append(draw(values))
    return doc


@FUZZ
@given(doc=mutated_docs())
def test_fuzz_mutated_spec_dicts(doc):
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    _run_text(text)


@FUZZ
@given(data=st.data())
def test_fuzz_text_level_mutations(data):
    text = yaml.safe_dump(BASE, sort_keys=False)
    kind = data.draw(st.sampled_from(["truncate", "junk", "both", "deep"]))
    if kind in ("truncate", "both"):
        text = text[: data.draw(st.integers(0, len(text)))]
    if kind in ("junk", "both"):
        junk = data.draw(st.one_of(
            st.text(max_size=30),
            st.sampled_from(["\t- ]", "{{{", "&x *x", "!!python/object:os.system ls", "---", "...", "%YAML 9",
                             ":", "- - -", "\x00", "key: [unterminated", "? complex", "*undefined"])))
        lines = text.splitlines()
        pos = data.draw(st.integers(0, len(lines)))
        lines.insert(pos, junk)
        text = "\n".join(lines) + "\n"
    if kind == "deep":
        depth = data.draw(st.integers(50, 200))
        text = text + "extra: " + "[" * depth + "]" * depth + "\n"
    # control characters are covered by test_control_character_in_spec_is_a_spec_error
    hypothesis.assume(all(c in "\t\n" or (ord(c) >= 32 and ord(c) != 127 and not 0x80 <= ord(c) < 0xa0)
                          and not 0xd800 <= ord(c) < 0xe000 and ord(c) not in (0xfffe, 0xffff) for c in text))
    _run_text(text)


@pytest.mark.parametrize("text, line, code", [
    ("\x1f\nname: fuzz\ninput: [3, 2]\nlayers: [tanh]\nloss: mse\n", 1, "001f"),
    ("name: fuzz\ninput: [3, 2]\nlayers: [ta\x01nh]\nloss: mse\n", 3, "0001"),   # inside a value
    ("name: fuzz\ninput: [3, 2]\nlayers: [tanh]\nloss: mse\n# a \x7f in a comment\n", 5, "007f"),
    ("name: fu\x9bzz\ninput: [3, 2]\nlayers: [tanh]\nloss: mse\n", 1, "009b"),     # a C1 control
], ids=["unit_separator_line_1", "soh_in_a_value", "delete_in_a_comment", "c1_csi"])
def test_control_character_in_spec_is_a_spec_error(tmp_path, monkeypatch, text, line, code):
    """A control character is refused, never stripped: exit 2 and one line naming file:line."""
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_text(text, encoding="utf-8")
    result = invoke_cli("run", "spec.yaml")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    out = [row.strip() for row in result.output.splitlines() if row.strip()]
    assert len(out) == 3, result.output
    assert out[0].split() == ["spec.yaml", "error"]
    assert out[1] == f"spec.yaml:{line}: YAML syntax error: unacceptable character #x{code} (a control character?)"


# Random valid specs (built-in layers only: they must pass), each checked again with one mistake
# planted whose place is known: it must be named by file:line and key path.

WIDTH_KEEPING = ["sigmoid", "tanh", "relu", "softplus", "gelu", "silu", "softmax", "log_softmax"]
LAYER_KINDS = ["linear", "leaky_relu", "elu", "residual"] + WIDTH_KEEPING


@st.composite
def _valid_layer(draw, width: int, depth: int = 0, kind: str | None = None):
    """(the spec entry, where its options sit below the entry, its width out, its tensors)."""
    kind = kind or draw(st.sampled_from(["linear"] + WIDTH_KEEPING))
    options = {}
    if kind == "linear":
        options = {"out": width if depth else draw(st.integers(1, 4))}
        if draw(st.booleans()):
            options["bias"] = draw(st.booleans())
    elif kind == "leaky_relu" and draw(st.booleans()):
        options = {"slope": draw(st.sampled_from([0.01, 0.1, 0.5, 2]))}
    elif kind == "elu" and draw(st.booleans()):
        options = {"alpha": draw(st.sampled_from([0.5, 1.0, 1.5]))}
    elif kind == "residual":
        branch = [draw(_valid_layer(width, depth + 1)) for _ in range(draw(st.integers(1, 2)))]
        options = {"layers": [entry for entry, *_ in branch]}
        tensors = [f"{j}.{name}" for j, (*_, inner) in enumerate(branch) for name in inner if name != "input"]
        return {"type": "residual", **options}, (), width, ["input"] + tensors
    tensors = ["input"] + (["W"] + (["b"] if options.get("bias", True) else []) if kind == "linear" else [])
    form = draw(st.sampled_from(["type", "one_key", "bare"] if not options else ["type", "one_key"]))
    out = options.get("out", width)
    if form == "bare":
        return kind, (), out, tensors
    if form == "one_key":
        return {kind: options}, (kind,), out, tensors
    return {"type": kind, **options}, (), out, tensors


@st.composite
def valid_specs(draw):
    """(a valid spec as a document, where each top-level layer's options sit below its entry,
    the (layer, tensor) pairs a run must check, in the report's order)."""
    shape = [draw(st.integers(1, 4)) for _ in range(draw(st.sampled_from([2, 2, 3])))]
    width, layers, places, tensors = shape[-1], [], [], []
    # distinct kinds in a random order: every built-in turns up early, not only the first few listed
    kinds = draw(st.permutations(LAYER_KINDS))[:draw(st.integers(1, 4))]
    for k, kind in enumerate(kinds):
        entry, options_at, width, names = draw(_valid_layer(width, kind=kind))
        layers.append(entry)
        places.append(options_at)
        tensors += [(k, name) for name in names]
    losses = ["mse", "dot", "bce_with_logits"] + (["cross_entropy"] if len(shape) == 2 else [])
    doc = {"name": "fuzz", "seed": draw(st.integers(0, 2**31)), "input": shape, "layers": layers,
           "loss": draw(st.sampled_from(losses))}
    if draw(st.booleans()):
        doc["dtype"] = draw(st.sampled_from(["float64", "float32"]))
    return doc, places, tensors


def _quoted(value) -> str:
    """A value as the error message quotes it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else "nothing (null)" if value is None else str(value)


@st.composite
def planted(draw, doc, places):
    """A copy of the valid spec `doc` with one mistake planted: (the document, the mistake's key
    path, whether the key itself is meant, the start of what the message must say, its name)."""
    doc = copy.deepcopy(doc)
    k = draw(st.integers(0, len(doc["layers"]) - 1))
    linears = [i for i, entry in enumerate(doc["layers"])
               if isinstance(entry, dict) and "linear" in (entry.get("type"), *entry)]
    mistake = draw(st.sampled_from([m for m in MISTAKES if linears or m != "out"]))
    return (*_plant(draw, doc, places, k, linears, mistake), mistake)


MISTAKES = ["unknown_key", "unknown_layer", "unknown_option", "no_layers", "missing_key", "input", "dtype", "loss",
            "seed", "step", "tolerance", "residual_changes_shape", "out"]


def _plant(draw, doc, places, k, linears, mistake):
    if mistake == "unknown_key":
        key = draw(st.sampled_from(["lyaers", "inptu", "mode", "rtol", "junk"]))
        doc[key] = 1
        return doc, (key,), True, "unknown key for a spec"
    if mistake == "unknown_layer":
        name = draw(st.sampled_from(["tanhh", "Linear", "relu6", "maxpool", "soft_max"]))
        doc["layers"][k] = name
        return doc, ("layers", k), False, f"unknown layer {name!r}"
    if mistake == "unknown_option":
        name = draw(st.sampled_from(["tanh", "sigmoid", "softmax"]))
        doc["layers"][k] = {"type": name, "beta": 1}
        return doc, ("layers", k, "beta"), True, f"unknown option for {name}; {name} takes no options"
    if mistake == "no_layers":
        doc["layers"] = []
        return doc, ("layers",), False, "expected at least one layer, got an empty list"
    if mistake == "missing_key":
        key = draw(st.sampled_from(["input", "layers"]))
        del doc[key]
        return doc, (), False, f"missing required key {key!r}"
    if mistake == "input":
        value = draw(st.sampled_from([[4], [2, 3, 4, 5, 6, 7, 8], "4x3", 12]))
        doc["input"] = value
        return doc, ("input",), False, "expected a list of 2 to 6 positive integers (rows, then features)"
    if mistake == "dtype":
        value = draw(st.sampled_from(["float16", "int32", "double"]))
        doc["dtype"] = value
        return doc, ("dtype",), False, f"expected one of float64, float32, got {value!r}"
    if mistake == "loss":
        value = draw(st.sampled_from(["mae", "nll", "hinge"]))
        doc["loss"] = value
        return doc, ("loss",), False, f"unknown loss {value!r}"
    if mistake == "seed":
        value = draw(st.sampled_from([-1, "zero", 1.5, True]))
        doc["seed"] = value
        return doc, ("seed",), False, f"expected a non-negative integer, got {_quoted(value)}"
    if mistake == "step":
        value = draw(st.sampled_from([0, -1e-5, "small"]))
        doc["step"] = value
        return doc, ("step",), False, f"expected a positive number, got {_quoted(value)}"
    if mistake == "tolerance":
        value = draw(st.sampled_from([-1, "tight"]))
        doc["tolerance"] = {"rtol": value}
        return doc, ("tolerance", "rtol"), False, f"expected a non-negative number, got {_quoted(value)}"
    if mistake == "residual_changes_shape":
        doc["layers"].insert(k, {"type": "residual", "layers": [{"type": "linear", "out": 5}]})
        return doc, ("layers", k), False, "the residual branch maps shape"
    i = draw(st.sampled_from(linears))
    value = draw(st.sampled_from([0, -3, "three", 2.5, True, None]))
    options_at = places[i]
    (doc["layers"][i][options_at[0]] if options_at else doc["layers"][i])["out"] = value
    return doc, ("layers", i, *options_at, "out"), False, f"expected a positive integer, got {_quoted(value)}"


def _line_of(text: str, path: tuple, key: bool) -> int:
    """The 1-based line of the node at `path` (of its key, with `key`) in the YAML `text`."""
    node, key_node = yaml.compose(text), None
    for part in path:
        if isinstance(part, int):
            node = node.value[part]
        else:
            key_node, node = next((k, v) for k, v in node.value if k.value == part)
    return (key_node if key and key_node is not None else node).start_mark.line + 1


def _kinds(layers) -> set[str]:
    """The built-in layer names used in a list of layers, residual branches included."""
    found = set()
    for entry in layers:
        name = entry if isinstance(entry, str) else entry.get("type", next(iter(entry)))
        found.add(name)
        if name == "residual":
            found |= _kinds(entry["layers"])
    return found


def _where(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


def test_fuzz_random_specs(tmp_path, monkeypatch):
    """Random valid specs of built-in layers pass with every tensor compared; the same spec with
    one mistake planted gives exit 2 and one line `spec.yaml:LINE: where: what` naming it."""
    monkeypatch.chdir(tmp_path)
    seen = {"valid": 0, "invalid": 0}
    mistakes, kinds = set(), set()

    def run(doc):
        text = yaml.safe_dump(doc, sort_keys=False)
        Path("spec.yaml").write_text(text, encoding="utf-8")
        result = invoke_cli("run", "spec.yaml", "--json", "out.json", "--mode", "fast")
        assert "Traceback" not in result.output, (text, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (text, repr(result.exception))
        return text, result

    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(base=valid_specs(), data=st.data())
    def check(base, data):
        doc, places, tensors = base
        text, result = run(doc)
        seen["valid"] += 1
        kinds.update(_kinds(doc["layers"]))
        assert result.exit_code == 0, (text, result.output)
        (spec,) = json.loads(Path("out.json").read_text(encoding="utf-8"))["specs"]
        assert spec["outcome"] == "passed", (text, spec)
        assert [(c["layer"], c["tensor"]) for c in spec["checks"]] == tensors, text
        assert all(c["outcome"] == "passed" and c["checked"] > 0 for c in spec["checks"]), text

        bad, path, key, what, mistake = data.draw(planted(doc, places))
        text, result = run(bad)
        seen["invalid"] += 1
        mistakes.add(mistake)
        hypothesis.event(f"mistake: {mistake}")
        assert result.exit_code == 2, (text, result.output)
        line = _line_of(text, path, key) if path else 1
        message = [row.strip() for row in result.output.splitlines() if row.strip()][1]
        assert message.startswith(f"spec.yaml:{line}: {_where(path) + ': ' if path else ''}{what}"), (text, message)

    check()
    # both kinds, often; every built-in layer among the valid specs (so a broken one fails
    # here), and most of the planted mistakes
    assert seen["valid"] >= 40 and seen["invalid"] >= 40, seen
    assert kinds == set(LAYER_KINDS), sorted(set(LAYER_KINDS) - kinds)
    assert len(mistakes) >= len(MISTAKES) * 2 // 3, sorted(mistakes)


# --- (2) alias bomb ------------------------------------------------------------------------------


def test_alias_bomb_is_refused_fast(tmp_path):
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    lines += ["input: [4, 3]", "layers: [tanh]", "loss: mse"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = time.perf_counter()
    result = invoke_cli("run", path, "--json", tmp_path / "out.json")
    elapsed = time.perf_counter() - start
    assert result.exit_code == 2, result.output
    assert elapsed < 2.0, elapsed
    assert "Traceback" not in result.output
    assert "bomb.yaml" in result.output


# --- (3) huge input ----------------------------------------------------------------------------


def test_huge_input_is_refused_quickly(write_spec):
    path = write_spec("""
        input: [100000, 100000]
        layers: [tanh]
        loss: mse
    """)
    start = time.perf_counter()
    result = invoke_cli("run", path)
    elapsed = time.perf_counter() - start
    assert result.exit_code == 2, result.output
    assert "--max-elements" in result.output
    assert elapsed < 5.0, elapsed


# --- (4) a hanging custom layer with --timeout -------------------------------------------------

HANG_LAYERS = """
import numpy as np

class Hang:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        while True:
            pass

    def backward(self, g):
        return g
"""

GOOD_SPEC = """
name: good
seed: 0
input: [3, 2]
layers:
  - {type: linear, out: 2}
  - tanh
loss: mse
"""

HANG_SPEC = """
name: hang
seed: 0
input: [3, 2]
layers:
  - {type: ./layers.py:Hang}
loss: mse
"""


def _hang_folder(root: Path, good_first: bool = True) -> Path:
    folder = root / "specs"
    folder.mkdir()
    (folder / "layers.py").write_text(textwrap.dedent(HANG_LAYERS), encoding="utf-8")
    (folder / ("a_good.yaml" if good_first else "b_good.yaml")).write_text(GOOD_SPEC, encoding="utf-8")
    (folder / ("b_hang.yaml" if good_first else "a_hang.yaml")).write_text(HANG_SPEC, encoding="utf-8")
    return folder


def test_timeout_ends_a_hanging_layer(tmp_path):
    folder = _hang_folder(tmp_path, good_first=False)
    out = tmp_path / "out.json"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", str(folder), "--timeout", "3",
                           "--json", str(out)], capture_output=True, text=True, timeout=60, env=_child_env())
    elapsed = time.perf_counter() - start
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert elapsed < 15, elapsed
    report = json.loads(out.read_text(encoding="utf-8"))
    outcomes = {Path(s["path"]).name: s for s in report["specs"]}
    assert outcomes["a_hang.yaml"]["outcome"] == "error"
    assert "timed out" in outcomes["a_hang.yaml"]["error"]
    assert outcomes["b_good.yaml"]["outcome"] == "passed"
    assert "Traceback" not in proc.stdout + proc.stderr


# --- (5) Ctrl-C ----------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs, good_first", [(1, True), (2, False)], ids=["one job", "two jobs"])
def test_ctrl_c_exits_130_with_a_report_of_what_finished(tmp_path, jobs, good_first):
    """With two jobs the good spec finishes while the hanging one, before it in order, still
    runs: it must be in the report all the same. The report says it was cut short."""
    folder = _hang_folder(tmp_path, good_first=good_first)
    good = "a_good.yaml" if good_first else "b_good.yaml"
    out, junit = tmp_path / "out.json", tmp_path / "out.xml"
    proc = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", "run", str(folder), "--json", str(out),
                             "--junit-xml", str(junit), "--jobs", str(jobs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env())
    try:
        time.sleep(3.0)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [(Path(s["path"]).name, s["outcome"]) for s in report["specs"]] == [(good, "passed")]
    assert report["interrupted"] is True and report["passed"] is False
    suite = ET.parse(junit).getroot()
    assert suite.get("errors") == "1" and suite.find(".//testcase[@name='interrupted']/error") is not None
    leftovers = [p for p in tmp_path.iterdir() if p.name not in ("specs", "out.json", "out.xml")]
    assert not leftovers, leftovers


# --- (6) determinism -----------------------------------------------------------------------------


def test_two_runs_give_the_same_report(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    reports = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        result = invoke_cli("run", "specs", "--json", out)
        assert result.exit_code in (0, 1), result.output
        reports.append(strip_seconds(json.loads(out.read_text(encoding="utf-8"))))
    assert reports[0] == reports[1]


# --- (7) edge values -----------------------------------------------------------------------------

EDGE_LAYERS = """
import numpy as np

class MakesNaN:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        return x * np.nan

    def backward(self, g):
        return g


class Scale:
    def __init__(self, k=1.0):
        self.k = float(k)
        self.params = {}
        self.grads = {}

    def forward(self, x):
        return x * self.k

    def backward(self, g):
        return g * self.k
"""


def test_nan_output_is_an_error_naming_the_layer(write_spec, write_file, run_json):
    write_file("edge.py", EDGE_LAYERS)
    path = write_spec("""
        input: [3, 2]
        layers:
          - {type: linear, out: 2}
          - {type: ./edge.py:MakesNaN}
        loss: mse
    """)
    result, report = run_json(path)
    assert result.exit_code == 1, result.output
    spec = report["specs"][0]
    assert spec["outcome"] == "error"
    assert "MakesNaN" in spec["error"] and "NaN" in spec["error"]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("shape", ["[4]", "[0, 3]", "[3, 0]", "[-1, 3]"])
def test_degenerate_input_shapes_are_usage_errors(write_spec, shape):
    path = write_spec(f"""
        input: {shape}
        layers: [tanh]
        loss: mse
    """)
    result = invoke_cli("run", path)
    assert result.exit_code == 2, result.output
    assert "input" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("k", ["1e300", "1e-300", "1e308", "5e-324"])
def test_extreme_scales_do_not_crash(write_spec, write_file, k, tmp_path):
    write_file("edge.py", EDGE_LAYERS)
    path = write_spec(f"""
        input: [3, 2]
        layers:
          - {{type: ./edge.py:Scale, k: {k}}}
        loss: mse
    """)
    out = tmp_path / "out.json"
    result = invoke_cli("run", path, "--json", out)
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    json.loads(out.read_text(encoding="utf-8"))
