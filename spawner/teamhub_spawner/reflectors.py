"""KubeSpawner's shared reflectors, made to wake the starts that wait on them.

A KubeSpawner reflector keeps a cluster-wide watch's objects in a dict; a start that
waits for "its" object to reach some state looks at that dict again and again
(KubeSpawner's pod wait uses JupyterHub's ``exponential_backoff``: looks at 0 s, then
after up to 0.2 s, 0.4 s, 0.8 s … with jitter, so a pod Running after 1.1 s is noticed
anywhere up to 3 s). teamhub's reflectors instead wake exactly the starts waiting on the
object that changed, so a start goes on as soon as the watch event arrives, and a
thousand waiting starts cost nothing while nothing they wait for changes.

The event reflector also keeps each pod's events apart (:class:`TeamEventReflector`), so
that finding one pod's events does not mean sorting the whole cluster's.

And they list once (:class:`ResumingReflector`): KubeSpawner's reflector lists every
object of its kind again each time its watch ends, which the API server makes happen every
``timeout_seconds``; teamhub's resume the watch where it ended, as client-go's informers do,
and list again only when the watch could not be resumed.

Each reflector holds one watch of its kind, however many users: KubeSpawner's list, then
teamhub's watch loop (:meth:`ResumingReflector._watch_and_update`), into a dict that
reports changes. :mod:`.podwatch` puts them to use.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from kubernetes_asyncio.client.rest import ApiException
from kubespawner.reflector import ResourceReflector
from kubespawner.spawner import EventReflector, PodReflector
from traitlets import Int

from teamhub_spawner import restapi


class _Watched(dict):
    """A reflector's copy of its objects; calls ``on_change(key, old, new)`` when one is
    set or removed (``new`` is None then)."""

    def __init__(self, items: dict, on_change: Callable[[str, Any, Any], None]) -> None:
        super().__init__(items)
        self._on_change = on_change

    def __setitem__(self, key: str, value: dict) -> None:
        old = self.get(key)
        super().__setitem__(key, value)
        self._on_change(key, old, value)

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)
        old = super().pop(key)
        self._on_change(key, old, None)
        return old


class _Gone(Exception):
    """The watch's resourceVersion has left the API server's history (410 Gone)."""


class ResumingReflector(ResourceReflector):
    """A ResourceReflector that lists its objects once, then follows them by watching
    only, resuming each watch at the last resourceVersion it saw.

    KubeSpawner's reflector loop lists every object of its kind before each watch, and a
    watch ends every ``timeout_seconds`` (the API server closes it): with a thousand
    running servers that is some 8 MB of pods decoded every 10 s per hub, and as much
    served by the API server. client-go's informers list at start and after a watch
    fails, and otherwise resume watching where they were; so does this loop (it replaces
    KubeSpawner's ``_watch_and_update``; the list is still KubeSpawner's). A resumed watch
    replays what changed in between, in order, so the copy stays exact. A watch that ends,
    or whose connection times out, is resumed; 410 Gone (the resourceVersion left the API
    server's history) lists again at once; any other error lists again after a back-off
    that doubles from 0.1 s, and after 30 s of failures the reflector gives up and calls
    ``on_failure``, as KubeSpawner's does.

    Watch events are decoded with orjson, straight from the stream: at a hundred
    concurrent starts the standard library's decoding of every pod, event and claim
    event was the largest single cost in the hub's watch loop (``bench/spawn.py``).
    """

    timeout_seconds = Int(
        50,
        config=True,
        help="""Seconds the API server keeps one watch of this reflector open
        (``timeoutSeconds``) before it is resumed. KubeSpawner's reflectors use 10; teamhub's
        resume without listing again, and a longer watch means fewer new connections. Must
        stay below ``request_timeout``, the client's limit on the whole watch request.""",
    )

    #: The resourceVersion of the list ``start()`` made, which the first watch resumes.
    _start_rv: str | None = None

    async def _list_and_update(self, resource_version: str | None = None) -> Any:
        rv = await super()._list_and_update(resource_version)
        self._start_rv = rv if resource_version is None else None
        self._listed()
        return rv

    def _listed(self) -> None:
        """``self.resources`` was just replaced by a full list."""

    def _watch_path(self) -> str:
        """The REST path this reflector lists and watches (its kinds are all core/v1)."""
        if self.omit_namespace:
            return f"/api/v1/{self.kind}"
        return f"/api/v1/namespaces/{quote(self.namespace, safe='')}/{self.kind}"

    async def _watch_and_update(self) -> None:
        self.log.info(
            "watching %s (labels %r, fields %r) in %s",
            self.kind,
            self.label_selector,
            self.field_selector,
            "all namespaces" if self.omit_namespace else f"namespace {self.namespace}",
        )
        rv, self._start_rv = self._start_rv, None
        delay = 0.1
        while not self._stopping:
            try:
                if rv is None:
                    rv = await self._list_and_update("0")
                rv = await self._watch_once(rv)
                delay = 0.1
            except asyncio.CancelledError:
                if self._stopping:
                    break  # stop() cancels the loop and waits for it to end, not to fail
                raise
            except _Gone:
                self.log.info("%s watch: resourceVersion %s is gone, listing again", self.kind, rv)
                rv = None
            except (TimeoutError, aiohttp.ServerTimeoutError):
                self.log.warning("Read timeout watching %s, resuming", self.kind)
            except Exception:
                rv = None
                delay *= 2
                if delay > 30:
                    self.log.exception("Watching %s never recovered, giving up", self.kind)
                    if self.on_failure:
                        self.on_failure()
                    return
                self.log.exception("Error watching %s, retrying in %ss", self.kind, delay)
                await asyncio.sleep(delay)
        self.log.info("%s watcher stopped", self.kind)

    async def _watch_once(self, rv: str) -> str:
        """One watch from ``rv``, applied to ``resources`` event by event; returns the last
        resourceVersion seen when the watch ends (or is ended: ``restart_seconds``, stop)."""
        query = {
            "watch": "true",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.timeout_seconds),
        }
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        if self.field_selector:
            query["fieldSelector"] = self.field_selector
        resp = await restapi.session_request(
            "GET",
            self._watch_path(),
            query=query,
            timeout=self.request_timeout or None,
            api_client=self.api.api_client,
        )
        if resp.status == 410:
            # An API server without a watch cache refuses a watch from a compacted
            # resourceVersion with 410 itself; one with a cache sends an ERROR event
            # (below). Both mean the same (client-go's reflector treats them alike).
            resp.release()
            raise _Gone()
        if not 200 <= resp.status <= 299:
            await restapi.read_answer(resp)  # raises ApiException
        began = time.monotonic()
        try:
            async for line in resp.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                meta = obj["metadata"]
                if kind != "BOOKMARK":
                    key = f"{meta['namespace']}/{meta['name']}"
                    if kind == "DELETED":
                        self.resources.pop(key, None)
                    else:
                        self.resources[key] = obj
                rv = meta["resourceVersion"]
                if self._stopping or time.monotonic() - began >= self.restart_seconds:
                    break
        finally:
            resp.release()
        return rv


class WakingReflector(ResumingReflector):
    """A reflector that wakes whoever waits for one of its keys (``"<namespace>/<name>"``)
    when that object changes or goes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def _listed(self) -> None:
        self.resources = _Watched(self.resources, self._on_change)
        self._relisted()

    def _relisted(self) -> None:
        """The whole copy was replaced: a (re)list may have changed anything."""
        for key in list(self._waiters):
            self._wake(key)

    def _on_change(self, key: str, old: Any, new: Any) -> None:
        self._wake(key)

    def _wake(self, key: str) -> None:
        for fut in self._waiters.pop(key, ()):
            if not fut.done():
                fut.set_result(None)

    def changed(self, keys: list[str]) -> asyncio.Future[None]:
        """A future done when any of ``keys`` changes."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._waiters.setdefault(key, []).append(fut)
        return fut

    def forget(self, fut: asyncio.Future[None], keys: list[str]) -> None:
        for key in keys:
            waiting = self._waiters.get(key)
            if waiting and fut in waiting:
                waiting.remove(fut)
                if not waiting:
                    del self._waiters[key]

    async def wait_until(self, keys: list[str], done: Callable[[], Any], timeout: float) -> bool:
        """Wait until ``done()`` is true, looking again each time one of ``keys``
        changes, at most ``timeout`` seconds; whether it became true. ``done`` may be a
        coroutine function: the wait listens before each look, so a change that happens
        while ``done`` awaits something still ends the wait (not the timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self.changed(keys)
            try:
                result = done()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                await asyncio.wait_for(changed, remaining)
            except TimeoutError:
                pass
            finally:
                self.forget(changed, keys)


class TeamPodReflector(WakingReflector, PodReflector):
    """KubeSpawner's pod reflector (same watch, same ``pods``), waking waiting starts."""


def _event_time(event: dict) -> Any:
    return event["lastTimestamp"] or event["eventTime"]


class TeamEventReflector(ResumingReflector, EventReflector):
    """KubeSpawner's event reflector (same watch, same ``events``) that also keeps the
    events of each involved object apart.

    KubeSpawner finds a pod's events by sorting and scanning every event of the cluster's
    pods, twice per start and once a second per server being started (its progress
    messages): with a thousand running servers and a hundred starting, that is most of a
    hub's CPU. :meth:`events_of` reads one pod's events only, in the same order.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._by_object: dict[str, dict[str, dict]] = {}

    def _listed(self) -> None:
        self._by_object = {}
        for key, event in self.resources.items():
            self._index(key, event)
        self.resources = _Watched(self.resources, self._on_change)

    def _index(self, key: str, event: dict) -> None:
        name = event["involvedObject"]["name"]
        self._by_object.setdefault(name, {})[key] = event

    def _on_change(self, key: str, old: Any, new: Any) -> None:
        if old is not None:
            name = old["involvedObject"]["name"]
            of_object = self._by_object.get(name, {})
            of_object.pop(key, None)
            if not of_object:
                self._by_object.pop(name, None)
        if new is not None:
            self._index(key, new)

    def events_of(self, name: str) -> list[dict]:
        """The events of the object(s) called ``name``, ordered as ``events`` orders
        them."""
        return sorted(self._by_object.get(name, {}).values(), key=_event_time)
