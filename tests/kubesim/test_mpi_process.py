"""An MPIJob (Kubeflow training operator v1) really runs in kubesim's process kubelet.

As on a cluster: the launcher's ``mpirun`` starts an Open MPI daemon on each worker through
the operator's agent ``/etc/mpi/kubexec.sh`` — ``/opt/kube/kubectl exec <worker> -- ...``,
the kubectl that the ``kubectl-delivery`` stand-in put there, authenticated as the launcher's
ServiceAccount (the operator's Role: ``create pods/exec`` on the workers only, so kubectl
falls back from WebSocket to SPDY) — and the ranks, one per worker, talk MPI over TCP.

The job's environment carries what Open MPI needs here, as a user's would on their cluster:
permission to run as root (kubesim runs containers as its own user) and the loopback
interface for its out-of-band and TCP transports (pods share the host's network here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.kubelet.container import namespace_support
from kubesim.sim import KubeSim
from tests.kubesim.helpers import kubectl_path, wait_for
from tests.kubesim.training_helpers import MPI_PYTHON, Cluster, have_mpi4py, job

pytestmark = [
    pytest.mark.skipif(
        not namespace_support() or os.environ.get("KUBESIM_ISOLATION") == "none",
        reason="needs namespace isolation (root): /etc/mpi and /opt/kube are mounts",
    ),
    pytest.mark.skipif(
        shutil.which("mpirun") is None or not have_mpi4py(),
        reason="needs Debian's openmpi-bin and python3-mpi4py (./dev test installs them)",
    ),
]

OPEN_MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    "OMPI_MCA_btl_tcp_if_include": "lo",
    "OMPI_MCA_btl": "tcp,self",  # ranks talk over TCP (no shared memory)
}

RANKS = textwrap.dedent(
    """
    import socket, sys
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    print(f"rank {rank}/{size} on {socket.gethostname()}", flush=True)
    everyone = comm.allgather((rank, socket.gethostname()))
    if rank == 0:
        print("rank 0 gathered", sorted(everyone), flush=True)
    comm.Barrier()
    sys.exit(int(sys.argv[1]) if rank == size - 1 and len(sys.argv) > 1 else 0)
    """
)


class Env(Cluster):
    def __init__(self, sim: KubeSim, d: Path) -> None:
        super().__init__(sim.write_kubeconfig(d / "kubeconfig"), "default")
        self.sim, self.dir = sim, d


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    d = tmp_path_factory.mktemp("mpi-process")
    with KubeSim(kubelet="process", data_dir=d / "sim") as sim:
        yield Env(sim, d)


def mpijob(name: str, workers: int, *rank_args: str) -> dict:
    env = [{"name": n, "value": v} for n, v in OPEN_MPI_ENV.items()]

    def template(command: list[str]) -> dict:
        c = {"name": "mpi", "image": "mpi-image", "command": command, "env": env}
        return {"spec": {"containers": [c]}}

    mpirun = ["mpirun", "-np", str(workers), MPI_PYTHON, "-c", RANKS, *rank_args]
    return job(
        "MPIJob",
        name,
        {
            "Launcher": {"replicas": 1, "template": template(mpirun)},
            "Worker": {"replicas": workers, "template": template(["sleep", "365d"])},
        },
        slotsPerWorker=1,
    )


def finished(k: Env, name: str) -> str:
    def end() -> str | None:
        for ctype in ("Succeeded", "Failed"):
            if k.condition("MPIJob", name, ctype):
                return ctype
        return None

    return wait_for(end, 120, 0.2, what=f"MPIJob {name} finished")


def test_mpirun_reaches_every_worker_through_kubectl_exec(k: Env) -> None:
    sim = k.sim
    before = sim.counters.total("create", "pods/exec", "default")
    k.create(mpijob("hello", 2))
    assert finished(k, "hello") == "Succeeded", k.core.read_namespaced_pod_log(
        "hello-launcher", "default"
    )
    log = k.core.read_namespaced_pod_log("hello-launcher", "default")
    assert "rank 0/2 on hello-worker-0" in log
    assert "rank 1/2 on hello-worker-1" in log
    assert "rank 0 gathered [(0, 'hello-worker-0'), (1, 'hello-worker-1')]" in log
    assert "+ /opt/kube/kubectl" in log  # kubexec.sh's `set -x` trace: the rsh agent
    # (The two workers' traces run concurrently and may interleave mid-line, so which
    # worker each exec reached is counted by kubesim:) one daemon per worker, each over
    # SPDY (the launcher's Role grants create only).
    assert sim.counters.total("create", "pods/exec", "default") == before + 2


def test_the_launchers_role_allows_exec_into_its_workers_only(k: Env) -> None:
    if not k.exists("MPIJob", "hello"):
        k.create(mpijob("hello", 2))
    finished(k, "hello")
    k.sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "bystander", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "command": ["sleep", "3600"]}]},
        }
    )
    wait_for(lambda: _running(k, "bystander"), 30, what="pod bystander running")
    token = k.sim.create_token("default", "hello-launcher")
    kc = k.sim.write_kubeconfig(k.dir / "launcher-kc", token=token, tls=True)

    def kubectl_exec(pod: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [kubectl_path(), "exec", pod, "--", "hostname"],
            env={
                "KUBECONFIG": str(kc),
                "KUBECACHEDIR": str(k.dir / "cache"),
                "PATH": "/usr/bin:/bin",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = kubectl_exec("hello-worker-1")  # the workers idle on (cleanPodPolicy None)
    assert (ok.returncode, ok.stdout) == (0, "hello-worker-1\n"), ok.stderr
    denied = kubectl_exec("bystander")
    assert denied.returncode == 1
    assert (
        'pods "bystander" is forbidden: User "system:serviceaccount:default:hello-launcher" '
        'cannot create resource "pods/exec" in API group "" in the namespace "default"'
    ) in denied.stderr


def _running(k: Env, name: str) -> bool:
    p = k.pods().get(name)
    return bool(p and p.status.phase == "Running")


def test_a_failing_rank_fails_the_job(k: Env) -> None:
    k.create(mpijob("broken", 2, "3"))
    assert finished(k, "broken") == "Failed"
    launcher = k.pods("broken")["broken-launcher"]
    assert launcher.status.phase == "Failed"
    assert launcher.status.container_statuses[0].state.terminated.exit_code == 3  # mpirun's
    log = k.core.read_namespaced_pod_log("broken-launcher", "default")
    assert "rank 0 gathered" in log and "Exit code:    3" in log  # rank 1 ran, then exited 3
