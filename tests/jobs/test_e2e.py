"""Jobs that really run (kubesim's process kubelet): ranks find each other by the names
the Job controller / training operator give them, see the notebook's team volume and
credential files, and their logs come back merged; the sync API works inside a running
event loop, as in a Jupyter kernel.

The notebook's mount paths are moved under the test's temporary directory (the process
kubelet bind-mounts volumes at their real paths); the job code directory
(``/var/run/teamhub/job``) needs kubesim's mount-namespace isolation, i.e. root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import textwrap

import pytest
from teamhub.jobs.api import Jobs

from tests.jobs.jobs_support import NS, POD
from tests.jobs.process_support import notebook_jobs, rendezvous_env, start

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="job code is mounted at /var/run/teamhub/job: needs kubesim's namespace mode",
)

RENDEZVOUS = textwrap.dedent(
    """
    import os, socket, sys, time
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    team = open(os.path.join(os.environ["TEAM_DIR"], "hello.txt")).read().strip()
    cred = open(os.path.join(os.environ["CRED_DIR"], "AWS_ACCESS_KEY_ID")).read().strip()
    print(f"rank {rank}/{world} sees {team} and {cred} env={os.environ['AWS_ACCESS_KEY_ID']}",
          flush=True)
    for _ in range(300):
        try:
            ip = socket.gethostbyname(addr)
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit(f"cannot resolve {addr}")
    if rank == 0:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        s.listen()
        got = []
        for _ in range(world - 1):
            c, _ = s.accept()
            got.append(int(c.recv(16).decode()))
            c.close()
        print(f"rank 0 heard from ranks {sorted(got)}", flush=True)
    else:
        for _ in range(300):
            try:
                c = socket.create_connection((ip, port), timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit(f"cannot connect to {addr}:{port}")
        c.sendall(str(rank).encode())
        c.close()
        print(f"rank {rank} reached {addr}", flush=True)
    """
)


@pytest.mark.asyncio
async def test_indexed_ranks_meet_and_see_the_notebooks_data(tmp_path):
    async with notebook_jobs(tmp_path) as (_, jobs, root):
        job = await jobs.submit(source=RENDEZVOUS, workers=3, env=rendezvous_env(root), name="meet")
        st = await job.wait(timeout=90)
        lines = [str(line) async for line in job.logs()]
        assert st.phase == "Succeeded", (st, lines, await job.events())
        assert st.reason == "CompletionsReached"
        for r in range(3):
            assert f"[rank-{r}] rank {r}/3 sees team-data-v1 and AKIAVISION env=AKIAVISION" in lines
        assert "[rank-0] rank 0 heard from ranks [1, 2]" in lines
        assert "[rank-1] rank 1 reached meet-0.meet" in lines
        pods = await job.pods()
        assert [(p.replica, p.phase) for p in pods] == [
            ("rank-0", "Succeeded"),
            ("rank-1", "Succeeded"),
            ("rank-2", "Succeeded"),
        ]


@pytest.mark.asyncio
async def test_a_failing_rank_fails_the_job_at_once(tmp_path):
    async with notebook_jobs(tmp_path) as (_, jobs, _):
        code = "import os, sys, time\nif os.environ['RANK'] == '1': sys.exit(3)\ntime.sleep(60)"
        job = await jobs.submit(source=code, workers=2, name="crash")
        st = await job.wait(timeout=60)
        assert st.phase == "Failed" and st.reason == "PodFailurePolicy", st
        assert "exit code 3" in st.message, st.message


def _restricted_operator():
    from kubesim.controllers.training import (
        RESTRICTED_INIT_CONTAINER_TEMPLATE,
        TrainingOperatorConfig,
    )

    return TrainingOperatorConfig(
        pytorch_init_container_template=RESTRICTED_INIT_CONTAINER_TEMPLATE
    )


@pytest.mark.asyncio
async def test_pytorch_ranks_meet_through_the_operators_wiring(tmp_path):
    operator = _restricted_operator()
    async with notebook_jobs(tmp_path, training_operator=operator) as (_, jobs, root):
        job = await jobs.submit(
            backend="pytorch", source=RENDEZVOUS, workers=3, env=rendezvous_env(root)
        )
        st = await job.wait(timeout=90)
        lines = [str(line) async for line in job.logs()]
        assert st.phase == "Succeeded", (st, lines, await job.events())
        assert "[master-0] rank 0 heard from ranks [1, 2]" in lines
        assert f"[worker-1] rank 2 reached {job.name}-master-0" in lines
        assert [(p.replica, p.rank) for p in await job.pods()] == [
            ("master-0", 0),
            ("worker-0", 1),
            ("worker-1", 2),
        ]


@pytest.mark.asyncio
async def test_tf_workers_get_tf_config(tmp_path):
    async with notebook_jobs(tmp_path) as (_, jobs, _):
        code = (
            "import json, os\nt = json.loads(os.environ['TF_CONFIG'])\n"
            "print(t['task']['type'], t['task']['index'], len(t['cluster']['worker']))"
        )
        job = await jobs.submit(backend="tf", source=code, workers=2, chief=True)
        st = await job.wait(timeout=60)
        # With a chief the job succeeds when the chief does; the worker may still be
        # finishing (as under the real operator): read the logs once both pods ended.
        for _ in range(600):
            if all(p.phase == "Succeeded" for p in await job.pods()):
                break
            await asyncio.sleep(0.1)
        lines = sorted(str(line) for line in [x async for x in job.logs()])
        assert st.phase == "Succeeded", (st, lines)
        assert lines == ["[chief-0] chief 0 1", "[worker-0] worker 0 1"]


@pytest.mark.asyncio
async def test_sync_api_inside_a_running_event_loop(tmp_path):
    """A Jupyter kernel runs an event loop in the main thread; the blocking API must work
    there (its calls run on a private loop)."""
    sim, kubeconfig, _ = await asyncio.to_thread(start, tmp_path)
    jobs = Jobs(kubeconfig=kubeconfig, namespace=NS, pod_name=POD)
    try:
        asyncio.get_running_loop()  # we are inside one
        job = jobs.submit(source="print('hello from', __import__('os').environ['RANK'])", workers=2)
        assert [j.name for j in jobs.list()] == [job.name]
        st = job.wait(timeout=60)
        assert st.phase == "Succeeded"
        assert sorted(str(line) for line in job.logs()) == [
            "[rank-0] hello from 0",
            "[rank-1] hello from 1",
        ]
        assert [str(line) for line in job.logs(replica="rank-1", prefix=False)] == ["hello from 1"]
        assert jobs.get(job.name).status().phase == "Succeeded"
        assert job.cancel().phase == "Succeeded"  # finished: nothing to cancel
        job.delete()
        assert jobs.list() == []
    finally:
        await asyncio.to_thread(jobs.close)
        await asyncio.to_thread(sim.stop)
