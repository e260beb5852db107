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

Nothing here talks to the API but KubeSpawner's reflector loop (one watch per kind,
however many users), with a dict that reports changes. :mod:`.podwatch` puts them to use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubespawner.reflector import ResourceReflector
from kubespawner.spawner import EventReflector, PodReflector
from traitlets import Int


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


class ResumingReflector(ResourceReflector):
    """A ResourceReflector that lists its objects once, then follows them by watching
    only, resuming each watch at the last resourceVersion it saw.

    KubeSpawner's reflector loop lists every object of its kind before each watch, and a
    watch ends every ``timeout_seconds`` (the API server closes it): with a thousand
    running servers that is some 8 MB of pods decoded every 10 s per hub, and as much
    served by the API server. client-go's informers list at start and after a watch
    fails, and otherwise resume watching where they were; so does this. KubeSpawner's loop
    asks for a list with ``resource_version="0"`` after any error (410 Gone when the
    resourceVersion left the API server's history, a refused connection...), and with the
    last resourceVersion seen when a watch simply ended: that one is resumed. A resumed
    watch replays what changed in between, in order, so the copy stays exact. (At start,
    ``start()`` lists and the loop's first turn would list again: it uses that list.)
    """

    timeout_seconds = Int(
        50,
        config=True,
        help="""Seconds the API server keeps one watch of this reflector open
        (``timeoutSeconds``) before it is resumed. KubeSpawner's reflectors use 10; teamhub's
        resume without listing again, and a longer watch means fewer new connections. Must
        stay below ``request_timeout``, the client's limit on the whole watch request.""",
    )

    _synced = False
    #: The resourceVersion of the list ``start()`` made, until the first watch uses it.
    _start_rv: str | None = None

    async def _list_and_update(self, resource_version: str | None = None) -> Any:
        if self._synced:
            if resource_version not in (None, "0"):
                return resource_version  # the watch ended without error: resume it
            if resource_version == "0" and self._start_rv is not None:
                # KubeSpawner's loop starts with a list of its own, just after start()'s.
                rv, self._start_rv = self._start_rv, None
                return rv
        rv = await super()._list_and_update(resource_version)
        self._synced = True
        self._start_rv = rv if resource_version is None else None
        self._listed()
        return rv

    def _listed(self) -> None:
        """``self.resources`` was just replaced by a full list."""


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

    async def next_change(self, keys: list[str], timeout: float) -> None:
        """Return when one of ``keys`` changes, or after ``timeout`` seconds."""
        fut = self.changed(keys)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            self.forget(fut, keys)

    async def wait_until(self, keys: list[str], done: Callable[[], Any], timeout: float) -> bool:
        """Wait until ``done()`` is true, looking again each time one of ``keys``
        changes, at most ``timeout`` seconds; whether it became true."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self.next_change(keys, remaining)
        return True


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
