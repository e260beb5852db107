"""PersistentVolume binding, as the PV controller does it.

- A PVC naming a PV (``spec.volumeName``), or a PV pre-bound to a PVC by ``claimRef``,
  become Bound to each other when they are compatible.
- An unbound PVC is matched with an Available PV of the same StorageClass whose capacity
  and access modes suffice (smallest first).
- A PVC of a StorageClass with a provisioner gets a dynamically provisioned PV
  (``pvc-<uid>``), whose reclaim policy is the class's.
- A PVC of a ``WaitForFirstConsumer`` class stays Pending (``WaitForFirstConsumer``
  event) until the scheduler has picked a node for a pod using it, and either reserved a
  volume usable there for it (the PV's ``claimRef``: then it is bound to that one) or said
  so in the ``volume.kubernetes.io/selected-node`` annotation (then one is provisioned).
  As the real PV controller, it never matches such a claim with a free volume itself.
- When a bound PVC goes, its PV is Released; ``Delete`` reclaim policy removes it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING

from kubesim.controllers import Controller
from kubesim.store import Event
from kubesim.volumematch import best_match, claim_ref, compatible, reserved_for

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

PROVISIONER = "kubesim.io/hostpath"


#: The component of the PV controller's events.
COMPONENT = "persistentvolume-controller"


#: The node label a provisioned volume's node affinity names.
HOSTNAME = "kubernetes.io/hostname"

#: The annotation by which the scheduler tells the PV controller (and provisioners) the
#: node of the first pod using a WaitForFirstConsumer claim.
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def _delays_binding(sc: dict | None) -> bool:
    """A class whose claims the PV controller binds only once the scheduler has chosen."""
    return bool(sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer")


def _with_status(obj: dict, **status: str) -> dict:
    """A new version of a stored object with these status fields: its own top level,
    metadata (the store writes resourceVersion there) and status; the rest is shared with
    the stored version, which is never changed in place (the writers below copy what they
    change)."""
    return {
        **obj,
        "metadata": dict(obj["metadata"]),
        "status": {**(obj.get("status") or {}), **status},
    }


class _References:
    """Which objects refer to which (each to at most one): target -> {referrer: its place
    in the store}, so that the referrers of a target come out in the store's order."""

    def __init__(self) -> None:
        self._target: dict[Hashable, Hashable] = {}
        self._referrers: dict[Hashable, dict[Hashable, int]] = {}

    def set(self, referrer: Hashable, target: Hashable | None, place: int) -> None:
        """``referrer`` now refers to ``target`` (None: to nothing)."""
        before = self._target.pop(referrer, None)
        if before is not None:
            refs = self._referrers[before]
            refs.pop(referrer, None)
            if not refs:
                del self._referrers[before]
        if target is not None:
            self._target[referrer] = target
            self._referrers.setdefault(target, {})[referrer] = place

    def to(self, target: Hashable) -> dict[Hashable, int] | None:
        """The referrers of ``target`` and their places."""
        return self._referrers.get(target)


class VolumeController(Controller):
    watches = (
        ("", "persistentvolumeclaims"),
        ("", "persistentvolumes"),
        ("storage.k8s.io", "storageclasses"),
    )
    #: Pods wait for their claims to bind (the scheduler's VolumeBinding check): binding
    #: must keep up with a burst of creates, as the real PV controller, beside the API
    #: server, does.
    turn = 0.005

    def __init__(self, sim: KubeSim) -> None:
        super().__init__(sim)
        #: The claims whose ``spec.volumeName`` names a PV, by PV name.
        self._naming = _References()
        #: The store keeps objects in the order they were created (a replaced object keeps
        #: its place), so numbering ADDED events orders claims as ``store.iter`` does.
        self._place: dict[tuple[str, str], int] = {}
        self._added = 0
        #: PVs likewise: each one's place, those whose ``claimRef`` names a claim (by the
        #: claim's (namespace, name)), and those Available to any claim, so that finding a
        #: claim's volume looks at its candidates only, not at every PV.
        self._pv_place: dict[str, int] = {}
        self._claimed = _References()
        self._available: dict[str, int] = {}

    def keys_for(self, ev: Event):  # type: ignore[override]
        m = ev.obj["metadata"]
        if ev.rt.plural == "storageclasses":
            # A new or changed class may provision for claims waiting without a volume (the
            # real controller finds them at its next resync).
            if ev.type != "DELETED":
                yield from self._pending_claims(lambda wanted: not wanted)
            return
        if ev.rt.plural == "persistentvolumes":
            self._index_pv(ev)
            yield ("pv", m["name"], ev.type == "DELETED")
            ref = ev.obj.get("spec", {}).get("claimRef") or {}
            if ref.get("name"):
                yield ("pvc", ref.get("namespace", ""), ref["name"])
            yield from self._waiting_claims(ev)
        else:
            self._index_claim(ev)
            yield ("pvc", m["namespace"], m["name"])
            if ev.type == "DELETED" and ev.obj.get("spec", {}).get("volumeName"):
                yield ("pv", ev.obj["spec"]["volumeName"], False)

    def _waiting_claims(self, ev: Event):  # type: ignore[no-untyped-def]
        """Pending claims this PV's change may let bind, in the store's order: those naming
        it, and, when it is Available and claimed by nobody, those looking for a match.
        Other pending claims cannot bind to it and nothing else changed for them (a claim
        is also synced on its own events and on those of a PV pre-bound to it)."""
        name = ev.obj["metadata"]["name"]
        spec = ev.obj.get("spec", {})
        pvc_rt = self.api.rt("", "persistentvolumeclaims")
        if (
            ev.type != "DELETED"
            and not spec.get("claimRef")
            and ev.obj.get("status", {}).get("phase") == "Available"
        ):
            yield from self._pending_claims(lambda wanted: not wanted or wanted == name)
            return
        naming = self._naming.to(name)
        for ns, claim in sorted(naming or (), key=naming.__getitem__ if naming else None):
            pvc = self.store.peek(pvc_rt, ns, claim)
            if pvc is not None and pvc.get("status", {}).get("phase") == "Pending":
                yield ("pvc", ns, claim)

    def _pending_claims(self, wants):  # type: ignore[no-untyped-def]
        """Pending claims whose ``spec.volumeName`` satisfies ``wants``, in store order."""
        for pvc in self.store.iter(self.api.rt("", "persistentvolumeclaims")):
            if pvc.get("status", {}).get("phase") == "Pending" and wants(
                pvc.get("spec", {}).get("volumeName")
            ):
                yield ("pvc", pvc["metadata"]["namespace"], pvc["metadata"]["name"])

    def _index_claim(self, ev: Event) -> None:
        m = ev.obj["metadata"]
        key = (m["namespace"], m["name"])
        if ev.type == "ADDED":
            self._added += 1
            self._place[key] = self._added
        wanted = ev.obj.get("spec", {}).get("volumeName")
        if ev.type == "DELETED":
            self._place.pop(key, None)
            wanted = None
        self._naming.set(key, wanted or None, self._place.get(key, 0))

    def _index_pv(self, ev: Event) -> None:
        name = ev.obj["metadata"]["name"]
        if ev.type == "ADDED":
            self._added += 1
            self._pv_place[name] = self._added
        self._available.pop(name, None)
        if ev.type == "DELETED":
            self._pv_place.pop(name, None)
            self._claimed.set(name, None, 0)
            return
        place = self._pv_place.get(name, 0)
        ref = ev.obj.get("spec", {}).get("claimRef") or {}
        claim = (ref.get("namespace"), ref["name"]) if ref.get("name") else None
        self._claimed.set(name, claim, place)
        if not ref and ev.obj.get("status", {}).get("phase") == "Available":
            self._available[name] = place

    def _candidates(self, names: Mapping[Hashable, int] | None) -> list[dict]:
        """The stored PVs of ``names`` in the store's order."""
        pv_rt = self.api.rt("", "persistentvolumes")
        found = []
        for name in sorted(names or (), key=(names or {}).__getitem__):
            pv = self.store.peek(pv_rt, "", name)
            if pv is not None:
                found.append(pv)
        return found

    async def reconcile(self, key: Hashable) -> None:
        if key[0] == "pv":  # type: ignore[index]
            self._sync_pv(key[1])  # type: ignore[index]
        else:
            self._sync_pvc(key[1], key[2])  # type: ignore[index]

    # ------------------------------------------------------------------ PVCs
    def _sync_pvc(self, ns: str, name: str) -> None:
        pvc_rt, pv_rt = (
            self.api.rt("", "persistentvolumeclaims"),
            self.api.rt("", "persistentvolumes"),
        )
        pvc = self.store.peek(pvc_rt, ns, name)
        if pvc is None or pvc["metadata"].get("deletionTimestamp"):
            return
        if pvc.get("status", {}).get("phase") == "Bound":
            pv = self.store.peek(pv_rt, "", pvc["spec"].get("volumeName", ""))
            if pv is None:
                self._set_pvc(pvc, "Lost", None)
            return
        spec = pvc.get("spec", {})
        pv = None
        if spec.get("volumeName"):
            pv = self.store.peek(pv_rt, "", spec["volumeName"])
            if pv is None or not compatible(pv, pvc, by_name=True):
                return  # stays Pending until that PV appears
            if not reserved_for(pv, pvc):
                # The user asked for a PV that is another claim's (or was: Released, its
                # claimRef still holds the gone claim's uid). The PV controller leaves the
                # claim Pending and says so; it binds once the PV's claimRef is cleared.
                self.sim.recorder.record(
                    pvc,
                    "Warning",
                    "FailedBinding",
                    f'volume "{pv["metadata"]["name"]}" already bound to a different claim.',
                    COMPONENT,
                )
                if pvc.get("status", {}).get("phase") != "Pending":
                    self._set_pvc(pvc, "Pending", None)
                return
        else:
            sc_name = spec.get("storageClassName")
            sc = self.store.peek(self.api.rt("storage.k8s.io", "storageclasses"), "", sc_name or "")
            if _delays_binding(sc):
                # Bound only to a PV pre-bound to it: the scheduler, having picked a node
                # for a pod that uses it, reserves a volume usable there (claimRef) or
                # names the node on the claim (selected-node) for one to be provisioned.
                pv = self._find_prebound(pvc)
                if pv is None and SELECTED_NODE not in (pvc["metadata"].get("annotations") or {}):
                    self.sim.recorder.record(
                        pvc,
                        "Normal",
                        "WaitForFirstConsumer",
                        "waiting for first consumer to be created before binding",
                        COMPONENT,
                    )
                    return
            else:
                pv = self._find_prebound(pvc) or self._find_match(pvc)
            if pv is None:
                if not (sc and sc.get("provisioner") == PROVISIONER):
                    return
                pv = self._provision(pvc, sc)
        self._bind(pv, pvc)

    def _find_prebound(self, pvc: dict) -> dict | None:
        """A volume whose claimRef names ``pvc`` (not an earlier claim of its name) and
        that fits it."""
        m = pvc["metadata"]
        for pv in self._candidates(self._claimed.to((m["namespace"], m["name"]))):
            if reserved_for(pv, pvc) and compatible(pv, pvc, by_name=True):
                return pv
        return None

    def _find_match(self, pvc: dict) -> dict | None:
        """The smallest Available, unreserved volume that fits ``pvc``."""
        return best_match(pvc, self._candidates(self._available))

    def _provision(self, pvc: dict, sc: dict) -> dict:
        m = pvc["metadata"]
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": f"pvc-{m['uid']}",
                "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
                "finalizers": ["kubernetes.io/pv-protection"],
            },
            "spec": {
                "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                "accessModes": pvc["spec"].get("accessModes", ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                "storageClassName": sc["metadata"]["name"],
                "volumeMode": pvc["spec"].get("volumeMode", "Filesystem"),
                "hostPath": {
                    "path": f"/var/lib/kubesim/volumes/pvc-{m['uid']}",
                    "type": "DirectoryOrCreate",
                },
            },
        }
        node = (m.get("annotations") or {}).get(SELECTED_NODE)
        if node:
            # Provisioned for the node its first pod was given (WaitForFirstConsumer), as
            # node-local provisioners do: only pods on that node can use it.
            pv["spec"]["nodeAffinity"] = {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": HOSTNAME, "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                }
            }
        created = self.api.create(self.api.rt("", "persistentvolumes"), "", pv, share=True)
        self.sim.recorder.record(
            pvc,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {created['metadata']['name']}",
            PROVISIONER,
        )
        return created

    def _bind(self, pv: dict, pvc: dict) -> None:
        pv_rt = self.api.rt("", "persistentvolumes")
        new_pv = _with_status(pv, phase="Bound")
        new_pv["spec"] = {**pv["spec"], "claimRef": claim_ref(pvc)}
        self.store.replace(pv_rt, new_pv, check_rv=False, take=True, share=True)
        self._set_pvc(pvc, "Bound", pv)

    def _set_pvc(self, pvc: dict, phase: str, pv: dict | None) -> None:
        new = _with_status(pvc, phase=phase)
        if pv is not None:
            new["spec"] = {**pvc["spec"], "volumeName": pv["metadata"]["name"]}
            new["metadata"]["annotations"] = {
                **(pvc["metadata"].get("annotations") or {}),
                "pv.kubernetes.io/bind-completed": "yes",
            }
            # Shared with the stored PV: stored objects are never changed in place.
            new["status"] = {
                "phase": phase,
                "accessModes": pv["spec"].get("accessModes", []),
                "capacity": pv["spec"].get("capacity", {}),
            }
        self.store.replace(
            self.api.rt("", "persistentvolumeclaims"), new, check_rv=False, take=True, share=True
        )

    # ------------------------------------------------------------------- PVs
    def _sync_pv(self, name: str, _deleted: bool = False) -> None:
        pv_rt = self.api.rt("", "persistentvolumes")
        pv = self.store.peek(pv_rt, "", name)
        if pv is None:
            return
        if pv["metadata"].get("deletionTimestamp"):
            # pv-protection: released once no claim is bound to it.
            if pv.get("status", {}).get("phase") != "Bound":
                self.api.remove_finalizer(pv_rt, "", name, "kubernetes.io/pv-protection")
            return
        ref = pv.get("spec", {}).get("claimRef")
        phase = pv.get("status", {}).get("phase")
        if not ref:
            if phase != "Available":
                self._set_pv_phase(pv, "Available")
            return
        pvc = self.store.peek(
            self.api.rt("", "persistentvolumeclaims"), ref.get("namespace", ""), ref.get("name", "")
        )
        if pvc is not None and (not ref.get("uid") or ref["uid"] == pvc["metadata"]["uid"]):
            if phase not in ("Bound", "Available") or (phase == "Available" and ref.get("uid")):
                self._set_pv_phase(
                    pv, "Bound" if pvc.get("spec", {}).get("volumeName") == name else "Available"
                )
            return
        if ref.get("uid"):
            # The claim it was bound to is gone: Released, then the reclaim policy applies.
            policy = pv["spec"].get("persistentVolumeReclaimPolicy", "Retain")
            if policy == "Delete":
                self.api.delete(pv_rt, "", name)
                self.api.remove_finalizer(pv_rt, "", name, "kubernetes.io/pv-protection")
            elif phase != "Released":
                self._set_pv_phase(pv, "Released")
        elif phase != "Available":
            self._set_pv_phase(pv, "Available")  # pre-bound, waiting for its claim

    def _set_pv_phase(self, pv: dict, phase: str) -> None:
        new = _with_status(pv, phase=phase)
        pv_rt = self.api.rt("", "persistentvolumes")
        self.store.replace(pv_rt, new, check_rv=False, take=True, share=True)
