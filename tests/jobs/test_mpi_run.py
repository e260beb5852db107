"""The ``mpi`` backend really runs (kubesim's process kubelet, the training operator v1's
MPIJob): the launcher's ``mpirun`` starts a daemon on each worker with ``kubectl exec``, one
rank per worker; the ranks exchange their ranks over TCP (MPI), see the notebook's team
volume and credential file, print through ``mpirun`` into the launcher's log — the merged
logs show every rank — and the archived logs stay after the pods are deleted.

The v1 operator's launcher carries its ``kubectl-delivery`` init container, which sets no
``securityContext``: a namespace enforcing ``restricted`` (teamhub's default) refuses the
launcher, and the job's status says so. The runs below enforce ``baseline`` instead, as
``TeamSpawner.pod_security_level = "baseline"`` labels the namespace. The launcher mounts
the token of the ServiceAccount the operator makes for it (the one job pod that does), which
its ``kubectl exec`` needs.

The ranks run Debian's ``python3`` with ``python3-mpi4py`` and Open MPI (``./dev test``
installs them). Their environment lets Open MPI run as root and use the loopback interface,
as a user would set for their cluster's network.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from teamhub_spawner.objects.namespace import pod_security_labels

from kubesim.sim import KubeSim
from tests.jobs.jobs_support import NS
from tests.jobs.process_support import notebook_jobs, rendezvous_env
from tests.kubesim.training_helpers import MPI_PYTHON, have_mpi4py

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0
        or shutil.which("unshare") is None
        or shutil.which("mpirun") is None
        or not have_mpi4py(),
        reason="needs root, unshare, Debian's openmpi-bin and python3-mpi4py",
    ),
]

OPEN_MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    "OMPI_MCA_btl_tcp_if_include": "lo",
    "OMPI_MCA_btl": "tcp,self",
}

RANK = textwrap.dedent(
    """
    import os, socket
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    team = open(os.path.join(os.environ["TEAM_DIR"], "hello.txt")).read().strip()
    cred = open(os.path.join(os.environ["CRED_DIR"], "AWS_ACCESS_KEY_ID")).read().strip()
    print(f"rank {rank}/{size} on {socket.gethostname()} sees {team} and {cred} "
          f"env={os.environ['AWS_ACCESS_KEY_ID']}", flush=True)
    ranks = comm.allgather(rank)
    if rank == 0:
        print(f"rank 0 heard from ranks {ranks}", flush=True)
    """
)


def relax_to_baseline(sim: KubeSim) -> None:
    """The namespace as TeamSpawner labels it with ``pod_security_level = "baseline"``."""
    ns = sim.lookup("namespaces", "", NS)
    assert ns is not None
    ns["metadata"]["labels"].update(pod_security_labels(level="baseline"))
    sim.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": ns["metadata"]})


def submit_args(root: Path) -> dict:
    return {
        "backend": "mpi",
        "command": [MPI_PYTHON, "-c", RANK],
        "workers": 2,
        "env": {**rendezvous_env(root), **OPEN_MPI_ENV},
    }


@pytest.mark.asyncio
async def test_restricted_namespace_refuses_the_launcher(tmp_path):
    async with notebook_jobs(tmp_path) as (_, jobs, root):
        job = await jobs.submit(**submit_args(root))
        for _ in range(300):
            st = await job.status()
            if "kubectl-delivery" in st.message:
                break
            await asyncio.sleep(0.1)
        assert not st.finished
        assert 'violates PodSecurity "restricted:latest"' in st.message, st
        assert 'container "kubectl-delivery" must set securityContext' in st.message
        await job.cancel(archive_logs=False)


@pytest.mark.asyncio
async def test_mpi_ranks_meet_on_the_workers_and_their_logs_outlive_the_pods(tmp_path):
    async with notebook_jobs(tmp_path) as (sim, jobs, root):
        await asyncio.to_thread(relax_to_baseline, sim)
        job = await jobs.submit(**submit_args(root))
        st = await job.wait(timeout=120)
        lines = [str(line) async for line in job.logs()]
        assert st.phase == "Succeeded", (st, lines, await job.events())
        for r in range(2):
            assert (
                f"[launcher] rank {r}/2 on {job.name}-worker-{r} sees team-data-v1 and "
                "AKIAVISION env=AKIAVISION"
            ) in lines
        assert "[launcher] rank 0 heard from ranks [0, 1]" in lines
        # every rank reached its worker through the launcher's kubectl exec: one exec per
        # worker (SPDY, after the refused WebSocket upgrade). (Not read from the launcher's
        # ``set -x`` trace: two kubexec.sh shells trace concurrently, and dash writes a
        # trace line in pieces, so their lines interleave.)
        assert sim.counters.total(verb="create", resource="pods/exec", namespace=NS) == 2

        archive = tmp_path / "archive"
        files = await job.archive_logs(archive)
        await job.delete()

        def pods_left() -> list[str]:
            rt = sim.registry.get("", "pods")
            return [
                p["metadata"]["name"]
                for p in sim.store.iter(rt, NS)
                if job.name in p["metadata"]["name"]
            ]

        for _ in range(300):
            if not await asyncio.to_thread(sim.call, pods_left):
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(sim.call, pods_left) == []
        launcher_log = next(f for f in files if f.name.startswith("launcher"))
        text = launcher_log.read_text()
        assert f"rank 1/2 on {job.name}-worker-1 sees team-data-v1" in text
        assert "rank 0 heard from ranks [0, 1]" in text
