"""`gradcheck run --watch`: check the specs, then again each time a file one of them depends on
(dependencies.py: the spec, the layer and loss files it names, the modules those import from
its folder) is saved, or a new spec appears below a folder given. Only the specs that depend on
a changed file are checked again; every spec's latest result makes each run's report.

The watching is watchfiles' (inotify, FSEvents, ReadDirectoryChangesW underneath; no polling of
ours). Each folder holding a dependency is watched, not each file: an editor that saves by
writing a new file and renaming it over the old one replaces the file a watch would be on. The
folders are watched one level deep (the folders given, every folder below them too), not
recursively: a layer file in a project's root must not put its .venv under watch. A burst of
writes (an editor saves in several) is one change once it has been quiet for STEP_MS; what
changes during a run is kept and checked right after it.

Fresh layer modules on every run: a spec with custom code is checked in a worker forked for it
(isolation.py), and this process never imports the user's code (dependencies.py only reads it),
so no worker inherits a module from an earlier run. Where there is no fork (isolation.FORK_SAFE
false: the spec's code runs here), the user's modules are forgotten before each run.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..results import RunResult, SpecResult
from .batch import SPEC_SUFFIXES, RunOptions, discover, take_shard
from .dependencies import spec_dependencies

STEP_MS = 100   # quiet this long after a write: the burst of writes is over
WAKE_MS = 100   # the watcher wakes this often when nothing changes (to see a stop), and is ready within it


@dataclass
class Rerun:
    """One run: the files whose change started it (none for the first), the specs checked, and
    the report of every spec (the latest result of each, in the order of the paths)."""
    number: int
    changed: list[Path]
    checked: list[str]
    result: RunResult
    watched: int            # how many files the specs depend on


class Specs:
    """The specs the paths name, what each depends on, and each one's latest result."""

    def __init__(self, paths: list[str], options: RunOptions, ignored: set[Path] = frozenset()):
        self.paths, self.options, self.ignored = paths, options, set(ignored)
        self.found: list[str | SpecResult] = []
        self.depends: dict[str, set[Path]] = {}
        self.results: dict[str, SpecResult] = {}
        self.spec_folders = [Path(p).resolve() for p in paths if os.path.isdir(p)]
        self.given = {Path(p).resolve() for p in paths}  # one not there yet is checked once it is

    def refresh(self) -> None:
        """Find the specs again (one added below a folder), and what each one depends on now. A
        spec invalid as written keeps what it depended on before (its layer file still counts)."""
        self.found = take_shard(discover(self.paths), self.options.shard)
        depends = {}
        for item in self.found:
            if isinstance(item, str):
                files = spec_dependencies(item)
                depends[item] = files if files is not None else self.depends.get(item, set()) | {Path(item).resolve()}
        self.depends = depends
        self.results = {path: result for path, result in self.results.items() if path in depends}

    def files(self) -> set[Path]:
        return set().union(*self.depends.values()) - self.ignored

    def folders(self) -> set[Path]:
        """The folders to watch (one level each): those holding a dependency (or the nearest that
        exists, for one named but not there yet), and every folder the given folders' specs are
        searched in."""
        folders = {_existing(file.parent) for file in self.files() | self.given}
        for top in self.spec_folders:
            for parent, below, _ in os.walk(top):  # as discover searches: hidden folders and links not entered
                below[:] = [name for name in below if not name.startswith(".")]
                folders.add(Path(parent))
        return folders

    def relevant(self, path: Path) -> bool:
        """Whether a change of `path` may change a check: a dependency, a folder on the way to
        one, or a spec file or folder below a folder given."""
        if path in self.ignored:
            return False
        files = self.files() | self.given
        if path in files or any(path in file.parents for file in files):
            return True
        for top in self.spec_folders:
            if top in path.parents and not any(part.startswith(".") for part in path.relative_to(top).parts):
                return path.suffix in SPEC_SUFFIXES or path.is_dir()
        return False

    def stale(self, changed: set[Path]) -> list[str]:
        """The specs to check: new ones, and those depending on a changed file (or on a file
        below a changed folder), in the order of the paths."""
        def touched(files: set[Path]) -> bool:
            return bool(files & changed) or any(folder in file.parents for file in files for folder in changed)
        return [path for path, files in self.depends.items() if path not in self.results or touched(files)]

    def check(self, stale: list[str], run_specs) -> RunResult:
        """Check the `stale` specs (`run_specs(paths, options)`: batch.run) and merge their results
        with the others' latest; Interrupted (Ctrl-C) goes through."""
        if not _forks():
            forget_user_modules(set().union(*(self.depends[path] for path in stale)))
        partial = run_specs(stale, dataclasses.replace(self.options, shard=(1, 1))) if stale else RunResult([])
        self.results.update(zip(stale, partial.specs, strict=True))  # discover: one result per file, in order
        merged = [self.results.get(item) if isinstance(item, str) else item for item in self.found]
        return RunResult([result for result in merged if result is not None], partial.seconds)

    def shape(self) -> list[str]:
        """What the report lists: a spec added or removed, a path that became unreadable, changes it."""
        return [item if isinstance(item, str) else item.error for item in self.found]


def _forks() -> bool:
    from .isolation import FORK_SAFE
    return FORK_SAFE


def forget_user_modules(files: set[Path]) -> None:
    """Where a spec's custom code runs in this process: its layer files and the modules they import
    are forgotten, so that the next import reads the files as they are now."""
    from ..model import custom
    for path in [path for path in custom._loaded_files if path in files]:  # custom.py's one module per file
        del custom._loaded_files[path]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and Path(file) in files:
            del sys.modules[name]
    importlib.invalidate_caches()  # a module file added since the last run is found


def _existing(folder: Path) -> Path:
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    return folder


class Watcher:
    """watchfiles watching `folders`; ready (the folders under watch) once made."""

    def __init__(self, folders: set[Path], stop=None):
        import watchfiles  # only --watch needs it
        self.folders, self.stop = folders, stop
        self._changes = watchfiles.watch(*sorted(folders), watch_filter=None, step=STEP_MS, rust_timeout=WAKE_MS,
                                         yield_on_timeout=True, recursive=False, stop_event=stop,
                                         ignore_permission_denied=True)
        try:
            self._pending = next(self._changes)  # the first wake-up: the watch is set up
        except StopIteration:                    # stopped already
            self._pending = None

    def changes(self) -> set[Path] | None:
        """The paths changed since the last call, once there are some; None once `stop` is set."""
        while True:
            if self._pending is None:
                return None
            if self._pending:
                batch, self._pending = self._pending, set()
                return {Path(path) for _, path in batch}
            try:
                self._pending = next(self._changes)
            except StopIteration:
                return None

    def moved_to(self, folders: set[Path]) -> "Watcher":
        """A watcher of `folders`: this one if they are the same; else a new one, ready before this
        one stops (nothing changed between is missed), holding what this one had not handed on."""
        if folders == self.folders:
            return self
        new = Watcher(folders, self.stop)
        if new._pending is not None and self._pending:
            new._pending |= self._pending
        self.close()
        return new

    def close(self) -> None:
        self._changes.close()


def watch(paths: list[str], options: RunOptions, on_run: Callable[[Rerun], None],
          on_checking: Callable[[list[Path], list[str]], None] | None = None, run_specs=None,
          runs: int | None = None, stop=None, ignored: set[Path] = frozenset()) -> Rerun | None:
    """Check the specs `paths` name now, then again on every relevant change: `on_checking(changed,
    stale)` before each run, `on_run` after it. `run_specs(paths, options)` checks (batch.run by
    default). Ends after `runs` runs (tests), once `stop` (a threading.Event) is set, or with
    KeyboardInterrupt (batch.Interrupted during a run). `ignored`: files never relevant (the report
    files). Returns the last run."""
    if run_specs is None:
        from .batch import run as run_specs

    specs = Specs(paths, options, ignored)
    specs.refresh()
    watcher = Watcher(specs.folders(), stop)  # before the first run: a save during it is seen
    last, changed = None, set()
    try:
        while True:
            stale = specs.stale(changed)
            if on_checking:
                on_checking(sorted(changed), stale)
            result = specs.check(stale, run_specs)
            last = Rerun((last.number if last else 0) + 1, sorted(changed), stale, result, len(specs.files()))
            on_run(last)
            if runs is not None and last.number >= runs:
                return last
            changed = set()
            while not changed:
                found = watcher.changes()
                if found is None:
                    return last
                found = {Path(os.path.realpath(path)) if path.exists() else path for path in found}
                relevant = {path for path in found if specs.relevant(path)}
                if relevant:
                    shape = specs.shape()
                    specs.refresh()
                    watcher = watcher.moved_to(specs.folders())
                    if specs.stale(relevant) or specs.shape() != shape:
                        changed = relevant
    finally:
        watcher.close()
