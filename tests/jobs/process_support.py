"""What the jobs tests that really run share: alice's notebook on a process-kubelet kubesim
(``start``), a JobsClient acting as it (``notebook_jobs``), and where its mounts are.

The notebook's mount paths are moved under the test's temporary directory (the process
kubelet bind-mounts volumes at their real paths)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from teamhub.jobs.client import JobsClient

from kubesim.sim import KubeSim
from tests.hub.teams_fixtures import base
from tests.jobs.jobs_support import NS, POD, notebook, provision

#: A file the notebook wrote on its team's data volume (content ``team-data-v1``).
TEAM_FILE = "hello.txt"


def mount_config(root: Path) -> dict[str, Any]:
    """The base teams config with every mount path under ``root`` (the process kubelet
    mounts volumes at their real paths)."""
    cfg = base()
    cfg["home"]["mountPath"] = str(root / "home")
    cfg["globalVolumes"][0]["mountPath"] = str(root / "public")
    vision = cfg["teams"]["vision"]
    vision["volumes"][0]["mountPath"] = str(root / "team-data")
    vision["volumes"][1]["mountPath"] = str(root / "team-models")
    vision["credentials"][0]["mountPath"] = str(root / "creds" / "s3")
    return cfg


def process_notebook(sim: KubeSim, tmp_path: Path) -> Path:
    """alice's notebook in a process-kubelet kubesim (the pod itself sleeps, its mounts
    under ``tmp_path/mnt``); a kubeconfig acting as its ServiceAccount."""
    root = tmp_path / "mnt"
    nb = notebook(
        config=mount_config(root),
        tokens_dir=str(root / "tokens"),
        cmd=["sleep", "3600"],
        working_dir=str(root / "home"),
    )
    return provision(sim, nb, tmp_path)


def start(tmp_path: Path, **sim_args: Any) -> tuple[KubeSim, Path, Path]:
    """A process-kubelet kubesim with alice's notebook (``process_notebook``) and a file
    on her team's data volume; (sim, kubeconfig, mount root)."""
    sim = KubeSim(kubelet="process", data_dir=tmp_path / "sim", **sim_args).start()
    try:
        # the notebook wrote this to the team volume (csi-driver-nfs share -> nfs storage)
        storage = sim.data_dir / "storage" / "nfs" / "nfs.example.org" / "exports" / "vision"
        storage.mkdir(parents=True, exist_ok=True)
        (storage / TEAM_FILE).write_text("team-data-v1\n")
        kubeconfig = process_notebook(sim, tmp_path)
    except BaseException:
        sim.stop()
        raise
    return sim, kubeconfig, tmp_path / "mnt"


@asynccontextmanager
async def notebook_jobs(
    tmp_path: Path, **sim_args: Any
) -> AsyncIterator[tuple[KubeSim, JobsClient, Path]]:
    """``start``, then a JobsClient acting as alice's notebook; (sim, jobs, mount root).
    kubesim stops on exit."""
    sim, kubeconfig, root = await asyncio.to_thread(start, tmp_path, **sim_args)
    try:
        async with await JobsClient.connect(
            kubeconfig=kubeconfig, namespace=NS, pod_name=POD
        ) as jobs:
            yield sim, jobs, root
    finally:
        await asyncio.to_thread(sim.stop)


def rendezvous_env(root: Path) -> dict[str, str]:
    """Where a rank finds the team volume and the credential files."""
    return {"TEAM_DIR": str(root / "team-data"), "CRED_DIR": str(root / "creds" / "s3")}
