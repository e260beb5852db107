"""A private event loop in a background thread, for the sync facade.

Why: inside a Jupyter kernel the main thread already runs an asyncio loop, so
``asyncio.run`` fails and blocking on that loop would deadlock. The sync API therefore
keeps its ``JobsClient`` (and its HTTP connections) on a loop of its own, in a daemon
thread, and waits for each call's result. Ctrl-C (KeyboardInterrupt) while waiting cancels
the call on that loop (e.g. a ``wait()``), so the kernel stays responsive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """An event loop running forever in a daemon thread."""

    def __init__(self, name: str = "teamhub-jobs") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = threading.Event()
        self._thread.start()
        self._started.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()

    def run(self, factory: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """``await factory()`` on the background loop from any other thread; its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "the sync jobs API was called from its own event loop; use JobsClient there"
            )

        async def call() -> T:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(call(), self.loop)
        try:
            return future.result(timeout)
        except (KeyboardInterrupt, concurrent.futures.TimeoutError):
            future.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()
