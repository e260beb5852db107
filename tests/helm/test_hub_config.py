"""The hub configuration the chart produces is one JupyterHub can load: TeamAuthenticator
and TeamSpawner are instantiated from it, read the chart's teams config, and are not
undercut by anything z2jh itself sets (its profile list, home storage, iptables init
container). Chart values and code can't drift apart unnoticed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jupyterhub.app import JupyterHub
from jupyterhub.objects import Hub
from kubernetes_asyncio.config import kube_config
from kubespawner.clients import load_config
from teamhub_hub.authenticator import TeamAuthenticator
from teamhub_hub.registry import TeamRegistry
from teamhub_hub.teams import TeamsConfig
from teamhub_spawner.spawner import TeamSpawner

from tests.helm.chart import example_values, one, render
from tests.helm.hub_support import FakeUser, chart_hub_config


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """KubeSpawner loads a client config when constructed; it is never used here (no
    request is made), so any server address does."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "none", "user": {"token": "unused"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    load_config.cache_clear()
    yield path
    load_config.cache_clear()


def test_jupyterhub_resolves_teamhubs_classes_from_the_chart_config(tmp_path: Path) -> None:
    c = chart_hub_config(tmp_path, example_values())
    app = JupyterHub(config=c)
    assert app.authenticator_class is TeamAuthenticator
    assert app.spawner_class is TeamSpawner


def test_team_authenticator_from_the_chart_config(tmp_path: Path) -> None:
    c = chart_hub_config(tmp_path, example_values())
    auth = TeamAuthenticator(config=c)
    assert auth.enable_auth_state is True
    assert auth.client_id == "teamhub"
    assert auth.admin_groups == {"hub-admins"}
    assert auth.groups_claim == "groups"
    assert auth.manage_groups is True
    # The registry reads the ConfigMap's file, and it is a valid teams config.
    teams = TeamRegistry(config=c).load()
    assert sorted(teams.teams) == ["nlp", "vision"]
    assert teams.teams_for_groups(["cv-research"]) == ["vision"]


@pytest.mark.asyncio
async def test_team_spawner_from_the_chart_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubeconfig: Path
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "jupyterhub")
    c = chart_hub_config(tmp_path, example_values())
    alice = TeamSpawner(hub=Hub(), user=FakeUser("alice", ["vision"]), config=c)
    assert alice.namespace == "teamhub-alice"
    assert alice.hub_namespace == "jupyterhub"
    assert alice.image == "teamhub/singleuser:0.1.0.dev0"
    assert alice.cmd == ["jupyterhub-singleuser"]
    assert alice.pod_security_version == "v1.32"
    # Nothing z2jh adds may break the namespace's `restricted` Pod Security: no privileged
    # iptables init container, no KubeSpawner-made home claim (TeamSpawner makes home).
    assert alice.init_containers == []
    assert alice.storage_pvc_ensure is False
    assert alice.volumes == [] and alice.volume_mounts == []
    # Profiles come from the teams config, filtered by team.
    profiles = await alice.profile_list(alice)
    assert [p["slug"] for p in profiles] == ["cpu", "gpu"]
    bob = TeamSpawner(hub=Hub(), user=FakeUser("bob", ["nlp"]), config=c)
    assert [p["slug"] for p in await bob.profile_list(bob)] == ["cpu"]


@pytest.mark.asyncio
async def test_without_the_charts_extra_config_z2jh_would_empty_the_profile_list(
    tmp_path: Path, kubeconfig: Path
) -> None:
    # Why hub.extraConfig.teamhub exists: z2jh sets KubeSpawner.profile_list from
    # singleuser.profileList ([] by default), which TeamSpawner inherits.
    c = chart_hub_config(tmp_path, example_values(), drop_extra_config=True)
    sp = TeamSpawner(hub=Hub(), user=FakeUser("alice", ["vision"]), config=c)
    assert sp.profile_list == []


def test_the_teams_configmap_holds_the_values_teams_config_and_the_team_queues() -> None:
    values = example_values()
    manifests = render(values)
    configmap = one(manifests, "ConfigMap", "teamhub-teams")
    assert configmap["metadata"]["namespace"] == "jupyterhub"
    config = yaml.safe_load(configmap["data"]["teams.yaml"])
    # Verbatim, but for the ClusterQueue of each team under kueue.teams, which the hub needs
    # to create the members' LocalQueues: the name of the ClusterQueue the chart renders.
    queues = {t: config["teams"][t].pop("clusterQueue", None) for t in config["teams"]}
    assert config == values["teamsConfig"]
    assert set(values["kueue"]["teams"]) == {"vision", "nlp"}
    for team, name in queues.items():
        cluster_queue = one(manifests, "ClusterQueue", name)
        labels = cluster_queue["metadata"]["labels"]
        assert labels[f"team.teamhub.io/{team}"] == "true"
    # The hub reads it: a member of vision gets the vision queue.
    teams = TeamsConfig.model_validate(yaml.safe_load(configmap["data"]["teams.yaml"]))
    assert teams.entitlements(["vision"]).queues == {"vision": "teamhub-team-vision"}


def test_without_kueue_the_teams_config_names_no_queue() -> None:
    values = example_values()
    values["kueue"]["enabled"] = False
    configmap = one(render(values), "ConfigMap", "teamhub-teams")
    assert yaml.safe_load(configmap["data"]["teams.yaml"]) == values["teamsConfig"]
