"""How controllers share kubesim's event loop (kubesim/controllers/__init__.py): one key
per pass by default, so a busy controller cannot hold up requests; a controller with a
``turn`` (the volume controller) reconciles for that long per pass, so a burst of
requests cannot leave it behind."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import SimpleNamespace

import pytest

from kubesim.controllers import Controller

pytestmark = pytest.mark.asyncio


class Recording(Controller):
    """Notes the event-loop pass each key is reconciled in."""

    def __init__(self, turn: float, ticks: list[int]) -> None:
        super().__init__(SimpleNamespace(api=None, store=None))  # type: ignore[arg-type]
        self.turn = turn
        self.ticks = ticks
        self.passes: list[int] = []

    async def reconcile(self, key: Hashable) -> None:
        self.passes.append(self.ticks[0])


async def passes_for_five_keys(turn: float) -> list[int]:
    ticks = [0]

    async def ticker() -> None:  # counts event-loop passes
        while True:
            await asyncio.sleep(0)
            ticks[0] += 1

    c = Recording(turn, ticks)
    clock = asyncio.create_task(ticker())
    c.start()
    for key in range(5):
        c.enqueue(key)
    while len(c.passes) < 5:
        await asyncio.sleep(0)
    c.stop()
    clock.cancel()
    return c.passes


async def test_by_default_a_controller_reconciles_one_key_per_pass() -> None:
    passes = await passes_for_five_keys(0.0)
    assert len(set(passes)) == 5


async def test_a_controller_with_a_turn_reconciles_a_backlog_in_one_pass() -> None:
    passes = await passes_for_five_keys(1.0)
    assert len(set(passes)) == 1
