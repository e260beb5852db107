"""Request counters and fault injection: what tests use to assert "no polling" and to check
that clients survive injected 5xx/429 answers, slow responses, dropped watches and
expiring tokens.

Error rates are probabilistic, so these tests only use rates 0 and 1, or a seeded
``Faults`` whose sequence is fixed.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from kubesim.faults import Faults


@pytest.fixture
def core(kubesim):
    api_client = config.new_client_from_config(str(kubesim.kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


def token_client(kubesim, token: str) -> client.CoreV1Api:
    cfg = client.Configuration()
    cfg.host = kubesim.url
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.CoreV1Api(client.ApiClient(cfg))


def cm(name: str) -> dict:
    return {"metadata": {"name": name}, "data": {"k": "v"}}


def pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}}


# ---------------------------------------------------------------------------- counters
def test_counters_by_verb_resource_namespace(kubesim, core):
    core.create_namespace({"metadata": {"name": "other"}})
    kubesim.call(kubesim.counters.reset)
    core.create_namespaced_pod("default", pod("p1"))
    core.create_namespaced_pod("default", pod("p2"))
    core.create_namespaced_pod("other", pod("p3"))
    core.create_namespaced_config_map("default", cm("c"))
    core.read_namespaced_pod("p1", "default")
    core.list_namespaced_pod("default")
    core.list_pod_for_all_namespaces()
    core.read_namespaced_pod_status("p1", "default")
    core.delete_namespaced_pod("p2", "default")
    list(watch.Watch().stream(core.list_namespaced_pod, "other", timeout_seconds=1))
    c = kubesim.counters
    assert c.total(verb="create", resource="pods") == 3
    assert c.total(verb="create", resource="pods", namespace="default") == 2
    assert c.total(verb="create", resource="pods", namespace="other") == 1
    assert c.total(verb="create") == 4
    assert c.total(verb="get", resource="pods") == 1
    assert c.total(verb="get", resource="pods/status") == 1
    assert c.total(verb="list", resource="pods", namespace="default") == 1
    # A list across namespaces is counted without a namespace.
    assert c.total(verb="list", resource="pods", namespace="") == 1
    assert c.total(verb="delete", resource="pods") == 1
    assert c.total(verb="watch", resource="pods", namespace="other") == 1
    # Only requests from clients count, not the controllers and kubelet acting on the pods.
    assert c.total() == 10
    assert c.by_verb() == {"create": 4, "get": 2, "list": 2, "delete": 1, "watch": 1}
    kubesim.call(c.reset)
    assert c.total() == 0


# ------------------------------------------------------------------------------ errors
def test_injected_error_only_hits_matching_requests(kubesim, core):
    core.create_namespaced_config_map("default", cm("existing"))
    kubesim.faults.add_error(503, 1.0, verbs={"create"}, resources={"configmaps"})
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("default", cm("new"))
    assert e.value.status == 503
    assert e.value.headers["Content-Type"] == "application/json"
    assert json.loads(e.value.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "kubesim injected fault (503)",
        "reason": "ServiceUnavailable",
        "code": 503,
    }
    # The failed create stored nothing; other verbs and resources are untouched.
    names = [o.metadata.name for o in core.list_namespaced_config_map("default").items]
    assert "new" not in names and "existing" in names
    assert core.read_namespaced_config_map("existing", "default").data == {"k": "v"}
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}})
    # Failed requests are still counted (a client's retries show up in the counters).
    assert kubesim.counters.total(verb="create", resource="configmaps") == 2

    kubesim.faults.clear()
    assert core.create_namespaced_config_map("default", cm("new")).metadata.name == "new"


@pytest.mark.parametrize(
    ("code", "reason"),
    [(429, "TooManyRequests"), (500, "InternalError"), (503, "ServiceUnavailable")],
)
def test_injected_error_codes(kubesim, code, reason):
    # urllib3 would retry a 429 that has Retry-After by itself; see each answer here.
    cfg = client.Configuration()
    config.load_kube_config(str(kubesim.kubeconfig), client_configuration=cfg)
    cfg.retries = 0
    core = client.CoreV1Api(client.ApiClient(cfg))
    kubesim.faults.add_error(code, 1.0, resources={"pods"})
    with pytest.raises(ApiException) as e:
        core.list_namespaced_pod("default")
    assert kubesim.counters.total(resource="pods") == 1
    assert e.value.status == code
    body = json.loads(e.value.body)
    assert (body["reason"], body["code"]) == (reason, code)
    # 429 tells the client when to come back, as the real API's priority-and-fairness does.
    assert (e.value.headers.get("Retry-After") == "1") == (code == 429)
    assert core.list_namespaced_config_map("default").items
    core.api_client.close()


def test_rate_zero_never_fails(kubesim, core):
    kubesim.faults.add_error(500, 0.0)
    for i in range(20):
        core.create_namespaced_config_map("default", cm(f"c{i}"))


def test_seeded_faults_are_reproducible(kubesim, core):
    def run(prefix: str) -> list[bool]:
        kubesim.faults = Faults(seed=42)
        kubesim.faults.add_error(500, 0.5, verbs={"create"})
        outcome = []
        for i in range(20):
            try:
                core.create_namespaced_config_map("default", cm(f"{prefix}{i}"))
                outcome.append(True)
            except ApiException as e:
                assert e.status == 500
                outcome.append(False)
        return outcome

    first, second = run("a"), run("b")
    assert first == second
    assert True in first and False in first


def test_add_error_rejects_bad_arguments():
    f = Faults()
    with pytest.raises(ValueError):
        f.add_error(404, 1.0)
    with pytest.raises(ValueError):
        f.add_error(500, 1.5)
    assert f.errors == []


# ----------------------------------------------------------------------------- latency
def test_latency_slows_every_request(kubesim, core):
    core.create_namespaced_config_map("default", cm("c"))
    t0 = time.monotonic()
    core.read_namespaced_config_map("c", "default")
    fast = time.monotonic() - t0

    kubesim.faults.latency = 0.2
    t0 = time.monotonic()
    for _ in range(3):
        core.read_namespaced_config_map("c", "default")
    slow = time.monotonic() - t0
    assert slow >= 0.58
    assert fast < 0.19

    kubesim.faults.clear()
    assert kubesim.faults.latency == 0
    t0 = time.monotonic()
    core.read_namespaced_config_map("c", "default")
    assert time.monotonic() - t0 < 0.19


# ------------------------------------------------------------------------ dropped watch
@pytest.mark.asyncio
async def test_drop_watches_ends_open_streams(kubesim):
    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig
    from kubernetes_asyncio import watch as awatch

    api_client = await aconfig.new_client_from_config(config_file=str(kubesim.kubeconfig))
    try:
        core = aclient.CoreV1Api(api_client)
        rv = (await core.list_namespaced_config_map("default")).metadata.resource_version
        streams = [
            awatch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=60
            )
            for _ in range(2)
        ]

        async def drain(stream: awatch.Watch) -> list[str]:
            return [ev["type"] async for ev in stream]

        tasks = [asyncio.ensure_future(drain(s)) for s in streams]
        for _ in range(100):
            if kubesim.call(kubesim.store.watcher_count) == 2:
                break
            await asyncio.sleep(0.02)
        await core.create_namespaced_config_map("default", cm("before-drop"))
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        assert kubesim.call(kubesim.store.drop_watches) == 2
        # Each client sees its stream end (long before its 60 s timeout) after the event
        # it had already been sent.
        results = await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert time.monotonic() - t0 < 5
        assert results == [["ADDED"], ["ADDED"]]
        assert kubesim.call(kubesim.store.watcher_count) == 0
        # Re-watching works.
        again = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
        )
        assert await asyncio.wait_for(drain(again), 5) == ["ADDED"]
        for s in streams:
            await s.close()
    finally:
        await api_client.close()


# ------------------------------------------------------------------------------ tokens
def _grant_configmap_reader(kubesim, ns: str, sa: str) -> None:
    kubesim.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}}
    )
    kubesim.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "cm-reader", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        }
    )
    kubesim.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "cm-reader", "namespace": ns},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "cm-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
        }
    )


def _assert_unauthorized(e: ApiException) -> None:
    assert e.status == 401
    assert json.loads(e.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_service_account_token_expires_with_clock_skew(kubesim):
    _grant_configmap_reader(kubesim, "default", "bot")
    token = kubesim.create_token("default", "bot")
    sa_core = token_client(kubesim, token)
    try:
        assert sa_core.list_namespaced_config_map("default").items
        # Authenticated as the ServiceAccount: what RBAC does not grant is 403, not 401.
        with pytest.raises(ApiException) as e:
            sa_core.list_namespaced_secret("default")
        assert e.value.status == 403
        assert "system:serviceaccount:default:bot" in json.loads(e.value.body)["message"]

        kubesim.auth.clock_skew = 7200  # the token (1 h) is now two hours old
        with pytest.raises(ApiException) as e:
            sa_core.list_namespaced_config_map("default")
        _assert_unauthorized(e.value)

        # A token issued "now" (skewed clock) works; the old one works again without skew.
        fresh = token_client(kubesim, kubesim.create_token("default", "bot"))
        try:
            assert fresh.list_namespaced_config_map("default").items
        finally:
            fresh.api_client.close()
        kubesim.auth.clock_skew = 0
        assert sa_core.list_namespaced_config_map("default").items
    finally:
        sa_core.api_client.close()


def test_token_of_deleted_service_account_is_401(kubesim, core):
    _grant_configmap_reader(kubesim, "default", "bot")
    sa_core = token_client(kubesim, kubesim.create_token("default", "bot"))
    try:
        assert sa_core.list_namespaced_config_map("default").items
        core.delete_namespaced_service_account("bot", "default")
        with pytest.raises(ApiException) as e:
            sa_core.list_namespaced_config_map("default")
        _assert_unauthorized(e.value)
        # A new ServiceAccount of the same name has another uid: the old token stays invalid.
        core.create_namespaced_service_account("default", {"metadata": {"name": "bot"}})
        with pytest.raises(ApiException) as e:
            sa_core.list_namespaced_config_map("default")
        _assert_unauthorized(e.value)
    finally:
        sa_core.api_client.close()


def test_garbage_token_is_401(kubesim):
    bad = token_client(kubesim, "not-a-token")
    try:
        with pytest.raises(ApiException) as e:
            bad.list_namespaced_config_map("default")
        _assert_unauthorized(e.value)
    finally:
        bad.api_client.close()
