"""What the in-process TeamSpawner tests share: a module-wide kubesim that KubeSpawner's
clients find (``$KUBECONFIG`` and kubernetes_asyncio's default location point at it), with
the hub namespace and an admin credential Secret in it; and the parts of a JupyterHub user
a spawner uses."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from jupyterhub.objects import Hub, Server
from kubernetes import client, config
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from kubespawner.clients import load_config
from teamhub_spawner.spawner import TeamSpawner
from traitlets.config import Config

from kubesim.sim import KubeSim
from tests.hub.teams_fixtures import BASE

HUB_NS = "hub"


@pytest_asyncio.fixture(scope="module", loop_scope="module", autouse=True)
async def stop_reflectors() -> Any:
    """KubeSpawner's reflectors are shared by the class: a module that imports this
    fixture stops them at its end, so that no later module finds reflectors watching
    this module's (stopped) kubesim."""
    yield
    await KubeSpawner._stop_all_reflectors()


@contextmanager
def spawner_kubesim(
    data_dir: Path, admin_secret: Mapping[str, str], **options: Any
) -> Iterator[KubeSim]:
    """A kubesim (instant kubelet unless ``options`` say otherwise) that KubeSpawner uses,
    with the namespace :data:`HUB_NS` holding the admin Secret ``vision-s3``."""
    s = KubeSim(**{"kubelet": "instant", **options}, data_dir=data_dir / "kubesim").start()
    kubeconfig = s.write_kubeconfig(data_dir / "kubeconfig")
    mp = pytest.MonkeyPatch()
    mp.setenv("KUBECONFIG", str(kubeconfig))
    # kubernetes_asyncio reads $KUBECONFIG when it is imported; point it here explicitly.
    mp.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    load_config.cache_clear()  # KubeSpawner loads the client config once per process
    s.kubeconfig = kubeconfig  # type: ignore[attr-defined]
    try:
        core = core_api(s)
        core.create_namespace({"metadata": {"name": HUB_NS}})
        core.create_namespaced_secret(
            HUB_NS, {"metadata": {"name": "vision-s3"}, "stringData": dict(admin_secret)}
        )
        yield s
    finally:
        mp.undo()
        load_config.cache_clear()
        s.stop()


def core_api(sim: KubeSim) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig)))


class FakeUser:
    """The parts of jupyterhub.user.User a spawner uses."""

    def __init__(self, name: str, groups: list[str], token: str | None = None) -> None:
        self.name = name
        self.id = sum(map(ord, name))
        self.url = f"/user/{name}/"
        self.server = Server(base_url=self.url)
        self.groups: list[Any] = []
        self.spawners: dict[str, Any] = {}
        self.auth_state = {"access_token": token or f"oidc-{name}", "teamhub": {"groups": groups}}

    async def get_auth_state(self) -> dict:
        return self.auth_state


def teams_config() -> dict:
    """The teams config of the TeamSpawner tests: vision with a credential, images and a
    ClusterQueue."""
    cfg = copy.deepcopy(BASE)
    cfg["teams"]["vision"]["credentials"] = [
        {
            "name": "s3",
            "secretName": "vision-s3",
            "keys": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            "env": {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"},
        }
    ]
    cfg["teams"]["vision"]["images"] = ["quay.io/jupyter/*"]
    cfg["teams"]["vision"]["clusterQueue"] = "teamhub-team-vision"
    return cfg


def make_spawner(
    user: FakeUser, teams: dict | None = None, *, traits: dict | None = None, **options: Any
) -> TeamSpawner:
    """A TeamSpawner for ``user`` (``options``: their user_options; ``traits``: more
    TeamSpawner settings)."""
    c = Config()
    c.TeamRegistry.teams = teams or teams_config()
    c.TeamSpawner.hub_namespace = HUB_NS
    c.TeamSpawner.image = "quay.io/jupyter/minimal-notebook:2025-01-01"
    c.TeamSpawner.cmd = ["jupyterhub-singleuser"]
    c.TeamSpawner.start_timeout = 20
    for name, value in (traits or {}).items():
        setattr(c.TeamSpawner, name, value)
    sp = TeamSpawner(hub=Hub(), user=user, config=c)
    sp.api_token = f"hub-token-for-{user.name}"
    sp.user_options = options
    return sp


def without_watch(cls: type, items: dict) -> Any:
    """A reflector of one of teamhub's waking kinds (``teamhub_spawner.reflectors``)
    holding ``items``, with no watch and no API client: for its waking and indexing."""
    from teamhub_spawner import reflectors

    class Unwatched(cls):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:  # no ResourceReflector.__init__: no client
            self._waiters: dict = {}
            self._by_object: dict = {}
            if hasattr(self, "_index"):
                for key, obj in items.items():
                    self._index(key, obj)
            self.items = reflectors._Watched(items, self._on_change)

        @property  # type: ignore[override]
        def resources(self) -> dict:
            return self.items

    return Unwatched()
