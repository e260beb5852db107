"""Loading the teams config from a YAML file or inline data, and reporting what is wrong.

A bad config must stop the hub at start-up with a message an admin can act on without
reading code: one line per problem, ``<dotted.path>: <problem>``, every problem at once.
This module turns pydantic's errors (and YAML errors) into that form.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .base import CONFIG_PROBLEMS, PROBLEM, format_loc
from .model import TeamsConfig

TOP_LEVEL = "(top level)"


class TeamsConfigError(ValueError):
    """The teams config is invalid. ``problems`` holds one ``path: problem`` line each."""

    def __init__(self, problems: str | Sequence[str], source: str | None = None) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        self.source = source
        origin = f" in {source}" if source else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid teams config{origin}:\n{lines}")


# Pydantic error type -> the wording shown to admins (others keep pydantic's message).
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == PROBLEM:
        return str(error["msg"])
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}"
    return str(error["msg"])


def _line(loc: Sequence[str | int], message: str) -> str:
    return f"{format_loc(loc) or TOP_LEVEL}: {message}"


def format_validation_error(error: ValidationError) -> list[str]:
    """One ``path: problem`` line per problem in ``error``, in the order found."""
    lines: list[str] = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == CONFIG_PROBLEMS:
            lines += [_line(loc + tuple(sub), msg) for sub, msg in err["ctx"]["problems"]]
        else:
            lines.append(_line(loc, _message(err)))
    return lines


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys: YAML would silently keep the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges; explicit keys may override merged ones
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool | None):
            continue  # unhashable keys are refused by SafeLoader itself
        if key in seen:
            mark = key_node.start_mark
            raise TeamsConfigError(
                [f"line {mark.line + 1}, column {mark.column + 1}: duplicate key {key}"]
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """The data in the YAML file at ``path``; ``TeamsConfigError`` if it can't be read."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise TeamsConfigError([f"cannot read the file: {e.strerror or e}"], where) from e
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except TeamsConfigError as e:
        raise TeamsConfigError(e.problems, where) from None
    except yaml.YAMLError as e:
        raise TeamsConfigError([f"not valid YAML: {e}"], where) from e
    if data is None:
        raise TeamsConfigError(
            ["the file is empty; write `teams: {}` for a config without teams"], where
        )
    return data


def load_teams_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> TeamsConfig:
    """The validated teams config from a YAML file path or from inline data (a mapping).

    Raises ``TeamsConfigError`` listing every problem as ``<dotted.path>: <problem>``.
    """
    if isinstance(source, Mapping):
        data: Any = source
        where = None
    elif isinstance(source, str | os.PathLike):
        data = read_yaml(source)
        where = str(source)
    else:
        raise TypeError(
            f"teams config source must be a path or a mapping, not {type(source).__name__}"
        )
    try:
        return TeamsConfig.model_validate(dict(data) if isinstance(data, Mapping) else data)
    except ValidationError as e:
        raise TeamsConfigError(format_validation_error(e), where) from None
