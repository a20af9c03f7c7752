"""Load a profile's YAML keeping the line and column of every value.

Every problem of the file, from its bytes to its values, comes back as a finding, never as an
exception: a file that is not a regular file or too large (swarmdeploy.limits), text that is not
UTF-8, YAML syntax, an alias bomb, nesting too deep, a tag or key no profile can hold, a
duplicate key. Scalars are read as YAML 1.2 reads them: `off` and `01273` are text, `1:20` is
not 80.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from swarmdeploy.findings import Finding
from swarmdeploy.limits import MAX_ALIASES, MAX_DEPTH, MAX_NUMBER_CHARS, MAX_VALUES, Refusal, read_profile

FieldPath = tuple[str | int, ...]

# Every rule the loader reports. A duplicate key alone leaves the profile readable; any other
# stops the check there, since the values after it are not all known.
LOADER_RULES = ("yaml.file", "yaml.limit", "yaml.encoding", "yaml.syntax", "yaml.alias", "yaml.tag", "yaml.key",
                "yaml.duplicate-key")
RECOVERABLE = "yaml.duplicate-key"

# libyaml's parser when PyYAML has it (its wheels do): 25 times faster on a large file, same positions.
_PARSER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


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


# --- Bytes to text -------------------------------------------------------------------------------

# What YAML allows in a stream (1.2, 5.1): anything else is a control character (NUL, ESC, BEL...).
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # as the YAML parser counts lines
_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)  # UTF-32 LE's starts as UTF-16 LE's


def _position(before: str) -> tuple[int, int]:
    """The 1-based line and column of the character after `before`."""
    lines = _LINE_BREAK.split(before)
    return len(lines), len(lines[-1]) + 1


def _decode(data: bytes) -> str:
    # UTF-16 and UTF-32 as YAML detects them (1.2, 5.2): a byte order mark, or a NUL beside the first character.
    if data.startswith(_WIDE_BOMS) or (len(data) >= 2 and (data[0] == 0) != (data[1] == 0)):
        raise Refusal("yaml.encoding", "the profile is UTF-16 or UTF-32 text, not UTF-8", "save the profile as UTF-8")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _position(data[: error.start].decode("utf-8"))
        raise Refusal("yaml.encoding", f"byte 0x{data[error.start]:02x} is not UTF-8 text",
                      "save the profile as UTF-8 (an editor may have written Latin-1 or Windows-1252)",
                      line, column) from error
    control = _NOT_PRINTABLE.search(text)
    if control:
        raise Refusal("yaml.encoding", f"control character U+{ord(control[0]):04X} in the profile",
                      "delete it: YAML allows no control characters but tab and line breaks",
                      *_position(text[: control.start()]))
    return text


# --- Scalars, as YAML 1.2's core schema reads them -----------------------------------------------

_STR, _INT, _FLOAT, _BOOL, _NULL, _SEQ, _MAP = (f"tag:yaml.org,2002:{name}" for name in
                                                ("str", "int", "float", "bool", "null", "seq", "map"))

# Except that a leading zero keeps a number text: YAML 1.1 read 01273 as octal 699, so the schema
# refuses it rather than guess. Sexagesimal (1:20), 0b101 and 1_000 are text too, as in YAML 1.2.
_NULL_FORM = re.compile(r"~|null|Null|NULL|")
_BOOL_FORM = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT_FORM = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_FORM = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?"
                         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
# A plain (unquoted, untagged) scalar takes the first tag whose form matches it; any other is text.
_IMPLICIT = ((_NULL, _NULL_FORM), (_BOOL, _BOOL_FORM), (_INT, _INT_FORM), (_FLOAT, _FLOAT_FORM))


def _int(text: str) -> int:
    return int(text[2:], 8 if text[1] == "o" else 16) if text.startswith(("0o", "0x")) else int(text)


def _float(text: str) -> float:
    special = text.lower().replace(".", "")  # ".inf" -> "inf", "-.inf" -> "-inf", ".nan" -> "nan"
    return float(special if special.lstrip("+-") in ("inf", "nan") else text)


# Each tag a profile may use: the texts it accepts (explicitly tagged too), its value, how to write one.
_SCALARS: dict[str, tuple[re.Pattern[str], Callable[[str], Any], str]] = {
    _STR: (re.compile(".*", re.DOTALL), str, "text"),
    _NULL: (_NULL_FORM, lambda _: None, "null, ~ or nothing"),
    _BOOL: (_BOOL_FORM, lambda text: text.lower() == "true", "true or false"),
    _INT: (_INT_FORM, _int, "a whole number (8050, 0o644, 0x1f)"),
    _FLOAT: (re.compile(f"{_FLOAT_FORM.pattern}|[-+]?[0-9]+"), _float, "a number (0.5, 1e3, 25)"),
}
_PLAIN = "remove the tag: a profile holds text, numbers, true/false, null, lists and mappings"


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


# --- Events to a tree of nodes, refused as soon as it passes a limit --------------------------------

@dataclass(eq=False)
class _Node:
    kind: Literal["scalar", "list", "mapping"]
    tag: str
    mark: Mark
    text: str = ""  # a scalar's
    items: list[_Node] = field(default_factory=list)  # a list's values; a mapping's keys and values in turn
    size: int = 1  # values, each alias counted as what it repeats
    height: int = 0  # lists and mappings inside each other, this one included


def _mark(event: yaml.Event) -> Mark:
    return Mark(event.start_mark.line + 1, event.start_mark.column + 1)


def _refuse_at(event: yaml.Event, rule: str, message: str, fix: str) -> Refusal:
    mark = _mark(event)
    return Refusal(rule, message, fix, mark.line, mark.column)


def _new_node(event: yaml.NodeEvent) -> _Node:
    explicit = event.tag not in (None, "!")  # `!` alone asks for the plain type: text, list, mapping
    if isinstance(event, yaml.ScalarEvent):
        if explicit:
            tag = event.tag
        elif event.tag is None and event.implicit[0]:
            tag = next((tag for tag, form in _IMPLICIT if form.fullmatch(event.value)), _STR)
        else:
            tag = _STR
        return _Node("scalar", tag, _mark(event), text=event.value)
    if isinstance(event, yaml.SequenceStartEvent):
        return _Node("list", event.tag if explicit else _SEQ, _mark(event), height=1)
    return _Node("mapping", event.tag if explicit else _MAP, _mark(event), height=1)


_FEW_ALIASES = "write the values out: a profile needs few aliases, if any"


def _aliased(event: yaml.AliasEvent, anchors: dict[str, _Node], open_nodes: list[_Node]) -> _Node:
    """The node an alias repeats, unless it is unknown, contains the alias, or nests too deep there."""
    node = anchors.get(event.anchor)
    if node is None:
        raise _refuse_at(event, "yaml.alias", f"alias *{event.anchor} has no anchor &{event.anchor} before it",
                         f"put &{event.anchor} on an earlier value, or correct the alias's name")
    if any(node is ancestor for ancestor in open_nodes):
        raise _refuse_at(event, "yaml.alias", f"alias *{event.anchor} is inside the value it repeats",
                         "it would nest forever: move the alias out of its anchor's value")
    if len(open_nodes) + node.height > MAX_DEPTH:
        raise _refuse_at(event, "yaml.limit", f"lists and mappings nested more than {MAX_DEPTH} deep once "
                         f"*{event.anchor} is expanded", _FEW_ALIASES)
    return node


def _compose(events: Iterable[yaml.Event]) -> _Node | None:
    """The document's tree, built without recursion; aliases share their anchor's node."""
    anchors: dict[str, _Node] = {}
    open_nodes: list[_Node] = []
    root: _Node | None = None
    values = aliases = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent) and root is not None:
            raise _refuse_at(event, "yaml.syntax", "a second YAML document starts here",
                             "a profile is one document: remove this '---' and what follows, or split the file")
        if isinstance(event, yaml.CollectionEndEvent):
            node = open_nodes.pop()
        elif isinstance(event, yaml.AliasEvent):
            node = _aliased(event, anchors, open_nodes)
            aliases += 1
            values += node.size
            if aliases > MAX_ALIASES:
                raise _refuse_at(event, "yaml.limit", f"more than {MAX_ALIASES} aliases", _FEW_ALIASES)
            if values > MAX_VALUES:
                raise _refuse_at(event, "yaml.limit", f"more than {MAX_VALUES:,} values once aliases repeat theirs",
                                 _FEW_ALIASES)
        elif isinstance(event, yaml.NodeEvent):
            node = _new_node(event)
            values += 1
            if values > MAX_VALUES:
                raise _refuse_at(event, "yaml.limit", f"the profile has more than {MAX_VALUES:,} values",
                                 "a profile has a few dozen values: check that this is the right file")
            if event.anchor is not None:
                anchors[event.anchor] = node
            if node.kind != "scalar":
                if len(open_nodes) == MAX_DEPTH:
                    raise _refuse_at(event, "yaml.limit", f"lists and mappings nested more than {MAX_DEPTH} deep",
                                     "a profile nests a few levels deep: check the brackets and indentation")
                open_nodes.append(node)
                continue  # joins its parent when it ends, with its size and height known
        else:
            continue  # the stream's and the document's start and end
        if open_nodes:
            parent = open_nodes[-1]
            parent.items.append(node)
            parent.size += node.size
            parent.height = max(parent.height, node.height + 1)
        else:
            root = node
    return root


# --- Nodes to plain data and marks -----------------------------------------------------------------

def _value(node: _Node) -> Any:
    """A scalar's value by its tag, or Refusal for a tag or text no profile can hold."""
    if node.tag not in _SCALARS:
        raise Refusal("yaml.tag", f"unsupported YAML tag {_short(node.tag)}", _PLAIN, node.mark.line, node.mark.column)
    form, construct, example = _SCALARS[node.tag]
    if not form.fullmatch(node.text):
        raise Refusal("yaml.tag", f"{node.text!r} is not a valid {_short(node.tag)}",
                      f"write {example}, or remove the tag", node.mark.line, node.mark.column)
    if node.tag in (_INT, _FLOAT) and len(node.text) > MAX_NUMBER_CHARS:
        raise Refusal("yaml.limit", f"a number {len(node.text):,} characters long",
                      f"no field takes a number of more than {MAX_NUMBER_CHARS} characters; quote it if it is text",
                      node.mark.line, node.mark.column)
    return construct(node.text)


class _Builder:
    """Turns the node tree into plain data, recording marks; a bad value or key becomes a finding."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.findings: list[Finding] = []

    def _add(self, refusal: Refusal, path: FieldPath) -> None:
        self.findings.append(Finding(self.document.file, refusal.line, refusal.column, _dotted(path),
                                     refusal.message, refusal.fix, refusal.rule))

    def build(self, node: _Node, path: FieldPath) -> Any:
        self.document.marks[path] = node.mark
        try:
            if node.kind == "scalar":
                return _value(node)
            if node.tag != (_SEQ if node.kind == "list" else _MAP):  # !!set, !!omap, !!python/object...
                raise Refusal("yaml.tag", f"unsupported YAML tag {_short(node.tag)} on a {node.kind}", _PLAIN,
                              node.mark.line, node.mark.column)
        except Refusal as refusal:
            self._add(refusal, path)
            return None
        if node.kind == "list":
            return [self.build(item, path + (i,)) for i, item in enumerate(node.items)]
        return self._mapping(node, path)

    def _mapping(self, node: _Node, path: FieldPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in zip(node.items[::2], node.items[1::2]):
            try:
                if key_node.kind != "scalar":
                    raise Refusal("yaml.key", f"a {key_node.kind} used as a key", "use a field name as the key",
                                  key_node.mark.line, key_node.mark.column)
                key = _value(key_node)
            except Refusal as refusal:
                self._add(refusal, path)
                continue
            if key in result:
                first = self.document.key_marks[path + (key,)].line
                self._add(Refusal(RECOVERABLE, f"duplicate key '{key}' (first at line {first})",
                                  "keep one of the two entries; YAML would silently use the last",
                                  key_node.mark.line, key_node.mark.column), path + (key,))
                continue
            self.document.key_marks[path + (key,)] = key_node.mark
            result[key] = self.build(value_node, path + (key,))
        return result


def _dotted(path: FieldPath) -> str:
    return ".".join(str(p) for p in path)


def _syntax_refusal(text: str, error: yaml.MarkedYAMLError) -> Refusal:
    """Point at where the broken construct starts (an unclosed quote's opening line), not at
    the end of the file where the parser gave up."""
    problem = error.problem or str(error)
    message = f"YAML syntax error: {problem}"
    mark = error.problem_mark
    if error.context and error.context_mark:
        message = f"YAML syntax error {error.context} that starts here: {problem}"
        mark = error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    # libyaml puts the end of a file without a final newline on a line after the last one.
    lines = _LINE_BREAK.split(text)
    if line > len(lines):
        line, column = len(lines), len(lines[-1]) + 1
    return Refusal("yaml.syntax", message,
                   "fix the YAML syntax at this position (indentation, a missing ':' or an unclosed quote)", line, column)


def _tree(text: str) -> _Node | None:
    try:
        return _compose(yaml.parse(text, Loader=_PARSER))
    except yaml.MarkedYAMLError as error:
        raise _syntax_refusal(text, error) from error


def load_yaml(path: Path) -> tuple[YamlDocument, list[Finding]]:
    """Parse one YAML profile; every problem of the file comes back as findings."""
    document = YamlDocument(file=str(path), data=None)
    try:
        root = _tree(_decode(read_profile(path)))
    except Refusal as refusal:
        return document, [Finding(document.file, refusal.line, refusal.column, "", refusal.message, refusal.fix,
                                  refusal.rule)]
    if root is None:
        document.data = {}
        return document, []
    builder = _Builder(document)
    document.data = builder.build(root, ())
    return document, builder.findings
