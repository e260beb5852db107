"""JobMonitor against kubesim: the widget's state (values, children, disabled flags) as
the job runs — merged and per-rank logs, pending reasons, cancel, follow, archive — with
all its work on the test's event loop (as on a kernel's)."""

from __future__ import annotations

import asyncio

import pytest
from teamhub.widgets import JobMonitor

from tests.jobs.jobs_support import NS
from tests.notebook.notebook_support import until

XSS = "<img src=x onerror=alert(1)>"


@pytest.mark.asyncio
async def test_merged_and_rank_logs_escaped_then_archived(kubesim, client, scripted, tmp_path):
    scripted["kubesim.io/logs"] = f"step 1\n{XSS}\nstep 2\n"
    scripted["kubesim.io/exit-code"] = "0"
    job = await client.submit(source="print('x')", workers=2, name="escaped")
    mon = JobMonitor(job, poll_interval=0.1, archive_dir=tmp_path / "archive")
    await until(lambda: mon.phase == "Succeeded", what="Succeeded")
    await until(lambda: len(mon.logs.lines()) == 6 and not mon.following, what="6 log lines")
    merged = mon.logs.lines()
    assert sorted(merged) == sorted(
        f"[rank-{r}] {t}" for r in (0, 1) for t in ("step 1", XSS, "step 2")
    )
    assert mon.logs.replicas == ["rank-0", "rank-1"]
    assert mon.logs.tabs.titles == ("all ranks", "rank-0", "rank-1")
    assert mon.logs.lines("rank-1") == ["step 1", XSS, "step 2"]
    for view in (mon.logs.merged, *mon.logs.views.values()):
        assert "<img" not in view.value
        assert "&lt;img src=x onerror=alert(1)&gt;" in view.value
    assert "[rank-0] step 1" in mon.logs.merged.value
    assert "Succeeded" in mon.badge.value and mon.replicas.value.endswith("replicas ready")
    assert mon.cancel_button.disabled
    assert mon.follow.value is False  # the stream ended with the job
    await until(lambda: mon.archived, what="logs archived")
    folder = tmp_path / "archive" / "escaped"
    assert sorted(p.name for p in mon.archived) == ["rank-0.log", "rank-1.log"]
    assert (folder / "rank-1.log").read_text() == f"step 1\n{XSS}\nstep 2\n"
    assert f"2 log files archived to {tmp_path}/archive/escaped/" in mon.notice.value
    assert "escaped" in mon.title.value and "indexed, 2 worker(s)" in mon.title.value
    mon.close()
    assert mon.tasks.closed and not mon.following


@pytest.mark.asyncio
async def test_cancel_button_cancels_the_job(kubesim, client, scripted, tmp_path):
    scripted["kubesim.io/logs"] = "training...\n"  # no exit code: runs until stopped
    job = await client.submit(source="1", workers=2, name="doomed")
    mon = JobMonitor(job, poll_interval=0.1, archive_dir=tmp_path / "logs")
    await until(lambda: mon.phase == "Running" and mon.status.ready == 2, what="running")
    await until(lambda: len(mon.logs.lines()) == 2, what="logs")
    assert not mon.cancel_button.disabled and mon.following
    assert mon.replicas.value == "2/2 replicas ready"
    mon.cancel_button.click()
    await mon.idle()
    assert mon.phase == "Cancelled" and "Cancelled" in mon.badge.value
    assert mon.cancel_button.disabled and mon.cancel_button.description == "Cancel"
    assert kubesim.lookup("configmaps", NS, "doomed.record") is not None
    assert (tmp_path / "logs" / "doomed" / "rank-0.log").read_text() == "training...\n"
    assert f"logs archived to {tmp_path}/logs/doomed/" in mon.notice.value
    await until(lambda: not mon.following, what="the stream to end with the pods")
    assert sorted(mon.logs.lines()) == ["[rank-0] training...", "[rank-1] training..."]
    mon.close()


@pytest.mark.asyncio
async def test_pending_job_shows_why(kubesim, client):
    job = await client.submit(source="1", workers=2, gpus=1, name="greedy")
    mon = JobMonitor(job, poll_interval=0.1)
    await until(lambda: mon.status and mon.status.reason == "Unschedulable", what="reason")
    assert "Pending" in mon.badge.value and "Unschedulable" in mon.badge.value
    assert "Insufficient nvidia.com/gpu" in mon.message.value
    assert mon.replicas.value == "0/2 replicas ready"
    assert not mon.cancel_button.disabled
    assert mon.following  # waiting for pods to appear
    mon.close()


@pytest.mark.asyncio
async def test_follow_toggle_stops_and_restarts_the_stream(kubesim, client, scripted):
    scripted["kubesim.io/logs"] = "one\ntwo\nthree\n"
    job = await client.submit(source="1", workers=1, name="toggled")
    mon = JobMonitor(job, poll_interval=0.1, max_lines=2)
    await until(lambda: mon.logs.lines() == ["[rank-0] two", "[rank-0] three"], what="tail")
    assert mon.following
    mon.follow.value = False
    await until(lambda: not mon.following, what="stream stopped")
    assert mon.logs.lines() == ["[rank-0] two", "[rank-0] three"]  # kept
    mon.follow.value = True
    assert mon.following
    await until(lambda: mon.logs.lines() == ["[rank-0] two", "[rank-0] three"], what="re-read")
    # max_lines is also the tail of each re-read: the view never held more than 2 lines.
    assert "one" not in mon.logs.merged.value
    mon.close()
    await asyncio.sleep(0)
    assert not mon.following


@pytest.mark.asyncio
async def test_a_missing_job_is_reported_in_the_widget(kubesim, client):
    mon = JobMonitor("no-such-job", jobs=client)
    await mon.idle()
    assert "no job named &#x27;no-such-job&#x27;" in mon.error.value
    assert mon.cancel_button.disabled and mon.follow.disabled
    mon.close()


def test_widgets_need_a_running_loop():
    with pytest.raises(RuntimeError, match="create them in a Jupyter kernel"):
        JobMonitor("x")
