"""The jobs client the widgets use: async, on the kernel's own event loop.

Why a second client: the blocking API (:mod:`teamhub.jobs.api`) keeps its
:class:`~teamhub.jobs.client.JobsClient` on a private loop in a background thread, and an
aiohttp session belongs to the loop that made it. Widgets must await on the kernel's loop
(see :mod:`teamhub.widgets.tasks`), so they get a ``JobsClient`` of their own there,
connected like the blocking one (same kubeconfig and context, and its already-read
notebook environment: the notebook pod is not read twice). One per blocking facade per
loop, made on first use.

Widgets accept what notebook code has at hand: a ``JobsClient`` (used as is: it must
belong to the running loop), a blocking :class:`~teamhub.jobs.api.Jobs`, or nothing (the
shared one of ``teamhub.jobs.submit``/``configure``); and a job as an
:class:`~teamhub.jobs.job.AsyncJob`, a blocking :class:`~teamhub.jobs.api.Job` or a name.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from teamhub.jobs.api import Job, Jobs, default_jobs
from teamhub.jobs.backends import get_backend
from teamhub.jobs.client import JobsClient
from teamhub.jobs.job import AsyncJob

#: loop -> {id(facade): (facade, client)}
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, tuple[Jobs, JobsClient]]]
_CLIENTS = weakref.WeakKeyDictionary()
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
_LOCKS = weakref.WeakKeyDictionary()

JobsLike = JobsClient | Jobs | None
JobLike = AsyncJob | Job | str


async def loop_client(jobs: JobsLike = None) -> JobsClient:
    """A ``JobsClient`` on the running loop for ``jobs`` (see the module doc)."""
    if isinstance(jobs, JobsClient):
        return jobs
    if jobs is not None and not isinstance(jobs, Jobs):
        raise TypeError(
            f"jobs must be a teamhub.jobs.Jobs, a JobsClient or None, not {type(jobs).__name__}"
        )
    loop = asyncio.get_running_loop()
    facade = jobs if jobs is not None else default_jobs()
    per_loop = _CLIENTS.setdefault(loop, {})
    lock = _LOCKS.setdefault(loop, asyncio.Lock())
    async with lock:
        entry = per_loop.get(id(facade))
        if entry is not None and entry[0] is facade:
            return entry[1]
        # Connecting the blocking client blocks: do it in a worker thread, not the kernel's.
        sync_client = await loop.run_in_executor(None, lambda: facade.client)
        client = await JobsClient.connect(
            kubeconfig=sync_client.kubeconfig,
            context=sync_client.context,
            environment=sync_client.environment,
        )
        per_loop[id(facade)] = (facade, client)
        return client


async def resolve_job(job: JobLike, jobs: JobsLike = None) -> AsyncJob:
    """``job`` as an ``AsyncJob`` on the running loop."""
    if isinstance(job, AsyncJob):
        return job
    if isinstance(job, Job) and jobs is None:
        jobs = job._jobs  # the blocking client the job came from
    client = await loop_client(jobs)
    if isinstance(job, Job):  # the same workload (or record), without reading it again
        aio = job.aio
        return AsyncJob(client, get_backend(aio.backend), workload=aio.workload, record=aio.record)
    if isinstance(job, str):
        return await client.get(job)
    raise TypeError(f"expected a job (Job, AsyncJob or a job name), not {type(job).__name__}")


async def close_clients() -> None:
    """Close the clients made for the running loop (e.g. before the loop ends)."""
    loop = asyncio.get_running_loop()
    entries = list((_CLIENTS.pop(loop, None) or {}).values())
    for _, client in entries:
        await client.close()


def describe(job: Any) -> str:
    """A job's name for titles before it is resolved."""
    name = job if isinstance(job, str) else getattr(job, "name", None)
    return str(name or "job")
