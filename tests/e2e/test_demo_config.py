"""The generated jupyterhub_config.py, loaded the way JupyterHub loads it (no stack started):
the injection points TeamSpawner/TeamAuthenticator use, and the settings the demo needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubespawner import KubeSpawner
from teamhub_hub.demo import DEMO_USERS, hubconfig
from traitlets.config.loader import PyFileConfigLoader


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


def test_defaults_are_plain_kubespawner_and_generic_oauthenticator(tmp_path: Path) -> None:
    c = load(tmp_path, settings(tmp_path))
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert c.JupyterHub.authenticator_class == "oauthenticator.generic.GenericOAuthenticator"
    oauth = c.GenericOAuthenticator
    assert oauth.authorize_url == "http://127.0.0.1:9400/oauth2/authorize"
    assert oauth.oauth_callback_url == "http://127.0.0.1:8000/hub/oauth_callback"
    assert oauth.allowed_groups == {"vision", "nlp", "admins"}
    assert oauth.admin_groups == {"admins"}
    assert c.Authenticator.enable_auth_state is True
    assert c.JupyterHub.hub_connect_url == "http://127.0.0.1:8081"
    # The notebook binds its own pod IP: pods share the host network under kubesim.
    assert c.KubeSpawner.cmd == ["/venv/bin/jupyterhub-singleuser"]
    assert "--ServerApp.ip=$(POD_IP)" in c.KubeSpawner.args
    env = c.KubeSpawner.environment["POD_IP"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


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
