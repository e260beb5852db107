"""A two-rank Indexed Job in the process kubelet: each rank is a real process, and rank 1
reaches rank 0 by the name the Job gives it, ``<job>-0.<headless service>``, then they
exchange a message over a plain TCP socket (rank 0 binds its pod IP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.sim import KubeSim
from tests.kubesim.job_helpers import clients, job, pods_of, submit, wait_condition

RANK = """
import os, socket, time
rank = int(os.environ["JOB_COMPLETION_INDEX"])
if rank == 0:
    srv = socket.socket()
    srv.bind((os.environ["POD_IP"], 29500))
    srv.listen(1)
    conn, _ = srv.accept()
    print("rank 0 got:", conn.recv(100).decode(), flush=True)
    conn.sendall(f"hello from {socket.gethostname()}".encode())
else:
    for _ in range(400):
        try:
            conn = socket.create_connection(("pair-0.ranks", 29500), timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    conn.sendall(f"hello from {socket.gethostname()}".encode())
    print("rank 1 got:", conn.recv(100).decode(), flush=True)
"""


@pytest.fixture
def process_sim(tmp_path: Path) -> Iterator[KubeSim]:
    sim = KubeSim(kubelet="process", data_dir=tmp_path / "kubesim").start()
    sim.kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")  # type: ignore[attr-defined]
    yield sim
    sim.stop()


def test_indexed_ranks_reach_each_other_by_headless_service_names(process_sim: KubeSim) -> None:
    k = clients(process_sim)
    process_sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ranks"},
            "spec": {
                "clusterIP": "None",
                "selector": {"batch.kubernetes.io/job-name": "pair"},
                "ports": [{"port": 29500}],
            },
        }
    )
    pod_ip = {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    manifest = job(
        "pair",
        completions=2,
        parallelism=2,
        completionMode="Indexed",
        pod_spec={"subdomain": "ranks"},
    )
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container.update(command=["python", "-c", RANK], env=[pod_ip])
    submit(k, manifest)
    j = wait_condition(k, "pair", "Complete", timeout=30)  # two Python processes
    assert j.status.completed_indexes == "0,1"
    logs = {
        p.spec.hostname: k.core.read_namespaced_pod_log(p.metadata.name, k.ns)
        for p in pods_of(k, "pair")
    }
    assert logs == {
        "pair-0": "rank 0 got: hello from pair-1\n",
        "pair-1": "rank 1 got: hello from pair-0\n",
    }
