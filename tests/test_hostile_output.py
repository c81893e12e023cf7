"""Output under faults, by class: a standard output that cannot carry the report's characters
(ASCII, Latin-1, the C locale), one that cannot be written at all (closed, full, a reader gone),
and control characters in file names and layer messages. No traceback, the report files are
written whatever happens to the terminal, and nothing a name or a message holds reaches the
terminal as a control sequence."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SPECS, invoke_cli

BROKEN = SPECS / "broken" / "no_transpose.yaml"  # a failing spec: heatmap, ×, → and all


def gradcheck(*args, env=None, shell_tail="", cwd=None, **kwargs) -> subprocess.CompletedProcess:
    """The command in its own process (its standard streams are what is under test). `shell_tail`
    (e.g. `>&-`) is applied by a shell."""
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    command = [sys.executable, "-m", "gradcheck_cli", *map(str, args)]
    if shell_tail:
        quoted = " ".join("'" + part.replace("'", "'\\''") + "'" for part in command)
        command = ["sh", "-c", f"exec {quoted} {shell_tail}"]
    return subprocess.run(command, capture_output=not shell_tail or "2>" not in shell_tail, timeout=120,
                          env=full, cwd=cwd or ROOT, **kwargs)


def clean(proc) -> str:
    text = (proc.stdout or b"").decode("latin-1") + (proc.stderr or b"").decode("latin-1")
    assert "Traceback" not in text, text
    return text


# --- encodings -----------------------------------------------------------------------------------

ASCII_ENVIRONMENTS = {
    "PYTHONIOENCODING=ascii": {"PYTHONIOENCODING": "ascii"},
    "C locale, no UTF-8 mode": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
                                "PYTHONIOENCODING": ""},
}


@pytest.mark.parametrize("environment", ASCII_ENVIRONMENTS)
@pytest.mark.parametrize("args", [["run", "-v", BROKEN], ["run", "-q", BROKEN], ["validate", SPECS], ["layers"],
                                  ["jacobian", SPECS / "mlp.yaml", "--layer", "1"]])
def test_an_ascii_standard_output_gets_plain_characters(environment, args):
    proc = gradcheck(*args, env=ASCII_ENVIRONMENTS[environment])
    clean(proc)
    assert proc.returncode in (0, 1), proc.stderr
    out = proc.stdout.decode("ascii")  # every byte is ASCII
    assert out.strip()
    if "-v" in args:
        assert "4x4" in out and "-> layer 1 (./layers.py:AffineNoTranspose): backward wrong for input" in out
        assert "relative error: .. <= rtol  :: <= 10*rtol  ++ <= 1000*rtol  ## more" in out
        assert out.splitlines()[1].startswith("+---")  # rich's ASCII box


def test_latin1_keeps_what_it_can_carry():
    proc = gradcheck("run", BROKEN, env={"PYTHONIOENCODING": "latin-1"})
    clean(proc)
    out = proc.stdout.decode("latin-1")
    assert "4×4" in out and "-> layer 1" in out and "→" not in out


def test_a_layers_non_ascii_message_and_print_are_no_error_on_an_ascii_stdout(tmp_path):
    (tmp_path / "layers.py").write_text('''
class Loud:
    def forward(self, x):
        print("forward: σ(x) → y, ×2 … ✓")
        return x * 1.0
    def backward(self, g):
        return g * 1.0

class Greek:
    def forward(self, x):
        raise ValueError("σ must be > 0 → got −1")
    def backward(self, g):
        return g
''', encoding="utf-8")
    (tmp_path / "loud.yaml").write_text("input: [2, 2]\nlayers: [{type: ./layers.py:Loud}]\n", encoding="utf-8")
    (tmp_path / "greek.yaml").write_text("input: [2, 2]\nlayers: [{type: ./layers.py:Greek}]\n", encoding="utf-8")
    proc = gradcheck("run", "-q", "loud.yaml", "greek.yaml", "--json", "r.json", cwd=tmp_path,
                     env={"PYTHONIOENCODING": "ascii"})
    clean(proc)
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [s["outcome"] for s in report["specs"]] == ["passed", "error"]
    assert report["specs"][1]["error"].endswith("forward raised ValueError: σ must be > 0 → got −1")
    out = proc.stdout.decode("ascii")
    assert "forward: sigma(x) -> y, x2 ... ok" in out
    assert "forward raised ValueError: sigma must be > 0 -> got -1" in out


# --- a standard output that cannot be written ---------------------------------------------------

def test_a_closed_standard_output_is_one_line_and_the_reports_are_written(tmp_path):
    target = tmp_path / "r.json"
    proc = gradcheck("run", SPECS / "mlp.yaml", "--json", target, "--junit-xml", tmp_path / "r.xml",
                     shell_tail=">&-")
    clean(proc)
    assert proc.returncode == 1  # passed, but nobody saw it: not 0
    assert proc.stderr.decode().strip() == ("standard output is closed: the report could not be shown there; the "
                                            "report files are written")
    assert json.loads(target.read_text(encoding="utf-8"))["passed"] is True
    assert (tmp_path / "r.xml").read_text(encoding="utf-8").startswith("<?xml")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("spec, code", [(SPECS / "mlp.yaml", 1), (BROKEN, 1), (SPECS / "broken", 1)])
def test_a_full_standard_output_is_one_line_and_the_reports_are_written(tmp_path, spec, code):
    target = tmp_path / "r.json"
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", str(spec), "--json", str(target), "-v"],
                              stdout=full, stderr=subprocess.PIPE, timeout=120, cwd=ROOT,
                              env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr.decode()
    assert proc.returncode == code
    assert proc.stderr.decode().strip() == ("standard output: cannot write (No space left on device): the report "
                                            "could not be shown there; the report files are written")
    assert json.loads(target.read_text(encoding="utf-8"))["specs"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_json_on_a_full_standard_output_is_one_line_and_the_other_reports_are_written(tmp_path):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", str(SPECS / "mlp.yaml"), "--json", "-",
                               "--junit-xml", str(tmp_path / "r.xml")], stdout=full, stderr=subprocess.PIPE,
                              timeout=120, env={**os.environ, "NO_COLOR": "1"})
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1] == ("--json -: cannot write the report to standard output (No space left "
                                            "on device)")
    assert (tmp_path / "r.xml").read_text(encoding="utf-8").startswith("<?xml")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_layer_printing_to_a_full_standard_output_is_not_a_layer_error(tmp_path):
    (tmp_path / "layers.py").write_text('''
class Chatty:
    def forward(self, x):
        print("x" * 100_000)
        return x * 1.0
    def backward(self, g):
        return g * 1.0
''', encoding="utf-8")
    (tmp_path / "spec.yaml").write_text("input: [2, 2]\nlayers: [{type: ./layers.py:Chatty}]\n", encoding="utf-8")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", "spec.yaml", "--json", "r.json"],
                              stdout=full, stderr=subprocess.PIPE, timeout=120, cwd=tmp_path,
                              env={**os.environ, "NO_COLOR": "1"})
    assert "Traceback" not in proc.stderr.decode()
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["specs"][0]["outcome"] == "passed"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("args", [["schema"], ["--version"], ["layers"], ["init", "starter"], ["validate", SPECS],
                                  ["jacobian", SPECS / "mlp.yaml", "--layer", "0"]])
def test_the_other_commands_on_a_full_standard_output_are_one_line(tmp_path, args):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "gradcheck_cli", *args], stdout=full, stderr=subprocess.PIPE,
                              timeout=60, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() in ("standard output: cannot write (No space left on device)",
                                            "standard output: cannot write (No space left on device): the report "
                                            "could not be shown there")


def test_a_reader_that_leaves_early_is_not_told_about(tmp_path):
    """`gradcheck run ... | head -1`: the reader stopped on purpose; no message, no traceback,
    and a run that passed does not claim 0 (its report was cut)."""
    proc = gradcheck("run", SPECS, "--json", tmp_path / "r.json", shell_tail="| head -c 10 > /dev/null")
    assert proc.stderr == b""  # captured through the shell: nothing on standard error
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["specs"]


# --- control characters --------------------------------------------------------------------------

ESCAPES = {"\x1b[31m": "\\x1b[31m", "\r": "\\r", "\x00": "\\x00", "\n": "\\n", "\x07": "\\x07",
           "\u202e": "\\u202e", "\x9b": "\\x9b"}


@pytest.mark.parametrize("control", [c for c in ESCAPES if c != "\x00"])  # NUL: no file name holds one
def test_control_characters_in_a_file_name_are_escaped(tmp_path, control):
    name = f"sp{control}ec.yaml"
    (tmp_path / name).write_text("input: [2, 2]\nlayers: [tanh, {type: nope}]\n", encoding="utf-8")
    shown = f"sp{ESCAPES[control]}ec.yaml"
    for args in (["run"], ["run", "-q"], ["validate"]):
        result = invoke_cli(*args, tmp_path)
        assert result.exit_code == 2
        assert f"sp{control}ec" not in result.output and (control == "\n" or control not in result.output), args
        assert f"{tmp_path}/{shown}:2: layers[1]: unknown layer 'nope'; known layers: " in result.output, args


LAYER_RAISES = '''
class Shouty:
    def forward(self, x):
        raise ValueError("boom \\x1b[2J\\x1b[1;31mall clear\\x1b[0m \\x07\\x00\\u202eevil")
    def backward(self, g):
        return g
'''


def test_control_characters_in_a_layers_message_are_escaped_on_the_terminal_and_in_junit(tmp_path):
    (tmp_path / "layers.py").write_text(LAYER_RAISES, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text("input: [2, 2]\nlayers: [{type: ./layers.py:Shouty}]\n", encoding="utf-8")
    escaped = "boom \\x1b[2J\\x1b[1;31mall clear\\x1b[0m \\x07\\x00\\u202eevil"
    for args in (["run"], ["run", "-q"], ["run", "-v"]):
        result = invoke_cli(*args, spec, "--junit-xml", tmp_path / "r.xml", "--json", tmp_path / "r.json",
                            "--html", tmp_path / "r.html")
        assert result.exit_code == 1
        assert "\x1b" not in result.output and "\x07" not in result.output and "\u202e" not in result.output
        assert f"forward raised ValueError: {escaped}" in result.output
    junit = (tmp_path / "r.xml").read_text(encoding="utf-8")
    assert "\x1b" not in junit and "forward raised ValueError: boom \\x1b[2J\\x1b[1;31mall clear" in junit
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "\x1b[2J" not in html and "\\x1b[2J" in html
    # the JSON report is data: it keeps the message as the layer raised it (json escapes it)
    error = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["specs"][0]["error"]
    assert error.endswith("boom \x1b[2J\x1b[1;31mall clear\x1b[0m \x07\x00\u202eevil")


def test_control_characters_in_a_usage_error_are_escaped(tmp_path):
    target = tmp_path / "r\x1b[2J.json"
    target.mkdir()
    result = invoke_cli("run", SPECS / "mlp.yaml", "--json", target)
    assert result.exit_code == 2
    assert result.output.strip() == f"--json {tmp_path}/r\\x1b[2J.json: that is a folder; give a file name"


def test_escapes_leave_ordinary_text_alone():
    from gradcheck_cli.report.terminal import escape_controls
    text = "layer 1 (./layers.py:Affine) W: 3 of 12 elements off; worst [0, 1] ×4 → σ"
    assert escape_controls(text) is text
    assert escape_controls("a\tb") == "a\\tb"
    assert Path(escape_controls(str(ROOT))) == ROOT
