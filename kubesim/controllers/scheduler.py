"""The scheduler: binds pending pods to nodes that fit, or records why none does.

A pod that fits nowhere stays Pending with a ``PodScheduled=False/Unschedulable``
condition and a ``FailedScheduling`` event phrased like the real scheduler's, and is
retried whenever capacity may have changed (a pod finished or went away, a node came).

A pod whose claims wait for their first consumer (a ``WaitForFirstConsumer`` class) goes
only to a node with an Available volume usable there for each of them, or whose class
can provision one (else ``node(s) didn't find available persistent volumes to bind``;
retried when a volume becomes Available). On the node chosen, each claim's volume is
reserved for it (the PV's ``claimRef``), or the claim learns the node through the
``volume.kubernetes.io/selected-node`` annotation to provision for; the PV controller
then binds them, and the pod is bound to that node once they are bound, as the
VolumeBinding plugin's PreBind waits; meanwhile the pod counts on that node, as the real
scheduler's cache assumes it there.
"""

from __future__ import annotations

from collections.abc import Hashable

from kubesim import errors
from kubesim.controllers import Controller
from kubesim.controllers.volumes import SELECTED_NODE
from kubesim.scheduling import (
    BIND_COMPLETED,
    TERMINAL_PHASES,
    NodeUsage,
    SchedulingFailure,
    requests_of,
    schedule,
    volume_prefilter,
)
from kubesim.store import Event, deep_copy, now_rfc3339
from kubesim.volumematch import claim_ref, find_volumes

#: The annotation a PV gets when a controller (here the scheduler's volume binder), not a
#: user, set its claimRef.
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


class Scheduler(Controller):
    watches = (
        ("", "pods"),
        ("", "nodes"),
        ("", "persistentvolumeclaims"),
        ("", "persistentvolumes"),
        ("storage.k8s.io", "storageclasses"),
    )

    def __init__(self, sim) -> None:  # type: ignore[no-untyped-def]
        super().__init__(sim)
        self.unschedulable: set[tuple[str, str]] = set()
        #: Bound, non-terminal pods by node and uid, with what each takes (its pod and
        #: ``requests_of``), and their sum per node: the real scheduler's NodeInfo cache.
        #: Kept current from pod events (every write emits one, synchronously), so a pass
        #: neither scans the cluster's pods nor sums a node's; built at the first pass.
        self._on_node: dict[str, dict[str, tuple[dict, tuple]]] | None = None
        self._usage: dict[str, NodeUsage] = {}
        #: Pods given a node while their claims bind (VolumeBinding's PreBind), with the
        #: node and what they take: counted in that node's usage meanwhile, as
        #: kube-scheduler's cache "assumes" a pod on its node, so that other pods do not
        #: take its place before it is bound.
        self._assumed: dict[tuple[str, str], tuple[str, tuple]] = {}

    def on_event(self, ev: Event) -> None:
        if ev.rt.key == ("", "nodes"):
            self._retry_unschedulable()
            return
        if ev.rt.key == ("", "persistentvolumes"):
            # A volume free for any claim: pods whose claims found none may fit now.
            spec, status = ev.obj.get("spec", {}), ev.obj.get("status", {})
            if (
                ev.type != "DELETED"
                and not spec.get("claimRef")
                and status.get("phase") == "Available"
            ):
                self._retry_unschedulable()
            return
        if ev.rt.key in (("", "persistentvolumeclaims"), ("storage.k8s.io", "storageclasses")):
            if ev.type != "DELETED":  # a claim bound, appeared or a class came: try again
                self._retry_unschedulable(ev.obj["metadata"].get("namespace"))
            return
        if ev.rt.key != ("", "pods"):
            return
        m, spec = ev.obj["metadata"], ev.obj.get("spec", {})
        key = (m["namespace"], m["name"])
        gone = ev.type == "DELETED" or ev.obj.get("status", {}).get("phase") in TERMINAL_PHASES
        self._index(ev.obj, gone)
        if (gone or spec.get("nodeName")) and self._forget(key) and gone:
            # An assumed pod went before it was bound: the capacity it held is free.
            self._retry_unschedulable()
        if gone:
            self.unschedulable.discard(key)
            if spec.get("nodeName"):
                self._retry_unschedulable()  # capacity freed
            return
        if not spec.get("nodeName") and not m.get("deletionTimestamp"):
            self.enqueue(key)

    def _index(self, pod: dict, gone: bool) -> None:
        node = pod.get("spec", {}).get("nodeName")
        if self._on_node is None or not node:
            return
        uid = pod["metadata"].get("uid", "")
        pods, usage = self._on_node.setdefault(node, {}), self._usage.setdefault(node, NodeUsage())
        old = pods.pop(uid, None)
        if old is not None and not gone and _same_resources(old[0], pod):
            pods[uid] = (pod, old[1])  # a status write: it takes what it took
            return
        if old is not None:
            usage.add(old[1], -1)
        if not gone:
            pods[uid] = (pod, requests_of(pod))
            usage.add(pods[uid][1])

    def _assume(self, key: tuple[str, str], pod: dict, node: str) -> None:
        reqs = requests_of(pod)
        self._assumed[key] = (node, reqs)
        self._node_usage().setdefault(node, NodeUsage()).add(reqs)

    def _forget(self, key: tuple[str, str]) -> bool:
        """Stop counting an assumed pod on its node; whether it was assumed."""
        found = self._assumed.pop(key, None)
        if found is not None:
            self._usage[found[0]].add(found[1], -1)
        return found is not None

    def _node_usage(self) -> dict[str, NodeUsage]:
        if self._on_node is None:
            self._on_node = {}
            for p in self.store.iter(self.api.rt("", "pods")):
                self._index(p, p.get("status", {}).get("phase") in TERMINAL_PHASES)
        return self._usage

    def _retry_unschedulable(self, namespace: str | None = None) -> None:
        for key in list(self.unschedulable):
            if namespace is None or key[0] == namespace:
                self.enqueue(key)

    async def reconcile(self, key: Hashable) -> None:
        ns, name = key  # type: ignore[misc]
        pods_rt = self.api.rt("", "pods")
        pod = self.store.peek(pods_rt, ns, name)
        self._forget((ns, name))  # scheduled afresh: it does not compete with itself
        if pod is None or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            self.unschedulable.discard((ns, name))
            return
        if pod["spec"].get("schedulerName", "default-scheduler") != "default-scheduler":
            return
        nodes = list(self.store.iter(self.api.rt("", "nodes")))
        pvc_rt = self.api.rt("", "persistentvolumeclaims")
        sc_rt = self.api.rt("storage.k8s.io", "storageclasses")
        prefilter = volume_prefilter(
            pod,
            lambda claim: self.store.peek(pvc_rt, ns, claim),
            lambda name: self.store.peek(sc_rt, "", name),
        )
        claims = self._claims_of(pod, ns)
        late = self._late_claims(claims)
        # Claims waiting for their first consumer, with no volume named: each node must
        # have a volume for them, or their class must provision one (VolumeBinding).
        waiting = [
            (c, sc) for c, sc in late if not (_fully_bound(c) or c["spec"].get("volumeName"))
        ]
        pvs = list(self.store.iter(self.api.rt("", "persistentvolumes"))) if waiting else []
        result = schedule(
            pod,
            nodes,
            self._node_usage(),
            prefilter=prefilter,
            volume_affinity=self._volume_affinity(claims),
            volumes_fit=(lambda n: find_volumes(n, waiting, pvs) is not None) if waiting else None,
        )
        if isinstance(result, SchedulingFailure):
            self.unschedulable.add((ns, name))
            self._set_unschedulable(pod, result.message, result.reason)
            return
        unbound = [c for c, _ in late if not _fully_bound(c)]
        # A pod whose claims wait for a node already chosen for them keeps that node (the
        # real scheduler holds it in PreBind); bound volumes constrain it by their node
        # affinity (the filter above).
        node = next((n for n in (_selected(c) for c in unbound) if n), None) or result
        if unbound:
            # VolumeBinding's PreBind: each claim that waits for its first consumer gets
            # the volume found for it on the chosen node (reserved by its claimRef), or
            # learns the node to provision for; the PV controller then binds them, and
            # the pod is bound once they are (retried as they change).
            chosen = next((n for n in nodes if n["metadata"]["name"] == node), None)
            found = (find_volumes(chosen, waiting, pvs) if chosen else None) or {}
            by_name = {pv["metadata"]["name"]: pv for pv in pvs}
            for pvc, _ in waiting:
                claim = pvc["metadata"]["name"]
                if _selected(pvc) is not None or claim not in found:
                    continue
                pv = by_name.get(found[claim] or "")
                if pv is None:
                    self._select_node(pvc, node)
                elif not (pv["spec"].get("claimRef") or {}).get("uid"):
                    self._reserve(pv, pvc)
            self._assume((ns, name), pod, node)
            self.unschedulable.add((ns, name))
            return
        self.unschedulable.discard((ns, name))
        self.bind(pod, node)

    def _claims_of(self, pod: dict, ns: str) -> list[dict]:
        """The pod's PersistentVolumeClaims that exist."""
        pvc_rt = self.api.rt("", "persistentvolumeclaims")
        out = []
        for vol in pod["spec"].get("volumes") or []:
            ref = vol.get("persistentVolumeClaim")
            pvc = ref and self.store.peek(pvc_rt, ns, ref.get("claimName", ""))
            if pvc:
                out.append(pvc)
        return out

    def _volume_affinity(self, claims: list[dict]) -> list[dict]:
        """The node affinity (``required``) of the PVs these claims are bound to."""
        pv_rt = self.api.rt("", "persistentvolumes")
        out = []
        for pvc in claims:
            pv_name = pvc.get("spec", {}).get("volumeName")
            pv = pv_name and self.store.peek(pv_rt, "", pv_name)
            required = pv and (pv["spec"].get("nodeAffinity") or {}).get("required")
            if required:
                out.append(required)
        return out

    def _late_claims(self, claims: list[dict]) -> list[tuple[dict, dict]]:
        """Those of these claims whose class is WaitForFirstConsumer, with the class."""
        sc_rt = self.api.rt("storage.k8s.io", "storageclasses")
        out = []
        for pvc in claims:
            sc = self.store.peek(sc_rt, "", pvc.get("spec", {}).get("storageClassName") or "")
            if sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                out.append((pvc, sc))
        return out

    def _reserve(self, pv: dict, pvc: dict) -> None:
        """Reserve ``pv`` for ``pvc``: the claimRef the scheduler's volume binder writes
        for a static match (the PV controller then completes the binding)."""
        new = {
            **pv,
            "metadata": {
                **pv["metadata"],
                "annotations": {
                    **(pv["metadata"].get("annotations") or {}),
                    BOUND_BY_CONTROLLER: "yes",
                },
            },
            "spec": {**pv["spec"], "claimRef": claim_ref(pvc)},
        }
        try:
            self.store.replace(self.api.rt("", "persistentvolumes"), new, take=True, share=True)
        except errors.ApiError as e:
            if e.code not in (404, 409):  # gone, or changed: the next pass sees it
                raise

    def _select_node(self, pvc: dict, node: str) -> None:
        new = deep_copy(pvc)
        new["metadata"].setdefault("annotations", {})[SELECTED_NODE] = node
        try:
            claims = self.api.rt("", "persistentvolumeclaims")
            self.store.replace(claims, new, take=True, share=True)
        except errors.ApiError as e:
            if e.code not in (404, 409):  # gone, or changed: the next pass sees it
                raise

    def bind(self, pod: dict, node: str) -> None:
        # Stored objects are never changed in place, so the new version may share what it
        # does not change with the old one (the containers, volumes, labels...): only the
        # dicts written here are new (the store writes resourceVersion into metadata).
        status = pod.get("status") or {}
        new = {
            **pod,
            "metadata": dict(pod["metadata"]),
            "spec": {**pod["spec"], "nodeName": node},
            "status": dict(status),
        }
        conds = [c for c in status.get("conditions", []) or [] if c["type"] != "PodScheduled"]
        conds.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        )
        new.setdefault("status", {})["conditions"] = conds
        try:
            # Binding sets spec.nodeName without bumping the pod's generation.
            stored = self.store.replace(
                self.api.rt("", "pods"), new, bump_generation=False, take=True, share=True
            )
        except errors.ApiError as e:
            if e.code in (404, 409):
                return
            raise
        m = stored["metadata"]
        self.sim.recorder.record(
            stored,
            "Normal",
            "Scheduled",
            f"Successfully assigned {m['namespace']}/{m['name']} to {node}",
            "default-scheduler",
        )

    def _set_unschedulable(self, pod: dict, message: str, reason: str) -> None:
        new = deep_copy(pod)
        cond = {
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339(),
        }
        conds = new.setdefault("status", {}).get("conditions", []) or []
        old = next((c for c in conds if c["type"] == "PodScheduled"), None)
        if old and old.get("message") == message:
            cond["lastTransitionTime"] = old.get("lastTransitionTime")
        new["status"]["conditions"] = [c for c in conds if c["type"] != "PodScheduled"] + [cond]
        if new != pod:
            self.store.replace(self.api.rt("", "pods"), new, check_rv=False, take=True, share=True)
        self.sim.recorder.record(pod, "Warning", "FailedScheduling", message, "default-scheduler")


_RESOURCE_FIELDS = ("containers", "initContainers", "overhead", "resources")


def _same_resources(old: dict, new: dict) -> bool:
    """Whether two versions of a pod ask for the same resources (what ``requests_of``
    reads is unchanged)."""
    a, b = old.get("spec", {}), new.get("spec", {})
    return all(a.get(f) == b.get(f) for f in _RESOURCE_FIELDS)


def _selected(pvc: dict) -> str | None:
    return (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE)


def _fully_bound(pvc: dict) -> bool:
    return bool(pvc.get("spec", {}).get("volumeName")) and BIND_COMPLETED in (
        pvc["metadata"].get("annotations") or {}
    )
