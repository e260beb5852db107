"""kubesim through the official sync ``kubernetes`` client: CRUD, errors, selectors."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException


@pytest.fixture
def core(kubesim):
    api_client = config.new_client_from_config(str(kubesim.kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


def _status(e: ApiException) -> dict:
    return json.loads(e.body)


def test_namespace_gets_default_service_account(core, kubesim):
    core.create_namespace({"metadata": {"name": "team-a"}})
    ns = core.read_namespace("team-a")
    assert ns.status.phase == "Active"
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == "team-a"
    import time

    deadline = time.time() + 5
    while time.time() < deadline:
        names = [sa.metadata.name for sa in core.list_namespaced_service_account("team-a").items]
        if "default" in names:
            break
        time.sleep(0.05)
    assert "default" in names
    # The root CA ConfigMap too; deleted, it is put back (kube-controller-manager's
    # root-ca-cert-publisher).
    ca = core.read_namespaced_config_map("kube-root-ca.crt", "team-a")
    core.delete_namespaced_config_map("kube-root-ca.crt", "team-a")
    deadline = time.time() + 5
    while True:
        try:
            again = core.read_namespaced_config_map("kube-root-ca.crt", "team-a")
            break
        except ApiException as e:
            assert e.status == 404 and time.time() < deadline
            time.sleep(0.05)
    assert again.metadata.uid != ca.metadata.uid and again.data == ca.data


def test_a_pod_waits_for_its_new_namespaces_default_service_account(core, kubesim):
    """As kube-apiserver's ServiceAccount plugin: a pod of the ``default`` account is
    refused only after the account was looked for 10 times, 100-200 ms apart (the
    controller is about to create it in a new namespace); another account, at once."""
    import threading
    import time

    from kubesim.controllers.namespaces import NamespaceController

    def default_account() -> bool:
        return any(
            sa.metadata.name == "default"
            for sa in core.list_namespaced_service_account("fresh").items
        )

    def until(check) -> None:  # type: ignore[no-untyped-def]
        deadline = time.time() + 5
        while not check():
            assert time.time() < deadline
            time.sleep(0.05)

    core.create_namespace({"metadata": {"name": "fresh"}})
    until(default_account)
    # A deleted default account is put back by the controller...
    core.delete_namespaced_service_account("default", "fresh")
    until(default_account)
    # ... which is paused here, to be the slow controller of a busy cluster.
    controller = next(c for c in kubesim.controllers if isinstance(c, NamespaceController))
    kubesim.call(controller.stop)
    core.delete_namespaced_service_account("default", "fresh")

    def pod(name: str, account: str | None = None) -> dict:
        spec = {"containers": [{"name": "c", "image": "busybox"}]}
        if account:
            spec["serviceAccountName"] = account
        return {"metadata": {"name": name}, "spec": spec}

    later = threading.Timer(
        0.3,
        core.create_namespaced_service_account,
        ("fresh", {"metadata": {"name": "default"}}),
    )
    t0 = time.monotonic()
    later.start()
    created = core.create_namespaced_pod("fresh", pod("waits"))
    later.join()
    assert time.monotonic() - t0 >= 0.3
    assert created.spec.service_account_name == "default"

    core.delete_namespaced_service_account("default", "fresh")
    t0 = time.monotonic()
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("fresh", pod("refused"))
    assert time.monotonic() - t0 >= 0.9  # nine waits of at least 0.1 s
    assert e.value.status == 403
    assert "error looking up service account fresh/default" in _status(e.value)["message"]

    t0 = time.monotonic()
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("fresh", pod("named", "robot"))
    assert time.monotonic() - t0 < 0.5  # a named account is looked for once
    assert 'serviceaccount "robot" not found' in _status(e.value)["message"]
    kubesim.call(controller.start)


def test_crud_and_status_bodies(core):
    body = {"metadata": {"name": "cfg", "labels": {"app": "x"}}, "data": {"k": "v"}}
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None

    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("default", body)
    assert e.value.status == 409
    st = _status(e.value)
    assert st["reason"] == "AlreadyExists"
    assert st["message"] == 'configmaps "cfg" already exists'
    assert st["details"] == {"name": "cfg", "kind": "configmaps"}

    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("nope", "default")
    assert e.value.status == 404
    assert _status(e.value)["message"] == 'configmaps "nope" not found'

    # Optimistic concurrency: a stale resourceVersion is a 409 Conflict.
    stale = created.to_dict()
    core.patch_namespaced_config_map("cfg", "default", {"data": {"k": "v2"}})
    stale_body = {
        "metadata": {"name": "cfg", "resourceVersion": created.metadata.resource_version},
        "data": {"k": "v3"},
    }
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("cfg", "default", stale_body)
    assert e.value.status == 409 and _status(e.value)["reason"] == "Conflict"
    assert stale["metadata"]["name"] == "cfg"
    assert core.read_namespaced_config_map("cfg", "default").data == {"k": "v2"}

    core.delete_namespaced_config_map("cfg", "default")
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("cfg", "default")
    assert e.value.status == 404


def test_generate_name(core):
    a = core.create_namespaced_secret(
        "default", {"metadata": {"generateName": "tok-"}, "stringData": {"a": "b"}}
    )
    b = core.create_namespaced_secret("default", {"metadata": {"generateName": "tok-"}})
    assert a.metadata.name.startswith("tok-") and len(a.metadata.name) == len("tok-") + 5
    assert a.metadata.name != b.metadata.name
    assert a.data == {"a": "Yg=="}  # stringData is folded into base64 data
    assert a.type == "Opaque"


def test_label_and_field_selectors(core):
    for name, labels in (
        ("a", {"tier": "web", "env": "prod"}),
        ("b", {"tier": "db"}),
        ("c", {"env": "dev"}),
    ):
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})

    def names(**kw):
        return sorted(
            i.metadata.name
            for i in core.list_namespaced_config_map("default", **kw).items
            if i.metadata.name in "abc"
        )

    assert names(label_selector="tier=web") == ["a"]
    assert names(label_selector="tier in (web,db)") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(label_selector="env,env!=prod") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c"]
    with pytest.raises(ApiException) as e:
        core.list_namespaced_config_map("default", field_selector="spec.nodeName=x")
    assert e.value.status == 400
    assert '"spec.nodeName" is not a known field selector' in _status(e.value)["message"]


def test_pagination(core):
    for i in range(7):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"p{i}"}})
    seen, cont = [], None
    while True:
        page = core.list_namespaced_config_map("default", limit=3, _continue=cont)
        seen += [i.metadata.name for i in page.items]
        cont = page.metadata._continue
        if not cont:
            break
    assert [n for n in seen if n.startswith("p")] == [f"p{i}" for i in range(7)]


def test_invalid_name_is_422(core):
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("default", {"metadata": {"name": "Bad_Name"}})
    assert e.value.status == 422
    st = _status(e.value)
    assert st["reason"] == "Invalid"
    assert st["details"]["causes"][0]["field"] == "metadata.name"
    assert 'ConfigMap "Bad_Name" is invalid' in st["message"]


def test_unknown_namespace_is_404(core):
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("ghost", {"metadata": {"name": "x"}})
    assert e.value.status == 404
    assert _status(e.value)["message"] == 'namespaces "ghost" not found'
