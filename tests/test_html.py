"""The HTML report: the terminal report as a self-contained page."""
import shutil
from pathlib import Path

from gradcheck_cli.run import batch as runner
from gradcheck_cli.report.html import write_html

DATA = Path(__file__).parent / "data" / "plugin"


def test_html_report(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")  # the page keeps its colors anyway
    shutil.copy(DATA / "layers.py", tmp_path)
    paths = []
    for name in ("mlp.yaml", "transpose_bug.yaml", "raises.yaml"):
        shutil.copy(DATA / name, tmp_path)
        paths.append(str(tmp_path / name))
    run = runner.run(paths)
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    write_html(run, str(target))

    assert target.is_file()
    page = target.read_text(encoding="utf-8")
    assert page.lstrip().startswith(("<!DOCTYPE html>", "<html"))
    assert page.rstrip().endswith("</html>")
    for name in ("mlp", "transpose_bug", "raises"):
        assert name in page
    assert "FAILED" in page  # the failing tensors' status cells
    assert "MissingTranspose" in page
    assert "backward wrong for input" in page
    assert "1 passed" in page and "1 failed" in page and "1 error" in page
    # self-contained and escaped
    assert "<script" not in page and "<link" not in page
    assert "&lt;here&gt;" in page and "<here>" not in page
    assert "color:" in page  # inline styles despite NO_COLOR
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]
