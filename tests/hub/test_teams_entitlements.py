"""Resolution of a user's groups into teams and entitlements, per the agreed shape's rules."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from teamhub_hub.teams import (
    Entitlements,
    EntitlementsConflictError,
    load_teams_config,
    qualified_image,
    resolve_entitlements,
)

from tests.hub.teams_fixtures import APPEND, DELETE, base, changed


@pytest.fixture
def config():
    return load_teams_config(base())


def test_teams_for_groups_is_sorted_and_ignores_unknown_groups(config):
    assert config.teams_for_groups(["vision"]) == ["vision"]
    assert config.teams_for_groups(["cv-research"]) == ["vision"]
    assert config.teams_for_groups(("vision", "nlp", "staff")) == ["nlp", "vision"]
    assert config.teams_for_groups({"nlp", "cv-research", "vision"}) == ["nlp", "vision"]
    assert config.teams_for_groups(["staff"]) == []
    assert config.teams_for_groups([]) == []
    assert config.teams_for_groups(g for g in ["nlp"]) == ["nlp"]


def test_groups_must_not_be_a_single_string(config):
    with pytest.raises(TypeError, match="not a single string"):
        config.teams_for_groups("vision")


def test_member_of_one_team(config):
    e = config.entitlements(["vision"])
    assert e.teams == ("vision",)
    assert [v.key for v in e.volumes] == [
        ("global", "datasets"),
        ("vision", "data"),
        ("vision", "models"),
    ]
    datasets, data, models = e.volumes
    assert (datasets.read_only, datasets.mount_path, datasets.capacity) == (
        True,
        "/data/public",
        "1Ti",
    )
    assert datasets.source == {"nfs": {"server": "nfs.example.org", "path": "/exports/datasets"}}
    assert (data.read_only, data.capacity, data.source_kind) == (False, "500Gi", "csi")
    assert data.source["csi"] == {
        "driver": "nfs.csi.k8s.io",
        "volumeHandle": "nfs.example.org#/exports/vision",
        "volumeAttributes": {"server": "nfs.example.org", "share": "/exports/vision"},
    }
    assert models.read_only is True
    assert models.source == {
        "persistentVolume": {
            "accessModes": ["ReadOnlyMany"],
            "nfs": {"server": "nfs.example.org", "path": "/exports/models"},
        }
    }
    (s3,) = e.credentials
    assert s3.key == ("vision", "s3")
    assert s3.secret_name == "vision-s3"
    assert s3.keys == ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    assert s3.mount_path == "/var/run/secrets/teamhub/credentials/s3"
    assert s3.env == {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"}
    assert e.profiles == ("cpu", "gpu")
    assert e.images == ("quay.io/jupyter/*", "registry.example.org/vision/*")
    assert e.quota == {"cpu": "32", "memory": "128Gi", "gpus": "4", "pods": "50"}
    assert e.quota_hard() == {
        "requests.cpu": "32",
        "requests.memory": "128Gi",
        "requests.nvidia.com/gpu": "4",
        "pods": "50",
    }


def test_each_combination_of_teams_is_resolved_once_per_config(config):
    vision = config.entitlements(["vision"])
    assert config.entitlements(["cv-research", "staff"]) is vision  # same team, other groups
    assert config.entitlements(["vision", "nlp"]) is not vision
    assert config.entitlements(["vision", "nlp"]) == resolve_entitlements(config, ["vision", "nlp"])
    again = load_teams_config(base())  # an equal config resolves on its own...
    assert again.entitlements(["vision"]) is not vision
    assert again.entitlements(["vision"]) == vision
    assert again == config  # ...and remembering resolutions does not make configs unequal
    other = load_teams_config(changed((("teams", "vision", "profiles"), ["cpu"])))
    assert other.entitlements(["vision"]).profiles == ("cpu",)


def test_member_of_several_teams_gets_the_union(config):
    e = config.entitlements(["nlp", "cv-research"])
    assert e.teams == ("nlp", "vision")
    assert [v.key for v in e.volumes] == [
        ("global", "datasets"),
        ("nlp", "corpora"),
        ("vision", "data"),
        ("vision", "models"),
    ]
    assert [c.key for c in e.credentials] == [("vision", "s3")]
    assert e.profiles == ("cpu", "gpu")
    # nlp sets no image patterns, so it adds none: vision's patterns still apply.
    assert e.images == ("quay.io/jupyter/*", "registry.example.org/vision/*")
    # Per resource the largest value: nlp's memory, vision's cpu; gpus and pods only vision.
    assert e.quota == {"cpu": "32", "memory": "256Gi", "gpus": "4", "pods": "50"}
    assert e == config.entitlements(["vision", "nlp", "unknown"])


def test_member_of_no_team_gets_only_global_volumes(config):
    e = config.entitlements(["staff"])
    assert e.teams == ()
    assert [v.key for v in e.volumes] == [("global", "datasets")]
    assert e.credentials == ()
    assert e.profiles == ()
    assert e.images is None
    assert e.quota == {}


def test_profiles_follow_config_order_and_none_means_every_profile():
    data = changed(
        (("profiles",), list(reversed(base()["profiles"]))),
        (("teams", "nlp", "profiles"), DELETE),
    )
    config = load_teams_config(data)
    assert config.entitlements(["vision"]).profiles == ("gpu", "cpu")
    assert config.entitlements(["nlp"]).profiles == ("gpu", "cpu")  # absent: all profiles


def test_a_team_with_no_profiles_grants_none():
    data = changed(
        (
            ("teams", "readers"),
            {"groups": ["readers"], "profiles": [], "volumes": []},
        )
    )
    config = load_teams_config(data)
    assert config.entitlements(["readers"]).profiles == ()
    assert config.entitlements(["readers", "nlp"]).profiles == ("cpu",)


def test_images_union_and_any_image_without_patterns():
    data = changed((("teams", "nlp", "images"), ["docker.io/library/python:3.*"]))
    config = load_teams_config(data)
    both = config.entitlements(["vision", "nlp"])
    assert both.images == (
        "docker.io/library/python:3.*",
        "quay.io/jupyter/*",
        "registry.example.org/vision/*",
    )
    assert both.image_allowed("python:3.11")  # matched in its qualified form
    assert both.image_allowed("quay.io/jupyter/scipy-notebook:2024-05-27")
    assert not load_teams_config(base()).entitlements(["nlp"]).images  # None: any image


def test_image_allowed(config):
    vision = config.entitlements(["vision"])
    assert vision.image_allowed("quay.io/jupyter/base-notebook")
    assert vision.image_allowed("quay.io/jupyter/pytorch-notebook:cuda12-2024-05-27")
    assert vision.image_allowed("registry.example.org/vision/train@sha256:" + "a" * 64)
    assert not vision.image_allowed("quay.io/other/base-notebook")
    assert not vision.image_allowed("docker.io/jupyter/base-notebook")
    assert not vision.image_allowed("python:3.11")
    assert not vision.image_allowed("")
    assert not vision.image_allowed("quay.io/jupyter/x y")
    nlp = config.entitlements(["nlp"])
    assert nlp.images is None
    assert nlp.image_allowed("anything/at:all")


@pytest.mark.parametrize(
    ("image", "qualified"),
    [
        ("python", "docker.io/library/python:latest"),
        ("python:3.11", "docker.io/library/python:3.11"),
        ("jupyter/base-notebook", "docker.io/jupyter/base-notebook:latest"),
        ("docker.io/python", "docker.io/library/python:latest"),
        ("quay.io/jupyter/base-notebook", "quay.io/jupyter/base-notebook:latest"),
        ("localhost/img:1", "localhost/img:1"),
        ("registry:5000/img", "registry:5000/img:latest"),
        ("python@sha256:abc", "docker.io/library/python@sha256:abc"),
        ("quay.io/a/b:1@sha256:abc", "quay.io/a/b:1@sha256:abc"),
    ],
)
def test_qualified_image(image: str, qualified: str):
    assert qualified_image(image) == qualified


def test_quota_compares_quantities_not_strings():
    data = changed(
        (("teams", "vision", "quota"), {"cpu": "1500m", "memory": "1Gi"}),
        (("teams", "nlp", "quota"), {"cpu": "2", "memory": "1000M"}),
    )
    e = load_teams_config(data).entitlements(["vision", "nlp"])
    assert e.quota == {"cpu": "2", "memory": "1Gi"}


def test_profile_allowed_and_kubespawner_profile_list(config):
    nlp = config.entitlements(["nlp"])
    assert nlp.profile_allowed("cpu") and not nlp.profile_allowed("gpu")
    assert config.kubespawner_profile_list(nlp) == [
        {
            "slug": "cpu",
            "display_name": "CPU notebook",
            "description": "",
            "default": True,
            "kubespawner_override": {},
        }
    ]
    gpu = config.kubespawner_profile_list(config.entitlements(["vision"]))[1]
    assert gpu["kubespawner_override"] == {"extra_resource_limits": {"nvidia.com/gpu": "1"}}


def test_entitlements_are_json_round_trippable_and_frozen(config):
    e = config.entitlements(["vision", "nlp"])
    data = e.to_dict()
    restored = Entitlements.from_dict(json.loads(json.dumps(data)))
    assert restored == e
    assert data["volumes"][0] == {
        "scope": "global",
        "name": "datasets",
        "mount_path": "/data/public",
        "read_only": True,
        "capacity": "1Ti",
        "source": {"nfs": {"server": "nfs.example.org", "path": "/exports/datasets"}},
    }
    assert data["credentials"][0]["keys"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    with pytest.raises(ValidationError):
        e.teams = ("other",)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Entitlements.from_dict({**data, "extra": 1})
    # The pod annotation's form: compact, sorted, the same data; made once per value.
    assert e.annotation_json == json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert config.entitlements(["nlp", "vision"]).annotation_json is e.annotation_json
    assert "annotation_json" not in data


def test_leaving_a_team_changes_the_entitlements(config):
    before = config.entitlements(["vision", "nlp"])
    after = config.entitlements(["vision"])
    assert before != after
    assert {v.key for v in before.volumes} - {v.key for v in after.volumes} == {("nlp", "corpora")}
    assert config.entitlements(["vision"]) == after


def test_wire_forms_for_the_object_builders(config):
    e = config.entitlements(["vision"])
    assert e.volume("vision", "models").to_wire() == {
        "name": "models",
        "mountPath": "/teams/vision/models",
        "readOnly": True,
        "capacity": "1Ti",
        "source": {
            "persistentVolume": {
                "accessModes": ["ReadOnlyMany"],
                "nfs": {"server": "nfs.example.org", "path": "/exports/models"},
            }
        },
    }
    assert e.credentials[0].to_wire() == {
        "name": "s3",
        "secretName": "vision-s3",
        "keys": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        "mountPath": "/var/run/secrets/teamhub/credentials/s3",
        "env": {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"},
    }
    # The wire form is a copy: changing it leaves the (frozen) entitlements alone.
    e.volumes[0].to_wire()["source"]["nfs"]["path"] = "/elsewhere"
    assert e.volumes[0].source["nfs"]["path"] == "/exports/datasets"


def test_volume_lookup(config):
    e = config.entitlements(["vision"])
    assert e.volume("vision", "data").mount_path == "/teams/vision/data"
    with pytest.raises(KeyError):
        e.volume("nlp", "corpora")


def test_members_of_two_colliding_teams_get_a_clear_error():
    data = changed(
        (("teams", "nlp", "volumes", 0, "mountPath"), "/teams/vision/data"),
        (
            ("teams", "nlp", "credentials"),
            [{"name": "s3", "secretName": "nlp-s3", "env": {"AWS_ACCESS_KEY_ID": "id"}}],
        ),
    )
    config = load_teams_config(data)  # no group is shared: only a warning
    assert len(config.cross_team_warnings()) == 3
    assert config.entitlements(["nlp"]).teams == ("nlp",)
    with pytest.raises(EntitlementsConflictError) as info:
        config.entitlements(["nlp", "vision"])
    assert info.value.teams == ("nlp", "vision")
    assert info.value.conflicts == (
        "teams.vision.volumes[0].mountPath: /teams/vision/data is also the mount path of "
        "teams.nlp.volumes[0], and a member of both nlp and vision could not start a server",
        "teams.vision.credentials[0].mountPath: /var/run/secrets/teamhub/credentials/s3 is "
        "also the mount path of teams.nlp.credentials[0], and a member of both nlp and vision "
        "could not start a server",
        "teams.vision.credentials[0].env.AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY_ID is also set by "
        "teams.nlp.credentials[0], and a member of both nlp and vision could not start a server",
    )
    assert str(info.value).startswith(
        "the teams config gives a member of nlp, vision conflicting mounts or environment "
        "variables:\n  teams.vision.volumes[0].mountPath: "
    )


def test_resolve_entitlements_by_team_names(config):
    assert resolve_entitlements(config, ["vision"]) == config.entitlements(["cv-research"])
    with pytest.raises(KeyError):
        resolve_entitlements(config, ["nope"])


def test_team_only_granting_data_adds_its_volume():
    data = changed(
        (
            ("teams", "readers"),
            {
                "groups": ["readers"],
                "profiles": [],
                "volumes": [
                    {
                        "name": "papers",
                        "mountPath": "/teams/readers/papers",
                        "readOnly": True,
                        "source": {"nfs": {"server": "nfs", "path": "/papers"}},
                    }
                ],
            },
        ),
        (
            ("globalVolumes", APPEND),
            {
                "name": "maps",
                "mountPath": "/data/maps",
                "source": {"nfs": {"server": "nfs", "path": "/maps"}},
            },
        ),
    )
    e = load_teams_config(data).entitlements(["readers", "nlp"])
    assert [v.key for v in e.volumes] == [
        ("global", "datasets"),
        ("global", "maps"),
        ("nlp", "corpora"),
        ("readers", "papers"),
    ]
    assert e.profiles == ("cpu",)
