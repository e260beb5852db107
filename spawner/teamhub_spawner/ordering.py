"""Who goes first when many users start at once.

When a hundred users start together (the beginning of a class, a workshop), the hub's
CPU and the API server are the bottlenecks. Without an order, each start's dozen
creates would all be queued at once, in the connection pool KubeSpawner shares and at the
API server: every user would then wait for everyone's objects, and KubeSpawner's own pod
creates (which time out after ``k8s_api_request_timeout``) would wait behind them too. So
at most :data:`MAX_IN_FLIGHT` of teamhub's requests are in flight at once (per event
loop, i.e. per hub), and waiting requests go in the order their starts began
(:func:`started_at`): the first user to click start is the first whose server is ready,
and a pod create finds a short queue.

Tried and left out: also admitting only a few starts at a time to prepare and provision
(so that a burst's later starts do not spend the hub's CPU before the earlier ones are
done). It made the first user ready sooner (0.1 to 0.36 s against 0.41 to 0.45 s of a burst
of 100) but not the median or the 95th percentile (bench/spawn.py, 3 alternating runs).
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import weakref

#: Requests teamhub has in flight at once. 16 is about one start's objects: on
#: bench/spawn.py's burst of 100 starts it gave a lower median time-to-ready than 32
#: (1.49 s against 1.64 s, 4 runs each, alternating), and it still keeps an API server
#: with a few milliseconds of latency busy.
MAX_IN_FLIGHT = 16

_started_at: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "teamhub_started_at", default=None
)


def started_at(t: float) -> None:
    """Mark the current task (and what it awaits or spawns) as working for a start that
    began at loop time ``t``: its requests go before those of later starts."""
    _started_at.set(t)


class PriorityLimiter:
    """A semaphore that wakes waiters by priority (their start time, lowest first; FIFO
    among equals)."""

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self.seq = itertools.count()

    async def __aenter__(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        loop = asyncio.get_running_loop()
        prio = _started_at.get()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self.waiters, (loop.time() if prio is None else prio, next(self.seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # granted, but we are not going to use it
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        while self.waiters:
            _, _, fut = heapq.heappop(self.waiters)
            if not fut.done():
                fut.set_result(None)  # the slot passes straight to the next waiter
                return
        self.free += 1


_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PriorityLimiter] = (
    weakref.WeakKeyDictionary()
)


def in_flight() -> PriorityLimiter:
    """This hub's limiter of teamhub's requests (``async with in_flight(): <request>``)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = PriorityLimiter(MAX_IN_FLIGHT)
    return limiter
