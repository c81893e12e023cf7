"""What CI and a newcomer's first hour meet: the process exit (atexit handlers, coverage), the
pre-commit hooks, report folders, option errors, `-v` at 80 columns, the HTML page's width."""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, invoke_cli


@pytest.fixture
def at_root(monkeypatch):
    """Run from the repository root, paths given as a user types them: specs/mlp.yaml."""
    monkeypatch.chdir(ROOT)

# --- the process exit ------------------------------------------------------------------------

ATEXIT_LAYER = '''
import atexit
from pathlib import Path

MARK = Path(__file__).with_name("atexit-ran.txt")


def _on_exit():
    MARK.write_text("the layer's atexit handler ran", encoding="utf-8")
    print("printed by the atexit handler")


atexit.register(_on_exit)


class Double:
    """y = 2x."""

    def forward(self, x):
        return 2.0 * x

    def backward(self, grad_out):
        return 2.0 * grad_out
'''


def _write_atexit_spec(folder: Path) -> Path:
    (folder / "layers.py").write_text(textwrap.dedent(ATEXIT_LAYER), encoding="utf-8")
    spec = folder / "double.yaml"
    spec.write_text("input: [3, 2]\nlayers:\n  - ./layers.py:Double\n  - {type: linear, out: 2}\n",
                    encoding="utf-8")
    return spec


def _python_m(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=env, **kwargs)


def test_a_layer_files_atexit_handler_runs_before_the_process_ends(tmp_path):
    """The layer's code runs in a worker process (run/isolation.py), which skips the interpreter's
    teardown (os._exit), but not the atexit handlers the layer registered; what a handler prints
    still reaches the pipe, and the exit code is the run's."""
    spec = _write_atexit_spec(tmp_path)
    proc = _python_m("gradcheck_cli", "run", str(spec), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "atexit-ran.txt").read_text(encoding="utf-8") == "the layer's atexit handler ran"
    assert "printed by the atexit handler" in proc.stdout.splitlines(), proc.stdout


def test_coverage_measures_the_command_line(tmp_path):
    """`coverage run -m gradcheck_cli ...` writes its data: under a tracer the CLI exits the
    ordinary way, and coverage.py saves its data once the program has returned."""
    coverage = pytest.importorskip("coverage")
    data_file = tmp_path / "cli.coverage"
    proc = _python_m("coverage", "run", f"--data-file={data_file}", "--source=gradcheck_cli",
                     "-m", "gradcheck_cli", "run", "specs/mlp.yaml", cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    measured = {Path(name).relative_to(ROOT).as_posix(): name for name in data.measured_files()}
    assert "gradcheck_cli/cli.py" in measured and "gradcheck_cli/check/verdict.py" in measured, sorted(measured)
    assert len(data.lines(measured["gradcheck_cli/cli.py"])) > 50


# --- pre-commit ------------------------------------------------------------------------------

HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"


def _hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("hook_id, entry", [("gradcheck", ["gradcheck", "run", "-q"]),
                                            ("gradcheck-validate", ["gradcheck", "validate"])])
def test_the_hooks_run_over_the_spec_folders_when_a_spec_or_a_layer_changes(hook_id, entry):
    hook = _hooks()[hook_id]
    assert hook["entry"].split() == entry
    assert hook["language"] == "python"
    # Once over the folders in args, not over the changed files: an edited layer file breaks
    # the specs that use it, which are not among the changed files.
    assert hook["pass_filenames"] is False
    assert hook["args"] == ["specs/"]
    changed = {"specs/mlp.yaml": True, "tests/deep/x.yml": True, "specs/custom/swish.py": True,
               "README.md": False, "report.json": False, "notes.txt": False, "setup.cfg": False}
    assert {name: bool(re.search(hook["files"], name)) for name in changed} == changed


@pytest.mark.parametrize("hook_id", ["gradcheck", "gradcheck-validate"])
def test_a_hooks_command_line_is_one_gradcheck_accepts(at_root, hook_id):
    """What pre-commit runs: the entry, then the args (here the repository's own specs, where
    specs/broken fails on purpose)."""
    hook = _hooks()[hook_id]
    result = invoke_cli(*hook["entry"].split()[1:], *hook["args"])
    assert result.exit_code == (1 if hook_id == "gradcheck" else 0), result.output
    if hook_id == "gradcheck":  # -q: the summary, and one line per spec that did not pass
        assert len(result.output.strip().splitlines()) == 4, result.output


def _readme_blocks_under(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.split(r"\n#{2,} ", text.split(f"\n{heading}\n", 1)[1], maxsplit=1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, flags=re.S)


def test_the_readme_shows_a_complete_pre_commit_config_using_these_hooks():
    remote, local = (yaml.safe_load(block) for block in _readme_blocks_under("### pre-commit"))
    (repo,) = remote["repos"]
    assert set(repo) == {"repo", "rev", "hooks"}
    assert {hook["id"] for hook in repo["hooks"]} <= set(_hooks())
    assert all(hook["args"] for hook in repo["hooks"])
    (local_hook,) = local["repos"][0]["hooks"]
    shipped = _hooks()["gradcheck"]
    assert {key: local_hook[key] for key in ("entry", "files", "pass_filenames", "args")} == {
        key: shipped[key] for key in ("entry", "files", "pass_filenames", "args")}


def test_pre_commit_itself_accepts_the_manifest_and_the_readme_config(tmp_path):
    pytest.importorskip("pre_commit")
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(_readme_blocks_under("### pre-commit")[0], encoding="utf-8")
    for command, path in (("validate-manifest", HOOKS_FILE), ("validate-config", config)):
        proc = _python_m("pre_commit", command, str(path), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr


# --- report folders --------------------------------------------------------------------------


def test_reports_create_their_missing_folders(at_root, tmp_path):
    targets = {"--json": tmp_path / "out" / "r.json", "--junit-xml": tmp_path / "out" / "junit" / "r.xml",
               "--html": tmp_path / "html" / "deep" / "r.html"}
    args = [str(part) for option, target in targets.items() for part in (option, target)]
    result = invoke_cli("run", "specs/mlp.yaml", *args)
    assert result.exit_code == 0, result.output
    assert json.loads(targets["--json"].read_text(encoding="utf-8"))["passed"] is True
    assert targets["--junit-xml"].read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "</html>" in targets["--html"].read_text(encoding="utf-8")


def test_a_report_below_a_file_is_refused_and_no_folder_is_made(at_root, tmp_path):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine\n", encoding="utf-8")
    target = not_a_folder / "out" / "r.json"
    result = invoke_cli("run", "specs/mlp.yaml", "--json", target)
    assert result.exit_code == 2
    assert result.output.strip() == f"--json {target}: cannot write the report: {not_a_folder} is a file, not a folder"
    assert not_a_folder.read_text(encoding="utf-8") == "mine\n"


def test_a_refused_run_leaves_no_empty_folders_behind(at_root, tmp_path):
    """The --json folder would be fine, but --html would overwrite a spec: nothing is created."""
    result = invoke_cli("run", "specs/mlp.yaml", "--json", tmp_path / "new" / "r.json", "--html", "specs/mlp.yaml")
    assert result.exit_code == 2
    assert "--html specs/mlp.yaml: that is one of the specs being checked" in result.output
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_a_report_in_a_folder_that_cannot_be_created_is_refused(at_root, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        target = locked / "out" / "r.json"
        result = invoke_cli("run", "specs/mlp.yaml", "--json", target)
        assert result.exit_code == 2
        assert result.output.strip() == f"--json {target}: cannot write the report: {locked} is not writable"
        assert not (locked / "out").exists()
    finally:
        locked.chmod(0o755)


# --- option errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--shard", "4/3"], "Invalid value for '--shard': expected 1 <= K <= N, got '4/3'"),
    (["--shard", "0/2"], "Invalid value for '--shard': expected 1 <= K <= N, got '0/2'"),
    (["--shard", "half"], "Invalid value for '--shard': expected K/N like 1/4, got 'half'"),
    (["--shard", "1/2/3"], "Invalid value for '--shard': expected K/N like 1/4, got '1/2/3'"),
    (["--mode", "slow"], "Invalid value for '--mode': expected full, fast or sample, got 'slow'"),
    (["--rtol", "nan"], "Invalid value for '--rtol': expected a finite number, got nan"),
    (["--rtol", "-1"], "Invalid value for '--rtol': -1.0 is not in the range x>=0.0."),
    (["--atol", "inf"], "Invalid value for '--atol': expected a finite number, got inf"),
    (["--timeout", "0"], "Invalid value for '--timeout': 0.0 is not in the range x>=0.1."),
    (["--timeout", "inf"], "Invalid value for '--timeout': expected a finite number, got inf"),
    (["--jobs", "0"], "Invalid value for '--jobs' / '-j': 0 is not in the range x>=1."),
    (["--samples", "0"], "Invalid value for '--samples': 0 is not in the range x>=1."),
    (["--directions", "many"], "Invalid value for '--directions': 'many' is not a valid int range."),
    (["--max-elements", "0"], "Invalid value for '--max-elements': 0 is not in the range x>=1."),
])
def test_an_option_error_names_the_option(at_root, args, message):
    result = invoke_cli("run", "specs/mlp.yaml", *args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"Error: {message}"


# --- -v at 80 columns ------------------------------------------------------------------------

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?")


@pytest.mark.parametrize("spec", ["specs/mlp.yaml", "specs/broken/no_transpose.yaml", "specs/custom/layernorm.yaml"])
def test_verbose_at_80_columns_keeps_every_number_whole(at_root, tmp_path, spec):
    """Each tensor takes two lines: its errors, then under them its worst element's place and
    values; every number of the JSON report shows whole, in that order, within 80 columns."""
    report_path = tmp_path / "r.json"
    result = invoke_cli("run", spec, "-v", "--json", report_path, env={"COLUMNS": "80"})
    assert result.exit_code in (0, 1), result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    table = [line for line in result.output.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= 80 for line in table), result.output
    checks = json.loads(report_path.read_text(encoding="utf-8"))["specs"][0]["checks"]
    assert len(rows) == 2 * len(checks), result.output
    for check, first, second in zip(checks, rows[::2], rows[1::2]):
        assert NUMBER.findall(first)[-2:] == [f"{check['max_abs_error']:.2e}", f"{check['max_rel_error']:.2e}"]
        assert f"[{', '.join(map(str, check['worst_index']))}]" in second
        assert NUMBER.findall(second)[-2:] == [f"{check['analytic']:.8g}", f"{check['numeric']:.8g}"], second


def test_verbose_on_a_wide_terminal_keeps_one_line_per_tensor(at_root):
    result = invoke_cli("run", "specs/broken/no_transpose.yaml", "-v", env={"COLUMNS": "200"})
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert len(rows) == 10
    value = r"-?\d\.\d+(e-?\d+)?"
    assert all(re.search(rf"│ \[[\d, ]+\] +│ +{value} │ +{value} │ (passed|FAILED) │$", row) for row in rows), rows


# --- the HTML page's width -------------------------------------------------------------------


def _page_lines(page: str) -> list[str]:
    code = page.split("<code", 1)[1].split(">", 1)[1].split("</code>", 1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", code)).splitlines()


def test_the_html_page_is_wide_and_folds_no_line(at_root, tmp_path):
    target = tmp_path / "r.html"
    result = invoke_cli("run", "specs/broken/no_transpose.yaml", "--html", target, env={"COLUMNS": "80"})
    assert result.exit_code == 1
    page = target.read_text(encoding="utf-8")
    message = ("  layer 1 (./layers.py:AffineNoTranspose) input: 16 of 16 elements off; worst [3, 3]: "
               "analytic 0.34917, numeric -0.223746")
    assert len(message) > 120
    assert message in _page_lines(page)  # one line, whatever the terminal's width
    assert "white-space: pre;" in page and "pre-wrap" not in page and "max-width: none" in page


def test_the_html_page_lays_verbose_tables_out_on_one_line_per_tensor(tmp_path):
    from gradcheck_cli.report.html import write_html
    from gradcheck_cli.run.batch import run

    target = tmp_path / "r.html"
    write_html(run([str(ROOT / "specs/broken/no_transpose.yaml")]), str(target), verbose=True)
    lines = _page_lines(target.read_text(encoding="utf-8"))
    header = next(line for line in lines if "max abs err" in line)
    assert "worst at" in header and "analytic" in header and "numeric" in header
