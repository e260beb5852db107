"""Archiving finished jobs' logs in the background, so that nobody has to be watching.

``Job.wait()``, the magics and ``cancel()`` archive a job's logs when they see it end. A job
left to run while its submitter closed the notebook would otherwise keep its logs only as
long as its pods live. The notebook server therefore runs a :class:`LogArchiver`: every
``interval`` seconds it lists the user's jobs and archives each *finished* one (Succeeded
or Failed) that has not been archived yet, then writes a marker file beside the logs.

The marker (``<dest_dir>/<job>/.archived.json``) names the workload's uid, the phase it
ended in and the files written. A later job reusing the name has another uid, so it is
archived again; a job archived once is never read again, so a sweep costs one list call
per kind plus one status check per job not yet archived. Jobs cancelled through teamhub
are skipped: ``cancel()`` archives before it deletes the pods. The pods of jobs finished
while no notebook server ran are still there (teamhub's backends set no TTL and
``cleanPodPolicy: None``, MPI's launcher keeps every rank's output), so the first sweep
after the server starts archives them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teamhub.jobs.archive import DEFAULT_ARCHIVE_DIR, safe_name

if TYPE_CHECKING:
    from teamhub.jobs.client import JobsClient
    from teamhub.jobs.job import AsyncJob

log = logging.getLogger("teamhub.jobs.archiver")
MARKER = ".archived.json"


def archive_root(dest_dir: str | os.PathLike[str] | None) -> Path:
    return Path(dest_dir if dest_dir is not None else DEFAULT_ARCHIVE_DIR).expanduser()


def read_marker(root: Path, job: str) -> dict[str, Any] | None:
    """The marker of ``job``'s archive, or None (none, or unreadable: archive again)."""
    try:
        data = json.loads((root / safe_name(job) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(root: Path, job: str, data: dict[str, Any]) -> None:
    folder = root / safe_name(job)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{MARKER}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, folder / MARKER)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def is_archived(job: AsyncJob, root: Path) -> bool:
    marker = read_marker(root, job.name)
    return marker is not None and job.uid is not None and marker.get("uid") == job.uid


async def archive_finished(
    client: JobsClient, dest_dir: str | os.PathLike[str] | None = None
) -> list[str]:
    """One sweep: archive the logs of every finished, not yet archived job of the user;
    the names of the jobs archived. A job whose archiving fails is logged and left for
    the next sweep; the others go on."""
    root = archive_root(dest_dir)
    done: list[str] = []
    for job in await client.list():
        if job.cancelled or job.uid is None or is_archived(job, root):
            continue
        try:
            st = await job.status()
            if not st.finished or st.phase == "Cancelled":
                continue
            paths = await job.archive_logs(root)
        except Exception as e:  # one job's trouble must not stop the others' archives
            log.warning("archiving the logs of job %s failed (will retry): %s", job.name, e)
            continue
        _write_marker(
            root,
            job.name,
            {
                "uid": job.uid,
                "phase": st.phase,
                "archivedAt": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "files": [p.name for p in paths],
            },
        )
        log.info("archived %d log file(s) of job %s (%s)", len(paths), job.name, st.phase)
        done.append(job.name)
    return done


class LogArchiver:
    """Runs :func:`archive_finished` every ``interval`` seconds until stopped.

    ``client`` is called before each sweep (the server connects lazily; a notebook that is
    not a teamhub pod fails to connect, which is logged once and retried)."""

    def __init__(
        self,
        client: Callable[[], Awaitable[JobsClient]],
        *,
        dest_dir: str | os.PathLike[str] | None = None,
        interval: float = 30.0,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self._client = client
        self.dest_dir = dest_dir
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self.sweeps = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sweep(self) -> list[str]:
        return await archive_finished(await self._client(), self.dest_dir)

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.sweep()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not failing:  # say it once, not every interval
                    log.warning("archiving finished jobs' logs failed (will retry): %s", e)
                failing = True
            self.sweeps += 1
            await asyncio.sleep(self.interval)
