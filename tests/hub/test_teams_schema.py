"""The published JSON Schema and reference: generated from the model, strict, and up to date."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from teamhub_hub.teams import teams_config_schema
from teamhub_hub.teams.schema import (
    BEGIN,
    END,
    main,
    reference_markdown,
    reference_text,
    stale_files,
    write_docs,
)

from tests.hub.teams_fixtures import base, changed

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "admin"


def objects(node: Any) -> list[dict[str, Any]]:
    """Every sub-schema describing an object with fixed or pattern keys."""
    out = []
    if isinstance(node, dict):
        if "properties" in node or "patternProperties" in node:
            out.append(node)
        for value in node.values():
            out += objects(value)
    elif isinstance(node, list):
        for value in node:
            out += objects(value)
    return out


def test_committed_docs_are_up_to_date():
    stale = stale_files(DOCS)
    assert stale == [], (
        f"stale generated docs: {[str(p) for p in stale]}; "
        "run `python -m teamhub_hub.teams.schema --write`"
    )


def test_schema_is_draft_2020_12_and_closed_everywhere():
    schema = teams_config_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    found = objects(schema)
    assert len(found) > 10
    for obj in found:
        assert obj.get("additionalProperties") is False, obj


def test_schema_describes_every_key():
    schema = teams_config_schema()
    for model in [schema, *schema["$defs"].values()]:
        for key, prop in model.get("properties", {}).items():
            assert prop.get("description"), f"{model.get('title')}.{key} has no description"


@pytest.mark.parametrize(
    "source",
    [
        "hub_ext/teamhub_hub/demo/teams.yaml",
        "docs/dev/teams-config-shape.md",
        "docs/admin/teams-config.md",
        None,
    ],
)
def test_valid_configs_pass_the_schema(source: str | None):
    if source is None:
        data = base()
    elif source.endswith(".md"):
        text = (ROOT / source).read_text(encoding="utf-8")
        data = yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    else:
        data = yaml.safe_load((ROOT / source).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(teams_config_schema()).validate(data)


@pytest.mark.parametrize(
    "data",
    [
        changed((("teams", "vision", "volumz"), [])),
        changed((("teams", "Vision"), {"groups": ["x"]})),
        changed((("teams", "vision", "volumes", 0, "mountPath"), "relative")),
        changed((("teams", "vision", "quota", "cpu"), "10GB")),
        changed((("home", "size"), "lots")),
        changed((("teams", "vision", "credentials", 0, "env", "1BAD"), "x")),
        changed((("globalVolumes", 0, "source", "nfs", "extra"), 1)),
    ],
)
def test_schema_rejects_structural_mistakes(data: dict[str, Any]):
    validator = jsonschema.Draft202012Validator(teams_config_schema())
    assert list(validator.iter_errors(data))


def test_reference_lists_every_key_with_type_and_default():
    text = reference_markdown()
    for row in [
        "| `namespacePrefix` | DNS-1123 label | `teamhub` |",
        "| `mountPath` | absolute path | required |",
        "| `readOnly` | boolean | `false` |",
        "| `capacity` | quantity | `1Ti` |",
        "| `keys` | list of Secret key or null | `null` |",
        "| `quota` | [Quota](#quota) or null | `null` |",
        "| `gpus` | integer or null | `null` |",
    ]:
        assert row in text, row
    assert "Example: `[quay.io/jupyter/*, registry.example.org/vision/*]`" in text
    for heading in ["### `teams.<name>.volumes[]` (TeamVolume)", "### `home` (HomeVolume)"]:
        assert heading in text


def test_write_keeps_the_hand_written_parts(tmp_path: Path):
    ref = tmp_path / "teams-config.md"
    hand_written = f"# Intro by hand\n\n{BEGIN}\nSTALE-PLACEHOLDER\n{END}\n\nOutro by hand\n"
    ref.write_text(hand_written, encoding="utf-8")
    assert stale_files(tmp_path) == [tmp_path / "teams-config.schema.json", ref]
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 1
    assert write_docs(tmp_path) == [tmp_path / "teams-config.schema.json", ref]
    text = ref.read_text(encoding="utf-8")
    assert text.startswith("# Intro by hand\n\n" + BEGIN)
    assert text.endswith(END + "\n\nOutro by hand\n")
    assert "STALE-PLACEHOLDER" not in text and reference_markdown() in text
    assert json.loads((tmp_path / "teams-config.schema.json").read_text()) == (
        teams_config_schema()
    )
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 0
    assert write_docs(tmp_path) == []


def test_write_creates_missing_files_and_refuses_a_reference_without_markers(tmp_path: Path):
    write_docs(tmp_path / "new")
    assert BEGIN in (tmp_path / "new" / "teams-config.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        reference_text("# no markers here\n")


def test_schema_module_runs_as_a_script():
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "teamhub_hub.teams.schema", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_check_command(tmp_path: Path):
    good = subprocess.run(
        [sys.executable, "-m", "teamhub_hub.teams", "hub_ext/teamhub_hub/demo/teams.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    assert "valid (2 teams, 2 profiles, 1 global volumes)" in good.stdout
    bad_file = tmp_path / "teams.yaml"
    bad_file.write_text("teams:\n  vision:\n    groups: [v]\n    volumz: []\n", encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "teamhub_hub.teams", str(bad_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert (
        bad.stderr == f"invalid teams config in {bad_file}:\n  teams.vision.volumz: unknown key\n"
    )
