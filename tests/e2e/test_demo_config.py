"""The generated jupyterhub_config.py, loaded the way JupyterHub loads it (no stack started):
the injection points TeamSpawner/TeamAuthenticator use, and the settings the demo needs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from kubespawner import KubeSpawner
from teamhub_hub.demo import DEMO_S3, DEMO_USERS, LocalStack, demo_manifests, hubconfig
from teamhub_hub.demo.__main__ import _banner
from teamhub_hub.teams import load_teams_config
from traitlets.config.loader import PyFileConfigLoader

INLINE_TEAMS = 'c.TeamRegistry.teams = {"teams": {"vision": {"groups": ["vision"]}}}'


def settings(tmp_path: Path, **kw) -> hubconfig.HubSettings:
    return hubconfig.HubSettings(
        hub_dir=tmp_path / "hub",
        public_url="http://127.0.0.1:8000",
        hub_url="http://127.0.0.1:8081",
        proxy_api_url="http://127.0.0.1:8001",
        oidc_url="http://127.0.0.1:9400",
        namespace="teamhub",
        kubeconfig=tmp_path / "kubeconfig",
        chp_command=["/x/configurable-http-proxy"],
        singleuser=Path("/venv/bin/jupyterhub-singleuser"),
        users=DEMO_USERS,
        **kw,
    )


def load(tmp_path: Path, s: hubconfig.HubSettings):
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(hubconfig.render(s))
    return PyFileConfigLoader(path.name, path=str(tmp_path)).load_config()


def test_defaults_are_teamhub_with_the_demo_teams_config(tmp_path: Path) -> None:
    c = load(tmp_path, settings(tmp_path))
    assert c.JupyterHub.spawner_class == "teamhub_spawner.spawner.TeamSpawner"
    assert c.JupyterHub.authenticator_class == "teamhub_hub.authenticator.TeamAuthenticator"
    assert c.TeamRegistry.teams_file == str(hubconfig.DEMO_TEAMS_FILE)
    oauth = c.GenericOAuthenticator
    assert oauth.authorize_url == "http://127.0.0.1:9400/oauth2/authorize"
    assert oauth.oauth_callback_url == "http://127.0.0.1:8000/hub/oauth_callback"
    assert oauth.allowed_groups == {"vision", "nlp", "admins"}  # for a plain Generic one
    assert c.TeamAuthenticator.allowed_groups == set()  # teams decide
    assert oauth.admin_groups == {"admins"}
    assert oauth.basic_auth is True  # the provider refreshes tokens only for basic auth
    assert c.Authenticator.enable_auth_state is True
    assert c.JupyterHub.hub_connect_url == "http://127.0.0.1:8081"
    assert c.JupyterHub.cleanup_servers is False  # servers outlive a hub restart
    # The notebook binds its own pod IP: pods share the host network under kubesim.
    assert c.KubeSpawner.cmd == ["/venv/bin/jupyterhub-singleuser"]
    assert "--ServerApp.ip=$(POD_IP)" in c.KubeSpawner.args
    env = c.KubeSpawner.environment["POD_IP"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    # TeamSpawner: admin Secrets in the hub namespace; JupyterLab rooted at / opening home.
    team = c.TeamSpawner
    assert team.hub_namespace == "teamhub"
    assert team.environment["POD_IP"] == env
    assert team.environment["HOME"] == team.working_dir == "/home/jovyan"
    assert team.notebook_dir == "/"
    assert team.default_url == "/lab/tree/home/jovyan"


def test_no_teams_file_leaves_the_teams_config_to_injected_config(tmp_path: Path) -> None:
    c = load(tmp_path, settings(tmp_path, teams_file=None, extra_config=INLINE_TEAMS))
    assert c.TeamRegistry.teams == {"teams": {"vision": {"groups": ["vision"]}}}
    assert "teams_file" not in c.TeamRegistry


def test_the_demo_users_and_their_teams(tmp_path: Path) -> None:
    teams = load_teams_config(hubconfig.DEMO_TEAMS_FILE)
    teams_of = {
        name: teams.teams_for_groups(claims["groups"]) for name, claims in DEMO_USERS.items()
    }
    assert teams_of == {"alice": ["vision"], "dave": ["vision"], "bob": ["nlp"], "carol": []}
    assert hubconfig.ADMIN_GROUP in DEMO_USERS["carol"]["groups"]
    # The admin Secret the demo applies is the one vision's credential copies.
    (secret,) = demo_manifests("hubns")
    (cred,) = teams.teams["vision"].credentials
    assert (secret["metadata"], sorted(secret["data"])) == (
        {"name": cred.secret_name, "namespace": "hubns"},
        sorted(cred.keys or []),
    )
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == DEMO_S3


def test_the_banner_says_how_to_log_in(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "state")
    text = _banner(stack, 1.0)
    assert "takes any user name" in text
    for name, claims in DEMO_USERS.items():
        line = next(line for line in text.splitlines() if line.strip().startswith(name))
        assert ", ".join(claims["groups"]) in line
    assert "hub admin" in next(line for line in text.splitlines() if "carol" in line)


def test_classes_config_files_and_extra_config_are_injected_in_order(tmp_path: Path) -> None:
    first = tmp_path / "first.py"
    first.write_text('c.KubeSpawner.cpu_limit = 1.0\nc.KubeSpawner.namespace = "from-file"\n')
    s = settings(
        tmp_path,
        spawner_class=hubconfig.class_path(KubeSpawner),
        authenticator_class="teamhub",
        config_files=[first],
        extra_config='c.KubeSpawner.cpu_limit = 2.0\nc.Spawner.notebook_dir = demo["namespace"]',
    )
    c = load(tmp_path, s)
    assert c.JupyterHub.spawner_class == "kubespawner.spawner.KubeSpawner"
    assert c.JupyterHub.authenticator_class == "teamhub"
    assert c.KubeSpawner.namespace == "from-file"  # files override the generated config
    assert c.KubeSpawner.cpu_limit == 2.0  # extra_config comes last
    assert c.Spawner.notebook_dir == "teamhub"  # and sees the `demo` facts


def test_empty_class_name_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        hubconfig.class_path("")
