"""The scheduler picks nodes and explains failures in kube-scheduler's own words."""

from decimal import Decimal

import pytest

from kubesim.scheduling import (
    SchedulingFailure,
    make_node,
    pod_requests,
    schedule,
    volume_prefilter,
)


def pod(name="p", requests=None, limits=None, **spec):
    resources = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "user-alice"},
        "spec": {"containers": [{"name": "main", "image": "x", "resources": resources}], **spec},
    }


def running(name, node, **kw):
    p = pod(name, **kw)
    p["spec"]["nodeName"] = node
    p["status"] = {"phase": "Running"}
    return p


def failure(result) -> str:
    assert isinstance(result, SchedulingFailure), result
    return result.message


def test_gpu_pod_on_nodes_without_gpus() -> None:
    nodes = [make_node("cpu-1"), make_node("cpu-2")]
    result = schedule(pod(limits={"nvidia.com/gpu": "1"}), nodes, {})
    assert failure(result) == (
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. "
        "no new claims to deallocate, preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling."
    )
    assert result.reason == "Unschedulable"
    assert result.node_reasons == {
        "cpu-1": ["Insufficient nvidia.com/gpu"],
        "cpu-2": ["Insufficient nvidia.com/gpu"],
    }


def test_gpu_pod_when_every_gpu_is_taken() -> None:
    nodes = [make_node("gpu-1", gpus=1), make_node("gpu-2", gpus=1)]
    on_node = {
        "gpu-1": [running("a", "gpu-1", limits={"nvidia.com/gpu": "1"})],
        "gpu-2": [running("b", "gpu-2", limits={"nvidia.com/gpu": "1"})],
    }
    assert failure(schedule(pod(limits={"nvidia.com/gpu": "1"}), nodes, on_node)) == (
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. "
        "no new claims to deallocate, preemption: 0/2 nodes are available: "
        "2 No preemption victims found for incoming pod."
    )
    # Once a GPU pod finishes, its GPU is free again.
    on_node["gpu-2"][0]["status"]["phase"] = "Succeeded"
    assert schedule(pod(limits={"nvidia.com/gpu": "1"}), nodes, on_node) == "gpu-2"


def test_reasons_are_counted_per_node_and_sorted() -> None:
    nodes = [
        make_node("tainted", taints=[{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]),
        make_node("wrong-zone", labels={"zone": "b"}),
        make_node("small-1", cpu="1", labels={"zone": "a"}),
        make_node("small-2", cpu="1", labels={"zone": "a"}),
        make_node("cordoned", unschedulable=True, labels={"zone": "a"}),
    ]
    p = pod(requests={"cpu": "2"}, nodeSelector={"zone": "a"})
    assert failure(schedule(p, nodes, {})) == (
        "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint(s), 1 node(s) were unschedulable, "
        "2 Insufficient cpu. no new claims to deallocate, preemption: 0/5 nodes are "
        "available: 5 Preemption is not helpful for scheduling."
    )


def test_nodes_too_small_for_the_pod_are_beyond_preemption() -> None:
    nodes = [make_node("n1", cpu="2", reserved_memory="0"), make_node("n2", cpu="4")]
    on_node = {
        "n1": [running("a", "n1", requests={"cpu": "1500m", "memory": "1Gi"})],
        "n2": [running("b", "n2", requests={"cpu": "3500m"})],
    }
    p = pod(requests={"cpu": "1", "memory": "17Gi"})
    assert failure(schedule(p, nodes, on_node)) == (
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. "
        "no new claims to deallocate, preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling."
    )
    p = pod(requests={"cpu": "1", "memory": "1Gi"})
    assert failure(schedule(p, nodes, on_node)) == (
        "0/2 nodes are available: 2 Insufficient cpu. no new claims to deallocate, "
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    )


def test_counts_sort_as_strings_like_go() -> None:
    nodes = [make_node(f"n{i}", labels={"pool": "x"}) for i in range(10)]
    nodes += [make_node(f"t{i}", taints=[{"key": "k", "effect": "NoExecute"}]) for i in range(2)]
    failure_message = failure(schedule(pod(nodeSelector={"pool": "y"}), nodes, {}))
    assert failure_message.startswith(
        "0/12 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, "
        "2 node(s) had untolerated taint(s)."
    )


def test_not_ready_nodes_carry_the_controller_taints() -> None:
    nodes = [make_node("lost", ready=False)]
    assert failure(schedule(pod(), nodes, {})).startswith(
        "0/1 nodes are available: 1 node(s) had untolerated taint(s)."
    )
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}])
    assert schedule(tolerant, nodes, {}) == "lost"


def test_tolerations() -> None:
    taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    nodes = [make_node("gpu", gpus=1, taints=[taint])]
    gpu = {"nvidia.com/gpu": "1"}
    exact = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    wrong_value = [{"key": "nvidia.com/gpu", "value": "absent", "effect": "NoSchedule"}]
    wrong_effect = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}]
    assert schedule(pod(limits=gpu, tolerations=exact), nodes, {}) == "gpu"
    assert schedule(pod(limits=gpu, tolerations=[{"operator": "Exists"}]), nodes, {}) == "gpu"
    assert isinstance(
        schedule(pod(limits=gpu, tolerations=wrong_value), nodes, {}), SchedulingFailure
    )
    assert isinstance(
        schedule(pod(limits=gpu, tolerations=wrong_effect), nodes, {}), SchedulingFailure
    )
    prefer = make_node("soft", taints=[{"key": "k", "effect": "PreferNoSchedule"}])
    assert schedule(pod(), [prefer], {}) == "soft"


def test_cordoned_node_admits_pods_tolerating_unschedulable() -> None:
    nodes = [make_node("cordoned", unschedulable=True)]
    assert failure(schedule(pod(), nodes, {})).startswith(
        "0/1 nodes are available: 1 node(s) were unschedulable."
    )
    t = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]
    assert schedule(pod(tolerations=t), nodes, {}) == "cordoned"


def affinity(*terms):
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"key": "gpu-type", "operator": "In", "values": ["a100", "h100"]}, "h100-node"),
        ({"key": "gpu-type", "operator": "NotIn", "values": ["h100"]}, "plain-node"),
        ({"key": "gpu-type", "operator": "Exists"}, "h100-node"),
        ({"key": "gpu-type", "operator": "DoesNotExist"}, "plain-node"),
        ({"key": "gpu-mem", "operator": "Gt", "values": ["40"]}, "h100-node"),
        ({"key": "gpu-mem", "operator": "Lt", "values": ["40"]}, None),
    ],
)
def test_required_node_affinity_operators(expression, expected) -> None:
    nodes = [
        make_node("h100-node", labels={"gpu-type": "h100", "gpu-mem": "80"}),
        make_node("plain-node"),
    ]
    result = schedule(pod(affinity=affinity({"matchExpressions": [expression]})), nodes, {})
    if expected is None:
        assert "2 node(s) didn't match Pod's node affinity/selector" in failure(result)
    else:
        assert result == expected


def test_affinity_terms_are_ored_and_match_fields_name_nodes() -> None:
    nodes = [make_node("a"), make_node("b"), make_node("c")]
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}
    assert schedule(pod(affinity=affinity({}, by_name)), nodes, {}) == "c"


def test_least_allocated_node_wins_and_ties_go_by_name() -> None:
    nodes = [make_node("b"), make_node("a"), make_node("c")]
    assert schedule(pod(requests={"cpu": "1"}), nodes, {}) == "a"
    busy = {
        "a": [running("x", "a", requests={"cpu": "3"})],
        "b": [running("y", "b", requests={"cpu": "1"})],
    }
    assert schedule(pod(requests={"cpu": "1"}), nodes, busy) == "c"


def test_too_many_pods() -> None:
    nodes = [make_node("tiny", pods=1)]
    on_node = {"tiny": [running("x", "tiny")]}
    assert failure(schedule(pod(), nodes, on_node)).startswith(
        "0/1 nodes are available: 1 Too many pods. no new claims to deallocate, preemption: "
        "0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )


def test_pods_the_scheduler_does_not_place() -> None:
    assert schedule(pod(nodeName="chosen"), [make_node("other")], {}) == "chosen"
    gated = schedule(pod(schedulingGates=[{"name": "kueue"}]), [make_node("n")], {})
    assert isinstance(gated, SchedulingFailure)
    assert (gated.reason, gated.message) == (
        "SchedulingGated",
        "Scheduling is blocked due to non-empty scheduling gates",
    )
    assert failure(schedule(pod(), [], {})) == "no nodes available to schedule pods"


def test_preemption_policy_never() -> None:
    result = schedule(pod(requests={"cpu": "64"}, preemptionPolicy="Never"), [make_node("n")], {})
    assert failure(result) == (
        "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, "
        "preemption: not eligible due to preemptionPolicy=Never."
    )


def test_pod_requests() -> None:
    p = pod(requests={"cpu": "500m", "memory": "1Gi"}, limits={"nvidia.com/gpu": "2"})
    p["spec"]["initContainers"] = [{"name": "init", "resources": {"requests": {"cpu": "2"}}}]
    assert pod_requests(p) == {
        "cpu": Decimal(2),
        "memory": Decimal(2**30),
        "nvidia.com/gpu": Decimal(2),
        "pods": Decimal(1),
    }


def test_make_node_looks_like_a_kubelet_registration() -> None:
    node = make_node("gpu-7", cpu="8", memory="64Gi", gpus=4, labels={"pool": "a100"})
    assert node["apiVersion"] == "v1" and node["kind"] == "Node"
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "gpu-7" and labels["pool"] == "a100"
    status = node["status"]
    assert status["capacity"] == {
        "cpu": "8",
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "64Gi",
        "nvidia.com/gpu": "4",
        "pods": "110",
    }
    assert status["allocatable"]["memory"] == "65436Mi"  # minus the 100Mi eviction threshold
    assert status["allocatable"]["ephemeral-storage"] == "90Gi"
    assert status["allocatable"]["nvidia.com/gpu"] == "4"
    ready = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True" and ready[0]["reason"] == "KubeletReady"
    assert {a["type"] for a in status["addresses"]} == {"InternalIP", "Hostname"}
    assert status["nodeInfo"]["operatingSystem"] == "linux"
    assert make_node("gpu-7")["status"]["nodeInfo"]["machineID"] == status["nodeInfo"]["machineID"]
    cordoned = make_node("c", unschedulable=True)
    assert cordoned["spec"]["unschedulable"] is True
    assert cordoned["spec"]["taints"][0]["key"] == "node.kubernetes.io/unschedulable"


def _claim_pod(*claims: str) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "containers": [{"name": "c"}],
            "volumes": [{"name": "scratch", "emptyDir": {}}]
            + [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims],
        },
    }


def _pvc(name: str, *, bound: bool = False, sc: str = "", deleting: bool = False) -> dict:
    meta: dict = {"name": name, "namespace": "ns"}
    spec: dict = {"storageClassName": sc} if sc else {}
    if bound:
        spec["volumeName"] = f"pv-{name}"
        meta["annotations"] = {"pv.kubernetes.io/bind-completed": "yes"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": spec}


def test_volume_prefilter_follows_the_volume_binding_plugin() -> None:
    claims = {
        "bound": _pvc("bound", bound=True),
        "later": _pvc("later", sc="wffc"),
        "now": _pvc("now", sc="standard"),
        "prebound": {**_pvc("prebound"), "spec": {"volumeName": "pv-x"}},  # not yet complete
        "going": _pvc("going", bound=True, deleting=True),
    }
    classes = {"wffc": {"volumeBindingMode": "WaitForFirstConsumer"}, "standard": {}}

    def check(*names: str) -> str | None:
        return volume_prefilter(_claim_pod(*names), claims.get, classes.get)

    assert check() is None
    assert check("bound", "later") is None  # WaitForFirstConsumer claims pass the PreFilter
    assert check("bound", "now") == "pod has unbound immediate PersistentVolumeClaims"
    assert check("prebound") == "pod has unbound immediate PersistentVolumeClaims"
    # A missing or deleted claim is named, even after an unbound one.
    assert check("now", "gone") == 'persistentvolumeclaim "gone" not found'
    assert check("going") == 'persistentvolumeclaim "going" is being deleted'


def test_a_prefilter_rejection_holds_on_every_node() -> None:
    nodes = [make_node("a"), make_node("b")]
    pod = _claim_pod("now")
    msg = "pod has unbound immediate PersistentVolumeClaims"
    result = schedule(pod, nodes, {}, prefilter=msg)
    assert isinstance(result, SchedulingFailure)
    assert result.message == (
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
        "no new claims to deallocate, preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling."
    )
    never = {**pod, "spec": {**pod["spec"], "preemptionPolicy": "Never"}}
    assert schedule(never, nodes, {}, prefilter=msg).message.endswith(  # type: ignore[union-attr]
        "no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
    )
    assert schedule(pod, nodes, {}) == "a"


def _on_host(name: str) -> dict:
    """A PV's ``nodeAffinity.required`` pinning it to one node (what a node-local
    provisioner writes)."""
    expression = {"key": "kubernetes.io/hostname", "operator": "In", "values": [name]}
    return {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}


def test_a_bound_volume_pins_its_pods_to_the_nodes_it_allows() -> None:
    nodes = [make_node("a"), make_node("b")]
    pod = _claim_pod("bound")
    assert schedule(pod, nodes, {}) == "a"  # least allocated, first name
    assert schedule(pod, nodes, {}, volume_affinity=[_on_host("b")]) == "b"
    result = schedule(pod, nodes, {}, volume_affinity=[_on_host("a"), _on_host("b")])
    assert isinstance(result, SchedulingFailure)
    assert result.message == (
        "0/2 nodes are available: 2 node(s) had volume node affinity conflict. "
        "no new claims to deallocate, preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling."
    )


def test_resources_are_checked_before_volumes_as_in_the_default_profile() -> None:
    # NodeResourcesFit comes before VolumeBinding: a full node reports that, not its volume.
    nodes = [make_node("a", cpu="1")]
    p = pod(requests={"cpu": "2"})
    result = schedule(p, nodes, {}, volume_affinity=[_on_host("b")], volumes_fit=lambda n: False)
    assert isinstance(result, SchedulingFailure)
    assert result.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    # Both volume reasons are given when both hold (the plugin reports each).
    result = schedule(
        pod(), nodes, {}, volume_affinity=[_on_host("b")], volumes_fit=lambda n: False
    )
    assert isinstance(result, SchedulingFailure)
    assert result.node_reasons == {
        "a": [
            "node(s) had volume node affinity conflict",
            "node(s) didn't find available persistent volumes to bind",
        ]
    }
