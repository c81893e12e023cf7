"""Report files: written whole (a temporary file renamed into place), and only over an earlier
report of the same kind, never over a spec, a layer file or anything else the user has.

Every target is settled before any layer runs: made absolute (a layer's os.chdir cannot move
where a report lands) and followed through symbolic links (a link to a report stays a link; the
file it points to is replaced). A device, a FIFO or a socket is refused (`-` is how the JSON
goes to standard output), and so is a link to nothing. Just before the rename the target is
looked at again: a file that appeared there during the run, or changed into something that is
not a report, is left alone and the new report stays in its temporary file, named in the error."""
from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path

from ..errors import UsageError

REPORT_KINDS = {"--json": "json", "--junit-xml": "junit", "--html": "html"}
OPTIONS = {kind: option for option, kind in REPORT_KINDS.items()}
MAX_REPORT_BYTES = 1 << 30  # an earlier report larger than this is not read to find out what it is
HTML_MARK = '<meta name="generator" content="gradcheck">'  # what html.py puts in the head of every page


def is_earlier_report(path: Path, kind: str) -> bool:
    """Whether `path` is a regular file holding a whole report of `kind`, as the writers write
    them: JSON with its `version` and `specs`; JUnit XML whose root is gradcheck's testsuites;
    an HTML page with gradcheck's generator mark in its head. Opened without following a link
    and without blocking (a FIFO put there is not waited on)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_REPORT_BYTES:
            return False
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError:
        return False
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace")
    try:
        return _looks_like[kind](text)
    except (ValueError, RecursionError, MemoryError):
        return False


def _json_report(text: str) -> bool:
    report = json.loads(text)
    return isinstance(report, dict) and isinstance(report.get("version"), int) and isinstance(report.get("specs"), list)


def _junit_report(text: str) -> bool:
    import xml.etree.ElementTree as ET

    if "<!DOCTYPE" in text or "<!ENTITY" in text:  # never in ours; entities could expand without bound
        return False
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return False
    return root.tag == "testsuites" and root.get("name") == "gradcheck" and all(
        child.tag == "testsuite" for child in root)


def _html_report(text: str) -> bool:
    head, found, _ = text.partition("</head>")
    return (found == "</head>" and text.lstrip().startswith("<!DOCTYPE html>") and HTML_MARK in head
            and text.rstrip().endswith("</html>"))


_looks_like = {"json": _json_report, "junit": _junit_report, "html": _html_report}


class ReportChanged(OSError):
    """The target changed during the run into something that is not a report: not overwritten."""


def write_atomically(path: Path, text: str, kind: str | None = None) -> None:
    """Write `text` to a temporary file beside `path`, then put it in place. With `kind`, the
    place is looked at again first: only nothing or an earlier report of that kind is replaced;
    otherwise ReportChanged, and the temporary file (named in its message) keeps the report."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 is not what a report file should have
        if kind is None:
            os.replace(temporary, path)
        else:
            _put_in_place(temporary, path, kind)
    except ReportChanged:
        raise
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _put_in_place(temporary: str, path: Path, kind: str) -> None:
    try:
        os.link(temporary, path)  # only where nothing is: a file that appeared meanwhile is never replaced
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links: look, then rename
        pass
    else:
        os.unlink(temporary)
        return
    try:
        os.lstat(path)
    except FileNotFoundError:
        os.replace(temporary, path)
        return
    if not is_earlier_report(path, kind):
        raise ReportChanged(errno.EEXIST, "a file that is not an earlier gradcheck report is there now (it appeared "
                            f"or changed during the run); it was left as it is, and the report is in {temporary}")
    os.replace(temporary, path)


def write_report(kind: str, run, target: str) -> None:
    """Write the report of `kind` (json, junit, html) to a target check_report_targets found fit,
    looking at it again just before it is replaced; each writer is imported only when asked for."""
    if kind == "json":
        from .json_report import report_text, write_json
        if target == "-":
            return write_json(run, target)
        text = report_text(run)
    elif kind == "junit":
        from .junit import junit_xml
        text = junit_xml(run)
    else:
        from .html import html_report
        text = html_report(run)
    write_atomically(Path(target), text, kind)


def write_reports(run, targets: dict[str, str], code: int, console, errors) -> int:
    """Write every report of `targets` (from check_report_targets); one that cannot be written does
    not keep the others from being written. `console` printed the table, through a
    terminal.GuardedStream; `errors` (a console on standard error) says what went wrong. Returns
    the exit code: 2 when a report could not be written, at least 1 when the table was lost on a
    closed or full standard output (a run that passed must not look like one that was seen)."""
    import contextlib

    from .terminal import escape_controls, guarded
    lines = []
    for option, target in targets.items():
        try:
            if target == "-":
                stdout = guarded(stderr=False)
                with contextlib.redirect_stdout(stdout):
                    write_report(REPORT_KINDS[option], run, target)
                if stdout.error:
                    stdout.said = True
                    lines.append(f"--json -: cannot write the report to standard output "
                                 f"({'it is closed' if stdout.error == 'closed' else stdout.error})")
            else:
                write_report(REPORT_KINDS[option], run, target)
        except OSError as exc:
            lines.append(escape_controls(f"{option} {target}: cannot write the report: {exc.strerror or exc}"))
    unwritten = len(lines)
    lost = console.file.lost()  # the table's stream: standard error when the JSON is on standard output
    if lost:
        lines.append(lost + ("; the report files are written" if len(targets) > unwritten else ""))
        console.file.said = True
    for line in lines:
        errors.print(line, style="red", markup=False)
    return 2 if unwritten and code in (0, 1) else 1 if console.file.error and code == 0 else code


def check_report_targets(paths: list[str], reports: dict[str, str | None]) -> dict[str, str]:
    """Before anything runs: every report can be written, lands neither on a spec it checks nor
    on a file the user wrote (only an earlier report is replaced), and no two share a file. A
    report's missing folders are created (`--json out/r.json`), once all of that holds. Returns
    where each report goes: `-`, or an absolute path through any symbolic links."""
    from ..run.batch import discover

    targets = {option: target for option, target in reports.items() if target is not None}
    for option, target in targets.items():
        if target == "-" and option != "--json":
            raise UsageError(f"{option} -: only --json can go to standard output; give a file name")
    files = {option: target for option, target in targets.items() if target != "-"}
    if not files:
        return targets  # nothing will be written: no need to walk the folders twice
    specs = {Path(p).resolve() for p in discover(paths) if isinstance(p, str)}
    seen: dict[Path, str] = {}
    settled: dict[str, Path] = {}
    for option, target in files.items():
        where, exists = _settle(option, target)
        if where in specs:
            raise UsageError(f"{option} {target}: that is one of the specs being checked; "
                             "refusing to overwrite it")
        if where in seen:
            raise UsageError(f"{option} {target}: {seen[where]} writes to the same file")
        seen[where] = option
        if exists and not is_earlier_report(where, REPORT_KINDS[option]):
            raise UsageError(f"{option} {target}: the file exists and is not an earlier gradcheck report; "
                             "refusing to overwrite it (remove it, or choose another name)")
        folder = _existing_ancestor(where.parent)
        if not folder.is_dir():
            raise UsageError(f"{option} {target}: cannot write the report: {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"{option} {target}: cannot write the report: {folder} is not writable")
        settled[option] = where
    # Only once every target is known to be fine: a refused run leaves no empty folders behind.
    for option, where in settled.items():
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{option} {files[option]}: cannot create the folder {where.parent}: "
                             f"{exc.strerror or exc}") from None
    return {**targets, **{option: str(where) for option, where in settled.items()}}


def _settle(option: str, target: str) -> tuple[Path, bool]:
    """Where the report `target` of `option` is written: its absolute path, through symbolic
    links; and whether a regular file is there."""
    from ..spec.reading import name_too_long

    absolute = os.path.abspath(target)
    try:
        info = os.stat(absolute)
    except FileNotFoundError:
        if os.path.islink(absolute):
            raise UsageError(f"{option} {target}: a symbolic link to {os.readlink(absolute)}, which does not exist; "
                             "refusing to create a file through it (remove the link, or give another name)") from None
        return Path(os.path.realpath(absolute)), False
    except NotADirectoryError:  # a part of the path is a file: said with its name below
        return Path(os.path.realpath(absolute)), False
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise UsageError(f"{option} {target}: {name_too_long(absolute)}") from None
        raise UsageError(f"{option} {target}: cannot write the report: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{option} {target}: that is a folder; give a file name")
    if not stat.S_ISREG(info.st_mode):
        way = "use - for standard output" if option == "--json" else "give a file name"
        raise UsageError(f"{option} {target}: not a regular file; {way}")
    return Path(os.path.realpath(absolute)), True


def _existing_ancestor(folder: Path) -> Path:
    """The folder itself, or the nearest of its parents that exists (what a report's missing
    folders would be created in)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
