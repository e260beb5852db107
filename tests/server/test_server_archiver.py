"""The notebook server archives finished jobs' logs by itself (``LogArchiver``): a job
nobody watched still leaves its logs in ``~/.teamhub/job-logs/<job>/`` after its pods are
gone; each job once (a marker names its uid), again for a new job reusing the name; jobs
that have not finished, and cancelled ones, are left alone. Against kubesim's process
kubelet, so the logs are real output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.jobs.jobs_support import job_objects
from tests.kubesim.helpers import wait_for
from tests.server.server_support import (
    call,
    needs_process_kubelet,
    process_kubesim,  # noqa: F401  (the module's kubesim: a process kubelet)
    process_notebook_kubeconfig,  # noqa: F401
    until,
)

pytestmark = [pytest.mark.asyncio, needs_process_kubelet]


@pytest.fixture
def jp_server_config(teamhub_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"teamhub": True}},
        "TeamhubExtension": {**teamhub_config, "archive_interval": 0.2},
    }


@pytest_asyncio.fixture
async def started(jp_serverapp: Any) -> Any:
    """The server's start hooks, which a real server runs once its loop runs (pytest-jupyter
    does not start the server that far): the teamhub extension starts its archiver."""
    await jp_serverapp.extension_manager.start_all_extensions()
    ext = jp_serverapp.extension_manager.extension_points["teamhub"].app
    assert ext.archiver is not None
    return ext


def command(text: str) -> list[str]:
    return [sys.executable, "-c", f"import os; print({text!r}, os.environ['RANK'], flush=True)"]


async def submit(jp_fetch: Any, name: str, text: str, **extra: Any) -> str:
    body = {"command": command(text), "workers": 2, "name": name, **extra}
    r = await call(jp_fetch, "POST", "jobs", body=body)
    assert r.code == 201, r.text
    return r.json["uid"]


def marker(home: Path, job: str) -> dict[str, Any] | None:
    path = home / ".teamhub" / "job-logs" / job / ".archived.json"
    return json.loads(path.read_text()) if path.exists() else None


async def test_an_unwatched_job_is_archived_once_and_outlives_its_pods(
    started, jp_fetch, jp_home_dir, kubesim
):
    uid = await submit(jp_fetch, "unwatched", "first run")

    async def archived():
        return marker(jp_home_dir, "unwatched")

    got = await until(archived, timeout=60, what="the archiver's marker")
    assert got["uid"] == uid and got["phase"] == "Succeeded"
    assert sorted(got["files"]) == ["rank-0.log", "rank-1.log"]
    folder = jp_home_dir / ".teamhub" / "job-logs" / "unwatched"
    assert (folder / "rank-0.log").read_text() == "first run 0\n"
    assert (folder / "rank-1.log").read_text() == "first run 1\n"

    # Deleting the job removes its pods; the archive stays.
    assert (await call(jp_fetch, "DELETE", "jobs", "unwatched")).code == 204
    wait_for(lambda: job_objects(kubesim) == [], what="the job's objects, pods too, gone")
    assert (folder / "rank-1.log").read_text() == "first run 1\n"

    # A new job under the same name is a new uid: archived again, over the old files.
    uid2 = await submit(jp_fetch, "unwatched", "second run")

    async def rearchived():
        m = marker(jp_home_dir, "unwatched")
        return m if m and m["uid"] == uid2 else None

    await until(rearchived, timeout=60, what="the second job's marker")
    assert (folder / "rank-0.log").read_text() == "second run 0\n"
    assert (await call(jp_fetch, "DELETE", "jobs", "unwatched")).code == 204


async def test_running_and_cancelled_jobs_are_left_alone(started, jp_fetch, jp_home_dir):
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    body = {"command": sleeper, "workers": 1, "name": "sleeper"}
    assert (await call(jp_fetch, "POST", "jobs", body=body)).code == 201

    async def running():
        st = (await call(jp_fetch, "GET", "jobs", "sleeper")).json["status"]
        return st["ready"] == 1

    await until(running, timeout=60, what="sleeper running")
    ext = started
    sweeps = ext.archiver.sweeps
    await until(_after(ext, sweeps + 2), what="two more sweeps")
    folder = jp_home_dir / ".teamhub" / "job-logs" / "sleeper"
    assert not folder.exists()  # running: nothing archived yet

    r = await call(jp_fetch, "POST", "jobs", "sleeper", "cancel", params={"archiveLogs": "false"})
    assert r.code == 200 and r.json["status"]["phase"] == "Cancelled"
    sweeps = ext.archiver.sweeps
    await until(_after(ext, sweeps + 2), what="two more sweeps")
    assert not folder.exists()  # cancelled: the user said no archive
    assert (await call(jp_fetch, "DELETE", "jobs", "sleeper")).code == 204


def _after(ext: Any, n: int) -> Any:
    async def check():
        return ext.archiver.sweeps >= n

    return check
