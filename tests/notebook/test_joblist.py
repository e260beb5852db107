"""JobList against kubesim: rows with status, refresh and auto-refresh, and the row actions
(monitor, cancel, delete with confirmation)."""

from __future__ import annotations

import asyncio

import pytest
from teamhub.widgets import JobList, JobMonitor

from tests.jobs.jobs_support import NS, job_objects
from tests.notebook.notebook_support import until


def cells(jl: JobList, name: str) -> list[str]:
    """The text of a row's first five cells."""
    return [c.value for c in jl.row(name).cells[:5]]


@pytest.mark.asyncio
async def test_rows_actions_and_auto_refresh(kubesim, client, scripted, tmp_path):
    scripted["kubesim.io/logs"] = "working\n"
    await client.submit(source="1", workers=2, name="first")
    await client.submit(source="1", gpus=1, name="second")
    jl = JobList(
        jobs=client, interval=0.1, monitor_options={"poll_interval": 0.1, "archive_dir": tmp_path}
    )
    await jl.idle()
    assert sorted(jl.names) == ["first", "second"]
    assert len(jl.table.children) == 6 * 3  # header + two rows of six columns
    for _ in range(200):  # refresh until both ranks of "first" run
        if cells(jl, "first")[3] == "2/2":
            break
        await asyncio.sleep(0.05)
        await jl.refresh()
    name, backend, status, ready, age = cells(jl, "first")
    assert (name, backend, ready) == ("first", "indexed", "2/2") and "Running" in status
    assert age.endswith("s") or age.endswith("m")
    assert "Pending" in cells(jl, "second")[2] and not jl.row("second").cancel_button.disabled
    assert "2 jobs" in jl.message.value

    monitor = jl.open_monitor("first")
    assert isinstance(monitor, JobMonitor) and jl.detail.children == (monitor,)
    await until(lambda: monitor.logs.lines(), what="the monitor's logs")

    jl.row("first").cancel_button.click()
    await jl.idle()
    assert "Cancelled" in cells(jl, "first")[2] and jl.row("first").cancel_button.disabled
    assert kubesim.lookup("configmaps", NS, "first.record") is not None
    assert (tmp_path / "first" / "rank-0.log").read_text() == "working\n"

    delete = jl.row("second").delete_button
    delete.click()
    await jl.idle()
    assert jl.row("second").delete_button.description == "Confirm delete"
    assert "second" in jl.names  # nothing deleted yet
    jl.row("second").delete_button.click()
    await jl.idle()
    assert jl.names == ["first"]

    # Auto-refresh picks up jobs submitted elsewhere, until it is switched off.
    jl.auto.value = True
    await client.submit(source="1", name="third")
    await until(lambda: "third" in jl.names, what="auto-refresh")
    jl.auto.value = False
    await jl.row("first").job.delete()
    await jl.idle()
    assert "first" in jl.names  # no refresh without auto-refresh
    jl.refresh_button.click()
    await jl.idle()
    assert jl.names == ["third"]
    jl.close()
    assert jl.tasks.closed and monitor.tasks.closed
    await until(lambda: [o for o in job_objects(kubesim) if "third" not in o] == [], 10)
