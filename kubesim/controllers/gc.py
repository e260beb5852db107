"""Garbage collection by ownerReferences, as kube-controller-manager's garbage collector.

- An object whose owners are all gone is deleted (background propagation).
- An owner deleted with ``foregroundDeletion`` waits until its dependents are gone.
- An owner deleted with ``orphan`` has the ownerReferences removed from its dependents.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable

from kubesim import errors
from kubesim.controllers import Controller
from kubesim.resources import ResourceType
from kubesim.store import Event

Ref = tuple[tuple[str, str], str, str]  # (rt key, namespace, name)


class GarbageCollector(Controller):
    def __init__(self, sim) -> None:  # type: ignore[no-untyped-def]
        super().__init__(sim)
        self.by_uid: dict[str, Ref] = {}
        self.dependents: dict[str, set[Ref]] = {}

    def on_event(self, ev: Event) -> None:
        m = ev.obj["metadata"]
        ref: Ref = (ev.rt.key, m.get("namespace", ""), m["name"])
        uid = m["uid"]
        old_owners = {
            o["uid"] for o in (ev.old or {}).get("metadata", {}).get("ownerReferences", []) or []
        }
        new_owners = {o["uid"] for o in m.get("ownerReferences", []) or []}
        if ev.type == "DELETED":
            self.by_uid.pop(uid, None)
            for o in new_owners:
                self.dependents.get(o, set()).discard(ref)
            for dep in self.dependents.get(uid, set()).copy():
                self.enqueue(("dependent", dep))
            return
        self.by_uid[uid] = ref
        for o in old_owners - new_owners:
            self.dependents.get(o, set()).discard(ref)
            self._owner_changed(o)
        for o in new_owners:
            self.dependents.setdefault(o, set()).add(ref)
        if new_owners and ev.type == "ADDED":
            self.enqueue(("dependent", ref))
        fins = m.get("finalizers") or []
        if m.get("deletionTimestamp") and ("foregroundDeletion" in fins or "orphan" in fins):
            self.enqueue(("owner", ref))

    def _owner_changed(self, owner_uid: str) -> None:
        ref = self.by_uid.get(owner_uid)
        if ref:
            self.enqueue(("owner", ref))

    def _rt(self, key: tuple[str, str]) -> ResourceType:
        return self.sim.registry.types[key]

    async def reconcile(self, key: Hashable) -> None:
        kind, ref = key  # type: ignore[misc]
        rtkey, ns, name = ref
        rt = self._rt(rtkey)
        obj = self.store.peek(rt, ns, name)
        if obj is None:
            return
        if kind == "dependent":
            self._collect_dependent(rt, obj)
        else:
            self._process_owner(rt, obj)

    def _collect_dependent(self, rt: ResourceType, obj: dict) -> None:
        owners = obj["metadata"].get("ownerReferences") or []
        if not owners:
            return
        live = [o for o in owners if o["uid"] in self.by_uid]
        if live:
            # An owner being deleted in the foreground takes its dependents with it.
            for o in live:
                ort, ons, oname = self.by_uid[o["uid"]]
                owner = self.store.peek(self._rt(ort), ons, oname)
                if owner and "foregroundDeletion" in (owner["metadata"].get("finalizers") or []):
                    self._delete(rt, obj, "Foreground")
                    return
            return
        self._delete(rt, obj, "Background")

    def _delete(self, rt: ResourceType, obj: dict, propagation: str) -> None:
        if obj["metadata"].get("deletionTimestamp"):
            return
        try:
            self.api.delete(
                rt,
                obj["metadata"].get("namespace", ""),
                obj["metadata"]["name"],
                propagation=propagation,
                preconditions={"uid": obj["metadata"]["uid"]},
            )
        except errors.ApiError as e:
            if e.code not in (404, 409):
                raise

    def _process_owner(self, rt: ResourceType, owner: dict) -> None:
        uid = owner["metadata"]["uid"]
        fins = owner["metadata"].get("finalizers") or []
        deps = [
            d
            for d in self.dependents.get(uid, set())
            if self.store.peek(self._rt(d[0]), d[1], d[2]) is not None
        ]
        ns, name = owner["metadata"].get("namespace", ""), owner["metadata"]["name"]
        if "orphan" in fins:
            for drt, dns, dname in deps:
                dep = copy.deepcopy(self.store.peek(self._rt(drt), dns, dname))
                dep["metadata"]["ownerReferences"] = [
                    o for o in dep["metadata"].get("ownerReferences", []) if o["uid"] != uid
                ]
                if not dep["metadata"]["ownerReferences"]:
                    del dep["metadata"]["ownerReferences"]
                self.store.replace(self._rt(drt), dep, check_rv=False)
            self.api.remove_finalizer(rt, ns, name, "orphan")
            return
        if "foregroundDeletion" in fins:
            blocking = []
            for drt, dns, dname in deps:
                dep = self.store.peek(self._rt(drt), dns, dname)
                self._delete(self._rt(drt), dep, "Foreground")
                if any(
                    o["uid"] == uid and o.get("blockOwnerDeletion")
                    for o in dep["metadata"].get("ownerReferences", [])
                ):
                    blocking.append(dep)
            if blocking:
                self.requeue(("owner", (rt.key, ns, name)), 0.1)
                return
            self.api.remove_finalizer(rt, ns, name, "foregroundDeletion")
