"""PyTorchJob ranks really reach each other in kubesim's process kubelet.

Each replica runs as a local process in its own mount/UTS namespace; names resolve through
the pod's ``/etc/hosts``, where the Master's headless Service ``<job>-master-0`` (the
injected ``MASTER_ADDR``) resolves to the Master pod's own loopback IP, as CoreDNS answers.
"""

from __future__ import annotations

import socket
import sys
import textwrap
from collections.abc import Iterator

import pytest

from kubesim.kubelet.container import namespace_support
from kubesim.sim import KubeSim
from tests.kubesim.training_helpers import Cluster, job, new_namespace

pytestmark = pytest.mark.skipif(
    not namespace_support(), reason="needs root and unshare: /etc/hosts is per pod only then"
)

# Rank 0 listens on MASTER_ADDR:MASTER_PORT (its own Service name resolves to its pod IP);
# the other rank waits until that name resolves (what the operator's init-pytorch container
# does on a cluster), connects, and both print what they got.
EXCHANGE = textwrap.dedent(
    """
    import os, socket, time
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    if rank == 0:
        srv = socket.create_server((addr, port))
        print("rank 0 listening on", srv.getsockname()[0], flush=True)
        conn, _ = srv.accept()
        other = conn.recv(16).decode()
        conn.sendall(b"0")
    else:
        deadline = time.monotonic() + 30
        while True:
            try:
                s = socket.create_connection((addr, port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        s.sendall(str(rank).encode())
        other = s.recv(16).decode()
    print(f"rank {rank} of {world} exchanged with rank {other}", flush=True)
    """
)

ALLREDUCE = textwrap.dedent(
    """
    import os, socket, time
    deadline = time.monotonic() + 60
    while True:  # as init-pytorch: wait until the master's name resolves
        try:
            socket.gethostbyname(os.environ["MASTER_ADDR"])
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo")  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    t = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(t)
    print(f"rank {dist.get_rank()} all_reduce {t.item()}", flush=True)
    dist.destroy_process_group()
    """
)


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    d = tmp_path_factory.mktemp("training-process")
    with KubeSim(kubelet="process", data_dir=d / "sim") as sim:
        c = Cluster(sim.write_kubeconfig(d / "kubeconfig"), "")
        c.ns = new_namespace(c.core)
        yield c


def two_ranks(name: str, script: str, port: int) -> dict:
    def spec() -> dict:
        container = {
            "name": "pytorch",
            "image": "pytorch/pytorch",
            "command": [sys.executable, "-c", script],
            "ports": [{"name": "pytorchjob-port", "containerPort": port}],
        }
        return {
            "replicas": 1,
            "restartPolicy": "Never",
            "template": {"spec": {"containers": [container]}},
        }

    return job("PyTorchJob", name, {"Master": spec(), "Worker": spec()})


def free_port() -> int:
    """A port free on every address: torch's store listens on all of them, not the pod IP."""
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def logs(k: Cluster, pod: str) -> str:
    return k.core.read_namespaced_pod_log(pod, k.ns)


def test_ranks_reach_the_master_by_its_service_name(k: Cluster) -> None:
    k.create(two_ranks("xchg", EXCHANGE, 29511))
    done = k.wait_condition("PyTorchJob", "xchg", "Succeeded", timeout=40)
    assert done["reason"] == "PyTorchJobSucceeded"
    master, worker = logs(k, "xchg-master-0"), logs(k, "xchg-worker-0")
    ip = k.pods("xchg")["xchg-master-0"].status.pod_ip
    assert f"rank 0 listening on {ip}" in master
    assert "rank 0 of 2 exchanged with rank 1" in master
    assert "rank 1 of 2 exchanged with rank 0" in worker


def test_gloo_all_reduce_over_two_ranks(k: Cluster) -> None:
    pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0)")
    k.create(two_ranks("gloo", ALLREDUCE, free_port()))
    k.wait_condition("PyTorchJob", "gloo", "Succeeded", timeout=75)
    assert "rank 0 all_reduce 3.0" in logs(k, "gloo-master-0")
    assert "rank 1 all_reduce 3.0" in logs(k, "gloo-worker-0")
