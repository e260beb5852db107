"""The published forms of the teams config model: a JSON Schema and a markdown reference.

Both are generated from the pydantic models, so the documentation can't drift from what
the hub accepts; a test fails when the committed files are stale. Regenerate with::

    python -m teamhub_hub.teams.schema --write     # or --check (exit 1 if stale)

The JSON Schema describes structure and formats (editors and CI can validate against
it); checks that need the whole config (references to profiles, mount conflicts) are
only done by the hub and ``python -m teamhub_hub.teams <file>``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .base import TypeLabel
from .model import TeamsConfig

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "teams-config.schema.json"
REFERENCE_FILE = "teams-config.md"
BEGIN = "<!-- BEGIN GENERATED REFERENCE: python -m teamhub_hub.teams.schema --write -->"
END = "<!-- END GENERATED REFERENCE -->"
# docs/admin of a source checkout (hub_ext/teamhub_hub/teams/schema.py -> repo root).
DEFAULT_DOCS_DIR = Path(__file__).resolve().parents[3] / "docs" / "admin"


def _tidy(node: Any) -> None:
    """Drop pydantic's generated property titles; close maps keyed by a pattern."""
    if isinstance(node, dict):
        for prop in (node.get("properties") or {}).values():
            prop.pop("title", None)
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _tidy(value)
    elif isinstance(node, list):
        for value in node:
            _tidy(value)


def teams_config_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the teams config, as published in the docs."""
    schema = TeamsConfig.model_json_schema(by_alias=True, mode="validation")
    _tidy(schema)
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "teamhub teams config",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """The schema file's content."""
    return json.dumps(teams_config_schema(), indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ markdown reference


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _inline(value: Any) -> str:
    """A value as YAML flow text, as an admin would write it."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Annotated:
        labels = [m.label for m in tp.__metadata__ if isinstance(m, TypeLabel)]
        return labels[0] if labels else _type_name(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        parts = [_type_name(a) for a in get_args(tp) if a is not type(None)]
        nullable = type(None) in get_args(tp)
        return " or ".join(parts) + (" or null" if nullable else "")
    if origin is list:
        return f"list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        key, value = get_args(tp)
        return f"mapping of {_type_name(key)} to {_type_name(value)}"
    if origin is Literal:
        return " or ".join(f"`{v}`" for v in get_args(tp))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{_anchor(tp)})"
    names = {str: "string", bool: "boolean", int: "integer", float: "number", Any: "any"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _models(tp: Any, seen: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """Models reachable from ``tp``, depth first in field order."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp not in seen:
            seen.append(tp)
            for field in tp.model_fields.values():
                _models(field.annotation, seen)
    else:
        for arg in get_args(tp):
            _models(arg, seen)
    return seen


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "see below" if isinstance(value, BaseModel) else f"`{_inline(value)}`"
    if field.default is PydanticUndefined:  # pragma: no cover - required handled above
        return "required"
    return f"`{_inline(field.default)}`"


def _field_type(field: Any) -> str:
    # Pydantic moves a top-level Annotated's metadata onto the field.
    labels = [m.label for m in field.metadata if isinstance(m, TypeLabel)]
    return labels[0] if labels else _type_name(field.annotation)


def _section(model: type[BaseModel]) -> str:
    path: str = model.doc_path  # type: ignore[attr-defined]
    title = path if " " in path else f"`{path}`"
    lines = [
        f'<a id="{_anchor(model)}"></a>',
        "",
        f"### {title} ({model.__name__})",
        "",
        inspect.cleandoc(model.__doc__ or ""),
        "",
        "| Key | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in model.model_fields.items():
        key = field.alias or name
        text = field.description or ""
        if field.examples:
            text += f" Example: `{_inline(field.examples[0])}`"
        cells = (f"`{key}`", _field_type(field), _default(field), text)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def reference_markdown() -> str:
    """The generated part of ``docs/admin/teams-config.md`` (between the markers)."""
    sections = [_section(m) for m in _models(TeamsConfig, [])]
    return "\n\n".join(sections) + "\n"


INTRO = """# Teams config reference

(Hand-written introduction: edit freely outside the generated markers.)

"""


def reference_text(current: str | None) -> str:
    """``current`` (the reference file, or None) with its generated part brought up to date."""
    generated = f"{BEGIN}\n\n{reference_markdown()}\n{END}"
    if current is None:
        return INTRO + generated + "\n"
    head, begin, rest = current.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the reference must contain the markers {BEGIN!r} and {END!r}")
    return head + generated + tail


def _outputs(docs_dir: Path) -> dict[Path, str]:
    ref = docs_dir / REFERENCE_FILE
    current = ref.read_text(encoding="utf-8") if ref.exists() else None
    return {docs_dir / SCHEMA_FILE: schema_text(), ref: reference_text(current)}


def stale_files(docs_dir: Path = DEFAULT_DOCS_DIR) -> list[Path]:
    """Files under ``docs_dir`` whose content differs from what the model generates."""
    return [
        path
        for path, text in _outputs(docs_dir).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def write_docs(docs_dir: Path = DEFAULT_DOCS_DIR) -> list[Path]:
    """Regenerate the schema and the reference's generated part; return what changed."""
    changed = stale_files(docs_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    for path, text in _outputs(docs_dir).items():
        if path in changed:
            path.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m teamhub_hub.teams.schema",
        description="Generate the teams config JSON Schema and markdown reference.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write the files")
    action.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    action.add_argument("--print", action="store_true", help="print the JSON Schema")
    parser.add_argument("--docs-dir", type=Path, default=DEFAULT_DOCS_DIR)
    args = parser.parse_args(argv)
    if args.print:
        sys.stdout.write(schema_text())
        return 0
    if args.write:
        for path in write_docs(args.docs_dir):
            print(f"wrote {path}")
        return 0
    stale = stale_files(args.docs_dir)
    for path in stale:
        print(f"stale: {path} (run python -m teamhub_hub.teams.schema --write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
