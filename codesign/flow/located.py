"""YAML that remembers where each key was written, so a flow error can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codesign.errors import CodesignError


class FlowError(CodesignError):
    """A flow file that does not follow the schema; the message names file, line and key."""


class LocatedDict(dict):
    """A mapping with the 1-based line of the mapping (`line`) and of each key (`lines`)."""

    line: int = 0
    lines: dict[Any, int]


class LocatedList(list):
    """A sequence with the 1-based line of the sequence and of each item."""

    line: int = 0
    lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    out = LocatedDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    out = LocatedList(loader.construct_object(item, deep=True) for item in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [item.start_mark.line + 1 for item in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_located(path: Path) -> Any:
    """Parse `path`; mappings and lists carry their line numbers. Bad YAML names the line."""
    if not path.is_file():
        raise FlowError(f"flow file {path} does not exist")
    try:
        return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise FlowError(f"{path}{line}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise FlowError(f"{path}: not valid YAML: {exc}") from None
