"""Controllers: the control loops a real cluster runs (kube-controller-manager, scheduler).

Each controller reacts to store events by queueing keys, and reconciles one key at a time
on the server's event loop, like client-go workqueues: a key queued twice is reconciled
once, a failed reconcile is retried with backoff, and ``requeue(key, after)`` schedules a
later look (deadlines, TTLs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

from kubesim.store import Event

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

log = logging.getLogger("kubesim.controllers")


def interested(controllers: list[Controller], key: tuple[str, str]) -> tuple[Controller, ...]:
    """The controllers, in their order, that may act on an event of resource type ``key``:
    those with an ``on_event`` of their own, and the others if they watch ``key`` (the
    base ``on_event`` ignores every other type), so an event skips the rest."""
    return tuple(
        c
        for c in controllers
        if "on_event" in vars(c) or type(c).on_event is not Controller.on_event or key in c.watches
    )


class Controller:
    #: (group, plural) of the types whose events this controller wants.
    watches: tuple[tuple[str, str], ...] = ()
    #: Seconds of reconciling before the controller lets the event loop serve others; 0:
    #: one key per pass. A real controller runs beside the API server, not between its
    #: requests, and one key per pass lets a burst of requests (each served whole in a
    #: pass) outrun a controller that much of the burst waits on.
    turn: float = 0.0

    def __init__(self, sim: KubeSim) -> None:
        self.sim = sim
        self.api = sim.api
        self.store = sim.store
        self._pending: dict[Hashable, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._failures: dict[Hashable, int] = {}

    # -- wiring
    def keys_for(self, ev: Event) -> Iterable[Hashable]:
        m = ev.obj["metadata"]
        yield (m.get("namespace", ""), m["name"])

    def on_event(self, ev: Event) -> None:
        if ev.rt.key in self.watches:
            for key in self.keys_for(ev):
                self.enqueue(key)

    def enqueue(self, key: Hashable) -> None:
        self._pending[key] = None
        self._wake.set()

    def requeue(self, key: Hashable, after: float) -> None:
        loop = asyncio.get_running_loop()
        handle = loop.call_later(after, self.enqueue, key)
        self._timers.add(handle)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()
        for t in self._timers:
            t.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            turn_ends = loop.time() + self.turn
            while self._pending:
                key = next(iter(self._pending))
                del self._pending[key]
                try:
                    await self.reconcile(key)
                    self._failures.pop(key, None)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a controller must survive its own bugs, like the real ones
                    n = self._failures.get(key, 0) + 1
                    self._failures[key] = n
                    log.exception(
                        "%s: reconcile %r failed (attempt %d)", type(self).__name__, key, n
                    )
                    if n < 10:
                        self.requeue(key, min(0.05 * 2**n, 5.0))
                if loop.time() >= turn_ends:
                    await asyncio.sleep(0)
                    turn_ends = loop.time() + self.turn

    async def reconcile(self, key: Hashable) -> None:
        raise NotImplementedError
