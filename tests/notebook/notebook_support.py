"""Helpers of the notebook-side tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(fn: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``fn()`` (without blocking the loop the widgets run on) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def batch_job(sim: Any, name: str, namespace: str = "teamhub-alice") -> dict | None:
    """The batch/v1 Job ``name`` as kubesim stores it (``lookup`` reads core kinds only)."""
    return sim.call(lambda: sim.store.peek(sim.registry.get("batch", "jobs"), namespace, name))
