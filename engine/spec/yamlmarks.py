"""YAML parsed into plain Python data plus the line and column of every value and key.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two duplicate keys; we
compose the node graph ourselves so every later error can point at ``file:line:column``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Marked:
    """The data of one YAML document and where each part of it was written."""

    data: Any
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    duplicates: list[tuple[Path, Mark]] = field(default_factory=list)

    def mark(self, path: Path, *, key: bool = False) -> Mark | None:
        """The closest recorded position for ``path``: itself, else its nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe[:-1]
            table = self.values


class YAMLSyntaxError(ValueError):
    def __init__(self, message: str, mark: Mark | None) -> None:
        self.mark = mark
        super().__init__(message)


def _mark(node: yaml.Node | yaml.Mark) -> Mark:
    m = node.start_mark if isinstance(node, yaml.Node) else node
    return Mark(m.line + 1, m.column + 1)


#: libyaml's parser where PyYAML was built with it: about ten times faster than the pure-Python
#: one, which made parsing a 1,000-step runbook cost as much as running it
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_marked(text: str) -> Marked:
    """Parse exactly one YAML document. Raises YAMLSyntaxError with a position."""
    if _Loader is yaml.SafeLoader:
        return _load_with(yaml.SafeLoader, text)
    try:
        return _load_with(_Loader, text)
    except YAMLSyntaxError:
        # The pure-Python parser has the last word on a document libyaml refuses: it accepts
        # a few that libyaml does not (lone surrogate escapes), and its messages are the ones
        # the format's errors are written against.
        return _load_with(yaml.SafeLoader, text)


def _load_with(loader_cls: type[yaml.SafeLoader], text: str) -> Marked:
    try:
        loader = loader_cls(text)
    except yaml.reader.ReaderError as exc:  # a control character; found before any parsing
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        raise YAMLSyntaxError(
            f"unacceptable character #x{exc.character:04x}: {exc.reason}", Mark(line, column)
        ) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            where = exc.problem_mark or exc.context_mark
            problem = exc.problem or "invalid YAML"
            if exc.context:
                problem = f"{problem} ({exc.context})"
            raise YAMLSyntaxError(problem, _mark(where) if where else None) from None
        except yaml.YAMLError as exc:
            raise YAMLSyntaxError(str(exc), None) from None
        except RecursionError:  # PyYAML composes nested collections recursively
            raise YAMLSyntaxError("the document nests too deeply", None) from None
        if node is None:
            raise YAMLSyntaxError("the file is empty", Mark(1, 1))
        marked = Marked(data=None)
        marked.data = _build(loader, node, (), marked, depth=0)
        return marked
    finally:
        loader.dispose()


_MAX_DEPTH = 64
#: values built, aliases expanded: a few nested aliases can otherwise expand to billions
_MAX_NODES = 100_000


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, marked: Marked, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise YAMLSyntaxError("the document nests too deeply", _mark(node))
    if len(marked.values) >= _MAX_NODES:
        raise YAMLSyntaxError(f"the document has more than {_MAX_NODES} values", _mark(node))
    marked.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        try:
            loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        except yaml.MarkedYAMLError as exc:
            raise YAMLSyntaxError(exc.problem or "bad merge key", _mark(node)) from None
        out: dict[str, Any] = {}
        # keys written in this mapping, as opposed to merged in from an anchor: an explicit key
        # overrides a merged one (that is what merging is for); only two explicit ones clash
        explicit: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YAMLSyntaxError("mapping keys must be plain text", _mark(key_node))
            # YAML turns `on:` / `yes:` / `1:` into booleans and numbers; keys are names here
            # (and constructing a key such as `!!int abc:` would raise)
            key = key_node.value
            child = (*path, key)
            if node.start_mark.index <= key_node.start_mark.index < node.end_mark.index:
                if key in explicit:
                    marked.duplicates.append((child, _mark(key_node)))
                explicit.add(key)
            marked.keys[child] = _mark(key_node)
            out[key] = _build(loader, value_node, child, marked, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, i), marked, depth + 1) for i, item in enumerate(node.value)
        ]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise YAMLSyntaxError(exc.problem or "cannot read this value", _mark(node)) from None
    except ValueError as exc:  # e.g. a malformed timestamp
        raise YAMLSyntaxError(f"cannot read this value: {exc}", _mark(node)) from None
    except (LookupError, TypeError, AttributeError):  # PyYAML on `!!int ''`, `!!timestamp x`, ...
        raise YAMLSyntaxError(f"cannot read this value as {node.tag}", _mark(node)) from None
