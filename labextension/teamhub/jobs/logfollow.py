"""Following a job's logs: every container of every matching pod, as pods come and restart.

One task per (pod, container) walks that container's instances in order: it reads the
current instance with ``follow`` (the kubelet ends the stream when the instance stops),
then waits for the pod's status to show the next instance. A container seen waiting to
restart has its last run read as ``previous`` (which stays that run even if the next one
starts meanwhile). If a whole instance came and went between two observations, it is read
as the ``previous`` instance before the current one (older ones are gone from the node, as
on any cluster). The one race left — a run that ends *and* is replaced between our
observation and our request — cannot happen with the kubelet's restart back-off (10 s and
up; kubesim's 0.1 s is still far above a watch's latency). A ``Cursor`` per container
drops any line already delivered, so racing a restart or resuming a dropped connection
(from the last timestamp, ``sinceSeconds``) never repeats a line.

A supervisor task starts container tasks as the pod watch reports pods, and ends the
stream when every matching pod seen is terminal or deleted, every container task has
drained its log, and at least one pod was seen. Given ``job_finished`` (the job's own
answer, e.g. ``AsyncJob.finished``), it ends instead when that says True and the logs of
the pods that ended are drained: a job that has not created its pods yet (or is about to
replace one) is waited for, and pods a finished job leaves running (a TFJob's parameter
servers with ``cleanPodPolicy: None``) are not. ``job_finished`` is asked at most once a
second once every pod has ended, and every 10 s while some run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from teamhub.jobs import replicas as rp
from teamhub.jobs.logio import Pump
from teamhub.jobs.logread import Batch, Cursor, ReadSpec, key_epoch, read_instance
from teamhub.jobs.podwatch import PodWatch

RETRIES = 5
#: How often ``job_finished`` is asked: once every pod has ended / while some still run.
JOB_POLL_SECONDS = 1.0
JOB_POLL_RUNNING_SECONDS = 10.0
_TRANSIENT = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)


def make_spec(pod: dict, container: str, opts: dict, **extra: Any) -> ReadSpec:
    return ReadSpec(
        pod=pod["metadata"]["name"],
        container=container,
        replica=rp.replica_name(pod),
        show_container=len(pod["spec"]["containers"]) > 1,
        **{**opts, **extra},
    )


class Follow:
    def __init__(
        self,
        core: Any,
        namespace: str,
        selector: str,
        wanted: frozenset[str] | None,
        container: str | None,
        opts: dict,
        job_finished: Callable[[], Awaitable[bool]] | None,
    ) -> None:
        self.core, self.ns, self.selector = core, namespace, selector
        self.wanted, self.container, self.opts = wanted, container, opts
        self.job_finished = job_finished

    async def batches(self, queue_batches: int):  # type: ignore[no-untyped-def]
        watch = PodWatch(self.core, self.ns, self.selector)
        await watch.list()
        async with Pump(queue_batches) as pump:
            pump.start(watch.run())
            pump.start(self._supervise(watch, pump), then_end=True)
            async for batch in pump:
                yield batch

    async def _supervise(self, watch: PodWatch, pump: Pump) -> None:
        tasks: dict[tuple[str, str], asyncio.Task] = {}
        seen: set[str] = set()
        last_poll = -math.inf
        try:
            while True:
                version = watch.version
                for uid, pod in list(watch.pods.items()):
                    if not rp.matches_replica(pod, self.wanted):
                        continue
                    seen.add(uid)
                    for c in rp.container_names(pod, self.container):
                        if (uid, c) not in tasks:
                            task = asyncio.ensure_future(self._container(watch, uid, c, pump.put))
                            task.add_done_callback(lambda _t: watch.notify())
                            tasks[(uid, c)] = task
                for task in tasks.values():
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                settled = all(
                    rp.is_terminal(p)
                    for p in watch.pods.values()
                    if rp.matches_replica(p, self.wanted)
                )
                drained = all(t.done() for t in tasks.values())
                if self.job_finished is None:
                    if seen and settled and drained:
                        return
                    await watch.changed(version)
                    continue
                # With the job's own answer: end when it is over and the logs of every pod
                # that ended are drained (pods it leaves running are not waited for).
                ended = all(
                    t.done()
                    for (uid, _c), t in tasks.items()
                    if uid not in watch.pods or rp.is_terminal(watch.pods[uid])
                )
                idle = settled and drained
                interval = JOB_POLL_SECONDS if idle else JOB_POLL_RUNNING_SECONDS
                if ended and time.monotonic() - last_poll >= interval:
                    last_poll = time.monotonic()
                    if await self.job_finished():
                        return
                await watch.changed(version, interval)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _container(
        self,
        watch: PodWatch,
        uid: str,
        container: str,
        emit: Callable[[Batch], Awaitable[None]],
    ) -> None:
        cursor = Cursor()
        next_instance = 0
        while True:
            version = watch.version
            pod = watch.pods.get(uid)
            if pod is None:
                return  # deleted: its stream (if any) has ended with it
            status = rp.container_status(pod, container)
            current = rp.current_instance(status)
            if current is not None and current >= next_instance:
                first = cursor.reads == 0
                if _waiting(status):
                    # Between restarts the current log is the last run's; asking for it as
                    # "previous" pins it even if the next run starts before we ask.
                    ok = await self._read(pod, container, cursor, emit, previous=True, first=first)
                else:
                    if not first and current > next_instance:
                        # A run started and stopped unseen: the node keeps it as previous.
                        await self._read(pod, container, cursor, emit, previous=True)
                    ok = await self._read(pod, container, cursor, emit, follow=True, first=first)
                if ok:
                    next_instance = current + 1
                    continue
                pod = watch.pods.get(uid)
            if pod is None or rp.is_terminal(pod):
                return
            await watch.changed(version)

    async def _read(
        self,
        pod: dict,
        container: str,
        cursor: Cursor,
        emit: Callable[[Batch], Awaitable[None]],
        *,
        follow: bool = False,
        previous: bool = False,
        first: bool = False,
    ) -> bool:
        """One instance, resumed after dropped connections; False if the kubelet had no
        such log (yet): a 400 (still waiting, no previous) or 404 (pod gone)."""
        opts = dict(self.opts)
        if not first:
            opts.update(tail=None, since_seconds=None, since_key=None)
        spec = make_spec(
            pod, container, opts, follow=follow, previous=previous, cursor=cursor, blobs=True
        )
        for attempt in range(RETRIES + 1):
            try:
                await read_instance(self.core, self.ns, spec, emit)
                return True
            except ApiException as e:
                if e.status in (400, 404):
                    return False
                retriable = e.status == 429 or (e.status or 0) >= 500
                if not retriable or attempt == RETRIES:
                    raise
            except _TRANSIENT:
                if attempt == RETRIES:
                    raise
            await asyncio.sleep(0.2 * 2**attempt)
            if cursor.last is not None:  # resume where we stopped; the cursor drops overlap
                spec.tail, spec.since_key = None, None
                spec.since_seconds = max(1, math.ceil(time.time() - key_epoch(cursor.last)) + 1)
        return False


def _waiting(status: dict | None) -> bool:
    return "waiting" in ((status or {}).get("state") or {})
