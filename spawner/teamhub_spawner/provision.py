"""Make the cluster match a plan: idempotent create-or-update, concurrent, then prune.

Each object is created; if it exists (409), it is read and, when a field teamhub sets
differs, replaced with the read resourceVersion (409 on that retries the read). So a
second start with nothing changed costs one create + one read per object and writes
nothing. PersistentVolumes and claims have immutable specs: an existing one is only
relabelled, and a changed source is reported rather than silently swapped under
someone's data.

Every request is retried, a bounded number of times with jittered exponential backoff,
when the failure is one a healthy cluster produces now and then: 429 (after its
``Retry-After``), 500, 502, 503, 504, a dropped connection or a timeout. The operations
are safe to repeat: a create that did happen answers 409 the second time (and is then
compared like any existing object), a delete answers 404, a replace with a stale
resourceVersion answers 409 and is read again. Anything else, or a transient error that
outlasts the retries, is a :class:`ProvisionError` naming the object and the verb.

Requests go to each kind's REST path through the transport of the client KubeSpawner
shares (:mod:`.restapi`), with the manifests and the answers as plain JSON: teamhub never
needs the typed models, and building them cost the hub more CPU than the request itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes_asyncio.client.rest import ApiException

from teamhub_spawner import restapi
from teamhub_spawner.apiclients import shared
from teamhub_spawner.ordering import in_flight

log = logging.getLogger(__name__)

#: Kinds whose spec cannot change after creation: only metadata is reconciled.
IMMUTABLE_SPEC = frozenset({"PersistentVolume", "PersistentVolumeClaim"})
#: Kinds whose spec is immutable but holds no data: a changed spec is applied by deleting
#: the object and creating it again (a Kueue LocalQueue's ``clusterQueue``).
RECREATE_ON_SPEC_CHANGE = frozenset({"LocalQueue"})
#: Top-level fields compared per kind (status and server-set fields are ignored).
_IGNORED_TOP = frozenset({"apiVersion", "kind", "metadata", "status"})
#: HTTP statuses worth another try: overload, and server errors that a retry can outlive.
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one request tries before its failure is reported.

    With the defaults a request gets 6 tries over at most ~6 s of backoff (plus what
    429s ask for), so a spawn rides out a short API-server hiccup but a real outage is
    reported well within JupyterHub's ``start_timeout``.
    """

    #: Tries per request, the first included.
    attempts: int = 6
    #: Backoff before retry n is uniform in [0, min(max_delay, base_delay * 2**n)].
    base_delay: float = 0.1
    max_delay: float = 2.0
    #: A 429's Retry-After is honoured up to this many seconds.
    max_retry_after: float = 5.0
    #: Seconds one request may take before it counts as failed (and is retried).
    request_timeout: float = 10.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


#: The policy every call here uses unless given another one.
DEFAULT_RETRY = RetryPolicy()

#: Seconds a Secret read with :func:`read_shared` is reused by later spawns. Short: its
#: purpose is that 100 users starting together read the admin's team Secret once, not
#: 100 times; a rotated Secret reaches every spawn that starts this long after rotation.
SHARED_READ_TTL = 5.0


class ProvisionError(RuntimeError):
    """An object could not be made to match; the message names it."""


def to_dict(obj: Any) -> dict:
    """A kubernetes_asyncio model as the API's JSON (camelCase)."""
    if isinstance(obj, dict):
        return obj
    return shared("CoreV1Api").api_client.sanitize_for_serialization(obj)


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
    return _ref(obj["kind"], m.get("namespace") or "", m["name"])


def _ref(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


# ------------------------------------------------------------------ one request, retried
def is_transient(e: BaseException) -> bool:
    """Whether ``e`` is a failure worth retrying (overload, server error, network)."""
    if isinstance(e, ApiException):
        return e.status in TRANSIENT_STATUS
    return isinstance(e, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError)


def _retry_after(e: BaseException, policy: RetryPolicy) -> float | None:
    headers = getattr(e, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(max(float(value), 0.0), policy.max_retry_after) if value else None
    except ValueError:  # an HTTP date: not worth parsing, back off normally
        return None


async def call(
    kind: str,
    verb: str,
    namespace: str = "",
    name: str = "",
    *,
    what: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    policy: RetryPolicy | None = None,
    parse: bool = True,
) -> Any:
    """``verb`` (create, read, list, replace, patch, delete) on ``kind`` objects in
    ``namespace`` (or the one called ``name``), as JSON, retried while the failure is
    transient. ``parse=False``: the answer is not needed (None is returned), so it is not
    decoded. A patch is a JSON merge patch.

    Raises ApiException for a definite answer (404, 409, 403, 422...), which callers
    interpret, and :class:`ProvisionError` when transient failures outlast the retries.
    ``what`` names the operation in that error, e.g. ``"creating Secret ns/name"``.
    """
    policy = policy or DEFAULT_RETRY
    method = restapi.METHODS[verb]
    url_path = restapi.path(kind, namespace if restapi.namespaced(kind) else "", name)
    content_type = "application/merge-patch+json" if verb == "patch" else "application/json"
    for attempt in range(policy.attempts):
        try:
            async with in_flight():
                return await restapi.send(
                    method,
                    url_path,
                    body=body,
                    query=query,
                    timeout=policy.request_timeout,
                    parse=parse,
                    content_type=content_type,
                )
        except Exception as e:
            if not is_transient(e):
                raise
            if attempt == policy.attempts - 1:
                raise ProvisionError(
                    f"{what}: {reason(e)} (gave up after {policy.attempts} attempts)"
                ) from e
            delay = _retry_after(e, policy)
            delay = policy.backoff(attempt) if delay is None else delay
            log.debug("%s: %s; retrying in %.2f s", what, reason(e), delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------ the verbs teamhub uses
async def read(kind: str, namespace: str, name: str) -> dict | None:
    """The object as JSON, or None if there is none."""
    what = f"reading {_ref(kind, namespace, name)}"
    try:
        return await call(kind, "read", namespace, name, what=what)
    except ApiException as e:
        if e.status == 404:
            return None
        raise ProvisionError(f"{what}: {reason(e)}") from e


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = weakref.WeakKeyDictionary()


async def read_shared(
    kind: str, namespace: str, name: str, ttl: float = SHARED_READ_TTL
) -> dict | None:
    """:func:`read`, shared by every caller that asks within ``ttl`` seconds (and by all
    callers waiting on the same request). For objects many spawns read and none writes:
    the admin-managed team Secrets. A missing object is not remembered, and an answer is
    forgotten when its ``ttl`` is over (the hub keeps no credential values between
    bursts of starts). The answer is shared: do not modify it."""
    loop = asyncio.get_running_loop()
    cache = _shared.setdefault(loop, {})
    key = (kind, namespace, name)
    hit = cache.get(key)
    if hit is not None and (not hit[1].done() or loop.time() < hit[0]):
        return await asyncio.shield(hit[1])
    task = loop.create_task(read(kind, namespace, name))
    entry = (loop.time() + ttl, task)
    cache[key] = entry
    try:
        result = await asyncio.shield(task)
    except BaseException:
        if cache.get(key) is entry:
            del cache[key]
        raise
    if result is None and cache.get(key) is entry:
        del cache[key]
    else:
        loop.call_at(entry[0], _forget, cache, key, entry)
    return result


def _forget(cache: dict, key: tuple, entry: tuple) -> None:
    if cache.get(key) is entry:
        del cache[key]


def _released(kind: str, current: Mapping) -> bool:
    """A pre-bound PersistentVolume whose claim is gone (phase ``Released``)."""
    return (
        kind == "PersistentVolume"
        and "claimRef" in (current.get("spec") or {})
        and (current.get("status") or {}).get("phase") == "Released"
    )


def object_key(obj: Mapping) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of a manifest (namespace "" for cluster-scoped kinds)."""
    meta = obj["metadata"]
    return (obj["kind"], meta.get("namespace", ""), meta["name"])


async def ensure(obj: Mapping, attempts: int = 4, current: Mapping | None = None) -> str:
    """Create ``obj`` or bring the existing one in line; returns what was done.

    ``current``: the object as just listed, if it exists; then it is compared at once
    instead of being created (409) and read first."""
    kind, meta = obj["kind"], obj["metadata"]
    ns, name = meta.get("namespace", ""), meta["name"]
    for _ in range(attempts):
        if current is None:
            try:
                await call(kind, "create", ns, body=obj, what=f"creating {_name(obj)}", parse=False)
                return "created"
            except ApiException as e:
                if e.status != 409:
                    raise ProvisionError(f"creating {_name(obj)}: {reason(e)}") from e
            current = await read(kind, ns, name)
            if current is None:
                continue  # deleted meanwhile: create again
        if current["metadata"].get("deletionTimestamp"):
            raise ProvisionError(f"{_name(obj)} is being deleted; try again once it is gone")
        if kind in RECREATE_ON_SPEC_CHANGE and not contains(current.get("spec"), obj.get("spec")):
            log.info("%s: its spec changed and is immutable; replacing it", _name(obj))
            await delete(kind, ns, name)
            current = None
            continue
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
        released = _released(kind, current) and "claimRef" in obj["spec"]
        if released:
            # Its claim is gone (e.g. deleted with the namespace) and its claimRef still
            # holds that claim's uid: the PV controller would not bind it to the new claim
            # of the same name. claimRef is mutable: set back to the plan's (no uid), as an
            # admin reclaims a Retain volume by hand. The data is not touched.
            log.info("%s was Released; binding it to its claim again", _name(obj))
            desired["spec"] = {**current["spec"], "claimRef": obj["spec"]["claimRef"]}
        if (
            not released
            and contains(current, {k: v for k, v in desired.items() if k not in _IGNORED_TOP})
            and contains(
                current["metadata"], {f: meta.get(f) or {} for f in ("labels", "annotations")}
            )
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
            await call(
                kind, "replace", ns, name, body=body, what=f"updating {_name(obj)}", parse=False
            )
            return "updated"
        except ApiException as e:
            if e.status in (404, 409):
                current = None
                continue  # changed or deleted under us: read again
            raise ProvisionError(f"updating {_name(obj)}: {reason(e)}") from e
    raise ProvisionError(f"{_name(obj)} kept changing while teamhub was updating it")


async def ensure_all(
    objs: Iterable[Mapping], existing: Mapping[tuple[str, str, str], Mapping] | None = None
) -> dict[str, str]:
    """:func:`ensure` every object concurrently; the first failure is raised after all
    have finished (so nothing is left mid-request).

    ``existing``: what a listing just found, by :func:`object_key`. An object found there
    is compared without a request; one not found is created (and, if it existed after
    all, e.g. without the labels the listing asked for, read and compared then)."""
    objs = list(objs)
    found = existing or {}
    results = await asyncio.gather(
        *(ensure(o, current=found.get(object_key(o))) for o in objs), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return {_name(o): str(r) for o, r in zip(objs, results, strict=True)}


async def list_labelled(kind: str, namespace: str, selector: str) -> list[dict]:
    """The objects of ``kind`` with these labels. A kind the cluster does not serve (404:
    a listing in a namespace that does not exist is an empty 200) has none, so what is
    optional in a cluster, like Kueue's LocalQueues, can be pruned without asking first."""
    where = f"{kind} objects{' in ' + namespace if namespace else ''} labelled {selector}"
    try:
        resp = await call(
            kind, "list", namespace, what=f"listing {where}", query={"labelSelector": selector}
        )
    except ApiException as e:
        if e.status == 404:
            return []
        raise ProvisionError(f"listing {where}: {reason(e)}") from e
    out = []
    for item in (resp or {}).get("items", []):
        item.setdefault("kind", kind)
        out.append(item)
    return out


async def delete(
    kind: str,
    namespace: str,
    name: str,
    propagation: str = "Background",
    grace_seconds: int | None = None,
) -> bool:
    """Delete; False if it was already gone."""
    body: dict[str, Any] = {"propagationPolicy": propagation}
    if grace_seconds is not None:
        body["gracePeriodSeconds"] = grace_seconds
    what = f"deleting {_ref(kind, namespace, name)}"
    try:
        await call(kind, "delete", namespace, name, what=what, body=body, parse=False)
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise ProvisionError(f"{what}: {reason(e)}") from e


async def patch(kind: str, namespace: str, name: str, body: Mapping) -> None:
    """JSON merge patch (retried while transient); a definite error (404...) raises
    ApiException."""
    what = f"patching {_ref(kind, namespace, name)}"
    await call(kind, "patch", namespace, name, body=body, what=what, parse=False)


def reason(e: BaseException) -> str:
    """What the API server said (its Status message), or what went wrong on the way."""
    if not isinstance(e, ApiException):
        return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    try:
        return f"{e.status} {json.loads(e.body)['message']}"
    except (TypeError, ValueError, KeyError):
        return f"{e.status} {e.reason}"
