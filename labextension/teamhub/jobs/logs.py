"""A job's logs: every rank merged (or chosen replicas), following new pods and restarts,
in bounded memory whatever the log size.

Three forms of one stream:

- ``stream_logs``: async iterator of ``LogLine`` (widgets, ``AsyncJob.logs``);
  ``str(line)`` is ``[worker-1] text``;
- ``stream_log_text``: async iterator of UTF-8 chunks, each whole lines rendered exactly as
  ``str(line) + "\\n"`` (the server extension: write a chunk, await the flush);
- ``iter_logs``: a plain iterator of ``LogLine`` for notebook code, run on a background
  loop thread (``teamhub.jobs.bridge``).

Without ``follow``: the pods that exist now, each container's current instance (or the
previous one with ``previous``), ordered by the kubelet's timestamps across ranks (when
there are more than ``MERGE_LIMIT`` containers, rank by rank instead, so no more than one
log is open at a time). With ``follow``: pods are watched by the selector, so a pod
created later (a replacement, a late rank) is followed as soon as it has a container; a
container that restarts is followed into its new instance (if an instance was missed
entirely between two observations, its log is read as the previous instance, the only one
the kubelet keeps); the stream ends once every pod seen is terminal (or deleted) and its
log is drained — and, when ``job_finished`` is given, that returns True (without it, at
least one pod must have been seen).

Limits: each followed container holds one HTTP connection (plus one for the watch), so the
``ApiClient``'s ``connection_pool_maxsize`` (100 by default) must exceed the number of
containers followed at once. Memory is bounded by ``queue_batches`` batches of at most
``CHUNK`` bytes of lines, plus per open stream one chunk, one partial line (at most
``MAX_LINE``) and aiohttp's read buffer (``read_bufsize``, 2 MiB in kubernetes_asyncio).
Snapshot reads are not retried; following retries a failed or dropped log request (5
times, backing off) and resumes after the last line it delivered.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from teamhub.jobs import replicas as rp
from teamhub.jobs.bridge import default_api_client, iter_async
from teamhub.jobs.logfollow import Follow, make_spec
from teamhub.jobs.logio import Pump, list_pods
from teamhub.jobs.logread import Batch, LogLine, ReadSpec, read_instance, since_params

__all__ = ["LogLine", "iter_logs", "replica_name", "stream_log_text", "stream_logs"]
replica_name = rp.replica_name
#: Up to this many containers, a snapshot is merged in time order (one open log each).
MERGE_LIMIT = 64


def _replicas(replica: str | Sequence[str] | None) -> frozenset[str] | None:
    if replica is None:
        return None
    wanted = frozenset([replica] if isinstance(replica, str) else replica)
    if not wanted or not all(isinstance(r, str) and r for r in wanted):
        raise ValueError(f"replica must be a replica name or a list of them, got {replica!r}")
    return wanted


def stream_logs(
    core: Any,
    namespace: str,
    selector: str | Mapping[str, str],
    *,
    replica: str | Sequence[str] | None = None,
    container: str | None = None,
    follow: bool = False,
    tail: int | None = None,
    since: float | timedelta | datetime | None = None,
    previous: bool = False,
    timestamps: bool = False,
    prefix: bool = True,
    job_finished: Callable[[], Awaitable[bool]] | None = None,
    queue_batches: int = 16,
) -> AsyncIterator[LogLine]:
    """The logs of the pods matching ``selector`` in ``namespace``, as ``LogLine``s.

    ``core`` is a ``kubernetes_asyncio`` ``CoreV1Api`` (needs get/list/watch pods and get
    pods/log). ``replica``: a replica name (``worker-1``), a role (``worker``), a pod
    name, or a list of them; default every pod. ``container``: one container, default all
    of each pod's containers. ``tail`` (lines) and ``since`` (seconds, timedelta, or
    datetime) apply to each container's first read. ``previous``: each restarted
    container's previous instance (not with ``follow``). ``timestamps``: keep the
    kubelet's timestamps (``LogLine.timestamp``). ``prefix``: ``str(line)`` starts with
    ``[replica]``. ``job_finished``: with ``follow``, the stream also waits for this to
    say True (see the module doc). ``queue_batches``: how many chunks (at most ``CHUNK``
    bytes of lines each) may wait for the consumer.

    Raises ``ValueError`` for bad options, ``LookupError`` (without ``follow``) when pods
    exist but none is the wanted replica, ``ApiException`` for API errors. Options are
    checked when called, before anything is read."""
    source = _source(core, namespace, selector, "lines", **_options(locals()))
    return _lines(source, queue_batches)


def stream_log_text(
    core: Any,
    namespace: str,
    selector: str | Mapping[str, str],
    *,
    replica: str | Sequence[str] | None = None,
    container: str | None = None,
    follow: bool = False,
    tail: int | None = None,
    since: float | timedelta | datetime | None = None,
    previous: bool = False,
    timestamps: bool = False,
    prefix: bool = True,
    job_finished: Callable[[], Awaitable[bool]] | None = None,
    queue_batches: int = 16,
) -> AsyncIterator[bytes]:
    """``stream_logs`` rendered for a wire: chunks of UTF-8 (the container's own bytes),
    each a run of whole lines, every line exactly ``str(line) + "\\n"``.

    For the server extension: write each chunk to the response and await its flush
    (that is the backpressure); a chunk is at most about ``CHUNK`` bytes plus prefixes.
    Whole chunks are rendered in C, so a single fast writer is not slowed down by Python
    per-line work. Same options and errors as ``stream_logs``."""
    source = _source(core, namespace, selector, "bytes", **_options(locals()))
    return _chunks(source, queue_batches)


def _options(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in ("core", "namespace", "selector")}


def _source(
    core: Any,
    namespace: str,
    selector: str | Mapping[str, str],
    render: str,
    *,
    replica: str | Sequence[str] | None,
    container: str | None,
    follow: bool,
    tail: int | None,
    since: float | timedelta | datetime | None,
    previous: bool,
    timestamps: bool,
    prefix: bool,
    job_finished: Callable[[], Awaitable[bool]] | None,
    queue_batches: int,
) -> Any:
    """Check the options (ValueError naming what is wrong) and build the batch source."""
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"namespace must be a non-empty string, got {namespace!r}")
    if container is not None and (not isinstance(container, str) or not container):
        raise ValueError(f"container must be a container name, got {container!r}")
    sel = rp.label_selector(selector)
    wanted = _replicas(replica)
    if tail is not None and (isinstance(tail, bool) or not isinstance(tail, int) or tail < 0):
        raise ValueError(f"tail must be a number of lines >= 0, got {tail!r}")
    if previous and follow:
        raise ValueError("previous and follow cannot be combined: a previous instance has ended")
    if not isinstance(queue_batches, int) or queue_batches < 1:
        raise ValueError("queue_batches must be >= 1")
    since_s, since_key = since_params(since)
    opts = dict(
        tail=tail,
        since_seconds=since_s,
        since_key=since_key,
        timestamps=timestamps,
        prefix=prefix,
        render=render,
    )
    if follow:
        return Follow(core, namespace, sel, wanted, container, opts, job_finished)
    return _Snapshot(core, namespace, sel, wanted, container, previous, opts)


async def _lines(source: Any, queue_batches: int) -> AsyncIterator[LogLine]:
    async with contextlib.aclosing(source.batches(queue_batches)) as batches:
        async for batch in batches:
            for line in batch:
                yield line


async def _chunks(source: Any, queue_batches: int) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(source.batches(queue_batches)) as batches:
        async for batch in batches:
            yield batch[0] if len(batch) == 1 else b"".join(batch)


class _Snapshot:
    """The logs as they are now: one read per selected container instance."""

    def __init__(self, core, namespace, selector, wanted, container, previous, opts) -> None:  # type: ignore[no-untyped-def]
        self.core, self.ns, self.selector = core, namespace, selector
        self.wanted, self.container, self.previous, self.opts = wanted, container, previous, opts

    async def _specs(self) -> list[ReadSpec]:
        pods, _ = await list_pods(self.core, self.ns, self.selector)
        chosen = sorted(
            (p for p in pods if rp.matches_replica(p, self.wanted)), key=rp.replica_sort_key
        )
        if pods and not chosen:
            names = ", ".join(sorted({rp.replica_name(p) for p in pods}))
            raise LookupError(f"no pod of replica {sorted(self.wanted or ())}; replicas: {names}")
        specs = []
        for p in chosen:
            for c in rp.container_names(p, self.container):
                st = rp.container_status(p, c)
                readable = (
                    rp.has_previous(st) if self.previous else rp.current_instance(st) is not None
                )
                if readable:
                    specs.append(make_spec(p, c, self.opts, previous=self.previous))
        return specs

    async def _read(self, spec: ReadSpec, emit: Callable[[Batch], Awaitable[None]]) -> None:
        """One listed instance; a pod deleted since the list (a finished job's operator
        cleaning up, say) has no log left to read and is skipped, as ``follow`` and the
        archive skip it — the other ranks' logs are still worth having."""
        try:
            await read_instance(self.core, self.ns, spec, emit)
        except ApiException as e:
            if e.status != 404:
                raise

    async def batches(self, queue_batches: int) -> AsyncIterator[Batch]:
        specs = await self._specs()
        if len(specs) > MERGE_LIMIT or len(specs) == 1:
            for spec in specs:  # one log open at a time, rank order
                spec.blobs = True
                spec.plain = (
                    spec.render == "bytes" and not spec.timestamps and spec.since_key is None
                )
                async with Pump(queue_batches) as pump:
                    pump.start(self._read(spec, pump.put), then_end=True)
                    async for batch in pump:
                        yield batch
            return
        async with contextlib.aclosing(self._merged(specs)) as merged:
            async for batch in merged:
                yield batch

    async def _merged(self, specs: list[ReadSpec]) -> AsyncIterator[Batch]:
        """k-way merge by timestamp (ties: rank order); each source keeps at most two
        batches in its own queue."""
        pumps = [Pump(2) for _ in specs]
        async with contextlib.AsyncExitStack() as stack:
            for pump, spec in zip(pumps, specs, strict=True):
                await stack.enter_async_context(pump)
                pump.start(self._read(spec, pump.put), then_end=True)
            heads: list[tuple[bytes, int, int, Batch]] = []

            async def advance(i: int) -> None:
                batch = await pumps[i].next()
                if batch:
                    heapq.heappush(heads, (batch.keys[0], i, 0, batch))

            for i in range(len(pumps)):
                await advance(i)
            out = Batch()
            while heads:
                _, i, pos, batch = heapq.heappop(heads)
                out.append(batch[pos])
                if len(out) >= 256:
                    yield out
                    out = []
                if pos + 1 < len(batch):
                    heapq.heappush(heads, (batch.keys[pos + 1], i, pos + 1, batch))
                else:
                    await advance(i)
            if out:
                yield out


def iter_logs(
    namespace: str,
    selector: str | Mapping[str, str],
    *,
    api_client: Callable[[], Awaitable[Any]] | None = None,
    maxsize: int = 1024,
    **options: Any,
) -> Iterator[LogLine]:
    """``stream_logs`` as a plain iterator, for notebook code (which may not await).

    The stream runs on its own event loop in a background thread with its own
    ``ApiClient`` (made by ``api_client``, an async factory; default
    ``bridge.default_api_client``: the kubeconfig if there is one, else the pod's
    ServiceAccount), and lines come through a queue of at most ``maxsize`` lines. Stopping
    early (``break``, ``close()``, KeyboardInterrupt) cancels the stream and closes its
    connections. ``options`` are ``stream_logs``'s keyword arguments; they are checked
    before the thread starts."""
    from kubernetes_asyncio import client

    # Check the options now, in the caller's thread: building the stream does no I/O.
    stream_logs(None, namespace, selector, **options)
    factory = api_client or default_api_client

    async def lines() -> AsyncIterator[LogLine]:
        api = await factory()
        try:
            async for line in stream_logs(client.CoreV1Api(api), namespace, selector, **options):
                yield line
        finally:
            await api.close()

    return iter_async(lines, maxsize=maxsize)
