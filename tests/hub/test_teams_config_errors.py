"""Every bad teams config is refused naming the exact key and problem; all problems at
once; whole-config checks (names, mount paths, profiles) also on direct model validation."""

from __future__ import annotations

from typing import Any

import pytest
from teamhub_hub.teams import Team, TeamsConfig, TeamsConfigError, load_teams_config

from tests.hub.teams_config_cases import CASES, VOL1, V
from tests.hub.teams_fixtures import changed


def problems(data: Any) -> list[str]:
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(data)
    return list(info.value.problems)


@pytest.mark.parametrize(("case", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_config_names_key_and_problem(case: str, data: dict[str, Any], expected: list[str]):
    assert problems(data) == expected


def test_every_problem_is_reported_at_once_in_the_error_message():
    data = changed(
        ((*V, "volumz"), []),
        ((*VOL1, "mountPath"), "relative"),
        (("teams", "nlp", "quota", "pods"), "many"),
        (("home", "size"), "1 Gi"),
    )
    with pytest.raises(TeamsConfigError) as info:
        load_teams_config(data)
    assert str(info.value) == (
        "invalid teams config:\n"
        "  home.size: must be a Kubernetes quantity such as 10Gi, 500m or 2\n"
        "  teams.vision.volumes[1].mountPath: must be an absolute path\n"
        "  teams.vision.volumz: unknown key\n"
        "  teams.nlp.quota.pods: must be a whole number"
    )
    assert isinstance(info.value, ValueError)


def test_whole_config_problems_are_all_listed():
    data = changed(
        ((*V, "profiles", 0), "tpu"),
        ((*VOL1, "name"), "data"),
        (("teams", "nlp", "volumes", 0, "mountPath"), "/home/jovyan"),
    )
    assert problems(data) == [
        "teams.vision.volumes[1].name: data is also the name of teams.vision.volumes[0]",
        "teams.vision.profiles[0]: tpu is not a profile; profiles are: cpu, gpu",
        "teams.nlp.volumes[0].mountPath: /home/jovyan is also the mount path of home",
    ]


def test_teams_that_share_no_group_may_collide_with_a_warning():
    data = changed((("teams", "nlp", "volumes", 0, "mountPath"), "/teams/vision/data"))
    config = load_teams_config(data)
    assert config.cross_team_warnings() == [
        "/teams/vision/data is also the mount path of teams.nlp.volumes[0], and a member of "
        "both nlp and vision could not start a server"
    ]


def test_direct_model_validation_runs_the_whole_config_checks_too():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        TeamsConfig.model_validate(changed(((*V, "profiles", 0), "tpu")))
    assert "teams.vision.profiles[0]: tpu is not a profile" in str(info.value)
    with pytest.raises(ValidationError):
        Team.model_validate({"groups": []})
