"""The teams config: valid configs load, round-trip and are frozen; files load with their
problems named; quantities parse exactly. (Bad configs: test_teams_config_errors.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from teamhub_hub.teams import (
    TeamsConfig,
    TeamsConfigError,
    load_teams_config,
    parse_quantity,
)

from tests.hub.teams_config_cases import VOL0
from tests.hub.teams_fixtures import base, changed

ROOT = Path(__file__).resolve().parents[2]


def problems(data: Any) -> list[str]:
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(data)
    return list(info.value.problems)


def yaml_block(markdown: Path) -> dict[str, Any]:
    text = markdown.read_text(encoding="utf-8")
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))


# ------------------------------------------------------------------------ valid configs


def test_base_config_loads_with_defaults_filled_in():
    config = load_teams_config(base())
    assert isinstance(config, TeamsConfig)
    vision = config.teams["vision"]
    assert vision.volumes[1].capacity == "1Ti"  # default capacity
    assert vision.volumes[0].source.kind == "csi"
    assert vision.volumes[1].source.kind == "persistentVolume"
    assert config.global_volumes[0].read_only is True
    assert vision.credentials[0].mount_path is None
    assert vision.credentials[0].effective_mount_path == "/var/run/secrets/teamhub/credentials/s3"
    assert config.teams["nlp"].quota.cpu == "8"  # YAML ints become quantity strings
    assert config.teams["nlp"].images is None
    assert config.home.storage_class_name is None


def test_empty_mapping_is_a_config_with_defaults():
    config = load_teams_config({})
    assert config.namespace_prefix == "teamhub"
    assert config.home.size == "10Gi"
    assert config.home.mount_path == "/home/jovyan"
    assert config.teams == {} and config.profiles == [] and config.global_volumes == []


def test_round_trip_through_wire_form_and_yaml(tmp_path: Path):
    config = load_teams_config(base())
    wire = config.to_wire()
    assert load_teams_config(wire) == config
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(wire), encoding="utf-8")
    assert load_teams_config(path) == config
    assert load_teams_config(str(path)) == config
    # The wire form is camelCase, like the input.
    assert "namespacePrefix" in wire and "mountPath" in wire["globalVolumes"][0]
    assert wire["teams"]["vision"]["volumes"][1]["source"]["persistentVolume"]["accessModes"] == [
        "ReadOnlyMany"
    ]


def test_snake_case_field_names_are_accepted_too():
    data = base()
    data["namespace_prefix"] = data.pop("namespacePrefix")
    data["global_volumes"] = data.pop("globalVolumes")
    data["global_volumes"][0]["mount_path"] = data["global_volumes"][0].pop("mountPath")
    assert load_teams_config(data) == load_teams_config(base())


def test_mount_paths_are_normalised():
    config = load_teams_config(changed(((*VOL0, "mountPath"), "/teams//vision/./data/")))
    assert config.teams["vision"].volumes[0].mount_path == "/teams/vision/data"


@pytest.mark.parametrize(
    ("example", "teams"),
    [
        ("docs/dev/teams-config-shape.md", ["vision"]),
        ("docs/admin/teams-config.md", ["vision"]),
    ],
)
def test_documented_examples_load(example: str, teams: list[str]):
    config = load_teams_config(yaml_block(ROOT / example))
    assert sorted(config.teams) == teams


def test_demo_config_loads():
    config = load_teams_config(ROOT / "hub_ext/teamhub_hub/demo/teams.yaml")
    assert sorted(config.teams) == ["nlp", "vision"]
    assert config.home.size == "1Gi"
    assert [v.name for v in config.global_volumes] == ["datasets"]
    vision, nlp = config.teams["vision"], config.teams["nlp"]
    assert [(v.name, v.read_only) for v in vision.volumes] == [("data", False), ("models", True)]
    assert [c.name for c in vision.credentials] == ["s3"]
    assert vision.profiles == ["cpu", "gpu"] and nlp.profiles == ["cpu"]
    assert vision.images == ["quay.io/jupyter/*"]
    assert nlp.quota is not None and nlp.quota.hard()
    every_source = [v.source for v in config.global_volumes] + [
        v.source for t in config.teams.values() for v in t.volumes
    ]
    assert {s.kind for s in every_source} == {"nfs"}  # kubesim backs NFS by directories
    assert config.cross_team_warnings() == []


def test_config_is_frozen():
    config = load_teams_config(base())
    with pytest.raises(ValueError, match="frozen"):
        config.namespace_prefix = "other"  # type: ignore[misc]


# ------------------------------------------------------------------------ loading files


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "teams.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_problems_name_the_file(tmp_path: Path):
    path = write(tmp_path, "teams:\n  vision:\n    groups: [vision]\n    volumz: []\n")
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(path)
    assert info.value.source == str(path)
    assert info.value.problems == ("teams.vision.volumz: unknown key",)
    assert str(info.value) == f"invalid teams config in {path}:\n  teams.vision.volumz: unknown key"


def test_duplicate_yaml_keys_are_errors(tmp_path: Path):
    text = "teams:\n  vision:\n    groups: [a]\n  vision:\n    groups: [b]\n"
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(write(tmp_path, text))
    assert info.value.problems == ("line 4, column 3: duplicate key vision",)


def test_yaml_merge_keys_still_work(tmp_path: Path):
    text = (
        "teams:\n  vision: &team\n    groups: [vision]\n  nlp:\n    <<: *team\n    groups: [nlp]\n"
    )
    config = load_teams_config(write(tmp_path, text))
    assert config.teams["nlp"].groups == ["nlp"]


def test_malformed_yaml(tmp_path: Path):
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(write(tmp_path, "teams: [\n"))
    (problem,) = info.value.problems
    assert problem.startswith("not valid YAML: ")
    assert "line 2" in problem


def test_empty_file(tmp_path: Path):
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(write(tmp_path, "# nothing yet\n"))
    assert info.value.problems == (
        "the file is empty; write `teams: {}` for a config without teams",
    )


def test_missing_file(tmp_path: Path):
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(tmp_path / "absent.yaml")
    assert info.value.problems == ("cannot read the file: No such file or directory",)


def test_file_that_is_not_a_mapping(tmp_path: Path):
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(write(tmp_path, "- vision\n"))
    assert info.value.problems == ("(top level): must be a mapping",)


def test_error_from_a_single_message():
    error = TeamsConfigError("set either teams_file or teams", "TeamRegistry")
    assert error.problems == ("set either teams_file or teams",)
    assert str(error) == "invalid teams config in TeamRegistry:\n  set either teams_file or teams"


def test_source_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="path or a mapping"):
        load_teams_config(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", "2"),
        ("500m", "0.5"),
        ("0.5", "0.5"),
        (".5", "0.5"),
        ("10Gi", str(10 * 2**30)),
        ("1G", "1000000000"),
        ("1k", "1000"),
        ("1e3", "1000"),
        ("1E3", "1000"),
        ("1E", str(10**18)),
        ("128Mi", str(128 * 2**20)),
        ("-1", "-1"),
    ],
)
def test_quantities_parse_to_their_exact_value(text: str, value: str):
    from decimal import Decimal

    assert parse_quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "Gi", "10GB", "1 Gi", "1.2.3", "1Gii", "0x10", "ten"])
def test_malformed_quantities_are_refused(text: str):
    with pytest.raises(ValueError, match="must be a Kubernetes quantity"):
        parse_quantity(text)
