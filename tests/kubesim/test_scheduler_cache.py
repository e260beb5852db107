"""The scheduler keeps what each node's pods take as a running sum (kube-scheduler's
NodeInfo), updated from pod events: a pod that changed or was re-created is counted with
its requests now, status writes count nothing twice, and a pod that finished or went
away frees its share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.sim import KubeSim
from kubesim.store import deep_copy
from tests.kubesim.helpers import restricted_pod, wait_for

NODE = {"name": "small", "cpu": "2", "memory": "8Gi", "pods": 20}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[KubeSim]:
    sim = KubeSim(kubelet="instant", nodes=[NODE], data_dir=tmp_path / "kubesim").start()
    try:
        yield sim
    finally:
        sim.stop()


def _create(sim: KubeSim, name: str, cpu: str) -> None:
    pod = restricted_pod(name)
    pod["apiVersion"], pod["kind"] = "v1", "Pod"
    pod["metadata"]["namespace"] = "default"
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    sim.apply(pod)


def _outcome(sim: KubeSim, name: str) -> str:
    """``bound`` once on a node, ``pending: <message>`` once found unschedulable."""

    def look() -> str:
        pod = sim.lookup("pods", "default", name) or {}
        if (pod.get("spec") or {}).get("nodeName"):
            return "bound"
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c["type"] == "PodScheduled" and c["status"] == "False":
                return f"pending: {c['message']}"
        return ""

    return wait_for(look, what=f"pod {name} scheduled or found unschedulable")


def _wait_bound(sim: KubeSim, name: str) -> None:
    """Until the pending pod ``name`` is bound (it was found unschedulable before)."""
    wait_for(
        lambda: ((sim.lookup("pods", "default", name) or {}).get("spec") or {}).get("nodeName"),
        what=f"pod {name} bound once retried",
    )


def test_changed_pod_is_counted_with_its_new_requests(sim: KubeSim) -> None:
    _create(sim, "big", "1500m")
    assert _outcome(sim, "big") == "bound"
    _create(sim, "probe", "1")  # a pass that reads big's requests (1.5 of 2 cpus)
    assert _outcome(sim, "probe").startswith("pending: 0/1 nodes are available: 1 Insufficient cpu")

    def shrink() -> None:
        # As an in-place resize would: same pod (uid), new resourceVersion, smaller request.
        rt = sim.api.rt("", "pods")
        pod = deep_copy(sim.store.peek(rt, "default", "big"))
        pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "500m"
        sim.store.replace(rt, pod, check_rv=False)

    sim.call(shrink)
    _create(sim, "after", "1")  # 0.5 + 1 of 2 cpus: fits only if big counts 500m now
    assert _outcome(sim, "after") == "bound"


def test_recreated_pod_of_the_same_name_is_counted_with_its_requests(sim: KubeSim) -> None:
    _create(sim, "first", "1500m")
    assert _outcome(sim, "first") == "bound"
    _create(sim, "probe", "1")
    assert _outcome(sim, "probe").startswith("pending: ")
    sim.call(lambda: sim.store.remove(sim.api.rt("", "pods"), "default", "probe"))
    sim.call(lambda: sim.store.remove(sim.api.rt("", "pods"), "default", "first"))
    wait_for(lambda: sim.lookup("pods", "default", "first") is None, what="first gone")
    _create(sim, "first", "300m")
    assert _outcome(sim, "first") == "bound"
    _create(sim, "second", "1500m")  # 0.3 + 1.5 of 2 cpus
    assert _outcome(sim, "second") == "bound"
    _create(sim, "third", "300m")  # 0.3 + 1.5 + 0.3 > 2
    assert _outcome(sim, "third").startswith("pending: 0/1 nodes are available: 1 Insufficient cpu")


def test_status_writes_count_nothing_twice_and_finished_pods_free_their_share(
    sim: KubeSim,
) -> None:
    _create(sim, "a", "1")
    _create(sim, "b", "1")  # the node's 2 cpus are taken
    for name in ("a", "b"):
        assert _outcome(sim, name) == "bound"
        wait_for(
            lambda name=name: (
                (sim.lookup("pods", "default", name) or {}).get("status", {}).get("phase")
                == "Running"
            ),
            what=f"{name} running (the kubelet's status writes)",
        )
    _create(sim, "c", "1")
    assert _outcome(sim, "c").startswith("pending: 0/1 nodes are available: 1 Insufficient cpu")

    def finish() -> None:
        rt = sim.api.rt("", "pods")
        pod = deep_copy(sim.store.peek(rt, "default", "a"))
        pod["status"]["phase"] = "Succeeded"
        sim.store.replace(rt, pod, check_rv=False)

    sim.call(finish)  # a's cpu is free again: c is retried and fits, exactly
    _wait_bound(sim, "c")
    _create(sim, "d", "1m")
    assert _outcome(sim, "d").startswith("pending: 0/1 nodes are available: 1 Insufficient cpu")


def test_too_many_pods_counts_the_pods_bound_now(tmp_path: Path) -> None:
    node = {"name": "tiny", "cpu": "8", "memory": "8Gi", "pods": 2}
    sim = KubeSim(kubelet="instant", nodes=[node], data_dir=tmp_path / "kubesim").start()
    try:
        _create(sim, "a", "10m")
        _create(sim, "b", "10m")
        assert [_outcome(sim, n) for n in ("a", "b")] == ["bound", "bound"]
        _create(sim, "c", "10m")
        assert _outcome(sim, "c").startswith("pending: 0/1 nodes are available: 1 Too many pods")
        sim.call(lambda: sim.store.remove(sim.api.rt("", "pods"), "default", "b"))
        _wait_bound(sim, "c")
    finally:
        sim.stop()
