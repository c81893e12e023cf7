"""Load YAML safely and remember the line of every value, so every error can say `file:line`.

Only plain data is built (mappings, lists, scalars): no Python objects, whatever tags the
file carries. Aliases are expanded with a budget, so an alias bomb is refused, not obeyed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re

import yaml

from ..defaults import MAX_SPEC_BYTES as MAX_BYTES
from ..errors import SpecError


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-6` as a number (YAML 1.1 wants `1.0e-6`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+"
               r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)

Path = tuple  # a location in the document: ("layers", 1, "out")
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap")
MAX_NODES = 100_000  # far above any real spec; an alias bomb expands to billions


@dataclass
class Marks:
    """Line numbers (1-based) of values and of mapping keys, by their path in the document."""

    file: str
    values: dict[Path, int] = field(default_factory=dict)
    keys: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path, key: bool = False) -> int | None:
        """The line of `path`, or of its nearest ancestor when the path itself has none."""
        table = self.keys if key else self.values
        if path in table:
            return table[path]
        while path:
            path = path[:-1]
            if path in self.values:
                return self.values[path]
        return None

    def error(self, path: Path, message: str, key: bool = False) -> SpecError:
        return SpecError(message, self.file, self.line(path, key), where=format_path(path))


def format_path(path: Path) -> str:
    """("layers", 1, "out") -> "layers[1].out"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load(text: str, file: str) -> tuple[Any, Marks]:
    """Parse one YAML document into plain data and its line marks."""
    marks = Marks(file)
    if len(text) > MAX_BYTES:
        raise SpecError(f"the file is {len(text):,} bytes; a spec is at most {MAX_BYTES:,}", file, 1)
    try:
        loader = _Loader(text)  # the reader checks every character here already
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise SpecError("the document is nested too deeply to be a spec", file, None) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise SpecError(f"YAML syntax error: unacceptable character #x{exc.character:04x} "
                        "(a control character?)", file, line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML syntax error: {str(exc).splitlines()[0]}", file, None) from None
    try:
        if node is None:
            return None, marks
        budget = [MAX_NODES]
        try:
            return _convert(node, (), marks, loader, budget), marks
        except RecursionError:
            raise SpecError("the document is nested too deeply to be a spec", file, None) from None
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> SpecError:
    """An unclosed bracket is found lines later: name the line that opened it, and where
    the parser gave up."""
    problem = exc.problem or exc.context or "invalid YAML"
    problem_line = exc.problem_mark.line + 1 if exc.problem_mark else None
    context_line = exc.context_mark.line + 1 if exc.context_mark else None
    if exc.context and "flow" in exc.context and context_line and context_line != problem_line:
        opened = "[" if "sequence" in exc.context else "{"
        return SpecError(f"YAML syntax error: the '{opened}' opened on this line is not closed "
                         f"({problem} on line {problem_line})", file, context_line)
    return SpecError(f"YAML syntax error: {problem}", file, problem_line or context_line)


def _convert(node: yaml.Node, path: Path, marks: Marks, loader: _Loader, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(f"the document expands to more than {MAX_NODES:,} values (an alias bomb?)",
                        marks.file, node.start_mark.line + 1)
    marks.values.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise SpecError(f"YAML tag {tag} is not allowed: a spec holds plain data only", marks.file,
                        node.start_mark.line + 1, where=format_path(path))
    if isinstance(node, yaml.MappingNode):
        try:
            loader.flatten_mapping(node)  # resolves `<<` merge keys
        except yaml.MarkedYAMLError as exc:  # `<<: 1`: a merge key needs a mapping or a list of them
            mark = exc.problem_mark or node.start_mark
            raise SpecError(f"cannot read the merge key (<<): {exc.problem}", marks.file, mark.line + 1,
                            where=format_path(path)) from None
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("mapping keys must be plain names", marks.file, key_node.start_mark.line + 1,
                                where=format_path(path))
            key = _scalar(key_node, path, marks, loader)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            if key in result:
                raise SpecError(f"duplicate key {key!r}", marks.file, key_node.start_mark.line + 1,
                                where=format_path(path))
            marks.keys[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, path + (key,), marks, loader, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), marks, loader, budget) for i, item in enumerate(node.value)]
    return _scalar(node, path, marks, loader)


def _scalar(node: yaml.ScalarNode, path: Path, marks: Marks, loader: _Loader) -> Any:
    """A key or a value; what its tag cannot make of it (`!!int 0b`, `!!timestamp 2001-99-99`) is one line."""
    try:
        return loader.construct_object(node)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    except Exception as exc:  # a constructor's own ValueError, OverflowError, ...
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        lines = str(exc).strip().splitlines()
        problem = f"{tag} {node.value!r}: {lines[0] if lines else type(exc).__name__}"
    raise SpecError(f"cannot read value: {problem}", marks.file, node.start_mark.line + 1, where=format_path(path))
