"""The few raw API reads the log tools make, and the bounded queue their readers share.

Raw because ``kubernetes_asyncio`` with ``_preload_content=True`` reads a whole response
(a whole log: kubeflow/sdk#682) into memory and turns lists into model objects; here every
call is made with ``_preload_content=False`` and bodies are read as needed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.client.rest import RESTResponse


# ----------------------------------------------------------------- raw API reads
async def open_raw(call: Awaitable[Any]) -> Any:
    """Await a client call made with ``_preload_content=False`` and return the aiohttp
    response; a non-2xx status raises ``ApiException`` as the preloading path would."""
    resp = await call
    if not 200 <= resp.status <= 299:
        try:
            data = await resp.read()
        finally:
            resp.release()
        raise ApiException(http_resp=RESTResponse(resp, data))
    return resp


async def get_json(call: Awaitable[Any]) -> dict:
    resp = await open_raw(call)
    try:
        return json.loads(await resp.read())
    finally:
        resp.release()


async def list_pods(core: Any, namespace: str, selector: str) -> tuple[list[dict], str]:
    """The pods matching ``selector`` as plain dicts, and the list's resourceVersion."""
    body = await get_json(
        core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False)
    )
    return body.get("items") or [], body["metadata"].get("resourceVersion", "")


# ----------------------------------------------------------------- queueing
_END = object()


class Pump:
    """A bounded queue of batches (lists) fed by producer tasks; a producer's error reaches the
    consumer, and leaving the ``async with`` cancels the producers."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.tasks: set[asyncio.Task] = set()

    async def put(self, batch: list) -> None:
        await self.queue.put(batch)

    def start(self, coro: Awaitable[None], *, then_end: bool = False) -> asyncio.Task:
        """Run ``coro``; with ``then_end`` the stream ends when it returns."""

        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except BaseException as e:  # handed to the consumer, raised there
                await self.queue.put(e)
                return
            if then_end:
                await self.queue.put(_END)

        task = asyncio.ensure_future(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def next(self) -> Any:
        item = await self.queue.get()
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    async def __aiter__(self) -> AsyncIterator[Any]:
        while (batch := await self.next()) is not None:
            yield batch

    async def __aenter__(self) -> Pump:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
