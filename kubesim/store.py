"""Object storage with etcd-like revisions, watch history and deletion mechanics.

One global, monotonically increasing resourceVersion (like etcd's revision) stamps every
write. A bounded history of events lets watches resume from a resourceVersion; asking for
one older than the history answers 410 Gone, as the real API does once etcd compacted.

The store is single-threaded by design: every call runs on the server's event loop, so
there are no locks. It enforces what kube-apiserver's generic registry enforces
(optimistic concurrency, generateName, uid/creationTimestamp, deletionTimestamp +
finalizers, graceful deletion) and leaves policy (authz, admission, validation) to
``kubesim.api``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from kubesim import errors
from kubesim.resources import ResourceType

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped


def now_rfc3339() -> str:
    """The current time as the API writes timestamps (whole seconds, UTC)."""
    global _NOW
    second = int(time.time())
    if _NOW[0] != second:  # formatting costs more than the rest of a small write's metadata
        _NOW = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return _NOW[1]


_NOW: tuple[int, str] = (0, "")


def deep_copy(obj: Any) -> Any:
    """``copy.deepcopy`` for API objects, several times faster.

    Every read hands out, and every write takes in, a copy of the object (callers may edit
    what they get; stored objects are never mutated), so copying is a large part of a
    request's cost. A pickle round trip copies plain data (dicts, lists, strings, numbers)
    in C, keeping types and shared references as ``deepcopy`` does; anything that does not
    pickle is copied by ``deepcopy``.
    """
    try:
        return _loads(_dumps(obj, pickle.HIGHEST_PROTOCOL))
    except Exception:  # not picklable (a lambda in a test object, ...): the general way
        return copy.deepcopy(obj)


_dumps, _loads = pickle.dumps, pickle.loads


def to_json(obj: Any) -> bytes:
    """Compact JSON in UTF-8, as the API server writes responses and watch events.

    Encoded by orjson, a few times faster than the standard library's encoder (JSON is a
    tenth of kubesim's CPU when a hub starts a hundred users); like Go's encoder, it writes
    non-ASCII characters as themselves rather than as ``\\u`` escapes. What orjson does not
    encode (keys that are not strings, integers beyond 64 bits) goes through the standard
    library's encoder, compact too, without its check for reference cycles: API objects
    are trees, decoded from JSON or built as such.
    """
    try:
        return orjson.dumps(obj)
    except TypeError:
        return _encode(obj).encode()


_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _suffix(n: int = 5) -> str:
    # The apiserver's generateName alphabet: consonants and digits, no vowels.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(random.choice(alphabet) for _ in range(n))


@dataclass
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    rt: ResourceType
    obj: Obj  # the stored object; never mutated after it is stored
    old: Obj | None = None  # the previous version, for MODIFIED
    _wire: bytes | None = None

    def wire(self) -> bytes:
        """The event as one line of a watch stream; serialised once for all watchers."""
        if self._wire is None:
            self._wire = to_json({"type": self.type, "object": self.obj}) + b"\n"
        return self._wire


class Watcher:
    """A subscriber to events of one resource type (optionally one namespace)."""

    def __init__(
        self, rt: ResourceType, namespace: str | None, predicate: Callable[[Obj], bool] | None
    ):
        self.rt = rt
        self.namespace = namespace
        self.predicate = predicate
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def offer(self, ev: Event) -> None:
        if self.closed or ev.rt.key != self.rt.key:
            return
        if self.namespace and ev.obj["metadata"].get("namespace") != self.namespace:
            return
        self.queue.put_nowait(ev)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class Store:
    def __init__(self, history: int = 20000) -> None:
        self.rv = 1
        self._objects: dict[tuple[str, str], dict[Key, Obj]] = {}
        #: The same objects by type and namespace (name -> object, in the order of the
        #: type's table), so reading one namespace does not scan every namespace's objects.
        self._by_ns: dict[tuple[str, str], dict[str, dict[str, Obj]]] = {}
        self._history: deque[Event] = deque(maxlen=history)
        #: Watchers by resource type key, so an event only reaches its own type's watchers.
        self._watchers: dict[tuple[str, str], set[Watcher]] = {}
        #: Synchronous listeners (controllers) called for every event, in order.
        self.listeners: list[Callable[[Event], None]] = []

    # ------------------------------------------------------------------ reads
    def _table(self, rt: ResourceType) -> dict[Key, Obj]:
        return self._objects.setdefault(rt.key, {})

    def _put(self, rt: ResourceType, key: Key, obj: Obj) -> None:
        self._table(rt)[key] = obj
        self._by_ns.setdefault(rt.key, {}).setdefault(key[0], {})[key[1]] = obj

    def _pop(self, rt: ResourceType, key: Key) -> Obj:
        obj = self._table(rt).pop(key)
        names = self._by_ns[rt.key][key[0]]
        del names[key[1]]
        if not names:
            del self._by_ns[rt.key][key[0]]
        return obj

    def peek(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """The stored object itself (read-only!) or None. For controllers' fast paths."""
        return self._table(rt).get((namespace if rt.namespaced else "", name))

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.peek(rt, namespace, name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return deep_copy(obj)

    def iter(self, rt: ResourceType, namespace: str | None = None) -> Iterable[Obj]:
        """Stored objects (read-only), optionally of one namespace."""
        if namespace is None or not rt.namespaced:
            return list(self._table(rt).values())
        return list(self._by_ns.get(rt.key, {}).get(namespace, {}).values())

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        predicate: Callable[[Obj], bool] | None = None,
        *,
        share: bool = False,
    ) -> tuple[list[Obj], int]:
        """The objects (sorted, optionally filtered) and the store's resourceVersion.
        ``share``: the stored objects themselves, for a caller that only reads them
        (serialises a response), else copies."""
        items = self.iter(rt, namespace)
        if predicate is not None:
            items = [o for o in items if predicate(o)]
        items = sorted(items, key=_sort_key)
        return (items if share else deep_copy(items)), self.rv

    # ----------------------------------------------------------------- writes
    def _bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _emit(self, type_: str, rt: ResourceType, obj: Obj, old: Obj | None = None) -> None:
        ev = Event(int(obj["metadata"]["resourceVersion"]), type_, rt, obj, old)
        self._history.append(ev)
        for w in list(self._watchers.get(rt.key, ())):
            w.offer(ev)
        for listener in list(self.listeners):
            listener(ev)

    def generate_name(self, rt: ResourceType, namespace: str, prefix: str) -> str:
        for _ in range(16):
            candidate = prefix + _suffix()
            if self.peek(rt, namespace, candidate) is None:
                return candidate
        raise errors.ApiError(500, "AlreadyExists", "could not generate a unique name")

    def create(
        self, rt: ResourceType, namespace: str, obj: Obj, *, take: bool = False, share: bool = False
    ) -> Obj:
        """Store a new object; returns a copy of what was stored. ``take=True``: the
        caller hands ``obj`` over (never reads or changes it again), so it is stored
        as it is instead of being copied first. ``share=True``: the caller only reads
        the result (serialises it, looks at its name), so it gets the stored object
        itself rather than a copy."""
        if not take:
            obj = deep_copy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            gen = meta.get("generateName")
            if not gen:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        errors.Cause(
                            "FieldValueRequired",
                            "name or generateName is required",
                            "metadata.name",
                        )
                    ],
                )
            meta["name"] = self.generate_name(rt, namespace, gen)
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        key = (namespace if rt.namespaced else "", meta["name"])
        table = self._table(rt)
        if key in table:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())  # the API layer may have set it
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        meta["resourceVersion"] = self._bump()
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        self._put(rt, key, obj)
        self._emit("ADDED", rt, obj)
        return obj if share else deep_copy(obj)

    def replace(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        check_rv: bool = True,
        bump_generation: bool = True,
        take: bool = False,
        share: bool = False,
    ) -> Obj:
        """Store a new version of an existing object (the caller merged it).

        Enforces optimistic concurrency: a ``metadata.resourceVersion`` that is set and
        differs from the stored one is a 409 Conflict. Removing the last finalizer of an
        object that is being deleted removes the object, as the real registry does.
        ``bump_generation=False`` for spec writes that bypass the update strategy (a pod's
        binding to its node), which leave ``metadata.generation`` alone. ``take`` and
        ``share`` as for ``create``.
        """
        if not take:
            obj = deep_copy(obj)
        meta = obj["metadata"]
        key = (meta.get("namespace", "") if rt.namespaced else "", meta["name"])
        table = self._table(rt)
        old = table.get(key)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, meta["name"])
        if (
            check_rv
            and meta.get("resourceVersion")
            and (meta["resourceVersion"] != old["metadata"]["resourceVersion"])
        ):
            raise errors.conflict(rt.plural, rt.group, meta["name"])
        # System fields can't be changed by a client.
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in old["metadata"]:
                meta[f] = old["metadata"][f]
            else:
                meta.pop(f, None)
        if old["metadata"].get("deletionTimestamp") and _added_finalizers(old, obj):
            raise errors.forbidden(
                rt.plural,
                rt.group,
                meta["name"],
                f'{rt.plural} "{meta["name"]}" is forbidden: no new finalizers can be added if '
                "the object is being deleted",
            )
        if bump_generation and _spec_changed(old, obj):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        else:
            meta["generation"] = old["metadata"].get("generation", 1)
        if _same(old, obj):  # no-op writes don't bump resourceVersion
            return old if share else deep_copy(old)
        meta["resourceVersion"] = self._bump()
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        self._put(rt, key, obj)
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and (rt.plural != "pods" or meta.get("deletionGracePeriodSeconds") == 0)
            # A namespace also waits for its spec.finalizers (the namespace controller's).
            and not (rt.key == ("", "namespaces") and obj.get("spec", {}).get("finalizers"))
        ):
            return self._remove(rt, key)
        self._emit("MODIFIED", rt, obj, old)
        return obj if share else deep_copy(obj)

    def mark_deleting(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        grace: int | None,
        add_finalizer: str | None = None,
    ) -> Obj:
        """Set deletionTimestamp (graceful deletion / finalizers pending)."""
        obj = self.get(rt, namespace, name)
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now_rfc3339()
        if grace is not None:
            cur = meta.get("deletionGracePeriodSeconds")
            meta["deletionGracePeriodSeconds"] = grace if cur is None else min(cur, grace)
        if add_finalizer and add_finalizer not in meta.get("finalizers", []):
            meta.setdefault("finalizers", []).append(add_finalizer)
        key = (namespace if rt.namespaced else "", name)
        old = self._table(rt)[key]
        meta["resourceVersion"] = self._bump()
        self._put(rt, key, obj)
        self._emit("MODIFIED", rt, obj, old)
        return deep_copy(obj)

    def remove(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        key = (namespace if rt.namespaced else "", name)
        if key not in self._table(rt):
            raise errors.not_found(rt.plural, rt.group, name)
        return self._remove(rt, key)

    def _remove(self, rt: ResourceType, key: Key) -> Obj:
        stored = self._pop(rt, key)
        # The last version with the deletion's resourceVersion; it shares the rest with
        # the stored version, which nobody mutates (events and history keep it).
        obj = {**stored, "metadata": {**stored["metadata"], "resourceVersion": self._bump()}}
        self._emit("DELETED", rt, obj)
        return deep_copy(obj)

    # ------------------------------------------------------------------ watch
    def oldest_rv(self) -> int:
        return self._history[0].rv if self._history else self.rv

    def subscribe(
        self,
        rt: ResourceType,
        namespace: str | None,
        predicate: Callable[[Obj], bool] | None,
        since: int | None,
    ) -> tuple[Watcher, list[Event]]:
        """Register a watcher; returns it and the backlog to replay first.

        ``since`` None means "start with the current state" (synthetic ADDED events).
        Raises 410 Gone when ``since`` predates the retained history.
        """
        w = Watcher(rt, namespace, predicate)
        backlog: list[Event] = []
        if since is None:
            for o in sorted(self.iter(rt, namespace), key=_sort_key):
                if predicate is not None and not predicate(o):
                    continue
                backlog.append(Event(int(o["metadata"]["resourceVersion"]), "ADDED", rt, o))
        else:
            # After compact() the history is empty: everything before now is gone.
            floor = self._history[0].rv - 1 if self._history else self.rv
            if since < floor:
                raise errors.gone(f"too old resource version: {since} ({floor})")
            for ev in self._history:
                if (
                    ev.rv > since
                    and ev.rt.key == rt.key
                    and (not namespace or ev.obj["metadata"].get("namespace") == namespace)
                ):
                    backlog.append(ev)
        self._watchers.setdefault(rt.key, set()).add(w)
        return w, backlog

    def unsubscribe(self, w: Watcher) -> None:
        self._watchers.get(w.rt.key, set()).discard(w)
        w.close()

    def watcher_count(self) -> int:
        return sum(len(ws) for ws in self._watchers.values())

    def drop_watches(self, rt: ResourceType | None = None) -> int:
        """Close watch streams (fault injection: clients must re-watch)."""
        n = 0
        for w in [w for ws in self._watchers.values() for w in ws]:
            if rt is None or w.rt.key == rt.key:
                self.unsubscribe(w)
                n += 1
        return n

    def compact(self) -> None:
        """Forget all history (as etcd compaction does): older watches then get 410."""
        self._history.clear()


def _sort_key(o: Obj) -> tuple[str, str]:
    m = o["metadata"]
    return (m.get("namespace", ""), m["name"])


def _same(a: Obj, b: Obj) -> bool:
    a2 = {k: v for k, v in a.items() if k != "metadata"}
    b2 = {k: v for k, v in b.items() if k != "metadata"}
    ma = {k: v for k, v in a["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    mb = {k: v for k, v in b["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    a2["apiVersion"] = b2["apiVersion"] = a2["kind"] = b2["kind"] = None
    return a2 == b2 and ma == mb


def _spec_changed(a: Obj, b: Obj) -> bool:
    ignore = ("metadata", "status", "apiVersion", "kind")
    return {k: v for k, v in a.items() if k not in ignore} != {
        k: v for k, v in b.items() if k not in ignore
    }


def _added_finalizers(old: Obj, new: Obj) -> bool:
    return bool(
        set(new["metadata"].get("finalizers", [])) - set(old["metadata"].get("finalizers", []))
    )


__all__ = ["Event", "Obj", "Store", "Watcher", "now_rfc3339", "to_json"]
