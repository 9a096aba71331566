"""Split a Markdown source into YAML front matter and body, keeping the line of every key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


class FrontMatterError(ValueError):
    """Invalid front matter; `line` is 1-based within the file."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class FrontMatter:
    """The parsed header of a source file."""

    data: dict[str, Any]
    lines: dict[str, int]
    body: str
    body_line: int  # line number of the body's first line

    def line_of(self, key: str) -> int | None:
        """Line of `key` in the file, or the front matter's first line."""
        return self.lines.get(key, 1)


def _construct(loader: yaml.SafeLoader, node: yaml.Node | None) -> object:
    """Build the Python value of the document, naming the line of a value that cannot be built."""
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return loader.construct_document(node)
    out = {}
    for k, v in node.value:
        try:
            key = loader.construct_object(k, deep=True)
            out[key] = loader.construct_object(v, deep=True)
        except (ValueError, TypeError) as e:
            raise FrontMatterError(k.start_mark.line + 2, f"invalid value for '{k.value}': {e}") from None
    return out


_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same nodes, 10x faster


def _load(loader_class: type, yaml_text: str) -> tuple[yaml.Node | None, object]:
    """Compose and construct one YAML document with the given loader class."""
    loader = loader_class(yaml_text)
    try:
        node = loader.get_single_node()
        return node, _construct(loader, node)
    finally:
        loader.dispose()


def parse(text: str) -> FrontMatter:
    """Parse `---`-delimited YAML front matter; a file without it has empty data."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return FrontMatter({}, {}, text, 1)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise FrontMatterError(1, "front matter opened with '---' is never closed")
    yaml_text = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    try:
        try:
            node, data = _load(_FAST, yaml_text)
        except (yaml.YAMLError, FrontMatterError):
            node, data = _load(yaml.SafeLoader, yaml_text)  # the same error, worded as always
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 2 if mark else 1
        raise FrontMatterError(line, f"invalid YAML front matter: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise FrontMatterError(1, f"invalid YAML front matter: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError(2, "front matter must be a mapping of keys to values")
    key_lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            key = str(k.value)
            if key in key_lines:
                raise FrontMatterError(k.start_mark.line + 2, f"duplicate key '{key}'")
            key_lines[key] = k.start_mark.line + 2
    for key in data:
        if not isinstance(key, str):
            raise FrontMatterError(key_lines.get(str(key), 2), f"key {key!r} must be a text")
    return FrontMatter(data, key_lines, body, end + 2)
