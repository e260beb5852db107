"""A live view of a job's pods (list, then watch by label selector), for following logs.

Why not ``kubernetes_asyncio.watch.Watch``: it deserializes every event into model objects
and hides the 410/relist decision; here events stay plain dicts, a ``410 Gone`` (or an
expired resourceVersion) triggers a fresh list whose differences count as events, and a
dropped connection resumes from the last resourceVersion seen (bookmarks included).
Consumers wait on ``changed(version)``, a broadcast: every change bumps ``version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from teamhub.jobs.logio import list_pods, open_raw

log = logging.getLogger("teamhub.jobs.podwatch")
WATCH_SECONDS = 300
_TRANSIENT = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)


class PodWatch:
    def __init__(self, core: Any, namespace: str, selector: str) -> None:
        self.core, self.namespace, self.selector = core, namespace, selector
        self.pods: dict[str, dict] = {}  # uid -> latest object
        self.seen: set[str] = set()  # every uid ever observed (deleted ones too)
        self.version = 0
        self._rv = ""
        self._event = asyncio.Event()

    # --------------------------------------------------------------- consumers
    async def changed(self, version: int, timeout: float | None = None) -> int:
        """Wait until ``self.version`` differs from ``version`` (or ``timeout``); return it."""
        if self.version == version:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
        return self.version

    def notify(self) -> None:
        """Bump the version and wake every waiter (also used for non-pod news, e.g. a
        reader finished)."""
        self.version += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    # --------------------------------------------------------------- producer
    async def list(self) -> None:
        pods, self._rv = await list_pods(self.core, self.namespace, self.selector)
        fresh = {p["metadata"]["uid"]: p for p in pods}
        self.pods = fresh
        self.seen.update(fresh)
        self.notify()

    def _apply(self, ev: dict) -> None:
        obj = ev.get("object") or {}
        kind = ev.get("type")
        if kind == "ERROR":
            code = obj.get("code")
            raise ApiException(status=code, reason=f"{obj.get('reason')}: {obj.get('message')}")
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self._rv = rv
        if kind == "BOOKMARK":
            return
        uid = obj["metadata"]["uid"]
        if kind == "DELETED":
            self.pods.pop(uid, None)
        else:
            self.pods[uid] = obj
        self.seen.add(uid)
        self.notify()

    async def run(self) -> None:
        """Watch forever (until cancelled), relisting after ``410 Gone``; errors other than
        dropped connections (e.g. 403) are raised."""
        backoff = 0.1
        while True:
            try:
                resp = await open_raw(
                    self.core.list_namespaced_pod(
                        self.namespace,
                        label_selector=self.selector,
                        watch=True,
                        resource_version=self._rv,
                        allow_watch_bookmarks=True,
                        timeout_seconds=WATCH_SECONDS,
                        _preload_content=False,
                    )
                )
                try:
                    async for line in resp.content:
                        if line.strip():
                            self._apply(json.loads(line))
                    backoff = 0.1
                finally:
                    resp.release()
            except ApiException as e:
                if e.status != 410:
                    raise
                await self.list()  # our resourceVersion is too old: start over from a list
            except _TRANSIENT as e:
                log.info("pod watch interrupted (%s); resuming", e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
