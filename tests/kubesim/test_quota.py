"""ResourceQuota usage, admission messages and status, as kube-apiserver has them."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kubesim.errors import ApiError
from kubesim.quota import (
    admit,
    calculate_used,
    check_quota,
    is_best_effort,
    object_count_usage,
    pod_usage,
    pvc_usage,
    quota_status,
    usage,
)


def container(name, requests=None, limits=None, **extra):
    resources = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "x", "resources": resources, **extra}


def pod(name="x", containers=None, init=None, **spec):
    body = {"containers": containers or [container("main")], **spec}
    if init:
        body["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def quota(name, hard, used=None, **spec):
    """A quota as the controller left it: status.hard copied, status.used filled in."""
    q = {"metadata": {"name": name, "namespace": "user-alice"}, "spec": {"hard": hard, **spec}}
    q["status"] = quota_status(q, {k: Decimal(v) for k, v in (used or {}).items()})
    return q


def denied(fn, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    assert err.value.code == 403 and err.value.reason == "Forbidden"
    return err.value


def test_usage_of_a_pod_with_init_containers() -> None:
    p = pod(
        init=[container("fetch", {"cpu": "2", "memory": "1Gi"})],
        containers=[
            container("app", {"cpu": "500m", "memory": "256Mi"}, {"cpu": "1", "memory": "512Mi"}),
            container("log", {"cpu": "250m", "memory": "128Mi"}),
        ],
    )
    assert pod_usage(p) == {
        "count/pods": 1,
        "pods": 1,
        "cpu": 2,  # the init container's peak beats the 750m of the running containers
        "requests.cpu": 2,
        "limits.cpu": 1,  # only "app" has a limit
        "memory": 2**30,
        "requests.memory": 2**30,
        "limits.memory": 512 * 2**20,
    }


def test_extended_and_hugepage_resources() -> None:
    p = pod(
        containers=[
            container(
                "train", limits={"nvidia.com/gpu": "2", "hugepages-2Mi": "4Mi", "memory": "1Gi"}
            )
        ]
    )
    u = pod_usage(p)
    assert u["requests.nvidia.com/gpu"] == 2
    assert "limits.nvidia.com/gpu" not in u and "nvidia.com/gpu" not in u
    assert u["hugepages-2Mi"] == u["requests.hugepages-2Mi"] == 4 * 2**20


def test_finished_and_long_deleted_pods_only_count_as_objects() -> None:
    done = pod(containers=[container("c", {"cpu": "1"})])
    done["status"] = {"phase": "Succeeded"}
    assert pod_usage(done) == {"count/pods": 1}
    gone = pod(containers=[container("c", {"cpu": "1"})])
    gone["metadata"] |= {
        "deletionTimestamp": "2025-01-01T00:00:00Z",
        "deletionGracePeriodSeconds": 30,
    }
    assert pod_usage(gone, now=datetime(2025, 1, 1, 0, 0, 10, tzinfo=UTC))["requests.cpu"] == 1
    assert pod_usage(gone, now=datetime(2025, 1, 1, 0, 1, tzinfo=UTC)) == {"count/pods": 1}


def test_exceeded_quota_message() -> None:
    q = quota("compute", {"requests.cpu": "2", "requests.memory": "4Gi"}, {"requests.cpu": 1})
    p = pod("x", containers=[container("c", {"cpu": "2", "memory": "1Gi"})])
    err = denied(check_quota, [q], "pods", "", pod_usage(p), obj=p)
    assert err.message == (
        'pods "x" is forbidden: exceeded quota: compute, requested: requests.cpu=2, '
        "used: requests.cpu=1, limited: requests.cpu=2"
    )
    assert err.status()["details"] == {"name": "x", "kind": "pods"}


def test_every_exceeded_resource_is_listed_sorted() -> None:
    q = quota(
        "team",
        {"requests.memory": "1Gi", "requests.nvidia.com/gpu": "1", "pods": "5"},
        {"requests.memory": 768 * 2**20, "requests.nvidia.com/gpu": 1},
    )
    p = pod("trainer", containers=[container("c", {"memory": "512Mi"}, {"nvidia.com/gpu": "1"})])
    err = denied(check_quota, [q], "pods", "", pod_usage(p), obj=p)
    assert err.message == (
        'pods "trainer" is forbidden: exceeded quota: team, '
        "requested: requests.memory=512Mi,requests.nvidia.com/gpu=1, "
        "used: requests.memory=768Mi,requests.nvidia.com/gpu=1, "
        "limited: requests.memory=1Gi,requests.nvidia.com/gpu=1"
    )


def test_cpu_and_memory_quotas_require_every_container_to_say() -> None:
    q = quota(
        "compute", {"requests.cpu": "4", "limits.memory": "8Gi", "requests.nvidia.com/gpu": "2"}
    )
    p = pod(
        "nb",
        init=[container("init", {"cpu": "100m"})],
        containers=[container("app", {"cpu": "1"}, {"memory": "1Gi"}), container("side")],
    )
    err = denied(check_quota, [q], "pods", "", pod_usage(p), obj=p)
    assert err.message == (
        'pods "nb" is forbidden: failed quota: compute: must specify '
        "limits.memory for: init,side; requests.cpu for: side"
    )


def test_unsynced_quota_does_not_apply_yet_and_missing_usage_is_refused() -> None:
    fresh = {"metadata": {"name": "new"}, "spec": {"hard": {"pods": "0"}}}
    check_quota([fresh], "pods", "", pod_usage(pod()), obj=pod())  # no status yet: no match
    half = {
        "metadata": {"name": "half"},
        "spec": {"hard": {"pods": "3", "requests.cpu": "1"}},
        "status": {"hard": {"pods": "3", "requests.cpu": "1"}, "used": {"pods": "0"}},
    }
    p = pod(containers=[container("c", {"cpu": "100m"})])
    err = denied(check_quota, [half], "pods", "", pod_usage(p), obj=p)
    assert (
        err.message
        == 'pods "x" is forbidden: status unknown for quota: half, resources: requests.cpu'
    )


def test_admit_charges_the_quota_in_the_api_format() -> None:
    q = quota(
        "compute",
        {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"},
        {"requests.cpu": 1},
    )
    p = pod(containers=[container("c", {"cpu": "500m", "memory": "1Gi"})])
    (after,) = admit([q], "pods", "", pod_usage(p), obj=p)
    assert after["status"]["used"] == {
        "pods": "1",
        "requests.cpu": "1500m",
        "requests.memory": "1Gi",
    }
    assert q["status"]["used"]["requests.cpu"] == "1"  # the input is not modified
    # Exactly at the limit is allowed.
    (full,) = admit(
        [after], "pods", "", pod_usage(pod(containers=[container("c", {"cpu": "500m"})]))
    )
    assert full["status"]["used"]["requests.cpu"] == "2"


def test_scopes() -> None:
    best_effort = pod("be")
    burstable = pod("bu", containers=[container("c", {"cpu": "1"})])
    batch = pod("job", activeDeadlineSeconds=600, containers=[container("c", {"cpu": "1"})])
    assert is_best_effort(best_effort) and not is_best_effort(burstable)
    only_be = quota("be", {"pods": "0"}, scopes=["BestEffort"])
    check_quota([only_be], "pods", "", pod_usage(burstable), obj=burstable)
    err = denied(check_quota, [only_be], "pods", "", pod_usage(best_effort), obj=best_effort)
    assert err.message == (
        'pods "be" is forbidden: exceeded quota: be, '
        "requested: pods=1, used: pods=0, limited: pods=0"
    )
    long_running = quota("lr", {"requests.cpu": "500m"}, scopes=["NotTerminating"])
    check_quota([long_running], "pods", "", pod_usage(batch), obj=batch)
    denied(check_quota, [long_running], "pods", "", pod_usage(burstable), obj=burstable)


def test_priority_class_scope_selector() -> None:
    selector = {
        "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
    }
    q = quota("high", {"pods": "0"}, scopeSelector=selector)
    high = pod("h", priorityClassName="high")
    low = pod("l", priorityClassName="low")
    check_quota([q], "pods", "", pod_usage(low), obj=low)
    denied(check_quota, [q], "pods", "", pod_usage(high), obj=high)
    # Non-pod objects never match a scoped quota.
    scoped_secrets = quota("s", {"count/secrets": "0"}, scopes=["BestEffort"])
    check_quota([scoped_secrets], "secrets", "", object_count_usage("secrets", ""))


def test_object_counts() -> None:
    assert object_count_usage("jobs", "batch") == {"count/jobs.batch": 1}
    assert object_count_usage("pytorchjobs", "kubeflow.org") == {
        "count/pytorchjobs.kubeflow.org": 1
    }
    assert object_count_usage("secrets", "") == {"count/secrets": 1, "secrets": 1}
    assert object_count_usage("configmaps", "") == {"count/configmaps": 1, "configmaps": 1}
    lb = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert object_count_usage("services", "", lb) == {
        "count/services": 1,
        "services": 1,
        "services.loadbalancers": 1,
        "services.nodeports": 2,
    }
    q = quota("objects", {"count/jobs.batch": "2", "secrets": "1"}, {"count/jobs.batch": 2})
    err = denied(check_quota, [q], "jobs", "batch", object_count_usage("jobs", "batch"), name="j3")
    assert err.message == (
        'jobs.batch "j3" is forbidden: exceeded quota: objects, requested: count/jobs.batch=1, '
        "used: count/jobs.batch=2, limited: count/jobs.batch=2"
    )


def test_pvc_storage_usage() -> None:
    pvc = {
        "metadata": {"name": "data"},
        "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}},
    }
    u = usage("persistentvolumeclaims", "", pvc)
    assert u == {
        "count/persistentvolumeclaims": 1,
        "persistentvolumeclaims": 1,
        "fast.storageclass.storage.k8s.io/persistentvolumeclaims": 1,
        "requests.storage": 10 * 2**30,
        "fast.storageclass.storage.k8s.io/requests.storage": 10 * 2**30,
    }
    assert pvc_usage(pvc) == u
    resized = {**pvc, "status": {"allocatedResources": {"storage": "20Gi"}}}
    assert pvc_usage(resized)["requests.storage"] == 20 * 2**30
    q = quota("storage", {"requests.storage": "15Gi"}, {"requests.storage": 10 * 2**30})
    err = denied(check_quota, [q], "persistentvolumeclaims", "", u, obj=pvc)
    assert err.message == (
        'persistentvolumeclaims "data" is forbidden: exceeded quota: storage, '
        "requested: requests.storage=10Gi, used: requests.storage=10Gi, "
        "limited: requests.storage=15Gi"
    )


def test_status_lists_only_hard_resources_in_canonical_form() -> None:
    q = {
        "metadata": {"name": "q"},
        "spec": {"hard": {"requests.cpu": "2000m", "pods": 10, "memory": "8Gi"}},
    }
    status = quota_status(
        q, {"requests.cpu": Decimal("0.5"), "memory": Decimal(2**31), "secrets": Decimal(3)}
    )
    assert status == {
        "hard": {"memory": "8Gi", "pods": "10", "requests.cpu": "2"},
        "used": {"memory": "2Gi", "pods": "0", "requests.cpu": "500m"},
    }
    assert list(status["used"]) == sorted(status["used"])


def test_calculate_used_counts_matching_live_objects() -> None:
    q = quota(
        "compute", {"pods": "10", "requests.cpu": "8", "count/pods": "20"}, scopes=["NotBestEffort"]
    )
    a = pod("a", containers=[container("c", {"cpu": "1"})])
    b = pod("b", containers=[container("c", {"cpu": "500m"})])
    done = pod("done", containers=[container("c", {"cpu": "4"})])
    done["status"] = {"phase": "Failed"}
    objects = [("pods", "", p) for p in (a, b, done, pod("best-effort"))]
    objects.append(("secrets", "", {"metadata": {"name": "s"}}))
    assert calculate_used(q, objects) == {
        "pods": 2,
        "requests.cpu": Decimal("1.5"),
        "count/pods": 3,
    }
    assert quota_status(q, calculate_used(q, objects))["used"] == {
        "count/pods": "3",
        "pods": "2",
        "requests.cpu": "1500m",
    }
