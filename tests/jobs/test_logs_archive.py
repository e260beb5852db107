"""Archiving a job's logs (instant kubelet): one file per replica and container, older
pods of a replica kept apart, files that outlive the pods, atomic idempotent re-archiving,
the default folder. The client is the notebook's ServiceAccount (logs rights only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio
from kubernetes_asyncio.client.exceptions import ApiException
from teamhub.jobs.archive import DEFAULT_ARCHIVE_DIR, archive_logs

from tests.jobs.logs_support import (
    core_api,
    finished,
    job_pod,
    notebook_kubeconfig,
    setup_namespace,
    wait_for,
)

NS = "team-archive"
SEL = "teamhub.io/submission=s1"


@pytest_asyncio.fixture
async def core(kubesim, tmp_path: Path):
    setup_namespace(kubesim, NS)
    async with core_api(notebook_kubeconfig(kubesim, NS, tmp_path / "kc")) as api:
        yield api


def make_job(sim) -> list[str]:
    pods = [
        job_pod("j1-master-0", NS, "s1", job="j1", role="master", index=0, logs="m1\nm2"),
        job_pod(
            "j1-worker-0",
            NS,
            "s1",
            job="j1",
            role="worker",
            index=0,
            logs="w0",
            containers=["main", "sidecar"],
        ),
        # worker-1 failed and was replaced: the older pod's log is kept under its pod name.
        job_pod(
            "j1-worker-1-a", NS, "s1", job="j1", role="worker", index=1, logs="first", exit_code=1
        ),
        job_pod(
            "j1-worker-1-b", NS, "s1", job="j1", role="worker", index=1, logs="second", exit_code=0
        ),
    ]
    for p in pods:
        p["metadata"]["annotations"].setdefault("kubesim.io/exit-code", "0")
        sim.apply(p)
    names = [p["metadata"]["name"] for p in pods]
    finished(sim, NS, *names)
    return names


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


EXPECTED = {
    "master-0.log": "m1\nm2\n",
    "worker-0.log": "w0\n",
    "worker-0.sidecar.log": "w0\n",
    "worker-1.j1-worker-1-a.log": "first\n",
    "worker-1.log": "second\n",
}


@pytest.mark.asyncio
async def test_archive_outlives_the_pods(kubesim, core, tmp_path):
    names = make_job(kubesim)
    dest = tmp_path / "archive"
    written = await archive_logs(core, NS, SEL, dest)
    folder = dest / "j1"
    assert [p.name for p in written] == [
        "master-0.log",
        "worker-0.log",
        "worker-0.sidecar.log",
        "worker-1.j1-worker-1-a.log",
        "worker-1.log",
    ]  # rank order
    assert all(p.parent == folder for p in written)
    assert contents(folder) == EXPECTED

    for n in names:
        kubesim.call(lambda n=n: kubesim.api.delete(kubesim.api.rt("", "pods"), NS, n, grace=0))
    wait_for(lambda: all(kubesim.lookup("pods", NS, n) is None for n in names), what="pods gone")
    # Archiving again with no pods writes nothing and removes nothing.
    assert await archive_logs(core, NS, SEL, dest) == []
    assert contents(folder) == EXPECTED


@pytest.mark.asyncio
async def test_rearchiving_overwrites_atomically_and_a_failed_read_keeps_the_old_file(
    kubesim, core, tmp_path
):
    make_job(kubesim)
    first = await archive_logs(core, NS, SEL, tmp_path)
    (tmp_path / "j1" / "master-0.log").write_text("stale\n")
    again = await archive_logs(core, NS, SEL, tmp_path)
    assert again == first
    assert contents(tmp_path / "j1") == EXPECTED  # overwritten, no temporary files left

    (tmp_path / "j1" / "master-0.log").write_text("kept\n")
    kubesim.faults.add_error(500, 1.0, resources={"pods/log"})
    try:
        with pytest.raises(ApiException) as e:
            await archive_logs(core, NS, SEL, tmp_path)
    finally:
        kubesim.faults.clear()
    assert e.value.status == 500
    assert contents(tmp_path / "j1") == {**EXPECTED, "master-0.log": "kept\n"}


@pytest.mark.asyncio
async def test_default_folder_and_job_name_from_the_submission(
    kubesim, core, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))
    kubesim.apply(job_pod("ix-0", NS, "sub-42", completion_index=0, logs="hi", exit_code=0))
    finished(kubesim, NS, "ix-0")
    written = await archive_logs(core, NS, {"teamhub.io/submission": "sub-42"})
    assert DEFAULT_ARCHIVE_DIR == "~/.teamhub/job-logs"
    assert written == [tmp_path / ".teamhub" / "job-logs" / "sub-42" / "rank-0.log"]
    assert written[0].read_text() == "hi\n"
    named = await archive_logs(core, NS, "teamhub.io/submission=sub-42", tmp_path, job="train")
    assert named == [tmp_path / "train" / "rank-0.log"]


def test_archiving_from_sync_code(kubesim, tmp_path):
    """What a notebook cell does (its thread may already run an event loop)."""
    from kubernetes_asyncio import config
    from teamhub.jobs.bridge import run_sync, with_core

    setup_namespace(kubesim, NS)
    kubeconfig = notebook_kubeconfig(kubesim, NS, tmp_path / "kc")
    make_job(kubesim)

    def factory():
        return config.new_client_from_config(config_file=str(kubeconfig))

    written = run_sync(
        lambda: with_core(lambda core: archive_logs(core, NS, SEL, tmp_path / "a"), factory)
    )
    assert [p.name for p in written] == sorted(EXPECTED)
    assert contents(tmp_path / "a" / "j1") == EXPECTED


@pytest.mark.asyncio
async def test_pods_that_never_started_are_skipped(kubesim, core, tmp_path):
    gpu = job_pod("j1-worker-0", NS, "s1", job="j1", role="worker", index=0)
    gpu["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    kubesim.apply(gpu)
    kubesim.apply(job_pod("j1-master-0", NS, "s1", job="j1", role="master", index=0, logs="m"))
    wait_for(
        lambda: (
            (kubesim.lookup("pods", NS, "j1-master-0") or {}).get("status", {}).get("phase")
            == "Running"
        )
    )
    written = await archive_logs(core, NS, SEL, tmp_path)
    assert [p.name for p in written] == ["master-0.log"]  # a snapshot of a running pod


@pytest.mark.asyncio
async def test_bad_arguments_are_named(core, tmp_path):
    with pytest.raises(ValueError, match="selector must be a non-empty label selector"):
        await archive_logs(core, NS, "", tmp_path)
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        await archive_logs(core, NS, SEL, tmp_path, concurrency=0)
