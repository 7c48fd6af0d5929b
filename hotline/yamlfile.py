"""YAML read with line numbers, so configuration errors can point at their line."""
from __future__ import annotations

from pathlib import Path

import yaml

from hotline.errors import ConfigError, Problem


class LineDict(dict):
    """A mapping that remembers its own line and the line of each key."""

    line: int = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_lines: dict = {}
        self.duplicates: list[tuple[object, int]] = []

    def line_of(self, key) -> int:
        """Line of `key` in the file (the mapping's own line if unknown)."""
        return self.key_lines.get(key, self.line)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader (libyaml's C parser when present: a national directory is large) whose mappings are LineDicts."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode):
    """Build a LineDict from a mapping node, noting lines and duplicate keys."""
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in data:
            data.duplicates.append((key, line))
        data.key_lines[key] = line
        data[key] = loader.construct_object(value_node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(path: str | Path) -> object:
    """Parse a YAML file into LineDicts/lists, or raise ConfigError naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), None, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), None, f"cannot read: {exc}")]) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError([Problem(str(path), line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
