"""Make the cluster match a plan: idempotent create-or-update, concurrent, then prune.

Each object is created; if it exists (409), it is read and, when a field teamhub sets
differs, replaced with the read resourceVersion (409 on that retries the read). So a
second start with nothing changed costs one create + one read per object and writes
nothing. PersistentVolumes and claims have immutable specs: an existing one is only
relabelled, and a changed source is reported rather than silently swapped under
someone's data.

Calls go through kubernetes_asyncio's typed APIs (the same clients KubeSpawner shares),
with the manifests as plain dicts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from kubernetes_asyncio.client.rest import ApiException
from kubespawner.clients import shared_client

log = logging.getLogger(__name__)

#: kind -> (API class, method suffix, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("CoreV1Api", "namespace", False),
    "ServiceAccount": ("CoreV1Api", "namespaced_service_account", True),
    "Secret": ("CoreV1Api", "namespaced_secret", True),
    "PersistentVolume": ("CoreV1Api", "persistent_volume", False),
    "PersistentVolumeClaim": ("CoreV1Api", "namespaced_persistent_volume_claim", True),
    "ResourceQuota": ("CoreV1Api", "namespaced_resource_quota", True),
    "LimitRange": ("CoreV1Api", "namespaced_limit_range", True),
    "Role": ("RbacAuthorizationV1Api", "namespaced_role", True),
    "RoleBinding": ("RbacAuthorizationV1Api", "namespaced_role_binding", True),
    "NetworkPolicy": ("NetworkingV1Api", "namespaced_network_policy", True),
}
#: Kinds whose spec cannot change after creation: only metadata is reconciled.
IMMUTABLE_SPEC = frozenset({"PersistentVolume", "PersistentVolumeClaim"})
#: Top-level fields compared per kind (status and server-set fields are ignored).
_IGNORED_TOP = frozenset({"apiVersion", "kind", "metadata", "status"})


class ProvisionError(RuntimeError):
    """An object could not be made to match; the message names it."""


def _call(kind: str, verb: str) -> tuple[Callable[..., Awaitable[Any]], bool]:
    api_name, suffix, namespaced = KINDS[kind]
    return getattr(shared_client(api_name), f"{verb}_{suffix}"), namespaced


def to_dict(obj: Any) -> dict:
    """A kubernetes_asyncio model as the API's JSON (camelCase)."""
    if isinstance(obj, dict):
        return obj
    return shared_client("CoreV1Api").api_client.sanitize_for_serialization(obj)


def contains(actual: Any, desired: Any) -> bool:
    """Whether ``actual`` already has every value ``desired`` sets (dicts: subset; lists and
    scalars: equal), i.e. whether writing ``desired`` would change anything we own."""
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            return False
        return all(contains(actual.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return False
        return all(contains(a, d) for a, d in zip(actual, desired, strict=True))
    return actual == desired


def _name(obj: Mapping) -> str:
    m = obj["metadata"]
    ns = m.get("namespace")
    return f"{obj['kind']} {ns + '/' if ns else ''}{m['name']}"


async def read(kind: str, namespace: str, name: str) -> dict | None:
    fn, namespaced = _call(kind, "read")
    try:
        return to_dict(await (fn(name, namespace) if namespaced else fn(name)))
    except ApiException as e:
        if e.status == 404:
            return None
        raise


async def ensure(obj: Mapping, attempts: int = 4) -> str:
    """Create ``obj`` or bring the existing one in line; returns what was done."""
    kind, meta = obj["kind"], obj["metadata"]
    ns = meta.get("namespace", "")
    create, namespaced = _call(kind, "create")
    replace, _ = _call(kind, "replace")
    for _ in range(attempts):
        try:
            await (create(ns, obj) if namespaced else create(obj))
            return "created"
        except ApiException as e:
            if e.status != 409:
                raise ProvisionError(f"creating {_name(obj)}: {_reason(e)}") from e
        current = await read(kind, ns, meta["name"])
        if current is None:
            continue  # deleted meanwhile: create again
        if current["metadata"].get("deletionTimestamp"):
            raise ProvisionError(f"{_name(obj)} is being deleted; try again once it is gone")
        desired = dict(obj)
        if kind in IMMUTABLE_SPEC:
            if not contains(current.get("spec"), obj.get("spec")):
                log.warning(
                    "%s exists with a different spec; keeping it (its spec is immutable; "
                    "delete it to apply the new config)",
                    _name(obj),
                )
            desired = {**current, "metadata": {**current["metadata"]}}
            for f in ("labels", "annotations"):
                desired["metadata"][f] = {
                    **(current["metadata"].get(f) or {}),
                    **(meta.get(f) or {}),
                }
        if contains(current, {k: v for k, v in desired.items() if k not in _IGNORED_TOP}) and (
            contains(current["metadata"], {f: meta.get(f) or {} for f in ("labels", "annotations")})
        ):
            return "unchanged"
        body = {**current, **{k: v for k, v in desired.items() if k != "status"}}
        body["metadata"] = {
            **current["metadata"],
            "labels": {**(current["metadata"].get("labels") or {}), **(meta.get("labels") or {})},
            "annotations": {
                **(current["metadata"].get("annotations") or {}),
                **(meta.get("annotations") or {}),
            },
        }
        try:
            name = meta["name"]
            await (replace(name, ns, body) if namespaced else replace(name, body))
            return "updated"
        except ApiException as e:
            if e.status in (404, 409):
                continue  # changed or deleted under us: read again
            raise ProvisionError(f"updating {_name(obj)}: {_reason(e)}") from e
    raise ProvisionError(f"{_name(obj)} kept changing while teamhub was updating it")


async def ensure_all(objs: Iterable[Mapping]) -> dict[str, str]:
    """:func:`ensure` every object concurrently; the first failure is raised after all
    have finished (so nothing is left mid-request)."""
    objs = list(objs)
    results = await asyncio.gather(*(ensure(o) for o in objs), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return {_name(o): str(r) for o, r in zip(objs, results, strict=True)}


async def list_labelled(kind: str, namespace: str, selector: str) -> list[dict]:
    fn, namespaced = _call(kind, "list")
    resp = await (
        fn(namespace, label_selector=selector) if namespaced else fn(label_selector=selector)
    )
    out = []
    for item in to_dict(resp).get("items", []):
        item.setdefault("kind", kind)
        out.append(item)
    return out


async def delete(kind: str, namespace: str, name: str, propagation: str = "Background") -> bool:
    """Delete; False if it was already gone."""
    fn, namespaced = _call(kind, "delete")
    body = {"propagationPolicy": propagation}
    try:
        await (fn(name, namespace, body=body) if namespaced else fn(name, body=body))
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise ProvisionError(f"deleting {kind} {namespace}/{name}: {_reason(e)}") from e


async def patch(kind: str, namespace: str, name: str, body: Mapping) -> None:
    fn, namespaced = _call(kind, "patch")
    await (fn(name, namespace, body) if namespaced else fn(name, body))


def _reason(e: ApiException) -> str:
    import json

    try:
        return json.loads(e.body)["message"]
    except (TypeError, ValueError, KeyError):
        return f"{e.status} {e.reason}"
