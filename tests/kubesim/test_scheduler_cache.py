"""The scheduler keeps each bound pod's requests between passes (by uid and
resourceVersion); a pod that changed or was re-created is counted with its requests now."""

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
