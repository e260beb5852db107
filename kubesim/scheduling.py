"""The default scheduler's node filter, scoring and FailedScheduling message, in miniature.

Why: users see *why* a notebook or a GPU job is Pending through the scheduler's own
sentence (``0/2 nodes are available: 2 Insufficient nvidia.com/gpu. ...``), and our
code shows it back to them. So this follows kube-scheduler's default profile where
that sentence comes from: per node, the first failing filter plugin in profile order
(NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit)
gives the node's reasons; reasons are counted and sorted (``FitError.Error``); then
the PostFilter plugins (DynamicResources, DefaultPreemption) add their part.

Phrasing follows Kubernetes 1.34+ (taint values no longer printed, the DynamicResources
PostFilter on by default, NodeResourcesFit marking "larger than the whole node" as
unresolvable). Of the VolumeBinding plugin, the PreFilter is modelled: a pod whose claim is
missing, being deleted, or not yet bound (with Immediate binding) is not scheduled, and is
tried again when claims change (:func:`volume_prefilter`); claims that wait for their
first consumer pass, and the scheduler controller binds their pod once the node it chose
has them bound (``controllers/scheduler.py``); of its Filter, the node affinity of the
volumes the pod's claims name (``volume_affinity``) and, for claims waiting for their first
consumer, whether the node has an Available volume for each or its class can provision
one (``volumes_fit``, ``node(s) didn't find available persistent volumes to bind``; the
matching is :mod:`kubesim.volumematch`). Not implemented: host ports, pod (anti-)affinity, topology
spread, the other volume filters, DRA filters, preferred-affinity
scoring, and preemption itself: pods are assumed to share one priority, so a node that is
merely full reports "No preemption victims found". A pod with ``spec.nodeName`` bypasses
the scheduler, as in a real cluster.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kubesim.quantity import (
    BINARY_SI,
    add_resources,
    effective_requests,
    format_quantity,
    milli_value,
    parse_quantity,
    pod_resources,
    resource_list,
    value,
)

REASON_NODE_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_TAINT = "node(s) had untolerated taint(s)"
REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_VOLUME_NODE_AFFINITY = "node(s) had volume node affinity conflict"
REASON_NO_VOLUMES = "node(s) didn't find available persistent volumes to bind"
REASON_TOO_MANY_PODS = "Too many pods"
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
SCHEDULING_GATED = "Scheduling is blocked due to non-empty scheduling gates"
DRA_POSTFILTER = "no new claims to deallocate"
PREEMPTION_NO_VICTIMS = "No preemption victims found for incoming pod"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
PREEMPTION_NEVER = "not eligible due to preemptionPolicy=Never."

TERMINAL_PHASES = ("Succeeded", "Failed")
# Requests the scheduler assumes for scoring when a container sets none (schedutil).
_NON_ZERO_DEFAULTS = {"cpu": Decimal("0.1"), "memory": Decimal(200 * 1024 * 1024)}
# Conditions the node lifecycle controller turns into NoSchedule taints.
_CONDITION_TAINTS = {
    ("Ready", "False"): "node.kubernetes.io/not-ready",
    ("Ready", "Unknown"): "node.kubernetes.io/unreachable",
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
}


@dataclass
class SchedulingFailure:
    """Why a pod was not bound: ``message`` is the FailedScheduling event / condition text.

    ``reason`` is the PodScheduled condition reason (``Unschedulable`` or
    ``SchedulingGated``); ``node_reasons`` lists each node's filter reasons.
    """

    message: str
    reason: str = "Unschedulable"
    node_reasons: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


#: A pod's (effective requests, requests as scoring counts them): see ``requests_of``.
Requests = Callable[[dict[str, Any]], tuple[dict[str, Decimal], dict[str, Decimal]]]


def requests_of(pod: dict[str, Any]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """What a pod on a node takes: its effective requests (NodeResourcesFit's filter) and
    its requests with unset cpu/memory counted as the scoring defaults (LeastAllocated).

    The scheduler controller passes a cached version of this for stored pods, whose
    content their resourceVersion identifies (the real scheduler keeps them in NodeInfo).
    Callers must not change the dicts returned.
    """
    return effective_requests(pod), pod_resources(pod, "requests", _NON_ZERO_DEFAULTS)


def pod_requests(pod: dict[str, Any]) -> dict[str, Decimal]:
    """What the pod takes from a node: effective requests plus ``pods: 1``."""
    return {**effective_requests(pod), "pods": Decimal(1)}


# ---------------------------------------------------------------- filters


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("key") and t["key"] != taint.get("key"):
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists" or (
            op == "Equal" and (t.get("value") or "") == (taint.get("value") or "")
        ):
            return True
    return False


def node_taints(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Spec taints plus those the node controller derives from conditions and cordoning."""
    taints = list((node.get("spec") or {}).get("taints") or [])
    keys = {(t.get("key"), t.get("effect")) for t in taints}
    derived = [
        _CONDITION_TAINTS.get((c.get("type"), c.get("status")))
        for c in (node.get("status") or {}).get("conditions") or []
    ]
    if (node.get("spec") or {}).get("unschedulable"):
        derived.append("node.kubernetes.io/unschedulable")
    for key in derived:
        if key and (key, "NoSchedule") not in keys:
            taints.append({"key": key, "effect": "NoSchedule"})
            keys.add((key, "NoSchedule"))
    return taints


def _expression_matches(expr: dict[str, Any], values_by_key: dict[str, str]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    present, actual = key in values_by_key, values_by_key.get(key, "")
    if op in ("In", "NotIn", "Exists", "DoesNotExist"):
        return {
            "In": present and actual in values,
            "NotIn": not present or actual not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[op]
    if op in ("Gt", "Lt") and present and len(values) == 1:
        try:
            a, b = int(actual), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _matches_node_affinity(pod: dict[str, Any], node: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return matches_node_selector(required, node)


def matches_node_selector(required: dict[str, Any] | None, node: dict[str, Any]) -> bool:
    """Whether ``node`` matches a NodeSelector (None: every node does)."""
    if required is None:
        return True
    labels = (node.get("metadata") or {}).get("labels") or {}
    fields = {"metadata.name": (node.get("metadata") or {}).get("name", "")}
    for term in required.get("nodeSelectorTerms") or []:
        exprs, fexprs = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not fexprs:
            continue  # an empty term matches no node
        if all(_expression_matches(e, labels) for e in exprs) and all(
            _expression_matches(e, fields) for e in fexprs
        ):
            return True
    return False


def _is_scalar(name: str) -> bool:
    """Extended (``vendor/x``), hugepages and prefixed native resources: compared as integers."""
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


@dataclass
class NodeUsage:
    """What the pods bound to a node take, summed: the part of kube-scheduler's NodeInfo
    that NodeResourcesFit reads (the pod count, ``Requested`` and ``NonZeroRequested``).

    Why a running sum: the real scheduler keeps one per node in its cache, updated as pods
    come and go, so a scheduling pass costs the same with 10 pods on a node or 1000; the
    scheduler controller does the same (``add`` with ``sign=-1`` when a pod goes).
    """

    pods: int = 0
    requested: dict[str, Decimal] = field(default_factory=dict)
    non_zero: dict[str, Decimal] = field(default_factory=dict)

    def add(self, requests: tuple[dict[str, Decimal], dict[str, Decimal]], sign: int = 1) -> None:
        """Count a pod in (``sign=1``) or out (``-1``), by its ``requests_of``."""
        self.pods += sign
        for total, more in zip((self.requested, self.non_zero), requests, strict=True):
            for k, v in more.items():
                total[k] = total.get(k, Decimal(0)) + (v if sign > 0 else -v)

    @classmethod
    def of(
        cls, pods: list[dict[str, Any]], pod: dict[str, Any], requests: Requests = requests_of
    ) -> NodeUsage:
        """The usage of ``pods`` that hold resources (not terminal, not ``pod`` itself)."""
        usage = cls()
        for p in _active(pods, pod):
            usage.add(requests(p))
        return usage


#: Per node name: its usage, or the list of pods bound to it (summed when read).
OnNode = Mapping[str, "NodeUsage | list[dict[str, Any]]"]


def _usage_on(on_node: OnNode, name: str, pod: dict[str, Any], requests: Requests) -> NodeUsage:
    found = on_node.get(name)
    if isinstance(found, NodeUsage):
        return found
    return NodeUsage.of(found or [], pod, requests)


def _fit(pod: dict, node: dict, usage: NodeUsage) -> tuple[list[str], bool]:
    """NodeResourcesFit: insufficient resources, and whether even an empty node is too small."""
    alloc = resource_list((node.get("status") or {}).get("allocatable"))
    used = usage.requested
    want = effective_requests(pod)
    reasons, unresolvable = [], False
    if usage.pods + 1 > value(alloc.get("pods", Decimal(0))):
        reasons.append(REASON_TOO_MANY_PODS)
    for name, req in sorted(want.items()):
        if name not in ("cpu", "memory", "ephemeral-storage") and not _is_scalar(name):
            continue  # resources the scheduler does not account for
        scale = milli_value if name == "cpu" else value
        r, a, u = scale(req), scale(alloc.get(name, 0)), scale(used.get(name, 0))
        if r > 0 and r > a - u:
            reasons.append(f"Insufficient {name}")
            unresolvable = unresolvable or r > a
    return reasons, unresolvable


def filter_node(
    pod: dict[str, Any],
    node: dict[str, Any],
    on_node: NodeUsage | list[dict[str, Any]],
    requests: Requests = requests_of,
    volume_affinity: list[dict[str, Any]] = (),  # type: ignore[assignment]
    volumes_fit: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[str], bool]:
    """Reasons this node cannot take the pod (empty: it can), and if preemption cannot help.

    ``on_node``: what the node's pods take (a :class:`NodeUsage`), or the pods bound to
    it (each taking ``requests(pod)``). The VolumeBinding plugin's Filter, last here as
    in the default profile: ``volume_affinity``, the ``spec.nodeAffinity.required`` of
    the PVs the pod's claims name (a node must match each); ``volumes_fit(node)``,
    whether its claims waiting for a first consumer can have volumes there
    (:func:`kubesim.volumematch.find_volumes`).
    """
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    cordon = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    if (node.get("spec") or {}).get("unschedulable") and not _tolerates(tolerations, cordon):
        return [REASON_NODE_UNSCHEDULABLE], True
    for taint in node_taints(node):
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(
            tolerations, taint
        ):
            return [REASON_TAINT], True
    if not _matches_node_affinity(pod, node):
        return [REASON_NODE_AFFINITY], True
    usage = on_node if isinstance(on_node, NodeUsage) else NodeUsage.of(on_node, pod, requests)
    reasons, hopeless = _fit(pod, node, usage)
    if reasons:
        return reasons, hopeless
    if not all(matches_node_selector(required, node) for required in volume_affinity):
        reasons.append(REASON_VOLUME_NODE_AFFINITY)
    if volumes_fit is not None and not volumes_fit(node):
        reasons.append(REASON_NO_VOLUMES)
    return reasons, bool(reasons)


def _active(pods: list[dict[str, Any]], pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Pods holding node resources: not terminal, and not the pod being scheduled."""
    live = [p for p in pods if (p.get("status") or {}).get("phase") not in TERMINAL_PHASES]
    own = _key(pod)
    return [p for p in live if _key(p) != own]


def _key(pod: dict[str, Any]) -> tuple[str, str]:
    m = pod.get("metadata") or {}
    return m.get("namespace") or "", m.get("name") or ""


# ---------------------------------------------------------------- scoring and preemption


def _least_allocated(pod: dict, node: dict, usage: NodeUsage) -> int:
    """NodeResourcesFit LeastAllocated score over cpu and memory (weights 1, max 100)."""
    alloc = resource_list((node.get("status") or {}).get("allocatable"))
    requested = dict(usage.non_zero)
    add_resources(requested, pod_resources(pod, "requests", _NON_ZERO_DEFAULTS))
    total = 0
    for name, scale in (("cpu", milli_value), ("memory", value)):
        cap, req = scale(alloc.get(name, Decimal(0))), scale(requested.get(name, Decimal(0)))
        total += 0 if cap == 0 or req > cap else (cap - req) * 100 // cap
    return total // 2


def _histogram(reasons: dict[str, list[str]]) -> str:
    counts = Counter(r for rs in reasons.values() for r in rs)
    return ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))


UNBOUND_IMMEDIATE_CLAIMS = "pod has unbound immediate PersistentVolumeClaims"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"


def volume_prefilter(
    pod: dict[str, Any],
    claim: Callable[[str], dict[str, Any] | None],
    storage_class: Callable[[str], dict[str, Any] | None],
) -> str | None:
    """Why the VolumeBinding plugin's PreFilter rejects ``pod`` (None: it does not).

    ``claim(name)`` is the PersistentVolumeClaim of that name in the pod's namespace,
    ``storage_class(name)`` the StorageClass. As kube-scheduler: the first claim that is
    missing or being deleted is named; otherwise any claim not yet fully bound
    (``spec.volumeName`` and the ``bind-completed`` annotation) whose class binds
    immediately (no class, an unknown class, or not ``WaitForFirstConsumer``) blocks.
    """
    unbound = False
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        ref = vol.get("persistentVolumeClaim")
        if ref is None:
            continue
        name = ref.get("claimName", "")
        pvc = claim(name)
        if pvc is None:
            return f'persistentvolumeclaim "{name}" not found'
        meta = pvc.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return f'persistentvolumeclaim "{name}" is being deleted'
        if (pvc.get("spec") or {}).get("volumeName") and BIND_COMPLETED in (
            meta.get("annotations") or {}
        ):
            continue
        class_name = (pvc.get("spec") or {}).get("storageClassName") or ""
        sc = storage_class(class_name) if class_name else None
        if not (sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer"):
            unbound = True
    return UNBOUND_IMMEDIATE_CLAIMS if unbound else None


def schedule(
    pod: dict[str, Any],
    nodes: list[dict[str, Any]],
    on_node: OnNode,
    requests: Requests = requests_of,
    prefilter: str | None = None,
    volume_affinity: list[dict[str, Any]] = (),  # type: ignore[assignment]
    volumes_fit: Callable[[dict[str, Any]], bool] | None = None,
) -> str | SchedulingFailure:
    """The node the default scheduler would bind ``pod`` to, or why it cannot.

    ``on_node`` maps node name to what its pods take (a :class:`NodeUsage`, as the
    scheduler controller keeps), or to the pods bound there, each taking
    ``requests(pod)``; ``prefilter`` is a PreFilter
    plugin's rejection (:func:`volume_prefilter`), which no node can overcome;
    ``volume_affinity`` and ``volumes_fit`` as for :func:`filter_node`. Among
    feasible nodes the least allocated wins; ties go to the first name (the real
    scheduler picks at random).
    """
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    if spec.get("schedulingGates"):
        return SchedulingFailure(SCHEDULING_GATED, reason="SchedulingGated")
    if not nodes:
        return SchedulingFailure(NO_NODES_AVAILABLE)
    n = len(nodes)
    if prefilter:
        message = f"0/{n} nodes are available: {prefilter}."
        if spec.get("preemptionPolicy") == "Never":
            return SchedulingFailure(f"{message} {DRA_POSTFILTER}, preemption: {PREEMPTION_NEVER}")
        preemption = f"preemption: 0/{n} nodes are available: {n} {PREEMPTION_NOT_HELPFUL}."
        return SchedulingFailure(f"{message} {DRA_POSTFILTER}, {preemption}")
    failures: dict[str, list[str]] = {}
    unresolvable: set[str] = set()
    feasible: list[tuple[int, str]] = []
    for node in nodes:
        name = node["metadata"]["name"]
        usage = _usage_on(on_node, name, pod, requests)
        reasons, hopeless = filter_node(pod, node, usage, requests, volume_affinity, volumes_fit)
        if reasons:
            failures[name] = reasons
            if hopeless:
                unresolvable.add(name)
        else:
            score = _least_allocated(pod, node, usage)
            feasible.append((-score, name))
    if feasible:
        return min(feasible)[1]
    message = f"0/{n} nodes are available: {_histogram(failures)}."
    if spec.get("preemptionPolicy") == "Never":
        return SchedulingFailure(
            f"{message} {DRA_POSTFILTER}, preemption: {PREEMPTION_NEVER}", node_reasons=failures
        )
    post = {
        name: [PREEMPTION_NOT_HELPFUL if name in unresolvable else PREEMPTION_NO_VICTIMS]
        for name in (node["metadata"]["name"] for node in nodes)
    }
    preemption = f"preemption: 0/{n} nodes are available: {_histogram(post)}."
    return SchedulingFailure(f"{message} {DRA_POSTFILTER}, {preemption}", node_reasons=failures)


# ---------------------------------------------------------------- nodes


KUBELET_VERSION = "v1.34.2"
_HEALTHY = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)
_READY = ("Ready", "True", "KubeletReady", "kubelet is posting ready status")
_LOST = ("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")


def make_node(
    name: str,
    cpu: str = "4",
    memory: str = "16Gi",
    pods: int = 110,
    gpus: int = 0,
    labels: dict[str, str] | None = None,
    *,
    taints: list[dict[str, Any]] | None = None,
    ready: bool = True,
    unschedulable: bool = False,
    ephemeral_storage: str = "100Gi",
    reserved_memory: str = "100Mi",
    kubelet_version: str = KUBELET_VERSION,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A Node as a kubelet registers it (v1), with capacity, allocatable and conditions.

    Allocatable follows kubelet defaults: capacity minus the hard eviction thresholds
    (``memory.available<100Mi``, ``nodefs.available<10%``); pass ``reserved_memory="0"``
    for allocatable memory equal to capacity. GPUs appear as ``nvidia.com/gpu`` the way
    the NVIDIA device plugin advertises them. ``ready=False`` is a node whose kubelet
    stopped reporting; ``unschedulable=True`` a cordoned one.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha256(name.encode()).digest()
    mem, disk = parse_quantity(memory), parse_quantity(ephemeral_storage)
    capacity = {
        "cpu": format_quantity(parse_quantity(cpu)),
        "ephemeral-storage": format_quantity(disk, BINARY_SI),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": format_quantity(mem, BINARY_SI),
        "pods": str(pods),
        **({"nvidia.com/gpu": str(gpus)} if gpus else {}),
    }
    allocatable = {
        **capacity,
        "ephemeral-storage": format_quantity(value(disk * Decimal("0.9")), BINARY_SI),
        "memory": format_quantity(max(mem - parse_quantity(reserved_memory), 0), BINARY_SI),
    }
    cidr = f"10.244.{digest[0]}.0/24"
    spec: dict[str, Any] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    all_taints = list(taints or [])
    if unschedulable:
        spec["unschedulable"] = True
        cordon = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        all_taints.append({**cordon, "timeAdded": stamp})
    if all_taints:
        spec["taints"] = all_taints
    conditions = [
        {"type": kind, "status": status, "lastHeartbeatTime": stamp}
        | {"lastTransitionTime": stamp, "reason": reason, "message": message}
        for kind, status, reason, message in (*_HEALTHY, _READY if ready else _LOST)
    ]
    ids = {k: uuid.uuid5(uuid.NAMESPACE_DNS, f"{k}.{name}") for k in ("boot", "machine", "system")}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                **({"nvidia.com/gpu.present": "true"} if gpus else {}),
                **(labels or {}),
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": {
            "addresses": [
                {"address": f"10.0.{digest[1]}.{digest[2] % 250 + 2}", "type": "InternalIP"},
                {"address": name, "type": "Hostname"},
            ],
            "allocatable": dict(sorted(allocatable.items())),
            "capacity": dict(sorted(capacity.items())),
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": str(ids["boot"]),
                "containerRuntimeVersion": "containerd://2.1.4",
                "kernelVersion": "6.8.0-79-generic",
                "kubeProxyVersion": "",
                "kubeletVersion": kubelet_version,
                "machineID": ids["machine"].hex,
                "operatingSystem": "linux",
                "osImage": "Ubuntu 24.04.3 LTS",
                "systemUUID": str(ids["system"]),
            },
        },
    }
