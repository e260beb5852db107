"""Async code for sync callers: a notebook cell can't ``await`` our streams in every
context (plain functions, ``for`` loops, IPython's own running loop in the main thread),
so these run the async side on a private event loop in a background thread.

- ``iter_async(factory)``: an iterator over an async iterator made *on that loop* (so its
  aiohttp sessions belong to it), through a bounded queue: the async side waits when the
  reader falls ``maxsize`` items behind, so a slow reader never makes memory grow.
- ``run_sync(factory)``: the result of one coroutine made on a fresh loop.
- ``default_api_client()``: the ``kubernetes_asyncio`` client the notebook uses by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_ITEM, _END, _ERROR = 0, 1, 2


def iter_async(factory: Callable[[], AsyncIterator[T]], *, maxsize: int = 1024) -> Iterator[T]:
    """Iterate ``factory()`` (called on a background loop) from sync code.

    The thread starts with the first ``next()``; leaving the loop early (``break``,
    ``close()``, an exception such as KeyboardInterrupt in the reader) cancels the async
    iterator, which closes its connections, and joins the thread."""
    if maxsize < 1:
        raise ValueError("maxsize must be >= 1")
    return _iterate(factory, maxsize)


def _iterate(factory: Callable[[], AsyncIterator[T]], maxsize: int) -> Iterator[T]:
    items: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
    loop = asyncio.new_event_loop()
    slots = asyncio.Semaphore(maxsize)  # free places in `items`; released by the reader
    started = threading.Event()
    task: list[asyncio.Task] = []

    async def produce() -> None:
        task.append(asyncio.current_task())  # type: ignore[arg-type]
        started.set()
        try:
            async with contextlib.aclosing(factory()) as it:  # type: ignore[type-var]
                async for item in it:
                    await slots.acquire()
                    items.put((_ITEM, item))
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # raised in the reader's thread
            items.put((_ERROR, e))
            return
        items.put((_END, None))

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(produce())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def release(n: int) -> None:
        for _ in range(n):
            slots.release()

    thread = threading.Thread(target=main, name="teamhub-async-iter", daemon=True)
    thread.start()
    started.wait()
    taken = 0
    try:
        while True:
            try:
                kind, item = items.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                if not thread.is_alive():
                    raise RuntimeError("the background log stream stopped unexpectedly") from None
                continue
            if kind == _END:
                return
            if kind == _ERROR:
                raise item
            taken += 1
            # Give places back in groups: one cross-thread wake-up per group, not per item.
            if taken >= max(1, maxsize // 4) or items.empty():
                loop.call_soon_threadsafe(release, taken)
                taken = 0
            yield item
    finally:
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may just have closed
                loop.call_soon_threadsafe(task[0].cancel)
            thread.join(30)


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """``await factory()`` on a fresh event loop in a worker thread (works even when the
    calling thread already runs a loop, as IPython kernels do)."""

    async def run() -> T:
        return await factory()

    with ThreadPoolExecutor(1, thread_name_prefix="teamhub-sync") as pool:
        return pool.submit(asyncio.run, run()).result()


async def default_api_client() -> Any:
    """A ``kubernetes_asyncio`` ``ApiClient``: from ``$KUBECONFIG`` or ``~/.kube/config``
    when present (kubesim's pods, a developer's machine), else the pod's in-cluster
    ServiceAccount (a notebook on a real cluster). The caller closes it."""
    from kubernetes_asyncio import client, config

    path = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    if Path(path.split(os.pathsep)[0]).exists():
        return await config.new_client_from_config(config_file=path.split(os.pathsep)[0])
    cfg = client.Configuration()
    config.load_incluster_config(client_configuration=cfg)
    return client.ApiClient(configuration=cfg)


async def with_core(
    fn: Callable[[Any], Awaitable[T]], api_client: Callable[[], Awaitable[Any]] | None = None
) -> T:
    """``await fn(core)`` with a ``CoreV1Api`` on a client made (and closed) here; for
    ``run_sync(lambda: with_core(lambda core: archive_logs(core, ns, selector)))``."""
    from kubernetes_asyncio import client

    api = await (api_client or default_api_client)()
    try:
        return await fn(client.CoreV1Api(api))
    finally:
        await api.close()
