"""Cluster behaviour through the sync client: RBAC for ServiceAccount tokens, quota,
scheduling, garbage collection, namespace deletion, volume binding, Pod Security."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.kubesim.helpers import restricted_pod, wait_for


def _clients(kubeconfig):
    api = config.new_client_from_config(str(kubeconfig))
    return api, client.CoreV1Api(api)


@pytest.fixture
def core(kubesim):
    api, core = _clients(kubesim.kubeconfig)
    yield core
    api.close()


def _status(e: ApiException) -> dict:
    return json.loads(e.body)


def _ns(core, name, labels=None):
    core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
    wait_for(
        lambda: any(
            s.metadata.name == "default" for s in core.list_namespaced_service_account(name).items
        ),
        what=f"default ServiceAccount in {name}",
    )


def test_service_account_token_rbac(kubesim, core, tmp_path):
    """A ServiceAccount may read its own namespace's secrets through a Role, not another's."""
    _ns(core, "alice")
    _ns(core, "bob")
    core.create_namespaced_service_account("alice", {"metadata": {"name": "notebook"}})
    core.create_namespaced_secret("alice", {"metadata": {"name": "mine"}, "stringData": {"k": "v"}})
    core.create_namespaced_secret("bob", {"metadata": {"name": "theirs"}, "stringData": {"k": "v"}})
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    rbac.create_namespaced_role(
        "alice",
        {
            "metadata": {"name": "read-secrets"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        "alice",
        {
            "metadata": {"name": "notebook-reads"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-secrets",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "notebook", "namespace": "alice"}],
        },
    )
    token = kubesim.create_token("alice", "notebook")
    kc = kubesim.write_kubeconfig(tmp_path / "sa-kubeconfig", token=token)
    api, sa_core = _clients(kc)
    try:
        assert sa_core.read_namespaced_secret("mine", "alice").data == {"k": "dg=="}
        with pytest.raises(ApiException) as e:
            sa_core.read_namespaced_secret("theirs", "bob")
        assert e.value.status == 403
        st = _status(e.value)
        assert st["reason"] == "Forbidden"
        assert st["message"].startswith(
            'secrets "theirs" is forbidden: User "system:serviceaccount:alice:notebook" cannot '
            'get resource "secrets" in API group "" in the namespace "bob"'
        )
        with pytest.raises(ApiException) as e:
            sa_core.list_namespaced_pod("bob")
        assert e.value.status == 403
        # pods/exec is a separate subresource: not granted.
        exec_url = f"{kubesim.url}/api/v1/namespaces/alice/pods/x/exec?command=ls"
        with pytest.raises(urllib.error.HTTPError) as he:
            urllib.request.urlopen(
                urllib.request.Request(
                    exec_url, method="POST", headers={"Authorization": f"Bearer {token}"}
                )
            )
        assert he.value.code == 403
        assert 'cannot create resource "pods/exec"' in json.loads(he.value.read())["message"]
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            {
                "spec": {
                    "resourceAttributes": {"namespace": "bob", "verb": "get", "resource": "secrets"}
                }
            }
        )
        assert review.status.allowed is False
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            {
                "spec": {
                    "resourceAttributes": {
                        "namespace": "alice",
                        "verb": "list",
                        "resource": "secrets",
                    }
                }
            }
        )
        assert review.status.allowed is True
    finally:
        api.close()
    # Deleting the ServiceAccount invalidates its tokens.
    core.delete_namespaced_service_account("notebook", "alice")
    api, sa_core = _clients(kc)
    try:
        with pytest.raises(ApiException) as e:
            sa_core.read_namespaced_secret("mine", "alice")
        assert e.value.status == 401
    finally:
        api.close()


def test_gpu_pod_stays_pending_with_event(core):
    pod = restricted_pod("trainer")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    core.create_namespaced_pod("default", pod)
    events = wait_for(
        lambda: [
            e
            for e in core.list_namespaced_event(
                "default", field_selector="involvedObject.name=trainer"
            ).items
            if e.reason == "FailedScheduling"
        ],
        what="FailedScheduling event",
    )
    assert events[0].type == "Warning"
    assert events[0].message.startswith("0/2 nodes are available: 2 Insufficient nvidia.com/gpu.")
    p = core.read_namespaced_pod("trainer", "default")
    assert p.status.phase == "Pending" and p.spec.node_name is None
    cond = next(c for c in p.status.conditions if c.type == "PodScheduled")
    assert cond.status == "False" and cond.reason == "Unschedulable"


def test_gpu_pod_schedules_when_a_gpu_node_joins(kubesim, core):
    pod = restricted_pod("trainer")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    core.create_namespaced_pod("default", pod)
    wait_for(
        lambda: (
            core.list_namespaced_event(
                "default", field_selector="involvedObject.name=trainer,reason=FailedScheduling"
            ).items
        )
    )
    from kubesim.scheduling import make_node

    core.create_node(make_node("gpu-1", gpus=2))
    p = wait_for(
        lambda: (lambda p: p if p.status.phase == "Running" else None)(
            core.read_namespaced_pod("trainer", "default")
        ),
        what="pod Running on the GPU node",
    )
    assert p.spec.node_name == "gpu-1"


def test_quota_rejects_and_tracks_usage(core):
    _ns(core, "q")
    core.create_namespaced_resource_quota(
        "q",
        {
            "metadata": {"name": "compute"},
            "spec": {"hard": {"pods": "2", "requests.cpu": "1", "requests.nvidia.com/gpu": "0"}},
        },
    )
    wait_for(
        lambda: core.read_namespaced_resource_quota("compute", "q").status.used, what="quota status"
    )

    def pod(name, cpu):
        p = restricted_pod(name)
        p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
        return p

    core.create_namespaced_pod("q", pod("a", "600m"))
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("q", pod("b", "600m"))
    assert e.value.status == 403
    assert _status(e.value)["message"] == (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
        "used: requests.cpu=600m, limited: requests.cpu=1"
    )
    used = wait_for(
        lambda: (lambda u: u if u and u.get("pods") == "1" else None)(
            core.read_namespaced_resource_quota("compute", "q").status.used
        ),
        what="used pods=1",
    )
    assert used["requests.cpu"] == "600m"
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("q", restricted_pod("no-requests"))
    assert "must specify requests.cpu" in _status(e.value)["message"]


def test_quota_counts_objects_of_types_served_after_it(kubesim, core):
    """The quota controller looks only at the types a quota's names can count, and a type
    served later (a CRD installed while the quota exists) is counted too."""
    from kubesim.crds import kueue

    _ns(core, "cq")
    hard = {"count/secrets": "10", "count/localqueues.kueue.x-k8s.io": "5", "pods": "4"}
    core.create_namespaced_resource_quota(
        "cq", {"metadata": {"name": "objects"}, "spec": {"hard": hard}}
    )

    def used_when(want: dict) -> dict:
        return wait_for(
            lambda: (lambda u: u if u and all(u.get(k) == v for k, v in want.items()) else None)(
                core.read_namespaced_resource_quota("objects", "cq").status.used
            ),
            what=f"quota used {want}",
        )

    core.create_namespaced_secret("cq", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    used = used_when({"count/secrets": "1"})
    assert used == {"count/localqueues.kueue.x-k8s.io": "0", "count/secrets": "1", "pods": "0"}

    kubesim.call(lambda: kueue.install(kubesim))
    custom = client.CustomObjectsApi(core.api_client)
    custom.create_namespaced_custom_object(
        "kueue.x-k8s.io",
        "v1beta1",
        "cq",
        "localqueues",
        {
            "apiVersion": "kueue.x-k8s.io/v1beta1",
            "kind": "LocalQueue",
            "metadata": {"name": "team"},
            "spec": {"clusterQueue": "shared"},
        },
    )
    used_when({"count/localqueues.kueue.x-k8s.io": "1", "count/secrets": "1"})


def test_pod_security_restricted_namespace(core):
    _ns(core, "locked", {"pod-security.kubernetes.io/enforce": "restricted"})
    core.create_namespaced_pod("locked", restricted_pod("ok"))
    bad = restricted_pod("nfs")
    bad["spec"]["volumes"] = [{"name": "data", "nfs": {"server": "nfs.example", "path": "/x"}}]
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("locked", bad)
    assert e.value.status == 403
    msg = _status(e.value)["message"]
    assert msg.startswith('pods "nfs" is forbidden: violates PodSecurity "restricted:latest": ')
    assert 'restricted volume types (volume "data" uses restricted volume type "nfs")' in msg
    root = restricted_pod("root")
    root["spec"]["securityContext"] = {"runAsUser": 0}
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("locked", root)
    assert "runAsNonRoot != true" in _status(e.value)["message"]


def test_owner_reference_garbage_collection(core):
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "dep", "ownerReferences": [ref]}}
    )
    core.create_namespaced_secret(
        "default",
        {"metadata": {"name": "dep2", "ownerReferences": [{**ref, "blockOwnerDeletion": True}]}},
    )
    # Foreground: the owner waits for its dependents, then goes.
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Foreground")

    def gone():
        names = {s.metadata.name for s in core.list_namespaced_secret("default").items}
        cms = {c.metadata.name for c in core.list_namespaced_config_map("default").items}
        return "dep" not in names and "dep2" not in names and "owner" not in cms

    wait_for(gone, what="owner and dependents deleted")


def test_orphan_propagation_keeps_dependents(core):
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "kept", "ownerReferences": [ref]}}
    )
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    wait_for(
        lambda: (
            "owner"
            not in {c.metadata.name for c in core.list_namespaced_config_map("default").items}
        )
    )
    kept = wait_for(
        lambda: (lambda s: s if not s.metadata.owner_references else None)(
            core.read_namespaced_secret("kept", "default")
        ),
        what="ownerReferences removed",
    )
    assert kept.metadata.name == "kept"


def test_finalizers_hold_deletion(core):
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "held", "finalizers": ["example.com/x"]}}
    )
    core.delete_namespaced_config_map("held", "default")
    cm = core.read_namespaced_config_map("held", "default")
    assert cm.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("held", "default")
    assert e.value.status == 404


def test_namespace_deletion_removes_contents(core):
    _ns(core, "doomed")
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}})
    # A finalizer on one object holds the namespace in Terminating until it is released.
    core.create_namespaced_config_map(
        "doomed", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    core.create_namespaced_pod("doomed", restricted_pod("p"))
    core.delete_namespace("doomed")
    assert core.read_namespace("doomed").status.phase == "Terminating"
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "late"}})
    assert e.value.status == 403
    assert "because it is being terminated" in _status(e.value)["message"]
    wait_for(
        lambda: (
            [c.metadata.name for c in core.list_namespaced_config_map("doomed").items] == ["held"]
        ),
        what="everything but the held object deleted",
    )
    assert core.list_namespaced_pod("doomed").items == []
    core.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})

    def ns_gone():
        try:
            core.read_namespace("doomed")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(ns_gone, timeout=20, what="namespace removed")


def test_prebound_pv_and_dynamic_provisioning(core):
    core.create_persistent_volume(
        {
            "metadata": {"name": "team-data-alice"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "nfs": {"server": "nfs.example", "path": "/vision"},
                "claimRef": {"namespace": "default", "name": "team-data"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": "team-data"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": "team-data-alice",
            },
        },
    )
    pvc = wait_for(
        lambda: (lambda c: c if c.status.phase == "Bound" else None)(
            core.read_namespaced_persistent_volume_claim("team-data", "default")
        ),
        what="PVC Bound",
    )
    assert pvc.spec.volume_name == "team-data-alice"
    pv = core.read_persistent_volume("team-data-alice")
    assert pv.status.phase == "Bound" and pv.spec.claim_ref.uid == pvc.metadata.uid

    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": "home"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "2Gi"}},
            },
        },
    )
    home = wait_for(
        lambda: (lambda c: c if c.status.phase == "Bound" else None)(
            core.read_namespaced_persistent_volume_claim("home", "default")
        ),
        what="home Bound",
    )
    assert home.spec.storage_class_name == "standard"
    assert home.spec.volume_name == f"pvc-{home.metadata.uid}"

    # Reclaim: deleting the claim releases the pre-bound PV (Retain) and deletes the
    # dynamically provisioned one (Delete).
    core.delete_namespaced_persistent_volume_claim("team-data", "default")
    core.delete_namespaced_persistent_volume_claim("home", "default")
    wait_for(
        lambda: core.read_persistent_volume("team-data-alice").status.phase == "Released",
        what="Released",
    )

    def provisioned_gone():
        return all(
            p.metadata.name != home.spec.volume_name for p in core.list_persistent_volume().items
        )

    wait_for(provisioned_gone, what="provisioned PV deleted")


def _raw(kubesim, method: str, path: str, body: dict) -> tuple[int, dict]:
    """A request the typed clients would refuse to send: JSON as given, admin's token."""
    cfg = yaml.safe_load(kubesim.kubeconfig.read_text())
    token = cfg["users"][0]["user"]["token"]
    req = urllib.request.Request(
        kubesim.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize(("metadata", "go_type"), [(7, "number"), ("x", "string"), ([], "array")])
def test_metadata_that_is_not_an_object_is_the_decoders_400(kubesim, core, metadata, go_type):
    """As kube-apiserver's JSON decoder answers (not a crash), on create and on replace."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    expected = (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        f"{go_type} into Go struct field ConfigMap.metadata of type v1.ObjectMeta"
    )
    path = "/api/v1/namespaces/default/configmaps"
    status, st = _raw(kubesim, "POST", path, body)
    assert (status, st["reason"], st["message"]) == (400, "BadRequest", expected)
    core.create_namespaced_config_map("default", {"metadata": {"name": "kept"}})
    status, st = _raw(kubesim, "PUT", f"{path}/kept", body)
    assert (status, st["message"]) == (400, expected)
    # A null metadata decodes (a zero ObjectMeta): then the name is what is missing.
    null = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": None, "data": {"a": "b"}}
    status, st = _raw(kubesim, "POST", path, null)
    assert (status, st["reason"]) == (422, "Invalid"), st


def test_api_service_names_the_https_listener_once_it_runs(kubesim, core):
    """`service/kubernetes` is how in-cluster clients find the API server: its Endpoints
    follow kubesim's https listener when that starts (what pods and kubectl use)."""

    def endpoint_port() -> int:
        ep = core.read_namespaced_endpoints("kubernetes", "default")
        return ep.subsets[0].ports[0].port

    assert endpoint_port() == kubesim.port  # only the plain listener so far
    https = kubesim.tls_url
    assert endpoint_port() == kubesim.tls_port != kubesim.port
    svc = core.read_namespaced_service("kubernetes", "default")
    assert svc.spec.ports[0].port == 443 and svc.spec.ports[0].target_port == kubesim.tls_port
    assert svc.spec.cluster_ip  # the defaults the API server gave it stay
    ep = core.read_namespaced_endpoints("kubernetes", "default")
    assert https == f"https://{ep.subsets[0].addresses[0].ip}:{endpoint_port()}"
    token = kubesim.create_token("default", "default")
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    req = urllib.request.Request(f"{https}/version", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        assert json.loads(resp.read())["major"] == "1"
