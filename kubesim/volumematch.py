"""Which PersistentVolume a claim may bind to: the checks the PV controller
(``FindMatchingVolume``) and the scheduler's VolumeBinding plugin share.

Why one module: a claim of a ``WaitForFirstConsumer`` class is matched twice, by the same
rules. The scheduler, for each node a pod could go to, looks for an Available volume
that node can use (or a class that can provision one); if neither, the node fails with
``node(s) didn't find available persistent volumes to bind``. On the node it picks, it
reserves the volume for the claim (``claimRef``), or, to provision, names the node on the
claim; the PV controller then binds, and matches a selected-node claim only with volumes
usable on that node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubesim.quantity import parse_quantity
from kubesim.scheduling import matches_node_selector
from kubesim.selectors import label_selector_from_dict

#: The "provisioner" of classes whose volumes are all made by hand (local volumes):
#: nothing provisions for them.
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def claim_ref(pvc: dict[str, Any]) -> dict[str, str]:
    """The ``claimRef`` that binds (or reserves) a volume to ``pvc``, as the PV controller
    and the scheduler's volume binder write it."""
    m = pvc["metadata"]
    return {
        "kind": "PersistentVolumeClaim",
        "apiVersion": "v1",
        "namespace": m["namespace"],
        "name": m["name"],
        "uid": m["uid"],
        "resourceVersion": m["resourceVersion"],
    }


def reserved_for(pv: dict[str, Any], pvc: dict[str, Any]) -> bool:
    """Whether ``pv`` is free for ``pvc`` or already pre-bound/bound to it (the PV
    controller's IsVolumeBoundToClaim, or no claimRef at all)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return True
    m = pvc["metadata"]
    return (
        ref.get("name") == m["name"]
        and ref.get("namespace") == m["namespace"]
        and (not ref.get("uid") or ref["uid"] == m["uid"])
    )


def compatible(pv: dict[str, Any], pvc: dict[str, Any], *, by_name: bool) -> bool:
    """Class, capacity, access modes and volume mode allow ``pv`` for ``pvc``.
    ``by_name``: the claim names the volume, so a claim without a class takes any."""
    ps, cs = pv.get("spec") or {}, pvc.get("spec") or {}
    if (ps.get("storageClassName") or "") != (cs.get("storageClassName") or "") and not (
        by_name and cs.get("storageClassName") is None
    ):
        return False
    want = parse_quantity((cs.get("resources", {}).get("requests") or {}).get("storage", "0"))
    have = parse_quantity(ps.get("capacity", {}).get("storage", "0"))
    if have < want:
        return False
    if not set(cs.get("accessModes", [])) <= set(ps.get("accessModes", [])):
        return False
    return ps.get("volumeMode", "Filesystem") == cs.get("volumeMode", "Filesystem")


def usable_on(pv: dict[str, Any], node: dict[str, Any] | None) -> bool:
    """Whether pods on ``node`` can use ``pv`` (its ``nodeAffinity``; None: any node)."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    return node is None or matches_node_selector(required, node)


def best_match(
    pvc: dict[str, Any],
    pvs: Iterable[dict[str, Any]],
    node: dict[str, Any] | None = None,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any] | None:
    """The volume the PV controller would bind ``pvc`` to among ``pvs``: one reserved for
    it if there is one, else the smallest Available unreserved one that fits (and that
    the claim's label ``selector``, if any, selects); with
    ``node``, only volumes usable there. ``exclude``: names already promised to other
    claims of the same pod."""
    best: tuple[Any, dict[str, Any]] | None = None
    wanted = (pvc.get("spec") or {}).get("selector")
    selector = label_selector_from_dict(wanted) if wanted is not None else None
    for pv in pvs:
        spec, name = pv.get("spec") or {}, pv["metadata"]["name"]
        if name in exclude or pv["metadata"].get("deletionTimestamp"):
            continue
        if not (reserved_for(pv, pvc) and usable_on(pv, node)):
            continue
        if spec.get("claimRef"):
            if compatible(pv, pvc, by_name=True):
                return pv  # pre-bound to this claim
            continue
        if (pv.get("status") or {}).get("phase") != "Available":
            continue
        if selector is not None and not selector.matches(pv["metadata"].get("labels")):
            continue
        if not compatible(pv, pvc, by_name=False):
            continue
        cap = parse_quantity(spec.get("capacity", {}).get("storage", "0"))
        if best is None or cap < best[0]:
            best = (cap, pv)
    return best[1] if best else None


def find_volumes(
    node: dict[str, Any],
    claims: list[tuple[dict[str, Any], dict[str, Any] | None]],
    pvs: list[dict[str, Any]],
) -> dict[str, str | None] | None:
    """The VolumeBinding plugin's Filter for claims waiting for their first consumer:
    per claim name, the volume on ``node`` it would be bound to, or None where its class
    would provision one; None if some claim can have neither there.

    ``claims``: the pod's unbound claims of a ``WaitForFirstConsumer`` class, each with
    its StorageClass; ``pvs``: the cluster's volumes. Two claims of one pod never get
    the same volume.
    """
    chosen: dict[str, str | None] = {}
    for pvc, sc in claims:
        pv = best_match(pvc, pvs, node, exclude={v for v in chosen.values() if v})
        if pv is not None:
            chosen[pvc["metadata"]["name"]] = pv["metadata"]["name"]
        elif sc is not None and sc.get("provisioner", NO_PROVISIONER) != NO_PROVISIONER:
            chosen[pvc["metadata"]["name"]] = None
        else:
            return None
    return chosen
