"""``teamhub.jobs.quotausage``: the quota in use, from pods, as Kubernetes' pod evaluator
counts it (terminal pods free, init containers by max, requests only)."""

from __future__ import annotations

from decimal import Decimal

from teamhub.jobs.quotausage import format_quantity, pod_requests, quota_used, quota_used_strings


def pod(phase: str, *containers: dict, init: tuple[dict, ...] = ()) -> dict:
    wrap = [{"name": f"c{i}", "resources": {"requests": r}} for i, r in enumerate(containers)]
    init_wrap = [{"name": f"i{i}", "resources": {"requests": r}} for i, r in enumerate(init)]
    return {"spec": {"containers": wrap, "initContainers": init_wrap}, "status": {"phase": phase}}


def test_init_containers_count_by_their_largest_request():
    p = pod("Running", {"cpu": "500m"}, {"cpu": "250m"}, init=({"cpu": "2"}, {"cpu": "1"}))
    assert pod_requests(p, "cpu") == Decimal(2)
    p = pod("Running", {"cpu": "1500m"}, {"cpu": "1"}, init=({"cpu": "2"},))
    assert pod_requests(p, "cpu") == Decimal("2.5")


def test_terminal_pods_are_free_and_limits_are_not_charged():
    pods = [
        pod("Running", {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}),
        pod("Pending", {"cpu": "250m", "memory": "512Mi"}),
        pod("Succeeded", {"cpu": "8", "memory": "8Gi"}),
        pod("Failed", {"cpu": "8"}),
        {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "4"}}}]}},
    ]
    assert quota_used(pods) == {
        "cpu": Decimal("1.25"),
        "memory": Decimal(1536 * 2**20),
        "gpus": Decimal(1),
        "pods": Decimal(3),
    }
    strings = quota_used_strings(pods)
    assert strings == {"cpu": "1250m", "memory": "1536Mi", "gpus": "1", "pods": "3"}
    amd = quota_used([pod("Running", {"amd.com/gpu": "2"})], gpu_resource="amd.com/gpu")
    assert amd["gpus"] == Decimal(2)


def test_formatting():
    assert format_quantity("cpu", Decimal(3)) == "3"
    assert format_quantity("cpu", Decimal("0.1")) == "100m"
    assert format_quantity("memory", Decimal(2**31)) == "2Gi"
    assert format_quantity("memory", Decimal(1000)) == "1000"
    assert format_quantity("memory", Decimal(0)) == "0"
    assert format_quantity("pods", Decimal(7)) == "7"
