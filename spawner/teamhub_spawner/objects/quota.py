"""The ResourceQuota of a user's namespace (and the LimitRange that makes it livable).

Mapping from the teams config ``quota: {cpu, memory, gpus, pods}`` (any subset):

=========  ==========================  ===================================================
config     ResourceQuota ``hard`` key   why
=========  ==========================  ===================================================
cpu        ``requests.cpu``             requests are what the scheduler reserves, i.e. the
                                        share of the cluster a user takes from others
memory     ``requests.memory``          same
gpus       ``requests.nvidia.com/gpu``  extended resources can only be quota'd as
                                        ``requests.*`` (limits must equal requests); the
                                        resource name is a parameter for other vendors
pods       ``pods``                     caps fan-out (e.g. a job with 1000 replicas)
=========  ==========================  ===================================================

Limits (``limits.cpu``/``limits.memory``) are deliberately not quota'd: a quota on them
forces every container of every job to declare limits, and bursting above requests into
idle capacity is what ML notebooks do best; the scheduler only guarantees requests.

A quota on ``cpu``/``memory`` (requests or limits) also makes the API refuse any pod whose
containers do not *set* that request (``failed quota: ...: must specify requests.cpu``).
:func:`limit_range` supplies default requests for exactly the quota'd resources so pods
that set none (a quick job) are still admitted and counted; GPUs never need it.
"""

from __future__ import annotations

from collections.abc import Mapping

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.names import LIMIT_RANGE, RESOURCE_QUOTA

GPU_RESOURCE = "nvidia.com/gpu"


def _quantity(field: str, value: object) -> str:
    """A Quantity string: ints as is, strings unchanged, fractional CPUs in millicores."""
    if isinstance(value, bool):
        raise ValueError(f"quota.{field}: {value!r} is not a quantity")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{round(value * 1000)}m"
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"quota.{field}: {value!r} is not a quantity")


def quota_hard(quota: Mapping | None, *, gpu_resource: str = GPU_RESOURCE) -> dict[str, str]:
    """The ``spec.hard`` of the quota (empty when nothing is limited); see the module doc."""
    quota = quota or {}
    unknown = set(quota) - {"cpu", "memory", "gpus", "pods"}
    if unknown:
        raise ValueError(f"quota: unknown key(s) {', '.join(sorted(unknown))}")
    keys = {
        "cpu": "requests.cpu",
        "memory": "requests.memory",
        "gpus": f"requests.{gpu_resource}",
        "pods": "pods",
    }
    return {
        hard_key: _quantity(field, quota[field])
        for field, hard_key in keys.items()
        if quota.get(field) is not None
    }


def resource_quota(
    namespace: str,
    quota: Mapping | None,
    *,
    username: str,
    gpu_resource: str = GPU_RESOURCE,
    name: str = RESOURCE_QUOTA,
) -> dict | None:
    """The user's ResourceQuota, or None when their teams set no quota (then any existing
    teamhub quota should be deleted)."""
    hard = quota_hard(quota, gpu_resource=gpu_resource)
    if not hard:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": L.common_labels(username, L.COMPONENT_QUOTA),
            "annotations": L.user_annotations(username),
        },
        "spec": {"hard": hard},
    }


def limit_range(
    namespace: str,
    quota: Mapping | None,
    *,
    username: str,
    default_cpu_request: str = "100m",
    default_memory_request: str = "256Mi",
    name: str = LIMIT_RANGE,
) -> dict | None:
    """Default container requests for the resources the quota forces every container to
    request (cpu, memory), or None when the quota sets neither. Only ``defaultRequest``:
    no default limits, nothing a container sets itself is changed."""
    quota = quota or {}
    defaults = {}
    if quota.get("cpu") is not None:
        defaults["cpu"] = default_cpu_request
    if quota.get("memory") is not None:
        defaults["memory"] = default_memory_request
    if not defaults:
        return None
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": L.common_labels(username, L.COMPONENT_QUOTA),
            "annotations": L.user_annotations(username),
        },
        "spec": {"limits": [{"type": "Container", "defaultRequest": defaults}]},
    }
