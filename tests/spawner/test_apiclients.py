"""The hub's Kubernetes clients skip aiohttp's per-request environment lookups (proxy
variables, ``.netrc``) unless ``TeamSpawner.k8s_api_trust_env`` asks for them.

Shown by behaviour: with ``HTTP_PROXY`` pointing at a port nothing listens on, a default
TeamSpawner still reaches kubesim directly (KubeSpawner's own client included), and one
told to trust its environment tries the proxy and fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from teamhub_spawner import apiclients, provision

from kubesim.sim import KubeSim
from tests.spawner.spawner_support import FakeUser, make_spawner, spawner_kubesim

pytestmark = pytest.mark.asyncio

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[KubeSim]:
    with spawner_kubesim(tmp_path, {"KEY": "value"}) as s:
        yield s


@pytest.fixture
def proxied_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(var, NOWHERE)


@pytest.fixture(autouse=True)
def restore_default() -> Iterator[None]:
    yield
    apiclients.set_trust_env(False)


async def test_default_clients_ignore_proxy_variables(sim: KubeSim, proxied_env: None) -> None:
    sp = make_spawner(FakeUser("tess", ["vision"]))
    core = apiclients.shared("CoreV1Api")
    # KubeSpawner's client, the one its reflectors and pod creates use.
    assert sp.api.api_client is core.api_client
    connector = core.api_client.rest_client.pool_manager.connector
    for api in ("CoreV1Api", "RbacAuthorizationV1Api", "NetworkingV1Api"):
        assert apiclients.shared(api).api_client.rest_client.pool_manager.trust_env is False

    namespaces = await sp.api.list_namespace()
    assert "hub" in {n.metadata.name for n in namespaces.items}
    secret = await provision.call("Secret", "read", "hub", "vision-s3", what="reading")
    assert secret["metadata"]["name"] == "vision-s3"
    # The replaced session kept kubernetes_asyncio's connection pool and TLS settings.
    assert core.api_client.rest_client.pool_manager.connector is connector
    assert not connector.closed


async def test_trusting_the_environment_uses_its_proxy(sim: KubeSim, proxied_env: None) -> None:
    sp = make_spawner(FakeUser("tess", ["vision"]), traits={"k8s_api_trust_env": True})
    assert sp.api.api_client.rest_client.pool_manager.trust_env is True
    with pytest.raises(aiohttp.ClientConnectionError):
        await sp.api.list_namespace(_request_timeout=10)

    apiclients.set_trust_env(False)  # and back: the next request goes direct again
    apiclients.apply_trust_env(sp.api.api_client)
    namespaces = await sp.api.list_namespace()
    assert "hub" in {n.metadata.name for n in namespaces.items}
