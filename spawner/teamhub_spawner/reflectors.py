"""KubeSpawner's shared reflectors, made to wake the starts that wait on them.

A KubeSpawner reflector keeps a cluster-wide watch's objects in a dict; a start that
waits for "its" object to reach some state looks at that dict again and again
(KubeSpawner's pod wait uses JupyterHub's ``exponential_backoff``: looks at 0 s, then
after up to 0.2 s, 0.4 s, 0.8 s … with jitter, so a pod Running after 1.1 s is noticed
anywhere up to 3 s). teamhub's reflectors instead wake exactly the starts waiting on the
object that changed, so a start goes on as soon as the watch event arrives, and a
thousand waiting starts cost nothing while nothing they wait for changes.

Nothing here talks to the API: these are KubeSpawner's reflectors (one watch per kind,
however many users), with a dict that reports changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubespawner.reflector import ResourceReflector
from kubespawner.spawner import PodReflector


class _Watched(dict):
    """A reflector's copy of its objects; calls ``wake(key)`` when one is set or removed."""

    def __init__(self, items: dict, wake: Callable[[str], None]) -> None:
        super().__init__(items)
        self._wake = wake

    def __setitem__(self, key: str, value: dict) -> None:
        super().__setitem__(key, value)
        self._wake(key)

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._wake(key)
        return value


class WakingReflector(ResourceReflector):
    """A ResourceReflector that wakes whoever waits for one of its keys
    (``"<namespace>/<name>"``) when that object changes or goes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    async def _list_and_update(self, *args: Any, **kwargs: Any) -> Any:
        rv = await super()._list_and_update(*args, **kwargs)
        self.resources = _Watched(self.resources, self._wake)
        for key in list(self._waiters):  # a (re)list may have changed anything
            self._wake(key)
        return rv

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
        changes, at most ``timeout`` seconds; whether it became true."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            fut = self.changed(keys)
            try:
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                pass
            finally:
                self.forget(fut, keys)
        return True


class TeamPodReflector(WakingReflector, PodReflector):
    """KubeSpawner's pod reflector (same watch, same ``pods``), waking waiting starts."""
