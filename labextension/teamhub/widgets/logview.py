"""``LogView``: a job's logs in tabs — every rank merged, then one tab per replica.

Bounded: each tab keeps its last ``max_lines`` lines, each cut to ``max_line_chars``
characters, whatever the job prints (kubeflow/sdk#682: whole logs loaded into memory), so a
widget holds at most (replicas + 1) x ``max_lines`` x ``max_line_chars`` characters.
Older lines are still in the job's pods and, once it ends, in its archived logs.

Rendering is throttled: appending marks tabs dirty and one re-render happens per
``render_interval`` seconds (a fast log would otherwise send a comm message per line).
Text is always escaped (:func:`teamhub.widgets.render.log_html`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import ipywidgets as widgets

from teamhub.widgets import render

MERGED = "all ranks"


class _Buffer:
    __slots__ = ("dropped", "lines")

    def __init__(self, max_lines: int) -> None:
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.lines) == self.lines.maxlen:
            self.dropped += 1
        self.lines.append(text)


class LogView(widgets.VBox):
    """Log tabs; feed it ``teamhub.jobs.logs.LogLine``s with :meth:`append`."""

    def __init__(
        self,
        *,
        max_lines: int = 1000,
        max_line_chars: int = 2000,
        height: str = "24em",
        render_interval: float = 0.25,
        **kwargs: Any,
    ) -> None:
        if not isinstance(max_lines, int) or max_lines < 1:
            raise ValueError(f"max_lines must be a whole number >= 1, got {max_lines!r}")
        if not isinstance(max_line_chars, int) or max_line_chars < 1:
            raise ValueError(f"max_line_chars must be >= 1, got {max_line_chars!r}")
        self.max_lines = max_lines
        self.max_line_chars = max_line_chars
        self.height = height
        self.render_interval = render_interval
        self.merged = widgets.HTML(value=render.log_html([], height=height))
        self.tabs = widgets.Tab(children=(self.merged,), titles=(MERGED,))
        self.views: dict[str, widgets.HTML] = {}
        self._buffers: dict[str | None, _Buffer] = {None: _Buffer(max_lines)}
        self._dirty: set[str | None] = set()
        self._timer: asyncio.TimerHandle | None = None
        super().__init__(children=(self.tabs,), **kwargs)

    # ------------------------------------------------------------------ feeding
    def _cut(self, text: str) -> str:
        if len(text) <= self.max_line_chars:
            return text
        return text[: self.max_line_chars] + f"… [{len(text) - self.max_line_chars} more chars]"

    def append(self, line: Any) -> None:
        """Add one ``LogLine`` to the merged tab (with its ``[replica]`` prefix) and to its
        replica's tab (without)."""
        replica = line.replica
        if replica not in self._buffers:
            self._add_tab(replica)
        self._buffers[None].add(self._cut(str(line)))
        own = f"[{line.container}] {line.text}" if line.show_container else line.text
        self._buffers[replica].add(self._cut(own))
        self._dirty.update((None, replica))
        self._schedule()

    def _add_tab(self, replica: str) -> None:
        self._buffers[replica] = _Buffer(self.max_lines)
        view = widgets.HTML(value=render.log_html([], height=self.height))
        self.views[replica] = view
        order = sorted(self.views, key=render.replica_key)
        selected = self.tabs.selected_index
        current = self.tabs.children[selected] if selected is not None else None
        children = (self.merged, *(self.views[r] for r in order))
        self.tabs.children = children
        self.tabs.titles = (MERGED, *order)
        if current is not None:
            self.tabs.selected_index = children.index(current)

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # fed from plain code: render now
            self.flush()
            return
        self._timer = loop.call_later(self.render_interval, self.flush)

    def flush(self) -> None:
        """Render every tab that changed since the last render."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            buf = self._buffers[key]
            view = self.merged if key is None else self.views[key]
            view.value = render.log_html(buf.lines, dropped=buf.dropped, height=self.height)

    def clear(self) -> None:
        """Forget every line (the tabs stay)."""
        for key, buf in self._buffers.items():
            buf.lines.clear()
            buf.dropped = 0
            self._dirty.add(key)
        self.flush()

    # ------------------------------------------------------------------ reading
    @property
    def replicas(self) -> list[str]:
        """The replica tabs, in tab order."""
        return list(self.tabs.titles[1:])

    def lines(self, replica: str | None = None) -> list[str]:
        """The lines kept for ``replica`` (None: the merged tab)."""
        buf = self._buffers.get(replica)
        return list(buf.lines) if buf is not None else []

    def close(self) -> None:
        timer = getattr(self, "_timer", None)  # also called by __del__, maybe half-made
        if timer is not None:
            timer.cancel()
            self._timer = None
        for view in (*getattr(self, "views", {}).values(), *_attrs(self, "merged", "tabs")):
            view.close()
        super().close()


def _attrs(obj: Any, *names: str) -> list[Any]:
    """The attributes of ``obj`` that exist (for ``close()`` on a half-made widget)."""
    return [getattr(obj, n) for n in names if hasattr(obj, n)]
