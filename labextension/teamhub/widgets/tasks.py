"""The coroutines a widget runs on the kernel's event loop.

Why tasks on the kernel's loop: in ipykernel 6 and later the kernel's main thread runs an
asyncio loop, and cells run inside it. A widget that polls a job's status or follows its
logs must not block that loop (the kernel would stop answering), nor use a thread (widget
state is not thread-safe, and comm messages belong to the kernel's thread). So each widget
starts tasks on the loop with ``create_task``; they run between and during cells, update
the widget's traits, and are cancelled when the widget is closed.

An unexpected error in a task is not lost (a task nobody awaits would swallow it): it is
logged and handed to the widget's ``on_error`` (which shows it in the widget).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger("teamhub.widgets")
T = TypeVar("T")

#: Every live task of every widget, and the widgets (so ``shutdown()`` can stop them).
_ALL: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
_OWNERS: weakref.WeakSet[Any] = weakref.WeakSet()


def kernel_loop() -> asyncio.AbstractEventLoop:
    """The running event loop; a clear error outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "teamhub's widgets run on the kernel's event loop: create them in a Jupyter "
            "kernel (ipykernel 6 or later) or from async code"
        ) from None


class Tasks:
    """A widget's tasks: started with :meth:`spawn`, cancelled together by :meth:`cancel`.

    ``background`` tasks run until cancelled (status polling, log following);
    :meth:`idle` waits for the others (a submission, a refresh, a button's action)."""

    def __init__(
        self, owner: Any = None, on_error: Callable[[BaseException], None] | None = None
    ) -> None:
        self.loop = kernel_loop()
        if owner is not None:
            _OWNERS.add(owner)
        self.on_error = on_error
        self._tasks: dict[asyncio.Task[Any], bool] = {}
        self.closed = False

    def spawn(
        self, coro: Coroutine[Any, Any, T], *, background: bool = False, name: str | None = None
    ) -> asyncio.Task[T]:
        """Run ``coro`` on the kernel's loop."""
        if self.closed:
            coro.close()
            raise RuntimeError("the widget has been closed")
        task = self.loop.create_task(coro, name=name)
        self._tasks[task] = background
        _ALL.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.warning("teamhub widget task failed: %s", error, exc_info=error)
            if self.on_error is not None and not self.closed:
                self.on_error(error)

    @property
    def pending(self) -> list[asyncio.Task[Any]]:
        return [t for t in self._tasks if not t.done()]

    async def idle(self) -> None:
        """Wait until every non-background task has finished (including ones they start)."""
        while True:
            todo = [t for t, bg in self._tasks.items() if not bg and not t.done()]
            if not todo:
                return
            await asyncio.wait(todo)

    def cancel(self) -> None:
        """Cancel every task (they stop at their next ``await``)."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()


def live_widgets() -> list[Any]:
    """The widgets whose tasks may still run (not closed yet)."""
    return [w for w in list(_OWNERS) if not getattr(w, "tasks", None) or not w.tasks.closed]


async def stop_all() -> None:
    """Cancel every widget task on the running loop and wait until they have stopped."""
    loop = asyncio.get_running_loop()
    mine = [t for t in list(_ALL) if t.get_loop() is loop and not t.done()]
    for t in mine:
        if t is not asyncio.current_task():
            t.cancel()
    if mine:
        await asyncio.gather(*mine, return_exceptions=True)


def close_parts(obj: Any, *names: str) -> None:
    """Cancel ``obj``'s tasks and close the widgets it holds in attributes ``names`` (a
    widget, or a list/tuple/dict of them). Attributes may be missing: ``close()`` also runs
    from ``__del__``, possibly on a half-made widget."""
    tasks = getattr(obj, "tasks", None)
    if isinstance(tasks, Tasks):
        tasks.cancel()
    for name in names:
        part = getattr(obj, name, None)
        if isinstance(part, dict):
            part = list(part.values())
        for w in part if isinstance(part, list | tuple) else [part]:
            if w is not None and hasattr(w, "close"):
                w.close()
