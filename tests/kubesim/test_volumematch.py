"""Which volume a claim may have: the rules the PV controller and the scheduler's
VolumeBinding plugin share (kubesim/volumematch.py)."""

from __future__ import annotations

from typing import Any

from kubesim.scheduling import make_node
from kubesim.volumematch import NO_PROVISIONER, best_match, find_volumes


def _pv(name: str, size: str, node: str | None = None, **spec: Any) -> dict[str, Any]:
    pv: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "local",
            **spec,
        },
        "status": {"phase": "Available"},
    }
    if node:
        expression = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
        pv["spec"]["nodeAffinity"] = {
            "required": {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}
        }
    return pv


def _pvc(name: str, size: str = "1Gi", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "storageClassName": "local",
            **spec,
        },
    }


STATIC = {"metadata": {"name": "local"}, "provisioner": NO_PROVISIONER}
DYNAMIC = {"metadata": {"name": "local"}, "provisioner": "kubesim.io/hostpath"}


def test_the_smallest_volume_that_fits_on_the_node() -> None:
    pvs = [_pv("big", "100Gi", "a"), _pv("small", "2Gi", "a"), _pv("tiny", "1Mi", "a")]
    pvs.append(_pv("elsewhere", "2Gi", "b"))
    assert best_match(_pvc("c"), pvs, make_node("a"))["metadata"]["name"] == "small"
    assert best_match(_pvc("c"), pvs, make_node("b"))["metadata"]["name"] == "elsewhere"
    assert best_match(_pvc("c", size="200Gi"), pvs, make_node("a")) is None
    # Without a node (the PV controller's Immediate binding), node affinity is not asked.
    assert best_match(_pvc("c"), pvs)["metadata"]["name"] in ("small", "elsewhere")


def test_a_volume_reserved_for_the_claim_wins_and_others_reserved_are_skipped() -> None:
    mine = _pv("mine", "50Gi", "a", claimRef={"namespace": "ns", "name": "c", "uid": "uid-c"})
    theirs = _pv("theirs", "1Gi", "a", claimRef={"namespace": "ns", "name": "other"})
    free = _pv("free", "1Gi", "a")
    assert best_match(_pvc("c"), [free, theirs, mine], make_node("a")) is mine
    assert best_match(_pvc("d"), [free, theirs, mine], make_node("a")) is free
    released = _pv("gone", "1Gi", "a", claimRef={"namespace": "ns", "name": "c", "uid": "old"})
    assert best_match(_pvc("c"), [released], make_node("a")) is None


def test_find_volumes_gives_each_claim_its_own_or_provisions() -> None:
    node = make_node("a")
    pvs = [_pv("one", "10Gi", "a")]
    a, b = _pvc("a"), _pvc("b")
    assert find_volumes(node, [(a, STATIC)], pvs) == {"a": "one"}
    assert find_volumes(node, [(a, STATIC), (b, STATIC)], pvs) is None  # one volume, two claims
    assert find_volumes(node, [(a, STATIC), (b, DYNAMIC)], pvs) == {"a": "one", "b": None}
    assert find_volumes(make_node("b"), [(a, STATIC)], pvs) is None
    assert find_volumes(make_node("b"), [(a, DYNAMIC)], pvs) == {"a": None}


def test_a_claims_selector_picks_among_free_volumes() -> None:
    ssd = _pv("ssd", "10Gi")
    ssd["metadata"]["labels"] = {"disk": "ssd"}
    pvs = [_pv("plain", "2Gi"), ssd]
    assert best_match(_pvc("c"), pvs)["metadata"]["name"] == "plain"  # the smallest
    wants_ssd = _pvc("c", selector={"matchLabels": {"disk": "ssd"}})
    assert best_match(wants_ssd, pvs) is ssd
    not_ssd = {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}
    assert best_match(_pvc("c", selector=not_ssd), [ssd]) is None
