"""Load a profile's YAML keeping the line and column of every value, refusing duplicate keys."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swarmdeploy.findings import Finding

FieldPath = tuple[str | int, ...]
_BOOL_TAG = "tag:yaml.org,2002:bool"


class ProfileLoader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans: only true and false.

    YAML 1.1 also reads on/off/yes/no as booleans, which turns `profile: off` into false.
    """


ProfileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ProfileLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


@dataclass(frozen=True)
class Mark:
    line: int
    column: int


@dataclass
class YamlDocument:
    """Plain data plus the 1-based position of every key's value, by field path."""

    file: str
    data: Any
    marks: dict[FieldPath, Mark] = field(default_factory=dict)
    key_marks: dict[FieldPath, Mark] = field(default_factory=dict)

    def mark_of(self, path: FieldPath) -> Mark:
        """Where to point for a field: its value, or the key of the nearest enclosing field.

        A block mapping or list starts on the line after its key; the key's line reads better.
        """
        if path in self.marks:
            value, key = self.marks[path], self.key_marks.get(path)
            return key if key and key.line < value.line else value
        for end in range(len(path) - 1, 0, -1):
            if path[:end] in self.key_marks:
                return self.key_marks[path[:end]]
        return self.marks.get((), Mark(1, 1))


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed YAML node tree into plain data, recording marks as it goes."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.constructor = ProfileLoader("")
        self.duplicates: list[Finding] = []

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.document.marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node, deep=True)
            if key in result:
                mark = _mark(key_node)
                self.duplicates.append(
                    Finding(
                        self.document.file, mark.line, mark.column,
                        ".".join(str(p) for p in path + (key,)),
                        f"duplicate key '{key}' (first at line {self.document.key_marks[path + (key,)].line})",
                        "keep one of the two entries; YAML would silently use the last",
                        "yaml.duplicate-key",
                    )
                )
                continue
            self.document.key_marks[path + (key,)] = _mark(key_node)
            result[key] = self.build(value_node, path + (key,))
        return result


def _syntax_finding(file: str, error: yaml.MarkedYAMLError) -> Finding:
    """Point at where the broken construct starts (an unclosed quote's opening line), not at
    the end of the file where the parser gave up."""
    problem = error.problem or str(error)
    message = f"YAML syntax error: {problem}"
    mark = error.problem_mark
    if error.context and error.context_mark:
        message = f"YAML syntax error {error.context} that starts here: {problem}"
        mark = error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Finding(file, line, column, "", message,
                   "fix the YAML syntax at this position (indentation, a missing ':' or an unclosed quote)", "yaml.syntax")


def load_yaml(path: Path) -> tuple[YamlDocument, list[Finding]]:
    """Parse one YAML file; syntax errors and duplicate keys come back as findings."""
    name = str(path)
    text = path.read_text(encoding="utf-8")
    document = YamlDocument(file=name, data=None)
    try:
        node = yaml.compose(text, Loader=ProfileLoader)
    except yaml.MarkedYAMLError as error:
        return document, [_syntax_finding(name, error)]
    if node is None:
        document.data = {}
        return document, []
    builder = _Builder(document)
    try:
        document.data = builder.build(node, ())
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        return document, [
            Finding(name, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, "",
                    f"unsupported YAML value: {error.problem}", "use plain strings, numbers, lists and mappings",
                    "yaml.syntax")
        ]
    return document, builder.duplicates
