"""REST paths of the kinds teamhub manages (spawner/teamhub_spawner/restapi.py): the
API's own, for namespaced and cluster-scoped kinds, with names quoted."""

from __future__ import annotations

import pytest
from teamhub_spawner import restapi


def test_paths_of_namespaced_and_cluster_scoped_kinds() -> None:
    assert restapi.path("Secret", "teamhub-alice") == "/api/v1/namespaces/teamhub-alice/secrets"
    assert (
        restapi.path("Secret", "teamhub-alice", "teamhub-credentials")
        == "/api/v1/namespaces/teamhub-alice/secrets/teamhub-credentials"
    )
    assert restapi.path("Namespace", "", "teamhub-alice") == "/api/v1/namespaces/teamhub-alice"
    assert restapi.path("PersistentVolume") == "/api/v1/persistentvolumes"
    assert (
        restapi.path("RoleBinding", "ns", "teamhub-user")
        == "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings/teamhub-user"
    )
    assert (
        restapi.path("LocalQueue", "ns") == "/apis/kueue.x-k8s.io/v1beta1/namespaces/ns/localqueues"
    )
    # Names are path segments: nothing in one can reach another path.
    assert restapi.path("Secret", "ns", "a/../b") == "/api/v1/namespaces/ns/secrets/a%2F..%2Fb"


def test_a_namespaced_kind_needs_a_namespace() -> None:
    with pytest.raises(ValueError, match="Secret is namespaced: a namespace is needed"):
        restapi.path("Secret", "", "x")


def test_the_kinds_teamhub_prunes_are_scoped_as_the_plan_says() -> None:
    """(Every kind a start creates is exercised in tests/spawner/test_team_spawner.py.)"""
    from teamhub_spawner.plan import PRUNABLE

    for kind, namespaced, _component in PRUNABLE:
        assert restapi.namespaced(kind) is namespaced


class _Recorder:
    """Stands in for the client's aiohttp session: records what it is asked to send."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    async def request(self, **args: object) -> str:
        self.calls.append(args)
        return "response"


@pytest.mark.asyncio
@pytest.mark.parametrize("timeout", [None, 7.5])
async def test_a_request_is_the_one_kubernetes_asyncio_would_send(timeout) -> None:
    """``session_request`` skips ``RESTClientObject.request`` only to encode the body with
    orjson: method, URL and query, headers (credentials included), timeout, proxy and TLS
    server name are what that method would hand the session, and the body is the same
    JSON."""
    import json

    from kubernetes_asyncio.client import ApiClient, Configuration

    config = Configuration(host="https://k8s.example:6443")
    config.api_key = {"BearerToken": "Bearer s3cret"}
    config.proxy = "http://proxy.example:3128"
    config.proxy_headers = {"Proxy-Authorization": "Basic eA=="}
    config.tls_server_name = "kubernetes.default.svc"
    body = {"kind": "Secret", "metadata": {"name": "x", "labels": {"a": "é"}}, "data": [1, 2.5]}
    query = {"fieldManager": "teamhub", "dryRun": "All"}
    async with ApiClient(config) as api_client:
        session, recorder = api_client.rest_client.pool_manager, _Recorder()
        api_client.rest_client.pool_manager = recorder
        try:
            headers = {
                **api_client.default_headers,
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
            await api_client.update_params_for_auth(headers, [], ["BearerToken"])
            await api_client.rest_client.request(
                "POST",
                config.host + "/api/v1/namespaces/ns/secrets",
                query_params=list(query.items()),
                headers=headers,
                body=body,
                _preload_content=False,
                _request_timeout=timeout,
            )
            answer = await restapi.session_request(
                "POST",
                "/api/v1/namespaces/ns/secrets",
                body=body,
                query=query,
                timeout=timeout,
                api_client=api_client,
            )
        finally:
            api_client.rest_client.pool_manager = session
    assert answer == "response"
    theirs, ours = recorder.calls
    assert ours["headers"]["authorization"] == "Bearer s3cret"
    assert json.loads(theirs.pop("data")) == json.loads(ours.pop("data")) == body
    assert ours == theirs
    assert set(ours) == {
        "method",
        "url",
        "timeout",
        "headers",
        "proxy",
        "proxy_headers",
        "server_hostname",
    }


def test_bodies_orjson_refuses_are_encoded_as_the_standard_library_does() -> None:
    assert restapi.encode({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert restapi.encode({1: 2**70}) == b'{"1": 1180591620717411303424}'
