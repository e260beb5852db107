"""ResourceQuota: what objects consume, admission checks, and the controller's status.

Why: a per-user namespace has a quota, and a notebook or job that does not fit must be
refused the way kube-apiserver refuses it (403 with ``exceeded quota: ...`` or
``failed quota: ...: must specify ...``), because users read those messages and our
code matches on them. The rules follow the quota admission plugin
(``CheckRequest``) and the core evaluators (``pods.go``, ``services.go``,
``persistent_volume_claims.go``):

- admission reads ``status.hard`` and ``status.used`` (what the controller last
  wrote), not ``spec.hard``: a quota whose status is not filled in yet matches nothing;
- a quota that tracks ``cpu``/``memory`` (requests or limits) requires every container
  to set them; other resources (GPUs, ephemeral-storage) are never required;
- extended resources are quota'd only as ``requests.<name>``;
- terminal pods (Succeeded/Failed) stop counting, except in ``count/pods``.

Scopes ``Terminating``, ``NotTerminating``, ``BestEffort``, ``NotBestEffort``,
``PriorityClass`` and ``CrossNamespacePodAffinity`` are supported, in ``spec.scopes``
and ``spec.scopeSelector``; ``VolumeAttributesClass`` and the admission
configuration's ``limitedResources`` are not.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
from typing import Any

from kubesim import errors
from kubesim.quantity import (
    canonical_quantity,
    container_resources,
    effective_limits,
    effective_requests,
    format_quantity,
    parse_quantity,
    quantity_format,
)
from kubesim.store import deep_copy

STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
LEGACY_COUNT_NAMES = ("configmaps", "resourcequotas", "replicationcontrollers", "secrets")
_POD_RESOURCES = {
    "count/pods", "pods", "cpu", "memory", "ephemeral-storage",
    "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage",
}  # fmt: skip
# Quota'ing one of these makes it mandatory on every container (a historic mistake
# upstream keeps for compatibility; no other resource gets this treatment).
_MUST_SPECIFY = {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
_SERVICE_RESOURCES = {"count/services", "services", "services.loadbalancers", "services.nodeports"}
_PVC_RESOURCES = {"count/persistentvolumeclaims", "persistentvolumeclaims", "requests.storage"}
_ONE = Decimal(1)


def count_name(resource: str, group: str) -> str:
    """``count/pods``, ``count/jobs.batch``: the object-count quota name of a resource."""
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _compute(requests: dict[str, Decimal], limits: dict[str, Decimal]) -> dict[str, Decimal]:
    """podComputeUsageHelper: quota names for a set of requests and limits."""
    out = {"pods": _ONE}
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            out[res] = out[f"requests.{res}"] = requests[res]
        if res in limits:
            out[f"limits.{res}"] = limits[res]
    for res, q in requests.items():
        if res.startswith("hugepages-"):
            out[res] = out[f"requests.{res}"] = q
        elif not _is_native(res) and not res.startswith("requests."):
            out[f"requests.{res}"] = q  # extended resources: requests.<name> only
    return out


def _counts(pod: dict[str, Any], now: datetime | None) -> bool:
    """False for pods quota no longer charges: terminal, or past their deletion grace."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    deleted, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if deleted and grace is not None:
        when = datetime.fromisoformat(deleted.replace("Z", "+00:00")).timestamp() + int(grace)
        return (now or datetime.now(UTC)).timestamp() <= when
    return True


def pod_usage(pod: dict[str, Any], now: datetime | None = None) -> dict[str, Decimal]:
    """Quota usage of a pod: ``count/pods`` always; compute resources while it is live."""
    usage = {"count/pods": _ONE}
    if _counts(pod, now):
        usage.update(_compute(effective_requests(pod), effective_limits(pod)))
    return usage


def object_count_usage(
    resource: str, group: str, obj: dict[str, Any] | None = None
) -> dict[str, Decimal]:
    """Usage of one non-pod object: ``count/<resource>[.<group>]`` and the legacy names.

    With ``obj`` given, services also count ``services.loadbalancers`` and
    ``services.nodeports``, and PersistentVolumeClaims their storage
    (``requests.storage``, and per storage class).
    """
    usage = {count_name(resource, group): _ONE}
    if group:
        return usage
    if resource in LEGACY_COUNT_NAMES:
        usage[resource] = _ONE
    elif resource == "services":
        usage["services"] = _ONE
        spec = (obj or {}).get("spec") or {}
        ports = spec.get("ports") or []
        nodeports = 0
        if spec.get("type") == "NodePort":
            nodeports = len(ports)
        elif spec.get("type") == "LoadBalancer":
            usage["services.loadbalancers"] = _ONE
            if spec.get("allocateLoadBalancerNodePorts") is False:
                nodeports = sum(1 for p in ports if p.get("nodePort"))
            else:
                nodeports = len(ports)
        if nodeports:
            usage["services.nodeports"] = Decimal(nodeports)
    elif resource == "persistentvolumeclaims":
        usage.update(pvc_usage(obj or {}))
    return usage


def pvc_usage(pvc: dict[str, Any]) -> dict[str, Decimal]:
    """Quota usage of a PersistentVolumeClaim: counts, and storage (whole bytes, or the
    allocated size if a resize made it larger), also per storage class."""
    meta, spec = pvc.get("metadata") or {}, pvc.get("spec") or {}
    sc = (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class") or spec.get(
        "storageClassName"
    )
    out = {"count/persistentvolumeclaims": _ONE, "persistentvolumeclaims": _ONE}
    if sc:
        out[f"{sc}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = _ONE
    requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if requested is not None:
        storage = parse_quantity(requested).to_integral_value(rounding=ROUND_UP)
        allocated = ((pvc.get("status") or {}).get("allocatedResources") or {}).get("storage")
        if allocated is not None:
            storage = max(storage, parse_quantity(allocated))
        out["requests.storage"] = storage
        if sc:
            out[f"{sc}{STORAGE_CLASS_SUFFIX}requests.storage"] = storage
    return out


def usage(
    resource: str, group: str, obj: dict[str, Any], now: datetime | None = None
) -> dict[str, Decimal]:
    """Quota usage of any object, by the evaluator kube-apiserver uses for its resource."""
    if resource == "pods" and not group:
        return pod_usage(obj, now)
    return object_count_usage(resource, group, obj)


def matching_resources(resource: str, group: str, names: Iterable[str]) -> list[str]:
    """The quota resource names (among ``names``) that objects of this resource consume."""
    out = []
    for n in names:
        if resource == "pods" and not group:
            ok = n in _POD_RESOURCES or n.startswith(("hugepages-", "requests.hugepages-"))
            ok = ok or (n.startswith("requests.") and not _is_native(n))
        elif resource == "services" and not group:
            ok = n in _SERVICE_RESOURCES
        elif resource == "persistentvolumeclaims" and not group:
            ok = n in _PVC_RESOURCES or (
                STORAGE_CLASS_SUFFIX in n
                and n.endswith(("/requests.storage", "/persistentvolumeclaims"))
            )
        else:
            legacy = not group and resource in LEGACY_COUNT_NAMES and n == resource
            ok = legacy or n == count_name(resource, group)
        if ok:
            out.append(n)
    return sorted(out)


def _scope_selectors(quota: dict[str, Any]) -> list[dict[str, Any]]:
    spec = quota.get("spec") or {}
    selectors = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    return selectors + list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def _pod_matches_scope(selector: dict[str, Any], pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    scope = selector.get("scopeName")
    if scope in ("Terminating", "NotTerminating"):
        deadline = spec.get("activeDeadlineSeconds")
        return (deadline is not None and int(deadline) >= 0) == (scope == "Terminating")
    if scope in ("BestEffort", "NotBestEffort"):
        return is_best_effort(pod) == (scope == "BestEffort")
    if scope == "PriorityClass":
        pc = spec.get("priorityClassName") or ""
        op, values = selector.get("operator"), selector.get("values") or []
        return {
            "Exists": bool(pc),
            "DoesNotExist": not pc,
            "In": bool(pc) and pc in values,
            "NotIn": not pc or pc not in values,
        }.get(op, False)
    if scope == "CrossNamespacePodAffinity":
        aff = spec.get("affinity") or {}
        for kind in ("podAffinity", "podAntiAffinity"):
            rules = aff.get(kind) or {}
            terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
            for w in rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
                terms.append(w.get("podAffinityTerm") or {})
            if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
                return True
        return False
    return False


def is_best_effort(pod: dict[str, Any]) -> bool:
    """QoS BestEffort: no container (nor the pod) requests or limits any cpu or memory."""
    spec = pod.get("spec") or {}
    lists = [spec.get("resources") or {}]
    lists += [c.get("resources") or {} for c in (spec.get("containers") or [])]
    lists += [c.get("resources") or {} for c in (spec.get("initContainers") or [])]
    for res in lists:
        for part in ("requests", "limits"):
            for name, q in (res.get(part) or {}).items():
                if name in ("cpu", "memory") and parse_quantity(q) > 0:
                    return False
    return True


def quota_matches(
    quota: dict[str, Any], resource: str, group: str, obj: dict[str, Any] | None
) -> bool:
    """Whether ``quota`` constrains this object: it limits something the object consumes,
    and the object is in all of the quota's scopes (only pods have scopes)."""
    hard = (quota.get("status") or {}).get("hard") or {}
    if not matching_resources(resource, group, hard):
        return False
    selectors = _scope_selectors(quota)
    if not selectors:
        return True
    if resource != "pods" or group or obj is None:
        return False
    return all(_pod_matches_scope(s, obj) for s in selectors)


def _missing_for_containers(required: list[str], pod: dict[str, Any]) -> str | None:
    """The ``must specify ...`` constraint error, or None when every container complies."""
    wanted = set(required) & _MUST_SPECIFY
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        have = set(_compute(*container_resources(c)))
        for res in wanted - have:
            missing.setdefault(res, set()).add(c.get("name", ""))
    if not missing:
        return None
    parts = [f"{res} for: {','.join(sorted(names))}" for res, names in sorted(missing.items())]
    return "must specify " + "; ".join(parts)


def _show(q: Any, name: str) -> str:
    return canonical_quantity(q) if isinstance(q, str | int) else format_quantity(q, name)


def _pretty(values: dict[str, Any]) -> str:
    return ",".join(f"{k}={_show(values[k], k)}" for k in sorted(values))


def admit(
    quotas: list[dict[str, Any]],
    resource: str,
    group: str,
    usage_delta: dict[str, Decimal],
    *,
    name: str = "",
    obj: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Check a write against the namespace's quotas and charge it, as admission does.

    Returns copies of ``quotas`` whose ``status.used`` includes ``usage_delta`` (the
    new object's usage on create; the growth on update). Raises the 403 ApiError the
    API answers when a quota would be exceeded or its constraints are not met.
    Evaluated for: pods on create; services and PVCs on create and update; every
    other resource on create.
    """

    def deny(reason: str) -> errors.ApiError:
        who = errors.qualified(resource, group)
        msg = f'{who} "{name}" is forbidden: {reason}' if name else f"{who} is forbidden: {reason}"
        return errors.forbidden(resource, group, name, msg)

    name = name or ((obj or {}).get("metadata") or {}).get("name", "")
    interesting = []
    for i, q in enumerate(quotas):
        if not quota_matches(q, resource, group, obj):
            continue
        status = q.get("status") or {}
        restricted = matching_resources(resource, group, status.get("hard") or {})
        qname = (q.get("metadata") or {}).get("name", "")
        if resource == "pods" and not group and obj is not None:
            problem = _missing_for_containers(restricted, obj)
            if problem:
                raise deny(f"failed quota: {qname}: {problem}")
        unknown = [r for r in restricted if r not in (status.get("used") or {})]
        if unknown:
            raise deny(f"status unknown for quota: {qname}, resources: {','.join(unknown)}")
        interesting.append(i)
    negative = sorted(k for k, v in usage_delta.items() if v < 0)
    if negative:
        raise deny(f"quota usage is negative for resource(s): {','.join(negative)}")
    delta = {k: v for k, v in usage_delta.items() if v != 0}
    if not interesting or not delta:
        return quotas
    out = [deep_copy(q) for q in quotas]
    for i in interesting:
        q = out[i]
        hard, used = q["status"]["hard"], q["status"]["used"]
        requested = {k: v for k, v in delta.items() if k in hard}
        new = {k: parse_quantity(used.get(k, 0)) + v for k, v in requested.items()}
        exceeded = [k for k, v in new.items() if v > parse_quantity(hard[k])]
        if exceeded:
            raise deny(
                f"exceeded quota: {q['metadata']['name']}, "
                f"requested: {_pretty({k: requested[k] for k in exceeded})}, "
                f"used: {_pretty({k: used[k] for k in exceeded})}, "
                f"limited: {_pretty({k: hard[k] for k in exceeded})}"
            )
        for k, v in new.items():
            # Quantity.Add keeps the format of the existing non-zero value.
            old = used.get(k, "0")
            hint = quantity_format(old) if parse_quantity(old) != 0 else k
            used[k] = format_quantity(v, hint)
    return out


def check_quota(
    quotas: list[dict[str, Any]],
    resource: str,
    group: str,
    usage_delta: dict[str, Decimal],
    *,
    name: str = "",
    obj: dict[str, Any] | None = None,
) -> None:
    """Raise the API's 403 if this write does not fit the quotas; see :func:`admit`.

    ``obj`` (the object being written) is needed for scoped quotas and for the
    ``must specify`` check; without it only unscoped quotas apply.
    """
    admit(quotas, resource, group, usage_delta, name=name, obj=obj)


def calculate_used(
    quota: dict[str, Any],
    objects: Iterable[tuple[str, str, dict[str, Any]]],
    now: datetime | None = None,
) -> dict[str, Decimal]:
    """What the quota controller counts: usage of the matching ``(resource, group, obj)``
    in the namespace, for the resources in ``spec.hard``."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    probe = {**quota, "status": {"hard": hard}}
    used = {k: Decimal(0) for k in hard}
    # Without scopes, whether a quota counts an object depends on its resource only.
    scoped = bool(_scope_selectors(probe))
    counted: dict[tuple[str, str], bool] = {}
    for resource, group, obj in objects:
        if scoped:
            matches = quota_matches(probe, resource, group, obj)
        else:
            matches = counted.get((resource, group))
            if matches is None:
                matches = counted[(resource, group)] = quota_matches(probe, resource, group, obj)
        if not matches:
            continue
        for k, v in usage(resource, group, obj, now).items():
            if k in used:
                used[k] += v
    return used


def quota_status(quota: dict[str, Any], used: dict[str, Decimal]) -> dict[str, Any]:
    """The ``status`` the quota controller writes: ``hard`` from ``spec.hard`` and ``used``
    for exactly those resources (0 when nothing is used), keys sorted as Go prints maps."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    return {
        "hard": {k: canonical_quantity(hard[k]) for k in sorted(hard)},
        "used": {k: format_quantity(used.get(k, Decimal(0)), k) for k in sorted(hard)},
    }
