"""Init containers, as the kubelet runs them: one after another, each to success, before
the pod's other containers; a failed one is restarted (``OnFailure``/``Always``) or fails
the pod (``Never``); the pod is Pending meanwhile, with ``initContainerStatuses``, the
``Initialized`` condition and ``kubectl get``'s ``Init:N/M``; their logs are served. The
operators' own init containers are stood in for (``kubesim.kubelet.standins``)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kubesim.kubelet import podstatus, standins
from kubesim.kubelet.logs import LogWriter
from kubesim.sim import KubeSim
from tests.conftest import running_kubesim
from tests.kubesim.helpers import kubectl_path, wait_for


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    with running_kubesim(tmp_path_factory.mktemp("init"), kubelet="process") as s:
        yield s


@pytest.fixture(scope="module")
def core(sim: KubeSim) -> Any:
    client = kubernetes.config.new_client_from_config(str(sim.kubeconfig))  # type: ignore[attr-defined]
    return kubernetes.client.CoreV1Api(client)


def container(name: str, script: str) -> dict:
    return {
        "name": name,
        "image": "busybox",
        "command": ["sh", "-c", script],
        "volumeMounts": [{"name": "work", "mountPath": "/work-dir"}],
    }


def pod(name: str, inits: list[dict], main: str, restart: str = "Never") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart,
            "initContainers": inits,
            "containers": [container("main", main)],
            "volumes": [{"name": "work", "emptyDir": {}}],
        },
    }


def status(sim: KubeSim, name: str) -> dict:
    return (sim.lookup("pods", "default", name) or {}).get("status", {})


def condition(st: dict, kind: str) -> dict:
    return next(c for c in st.get("conditions", []) if c["type"] == kind)


def test_init_containers_run_in_order_before_the_others(sim: KubeSim, core: Any) -> None:
    sim.apply(
        pod(
            "ordered",
            [
                container("first", "echo first >> /work-dir/order; echo hello from first"),
                container("second", "echo second >> /work-dir/order"),
            ],
            "echo main >> /work-dir/order; cat /work-dir/order",
        )
    )
    wait_for(lambda: status(sim, "ordered").get("phase") == "Succeeded", what="ordered done")
    assert core.read_namespaced_pod_log("ordered", "default", container="main").split() == [
        "first",
        "second",
        "main",
    ]
    # An init container's log is served like any container's.
    assert core.read_namespaced_pod_log("ordered", "default", container="first") == (
        "hello from first\n"
    )
    st = status(sim, "ordered")
    inits = st["initContainerStatuses"]
    assert [s["name"] for s in inits] == ["first", "second"]
    for s in inits:
        assert s["ready"] is True and s["restartCount"] == 0
        assert s["state"]["terminated"]["reason"] == "Completed"
        assert s["state"]["terminated"]["exitCode"] == 0
    assert condition(st, "Initialized")["status"] == "True"
    reasons = [
        (e.reason, e.involved_object.field_path)
        for e in core.list_namespaced_event(
            "default", field_selector="involvedObject.name=ordered"
        ).items
    ]
    assert ("Started", "spec.initContainers{first}") in reasons, reasons
    assert ("Started", "spec.containers{main}") in reasons, reasons


def test_a_pod_is_pending_while_its_init_containers_run(
    sim: KubeSim, core: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    sim.apply(
        pod(
            "initializing",
            [container("wait", f"while [ ! -e {gate} ]; do sleep 0.05; done")],
            "sleep 30",
        )
    )
    wait_for(
        lambda: (
            "running"
            in (status(sim, "initializing").get("initContainerStatuses") or [{}])[0].get(
                "state", {}
            )
        ),
        what="the init container running",
    )
    st = status(sim, "initializing")
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    init = condition(st, "Initialized")
    assert (init["status"], init["reason"]) == ("False", "ContainersNotInitialized")
    assert init["message"] == "containers with incomplete status: [wait]"
    config = sim.write_kubeconfig(tmp_path / "config", tls=True)  # kubectl wants https
    get = [kubectl_path(), "--kubeconfig", str(config), "get", "pod", "initializing"]
    out = subprocess.run(get, capture_output=True, text=True, timeout=60)
    assert out.stdout.split()[5:8] == ["initializing", "0/1", "Init:0/1"], out.stdout + out.stderr
    gate.touch()
    wait_for(lambda: status(sim, "initializing").get("phase") == "Running", what="running")
    assert condition(status(sim, "initializing"), "Initialized")["status"] == "True"
    sim.call(sim.api.delete, sim.registry.get("", "pods"), "default", "initializing", grace=0)


def test_a_failed_init_container_fails_a_never_restarting_pod(sim: KubeSim) -> None:
    sim.apply(pod("init-fails", [container("broken", "echo no; exit 3")], "echo never ran"))
    wait_for(lambda: status(sim, "init-fails").get("phase") == "Failed", what="the pod failed")
    st = status(sim, "init-fails")
    term = st["initContainerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert condition(st, "Initialized")["status"] == "False"


def test_a_failed_init_container_is_restarted_under_on_failure(sim: KubeSim) -> None:
    # Fails on its first run, succeeds on its second (the count lives in the emptyDir).
    script = "n=$(cat /work-dir/n 2>/dev/null || echo 0); echo $((n+1)) > /work-dir/n; [ $n -ge 1 ]"
    sim.apply(pod("init-retries", [container("flaky", script)], "cat /work-dir/n", "OnFailure"))
    wait_for(lambda: status(sim, "init-retries").get("phase") == "Succeeded", what="succeeded")
    init = status(sim, "init-retries")["initContainerStatuses"][0]
    assert init["restartCount"] == 1
    assert init["lastState"]["terminated"]["exitCode"] == 1
    assert init["state"]["terminated"]["exitCode"] == 0


def test_instant_kubelet_init_containers_complete_at_once(kubesim: KubeSim) -> None:
    p = pod("instant-init", [container("setup", "exit 1")], "true")
    p["metadata"]["annotations"] = {"kubesim.io/exit-code": "0"}
    kubesim.apply(p)
    wait_for(lambda: status(kubesim, "instant-init").get("phase") == "Succeeded", what="done")
    st = status(kubesim, "instant-init")
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert condition(st, "Initialized")["status"] == "True"


@pytest.mark.asyncio
async def test_init_pytorch_waits_until_the_master_resolves(tmp_path: Path) -> None:
    """The training operator's ``init-pytorch`` stand-in: misses print its script's line,
    the name appearing in the pod's hosts file ends the wait, and running out of tries
    fails it."""
    hosts, log = tmp_path / "hosts", tmp_path / "log"
    hosts.write_text("127.0.0.1\tlocalhost\n")
    writer = LogWriter(log)

    async def master_appears() -> None:
        await asyncio.sleep(0.3)
        hosts.write_text("127.0.0.1\tlocalhost\n127.1.0.9\tjob-master-0 job-master-0.ns\n")

    appear = asyncio.create_task(master_appears())
    code = await standins.wait_for_name("job-master-0", 5, hosts, writer, interval=0.2)
    await appear
    assert code == 0
    assert await standins.wait_for_name("elsewhere", 2, hosts, writer, interval=0.1) == 1
    text = log.read_text()
    assert text.count("waiting for master") >= 3 and "job-master-0" in text, text

    # Which init containers are stood in for; any other runs its own command.
    script = "err=1;for i in $(seq 3); do if nslookup job-master-0; then err=0; fi; done"
    inits = [
        {"name": "kubectl-delivery"},
        {"name": "init-pytorch", "command": ["sh", "-c", script]},
        {"name": "mine", "command": ["true"]},
    ]
    p = {"spec": {"initContainers": inits, "containers": [{"name": "main"}]}}
    delivery = standins.stand_in(p, inits[0], hosts, writer)
    assert delivery is not None and await delivery.wait() == 0
    torch = standins.stand_in(p, inits[1], hosts, writer)
    assert torch is not None and await torch.wait() == 0  # job-master-0 resolves by now
    assert standins.stand_in(p, inits[2], hosts, writer) is None
    assert standins.stand_in(p, {"name": "main"}, hosts, writer) is None  # not an init one
    writer.close()


def test_a_native_sidecar_runs_beside_the_pods_containers(sim: KubeSim, core: Any) -> None:
    """An init container with ``restartPolicy: Always`` is started, then the next init
    container runs; it keeps running beside the pod's containers and is stopped when they
    are done, without deciding the pod's phase."""
    sidecar = container("proxy", "echo up > /work-dir/proxy; exec sleep 60")
    sidecar["restartPolicy"] = "Always"
    sim.apply(
        pod(
            "with-sidecar",
            [sidecar, container("after", "cat /work-dir/proxy")],
            "cat /work-dir/proxy; sleep 0.5",
        )
    )
    wait_for(lambda: status(sim, "with-sidecar").get("phase") == "Running", what="running")
    st = status(sim, "with-sidecar")
    proxy, after = st["initContainerStatuses"]
    assert "running" in proxy["state"] and proxy["ready"] is True
    assert after["state"]["terminated"]["exitCode"] == 0
    assert condition(st, "Initialized")["status"] == "True"
    wait_for(lambda: status(sim, "with-sidecar").get("phase") == "Succeeded", what="succeeded")
    proxy = status(sim, "with-sidecar")["initContainerStatuses"][0]
    assert "terminated" in proxy["state"], proxy  # stopped once the pod's container ended
    assert core.read_namespaced_pod_log("with-sidecar", "default", container="after") == "up\n"


def test_conditions_keep_their_transition_time_until_their_status_changes() -> None:
    first = podstatus.conditions([], ready=False, incomplete=["setup"], now="t1")
    by = {c["type"]: c for c in first}
    assert [c["type"] for c in first] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
    ]
    assert by["Initialized"] == {
        "type": "Initialized",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": "t1",
        "reason": "ContainersNotInitialized",
        "message": "containers with incomplete status: [setup]",
    }
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": "t0"}
    later = podstatus.conditions([*first, scheduled], ready=False, incomplete=[], now="t2")
    by = {c["type"]: c for c in later}
    assert by["Initialized"]["status"] == "True" and "reason" not in by["Initialized"]
    assert by["Initialized"]["lastTransitionTime"] == "t2"  # it changed
    assert by["Ready"]["lastTransitionTime"] == "t1"  # it did not
    assert later[-1] == scheduled  # the scheduler's own condition is kept, last
