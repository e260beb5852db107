"""The objects a fresh cluster has before anyone writes to it.

What ``kubeadm``/``kind`` leave behind and clients take for granted: the four system
namespaces, the bootstrap RBAC policy, the nodes with their heartbeat Leases in
``kube-node-lease``, a default StorageClass, and ``service/kubernetes`` in ``default``
(``kubectl get all`` and ``kubectl get svc -A`` show it; its Endpoints point at kubesim).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubesim import rbac
from kubesim.controllers.volumes import PROVISIONER
from kubesim.scheduling import make_node

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
#: The first address of the default service CIDR, which the apiserver gives itself.
API_CLUSTER_IP = "10.96.0.1"


def _create(sim: KubeSim, obj: dict[str, Any]) -> dict[str, Any]:
    rt = sim.registry.by_kind(obj["apiVersion"], obj["kind"])
    assert rt is not None, obj["kind"]
    return sim.api.create(rt, obj["metadata"].get("namespace", "") if rt.namespaced else "", obj)


def node_lease(node: dict[str, Any]) -> dict[str, Any]:
    """The Lease a kubelet keeps in ``kube-node-lease`` (``kubectl describe node`` shows it)."""
    name, uid = node["metadata"]["name"], node["metadata"]["uid"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": "kube-node-lease",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}],
        },
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now},
    }


def cluster_objects(sim: KubeSim) -> None:
    for ns in NAMESPACES:
        _create(sim, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for obj in rbac.bootstrap_policy():
        _create(sim, obj)
    for spec in sim.node_specs:
        node = _create(sim, make_node(**{"kubelet_version": f"v{sim.k8s_version}.0", **spec}))
        _create(sim, node_lease(node))
    _create(
        sim,
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        },
    )


def api_service(sim: KubeSim) -> None:
    """``service/kubernetes`` and its Endpoints: kubesim's own address. As on a real
    cluster, they name the API server's https listener once it runs (what in-cluster
    clients and kubectl use; pods of the process kubelet start it); before that, the
    plain HTTP one. Called again when the https listener starts, to re-point them."""
    port = sim.tls_port or sim.port
    labels = {"component": "apiserver", "provider": "kubernetes"}
    _create_or_replace(
        sim,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
            "spec": {
                "clusterIP": API_CLUSTER_IP,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                "type": "ClusterIP",
            },
        },
    )
    _create_or_replace(
        sim,
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
            "subsets": [
                {
                    "addresses": [{"ip": sim.host}],
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                }
            ],
        },
    )


def _create_or_replace(sim: KubeSim, obj: dict[str, Any]) -> None:
    rt = sim.registry.by_kind(obj["apiVersion"], obj["kind"])
    assert rt is not None, obj["kind"]
    m = obj["metadata"]
    current = sim.store.peek(rt, m["namespace"], m["name"])
    if current is None:
        _create(sim, obj)
        return
    merged = {**current, **{k: v for k, v in obj.items() if k != "metadata"}}
    merged["metadata"] = {**current["metadata"], "labels": m["labels"]}
    if rt.kind == "Service":  # the API server's defaults stay (clusterIPs, ipFamilies...)
        merged["spec"] = {**current["spec"], **obj["spec"]}
    sim.store.replace(rt, merged, check_rv=False)
