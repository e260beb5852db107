"""The PV controller's binding when the claim comes first: a claim waits, Pending, and binds
as soon as what it needs appears (the PV it names, a matching Available PV, its
StorageClass); an unrelated PV does not take it."""

from __future__ import annotations

import copy
from typing import Any

from kubesim.sim import KubeSim
from tests.kubesim.helpers import restricted_pod, wait_for


def _pv(name: str, size: str = "10Gi", sc: str = "manual", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": sc,
            "hostPath": {"path": f"/data/{name}"},
            **spec,
        },
    }


def _pvc(name: str, size: str = "1Gi", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            **spec,
        },
    }


def _phase(sim: KubeSim, plural: str, name: str, ns: str = "") -> str | None:
    obj = sim.lookup(plural, ns, name)
    return (obj or {}).get("status", {}).get("phase")


def _bound(sim: KubeSim, claim: str) -> dict[str, Any] | None:
    pvc = sim.lookup("persistentvolumeclaims", "default", claim)
    return pvc if (pvc or {}).get("status", {}).get("phase") == "Bound" else None


def test_claim_naming_a_pv_binds_when_that_pv_appears(kubesim: KubeSim) -> None:
    kubesim.apply(_pvc("data", storageClassName="manual", volumeName="later"))
    kubesim.apply(_pv("other"))  # Available, but the claim wants "later"
    wait_for(lambda: _phase(kubesim, "persistentvolumes", "other") == "Available", what="other")
    assert _phase(kubesim, "persistentvolumeclaims", "data", "default") == "Pending"

    kubesim.apply(_pv("later"))
    pvc = wait_for(lambda: _bound(kubesim, "data"), what="claim bound to the PV it names")
    assert pvc["spec"]["volumeName"] == "later"
    assert _phase(kubesim, "persistentvolumes", "other") == "Available"
    pv = kubesim.lookup("persistentvolumes", "", "later")
    assert pv is not None and pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]


def test_waiting_claim_takes_a_matching_pv_when_one_becomes_available(kubesim: KubeSim) -> None:
    kubesim.apply(_pvc("scratch", size="5Gi", storageClassName="manual"))
    # Too small, and claimed by another claim: neither is for "scratch".
    kubesim.apply(_pv("small", size="1Gi"))
    kubesim.apply(_pv("taken", claimRef={"namespace": "default", "name": "someone-else"}))
    wait_for(lambda: _phase(kubesim, "persistentvolumes", "small") == "Available", what="small")
    wait_for(lambda: _phase(kubesim, "persistentvolumes", "taken") == "Available", what="taken")
    assert _phase(kubesim, "persistentvolumeclaims", "scratch", "default") == "Pending"

    kubesim.apply(_pv("big", size="20Gi"))
    pvc = wait_for(lambda: _bound(kubesim, "scratch"), what="claim bound to the new PV")
    assert pvc["spec"]["volumeName"] == "big"
    assert _phase(kubesim, "persistentvolumes", "big") == "Bound"


def test_claim_of_a_missing_class_is_provisioned_once_the_class_exists(kubesim: KubeSim) -> None:
    kubesim.apply(_pvc("fast-home", storageClassName="fast"))
    assert _phase(kubesim, "persistentvolumeclaims", "fast-home", "default") == "Pending"

    kubesim.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast"},
            "provisioner": "kubesim.io/hostpath",
            "reclaimPolicy": "Delete",
        }
    )
    pvc = wait_for(lambda: _bound(kubesim, "fast-home"), what="claim provisioned and bound")
    assert pvc["spec"]["volumeName"] == f"pvc-{pvc['metadata']['uid']}"
    pv = kubesim.lookup("persistentvolumes", "", pvc["spec"]["volumeName"])
    assert pv is not None and pv["spec"]["storageClassName"] == "fast"


def test_claim_naming_a_released_pv_waits_until_its_claim_ref_is_cleared(
    kubesim: KubeSim,
) -> None:
    """A Released PV (its claim deleted, e.g. with its namespace) still names the old
    claim's uid: a new claim of the same name that asks for it stays Pending, with the PV
    controller's FailedBinding warning, until an admin (or teamhub) clears the uid."""
    kubesim.apply(_pv("kept", persistentVolumeReclaimPolicy="Retain"))
    kubesim.apply(_pvc("data", storageClassName="manual", volumeName="kept"))
    old = wait_for(lambda: _bound(kubesim, "data"), what="the first claim bound")
    claims = kubesim.api.rt("", "persistentvolumeclaims")
    kubesim.call(kubesim.api.delete, claims, "default", "data", user="kubesim-admin")
    wait_for(lambda: _phase(kubesim, "persistentvolumes", "kept") == "Released", what="Released")

    kubesim.apply(_pvc("data", storageClassName="manual", volumeName="kept"))
    new = kubesim.lookup("persistentvolumeclaims", "default", "data")
    assert new is not None and new["metadata"]["uid"] != old["metadata"]["uid"]

    def failed_binding() -> list[str]:
        events = kubesim.call(lambda: list(kubesim.store.iter(kubesim.api.rt("", "events"))))
        uid = new["metadata"]["uid"]
        return [
            e["message"]
            for e in events
            if e["reason"] == "FailedBinding" and e["involvedObject"]["uid"] == uid
        ]

    assert wait_for(failed_binding, what="FailedBinding") == [
        'volume "kept" already bound to a different claim.'
    ]
    assert _phase(kubesim, "persistentvolumeclaims", "data", "default") == "Pending"

    pv = copy.deepcopy(kubesim.lookup("persistentvolumes", "", "kept"))
    pv["spec"]["claimRef"] = {"namespace": "default", "name": "data"}  # no uid: pre-bound
    kubesim.apply(pv)
    pvc = wait_for(lambda: _bound(kubesim, "data"), what="the new claim bound")
    assert pvc["metadata"]["uid"] == new["metadata"]["uid"]
    pv = kubesim.lookup("persistentvolumes", "", "kept")
    assert pv["spec"]["claimRef"]["uid"] == new["metadata"]["uid"]
    assert pv["status"]["phase"] == "Bound"


def test_a_claim_waiting_for_its_first_consumer_binds_on_its_pods_node(kubesim: KubeSim) -> None:
    """WaitForFirstConsumer: the claim stays Pending (with the PV controller's event) and
    nothing is provisioned until a pod uses it; the scheduler then picks the pod's node,
    tells the claim (selected-node annotation), the claim is provisioned and bound, and
    only then is the pod bound to that node."""
    kubesim.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "late"},
            "provisioner": "kubesim.io/hostpath",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    kubesim.apply(_pvc("scratch", storageClassName="late"))

    def waiting() -> bool:
        events = kubesim.call(lambda: list(kubesim.store.iter(kubesim.api.rt("", "events"))))
        return any(
            e["reason"] == "WaitForFirstConsumer"
            and e["involvedObject"]["name"] == "scratch"
            and e["message"] == "waiting for first consumer to be created before binding"
            for e in events
        )

    wait_for(waiting, what="the WaitForFirstConsumer event")
    assert _phase(kubesim, "persistentvolumeclaims", "scratch", "default") == "Pending"
    pvs = kubesim.call(lambda: list(kubesim.store.iter(kubesim.api.rt("", "persistentvolumes"))))
    assert pvs == []

    pod = restricted_pod(
        "user", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "scratch"}}]
    )
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    kubesim.apply({"apiVersion": "v1", "kind": "Pod", **pod})
    pvc = wait_for(lambda: _bound(kubesim, "scratch"), what="the claim bound")
    running = wait_for(
        lambda: (
            (p := kubesim.lookup("pods", "default", "user"))
            and p.get("status", {}).get("phase") == "Running"
            and p
        ),
        what="the pod running",
    )
    node = pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"]
    assert running["spec"]["nodeName"] == node
    assert pvc["spec"]["volumeName"] == f"pvc-{pvc['metadata']['uid']}"
    reasons = [
        e["reason"]
        for e in kubesim.call(lambda: list(kubesim.store.iter(kubesim.api.rt("", "events"))))
        if e["involvedObject"]["name"] == "user"
    ]
    assert "FailedScheduling" not in reasons and "Scheduled" in reasons


def test_a_volume_provisioned_for_a_node_keeps_its_pods_there(kubesim: KubeSim) -> None:
    """A WaitForFirstConsumer volume is provisioned for its first pod's node (node
    affinity, as node-local provisioners write it): a later pod using it goes to that
    node, and one that may not run there is unschedulable, with the scheduler's reason."""
    kubesim.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "local"},
            "provisioner": "kubesim.io/hostpath",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    kubesim.apply(_pvc("cache", storageClassName="local", accessModes=["ReadWriteMany"]))

    def pod(name: str, **spec: Any) -> dict[str, Any]:
        p = restricted_pod(
            name, volumes=[{"name": "c", "persistentVolumeClaim": {"claimName": "cache"}}], **spec
        )
        return {"apiVersion": "v1", "kind": "Pod", **p}

    def node_of(name: str) -> str | None:
        return ((kubesim.lookup("pods", "default", name) or {}).get("spec") or {}).get("nodeName")

    kubesim.apply(pod("first"))
    first = wait_for(lambda: node_of("first"), what="the first pod scheduled")
    pvc = wait_for(lambda: _bound(kubesim, "cache"), what="the claim bound")
    pv = kubesim.lookup("persistentvolumes", "", pvc["spec"]["volumeName"])
    (term,) = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [first]}
    ]

    # The other node is less allocated now: only the volume keeps the pod on this one.
    kubesim.apply(pod("second"))
    assert wait_for(lambda: node_of("second"), what="the second pod scheduled") == first

    nodes = kubesim.call(lambda: list(kubesim.store.iter(kubesim.api.rt("", "nodes"))))
    (other,) = [n["metadata"]["name"] for n in nodes if n["metadata"]["name"] != first]
    kubesim.apply(pod("elsewhere", nodeSelector={"kubernetes.io/hostname": other}))

    def unschedulable() -> str | None:
        p = kubesim.lookup("pods", "default", "elsewhere") or {}
        conds = (p.get("status") or {}).get("conditions") or []
        return next((c["message"] for c in conds if c.get("reason") == "Unschedulable"), None)

    message = wait_for(unschedulable, what="the pod unschedulable")
    assert "node(s) had volume node affinity conflict" in message
    assert node_of("elsewhere") is None


def _local_pv(name: str, node: str, size: str = "10Gi") -> dict[str, Any]:
    """A local volume, as admins make them: on one node, of a class nothing provisions."""
    affinity = {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                    ]
                }
            ]
        }
    }
    return _pv(name, size=size, sc="local-storage", nodeAffinity=affinity)


def test_a_waiting_claim_of_static_volumes_gets_one_on_its_pods_node(kubesim: KubeSim) -> None:
    """WaitForFirstConsumer without a provisioner (local volumes): the PV controller never
    matches the claim itself; the scheduler sends the pod only to a node with a volume for
    each of its claims (never one volume for two), says why when there is none
    (``didn't find available persistent volumes to bind``), retries when a volume
    appears, and reserves the one on the chosen node for the claim."""
    kubesim.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "local-storage"},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    nodes = sorted(
        n["metadata"]["name"]
        for n in kubesim.call(lambda: list(kubesim.store.iter(kubesim.api.rt("", "nodes"))))
    )
    one, two = nodes[:2]
    kubesim.apply(_local_pv("on-one", one))
    kubesim.apply(_pvc("fast", size="5Gi", storageClassName="local-storage"))
    kubesim.apply(_pvc("scratch", size="1Gi", storageClassName="local-storage"))
    wait_for(lambda: _phase(kubesim, "persistentvolumes", "on-one") == "Available", what="PV")

    def pod(name: str, claims: list[str], **spec: Any) -> dict[str, Any]:
        volumes = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]
        return {"apiVersion": "v1", "kind": "Pod", **restricted_pod(name, volumes=volumes, **spec)}

    def unschedulable(name: str) -> str | None:
        p = kubesim.lookup("pods", "default", name) or {}
        conds = (p.get("status") or {}).get("conditions") or []
        return next((c["message"] for c in conds if c.get("reason") == "Unschedulable"), None)

    def node_of(name: str) -> str | None:
        return ((kubesim.lookup("pods", "default", name) or {}).get("spec") or {}).get("nodeName")

    # Two claims, one volume in the cluster: no node has a volume for each.
    kubesim.apply(pod("both", ["fast", "scratch"]))
    message = wait_for(lambda: unschedulable("both"), what="'both' unschedulable")
    assert message.startswith(
        "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind."
    ), message
    # The PV controller left the claims alone: still Pending, the volume still free.
    assert _phase(kubesim, "persistentvolumeclaims", "fast", "default") == "Pending"
    assert _phase(kubesim, "persistentvolumes", "on-one") == "Available"
    assert "claimRef" not in kubesim.lookup("persistentvolumes", "", "on-one")["spec"]

    # A pod for node two: that node has no volume, the other does not match.
    kubesim.apply(pod("there", ["fast"], nodeSelector={"kubernetes.io/hostname": two}))
    message = wait_for(lambda: unschedulable("there"), what="'there' unschedulable")
    assert message.startswith(
        "0/2 nodes are available: 1 node(s) didn't find available persistent volumes to bind, "
        "1 node(s) didn't match Pod's node affinity/selector."
    ), message

    # A volume appears on node two: the pod is retried and gets it (not the smaller one's).
    kubesim.apply(_local_pv("on-two", two))
    assert wait_for(lambda: node_of("there"), what="'there' scheduled") == two
    pvc = wait_for(lambda: _bound(kubesim, "fast"), what="'fast' bound")
    assert pvc["spec"]["volumeName"] == "on-two"
    pv = kubesim.lookup("persistentvolumes", "", "on-two")
    assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert "volume.kubernetes.io/selected-node" not in (pvc["metadata"].get("annotations") or {})

    # "both" still finds a volume for "scratch" only (on node one, "fast" is bound on two):
    # its bound claim pins it to node two, where no volume is left for "scratch".
    assert node_of("both") is None
    kubesim.apply(_local_pv("on-two-more", two, size="2Gi"))
    assert wait_for(lambda: node_of("both"), what="'both' scheduled") == two
    scratch = wait_for(lambda: _bound(kubesim, "scratch"), what="'scratch' bound")
    assert scratch["spec"]["volumeName"] == "on-two-more"
    assert _phase(kubesim, "persistentvolumes", "on-one") == "Available"


def test_a_pod_waiting_for_its_volumes_holds_its_place_on_the_node(tmp_path) -> None:
    """While a pod's claims bind on the node chosen for it, that node's capacity is the
    pod's: another pod does not take it (kube-scheduler's cache assumes the pod there)."""
    node = {"name": "only", "cpu": "2", "memory": "8Gi", "pods": 10}
    sim = KubeSim(kubelet="instant", nodes=[node], data_dir=tmp_path / "kubesim").start()
    try:
        sim.apply(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": "external"},
                "provisioner": "example.com/slow",  # no such provisioner runs here
                "volumeBindingMode": "WaitForFirstConsumer",
            }
        )
        sim.apply(_pvc("data", storageClassName="external"))

        def pod(name: str, cpu: str, **kw: Any) -> dict[str, Any]:
            p = restricted_pod(name, **kw)
            p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
            return {"apiVersion": "v1", "kind": "Pod", **p}

        claim = {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}
        sim.apply(pod("waiting", "1500m", volumes=[claim]))
        pvc = wait_for(
            lambda: (
                (c := sim.lookup("persistentvolumeclaims", "default", "data"))
                and "volume.kubernetes.io/selected-node" in (c["metadata"].get("annotations") or {})
                and c
            ),
            what="the claim told its node",
        )
        assert pvc["status"]["phase"] == "Pending"  # nobody provisions for it

        sim.apply(pod("other", "1"))

        def message(name: str) -> str | None:
            p = sim.lookup("pods", "default", name) or {}
            conds = (p.get("status") or {}).get("conditions") or []
            return next((c["message"] for c in conds if c.get("reason") == "Unschedulable"), None)

        text = wait_for(lambda: message("other"), what="'other' unschedulable")
        assert text.startswith("0/1 nodes are available: 1 Insufficient cpu."), text

        # The waiting pod goes away: its place is free again.
        sim.call(lambda: sim.store.remove(sim.api.rt("", "pods"), "default", "waiting"))
        wait_for(
            lambda: ((sim.lookup("pods", "default", "other") or {}).get("spec") or {}).get(
                "nodeName"
            ),
            what="'other' bound once the place is free",
        )
    finally:
        sim.stop()
