"""How much of the user's quota is in use, computed from the pods in their namespace.

The ResourceQuota's ``status.used`` would say it directly, but the notebook's
ServiceAccount may not read ResourceQuotas (its Role is kept to what submitting and
following jobs needs; docs/security.md). It can list its pods, and the quota's usage *is*
a function of them: Kubernetes' pod evaluator charges every pod that is not in a terminal
phase (``Succeeded``/``Failed``) with its effective requests — per resource, the larger of
the sum over its containers and the largest init container — plus one for ``pods``.
Requests the pod did not set were filled in at admission by the namespace's LimitRange,
so they are in the pod's spec too.

Keys follow teamhub's quota (``cpu``, ``memory``, ``gpus``, ``pods``; see
``teamhub_spawner.objects.quota``): ``requests.cpu``, ``requests.memory``,
``requests.<gpu resource>`` and ``pods``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from teamhub.jobs.backends.base import GPU_RESOURCE
from teamhub.jobs.quantity import parse_quantity

TERMINAL = ("Succeeded", "Failed")


def _requests(containers: Iterable[Mapping[str, Any]], resource: str) -> list[Decimal]:
    out = []
    for c in containers:
        value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
        out.append(parse_quantity(value) if value is not None else Decimal(0))
    return out


def pod_requests(pod: Mapping[str, Any], resource: str) -> Decimal:
    """The pod's effective request of ``resource``: max(sum of containers, largest init
    container) — what the scheduler and the quota both charge."""
    spec = pod.get("spec") or {}
    main = sum(_requests(spec.get("containers") or [], resource), Decimal(0))
    init = _requests(spec.get("initContainers") or [], resource)
    return max([main, *init])


def quota_used(
    pods: Iterable[Mapping[str, Any]], *, gpu_resource: str = GPU_RESOURCE
) -> dict[str, Decimal]:
    """``{"cpu", "memory", "gpus", "pods"}`` in use by ``pods`` (cpu in cores, memory in
    bytes), as the quota counts them."""
    live = [p for p in pods if (p.get("status") or {}).get("phase") not in TERMINAL]
    return {
        "cpu": sum((pod_requests(p, "cpu") for p in live), Decimal(0)),
        "memory": sum((pod_requests(p, "memory") for p in live), Decimal(0)),
        "gpus": sum((pod_requests(p, gpu_resource) for p in live), Decimal(0)),
        "pods": Decimal(len(live)),
    }


def format_quantity(field: str, value: Decimal) -> str:
    """A usage figure as a Kubernetes quantity a person reads easily: cpu in cores or
    millicores (``2``, ``1500m``), memory in the largest binary unit that divides it
    (``3Gi``, ``512Mi``; else bytes), counts as integers."""
    if field == "cpu":
        if value == value.to_integral_value():
            return str(int(value))
        return f"{int((value * 1000).to_integral_value())}m"
    if field == "memory":
        n = int(value)
        for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if n and n % size == 0:
                return f"{n // size}{suffix}"
        return str(n)
    return str(int(value))


def quota_used_strings(
    pods: Iterable[Mapping[str, Any]], *, gpu_resource: str = GPU_RESOURCE
) -> dict[str, str]:
    return {
        k: format_quantity(k, v) for k, v in quota_used(pods, gpu_resource=gpu_resource).items()
    }
