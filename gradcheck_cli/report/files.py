"""Report files: written whole (a temporary file renamed into place), and only over an earlier
report of the same kind, never over a spec, a layer file or anything else the user has."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import UsageError

# What the start of an earlier report of each kind holds: only such a file is replaced by a new one.
REPORT_MARKS = {"json": ('"version": ', '"summary": {'), "junit": ('<testsuites name="gradcheck"',),
                "html": ('<meta name="generator" content="gradcheck">',)}


def is_earlier_report(path: Path, kind: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            start = handle.read(4096)
    except OSError:
        return False
    return all(mark in start for mark in REPORT_MARKS[kind])


def write_atomically(path: Path, text: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 is not what a report file should have
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_report(kind: str, run, target: str) -> None:
    """Write the report of `kind` (json, junit, html); each writer is imported only when asked for."""
    if kind == "json":
        from .json_report import write_json as write
    elif kind == "junit":
        from .junit import write_junit as write
    else:
        from .html import write_html as write
    write(run, target)


REPORT_KINDS = {"--json": "json", "--junit-xml": "junit", "--html": "html"}


def check_report_targets(paths: list[str], reports: dict[str, str | None]) -> None:
    """Before anything runs: every report can be written, lands neither on a spec it checks nor
    on a file the user wrote (only an earlier report is replaced), and no two share a file. A
    report's missing folders are created (`--json out/r.json`), once all of that holds."""
    from ..run.batch import discover

    targets = {option: target for option, target in reports.items() if target is not None}
    for option, target in targets.items():
        if target == "-" and option != "--json":
            raise UsageError(f"{option} -: only --json can go to standard output; give a file name")
    files = {option: target for option, target in targets.items() if target != "-"}
    if not files:
        return  # nothing will be written: no need to walk the folders twice
    specs = {Path(p).resolve() for p in discover(paths) if isinstance(p, str)}
    seen: dict[Path, str] = {}
    for option, target in files.items():
        where = Path(target).resolve()
        if where in specs:
            raise UsageError(f"{option} {target}: that is one of the specs being checked; "
                             "refusing to overwrite it")
        if where in seen:
            raise UsageError(f"{option} {target}: {seen[where]} writes to the same file")
        seen[where] = option
        if where.is_dir():
            raise UsageError(f"{option} {target}: that is a folder; give a file name")
        folder = _existing_ancestor(where.parent)
        if not folder.is_dir():
            raise UsageError(f"{option} {target}: cannot write the report: {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {target}: cannot write the report: {folder} is not writable")
        if where.exists() and not is_earlier_report(where, REPORT_KINDS[option]):
            raise UsageError(f"{option} {target}: the file exists and is not an earlier gradcheck report; "
                             "refusing to overwrite it (remove it, or choose another name)")
    # Only once every target is known to be fine: a refused run leaves no empty folders behind.
    for option, target in files.items():
        folder = Path(target).resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{option} {target}: cannot create the folder {folder}: {exc.strerror or exc}") from None


def _existing_ancestor(folder: Path) -> Path:
    """The folder itself, or the nearest of its parents that exists (what a report's missing
    folders would be created in)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
