"""gradcheck under hostile input: fuzzed specs, alias bombs, huge inputs, hangs, Ctrl-C, edge values."""
from __future__ import annotations

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


def test_control_character_in_spec_is_a_spec_error():
    _run_text("\x1f\nname: fuzz\ninput: [3, 2]\nlayers: [tanh]\nloss: mse\n")


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(st.sampled_from(["name", "seed", "input", "layers", "loss", "dtype", "mode",
                                            "tolerance", "rtol", "atol", "junk"]), values, max_size=6))
def test_fuzz_random_specs(doc):
    _run_text(yaml.safe_dump(doc, allow_unicode=True))


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
