"""The watch verb: one chunked stream of JSON lines per watcher.

Serves the three ways clients start a watch, as kube-apiserver's watch cache does:

- from a ``resourceVersion``: every change after it (410 Gone once it left the history);
- with no ``resourceVersion`` (legacy): the current objects as ADDED events, then changes;
- *watch-list* (``sendInitialEvents=true&resourceVersionMatch=NotOlderThan``): the current
  objects as ADDED events, then a BOOKMARK annotated ``k8s.io/initial-events-end`` that
  tells the client's reflector its initial list is complete (client-go's informers, and
  so ``kubectl wait`` and ``kubectl delete --wait``, start this way and wait for it).

With ``Accept: …;as=Table`` (``kubectl get -w``) each event carries a one-row ``Table``;
only the first one has column definitions, as the apiserver sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubesim import errors, tables
from kubesim.server import Route, dumps, query_bool

if TYPE_CHECKING:
    from kubesim.auth import User
    from kubesim.server import Server
    from kubesim.store import Event

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _options(q: Any) -> tuple[int | None, bool | None]:
    """(resourceVersion, sendInitialEvents) of a watch, validated as ``ListOptions`` are."""
    rv = q.get("resourceVersion")
    try:
        since = None if rv in (None, "", "0") else int(rv)
    except ValueError as e:
        raise errors.bad_request(f"invalid resourceVersion: {rv!r}") from e
    send = q.get("sendInitialEvents")
    initial = None if send is None else query_bool(q, "sendInitialEvents")
    match = q.get("resourceVersionMatch", "")
    causes = []
    if initial is not None and match != "NotOlderThan":
        causes.append(
            errors.Cause(
                "FieldValueForbidden",
                "Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
                "NotOlderThan",
                "resourceVersionMatch",
            )
        )
    elif match and initial is None:
        causes.append(
            errors.Cause(
                "FieldValueForbidden",
                "Forbidden: resourceVersionMatch is forbidden for watch unless "
                "sendInitialEvents is provided",
                "resourceVersionMatch",
            )
        )
    if causes:
        raise errors.invalid("ListOptions", "meta.k8s.io", "", causes)
    return since, initial


def _visible(ev: Event, pred: Any) -> str | None:
    """The event type this watcher sees for ``ev``, or None to skip it.

    With a selector, an update that makes an object stop (start) matching is a DELETED
    (ADDED) event for this watcher, as the apiserver's watch cache reports it.
    """
    if pred is None:
        return ev.type
    now = pred(ev.obj)
    if ev.type == "MODIFIED" and ev.old is not None:
        before = pred(ev.old)
        if before and not now:
            return "DELETED"
        if now and not before:
            return "ADDED"
    return ev.type if now else None


class _Encoder:
    """Watch-stream lines for one watcher (plain objects, or one-row Tables)."""

    def __init__(self, server: Server, request: web.Request, route: Route) -> None:
        self.rt = route.rt
        self.table = server.wants_table(request)
        self.include = tables.include_object(request.query) if self.table else ""
        self.crd = server.sim.registry.crds.get(route.rt.key)
        self.first = True

    def event(self, ev: Event, pred: Any) -> bytes | None:
        kind = _visible(ev, pred)
        if kind is None:
            return None
        if not self.table and kind == ev.type:
            return ev.wire()  # serialised once, shared by all plain watchers
        return self.line(kind, ev.obj)

    def line(self, kind: str, obj: dict) -> bytes:
        if self.table:
            meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            obj = tables.table(
                self.rt, [obj], meta, include=self.include, crd=self.crd, headers=self.first
            )
            self.first = False
        return dumps({"type": kind, "object": obj}) + b"\n"

    def bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        if self.table:
            obj: dict[str, Any] = {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "columnDefinitions": None,
                "rows": None,
            }
        else:
            obj = {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": meta}
        return dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


async def watch(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    sim, q = server.sim, request.query
    pred = server.predicate(route, q)
    since, initial = _options(q)
    if initial is False and since is None:
        since = sim.store.rv  # "start at the most recent version", no initial state
    timeout = float(q.get("timeoutSeconds") or 1800)
    bookmarks = query_bool(q, "allowWatchBookmarks")
    enc = _Encoder(server, request, route)
    resp = web.StreamResponse(
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    try:
        watcher, backlog = sim.store.subscribe(
            route.rt, route.namespace or None, pred, None if initial else since
        )
    except errors.ApiError as e:
        await resp.prepare(request)
        await resp.write(dumps({"type": "ERROR", "object": e.status()}) + b"\n")
        await resp.write_eof()
        return resp
    snapshot_rv = sim.store.rv
    sim.watches_served += 1
    await resp.prepare(request)
    deadline = time.monotonic() + timeout
    try:
        data = b"".join(c for ev in backlog if (c := enc.event(ev, pred)))
        if initial:
            data += enc.bookmark(snapshot_rv, initial_end=True)
        if data:
            await resp.write(data)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(remaining, sim.bookmark_interval) if bookmarks else remaining
            try:
                # A timeout scope, not ``wait_for``: that wraps each wait in a task of its
                # own, a cost per event on every watch.
                async with asyncio.timeout(wait):
                    ev = await watcher.queue.get()
            except TimeoutError:
                if bookmarks:
                    await resp.write(enc.bookmark(sim.store.rv))
                continue
            # Drain what is already queued: a burst of events goes out in one write (one
            # send), which is what keeps hundreds of watchers cheap.
            batch = [ev]
            while not watcher.queue.empty():
                batch.append(watcher.queue.get_nowait())
            data = b"".join(c for e in batch if e is not None and (c := enc.event(e, pred)))
            if data:
                await resp.write(data)
            if None in batch:  # closed by the server (fault injection, shutdown)
                break
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        sim.store.unsubscribe(watcher)
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp
