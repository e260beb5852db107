"""``JobList``: the user's jobs in a table, with their status and actions.

The list is the jobs API's (rebuilt from labels, so it survives notebook restarts and
culls, cancelled jobs included). Each row shows the name, backend, status (phase and
reason), ready/total replicas and age, and has buttons: *Monitor* (opens a
:class:`~teamhub.widgets.monitor.JobMonitor` below the table), *Cancel* (running jobs),
*Delete* (asks for a second click: it removes the job's record and objects for good).
*Refresh* reloads; *Auto-refresh* reloads every ``interval`` seconds in a task on the
kernel's loop until it is switched off or the widget is closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from teamhub.jobs.client import JobsClient
from teamhub.jobs.errors import JobError, JobNotFoundError
from teamhub.jobs.job import AsyncJob
from teamhub.jobs.status import JobStatus
from teamhub.widgets import render
from teamhub.widgets.connection import JobsLike, loop_client
from teamhub.widgets.monitor import JobMonitor
from teamhub.widgets.tasks import Tasks, close_parts

COLUMNS = ("Name", "Backend", "Status", "Ready", "Age", "")
#: How many status reads run at once during a refresh.
STATUS_CONCURRENCY = 8


@dataclass
class Row:
    """One job's row: its job, status and widgets."""

    job: AsyncJob
    status: JobStatus | None
    #: One widget per column (the last holds the buttons).
    cells: list[widgets.Widget]
    monitor_button: widgets.Button
    cancel_button: widgets.Button
    delete_button: widgets.Button

    @property
    def name(self) -> str:
        return self.job.name

    def close(self) -> None:
        for w in (self.monitor_button, self.cancel_button, self.delete_button, *self.cells):
            w.close()


class JobList(widgets.VBox):
    """The user's jobs. ``auto_refresh``: reload every ``interval`` seconds.
    ``monitor_options``: keyword arguments of the monitors it opens."""

    def __init__(
        self,
        *,
        jobs: JobsLike = None,
        auto_refresh: bool = False,
        interval: float = 5.0,
        monitor_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.tasks = Tasks(self, on_error=lambda e: setattr(self.message, "value", render.error(e)))
        self._jobs = jobs
        self.client: JobsClient | None = None
        self.interval = interval
        self.monitor_options = dict(monitor_options or {})
        self.rows: list[Row] = []
        self._auto_task: asyncio.Task[Any] | None = None
        self._refresh_lock = asyncio.Lock()
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.auto = widgets.Checkbox(value=auto_refresh, description="Auto-refresh")
        self.message = widgets.HTML(value=render.note("loading…"))
        self.header = [widgets.HTML(value=f"<b>{c}</b>") for c in COLUMNS]
        self.table = widgets.GridBox(
            children=self.header,
            layout=widgets.Layout(
                grid_template_columns="minmax(12em, 2fr) 6em minmax(10em, 2fr) 5em 4em auto",
                grid_gap="2px 12px",
                align_items="center",
            ),
        )
        self.detail = widgets.VBox()
        self.toolbar = widgets.HBox([self.refresh_button, self.auto, self.message])
        super().__init__(children=(self.toolbar, self.table, self.detail), **kwargs)
        self.refresh_button.on_click(lambda _: self.tasks.spawn(self.refresh()))
        self.auto.observe(self._on_auto, names="value")
        self.tasks.spawn(self.refresh(), name="teamhub-joblist-refresh")
        if auto_refresh:
            self._start_auto()

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no job {name!r} in the list (jobs: {', '.join(self.names) or 'none'})")

    async def idle(self) -> None:
        """Wait for pending refreshes and actions (not for auto-refresh)."""
        await self.tasks.idle()

    # ------------------------------------------------------------------ loading
    async def refresh(self) -> None:
        """Reload the jobs and their statuses."""
        async with self._refresh_lock:
            await self._refresh()

    async def _refresh(self) -> None:
        self.refresh_button.disabled = True
        try:
            if self.client is None:
                self.client = await loop_client(self._jobs)
            jobs = await self.client.list()
            limit = asyncio.Semaphore(STATUS_CONCURRENCY)

            async def status(job: AsyncJob) -> JobStatus | None:
                async with limit:
                    try:
                        return await job.status()
                    except JobNotFoundError:  # deleted meanwhile
                        return None

            statuses = await asyncio.gather(*(status(j) for j in jobs))
        except JobError as e:
            self.message.value = render.error(e)
            return
        finally:
            self.refresh_button.disabled = False
        self._show([(j, s) for j, s in zip(jobs, statuses, strict=True) if s is not None])
        n = len(self.rows)
        self.message.value = render.note(f"{n} job{'s' if n != 1 else ''}")

    def _show(self, items: list[tuple[AsyncJob, JobStatus]]) -> None:
        old = self.rows
        self.rows = [self._make_row(job, st) for job, st in items]
        cells: list[widgets.Widget] = list(self.header)
        for row in self.rows:
            cells += row.cells
        self.table.children = cells
        for row in old:
            row.close()

    def _make_row(self, job: AsyncJob, st: JobStatus) -> Row:
        monitor = widgets.Button(description="Monitor", icon="eye", layout={"width": "auto"})
        cancel = widgets.Button(
            description="Cancel",
            icon="stop",
            button_style="warning",
            disabled=st.finished,
            layout={"width": "auto"},
        )
        delete = widgets.Button(
            description="Delete", icon="trash", button_style="danger", layout={"width": "auto"}
        )
        cells: list[widgets.Widget] = [
            widgets.HTML(value=render.esc(job.name)),
            widgets.Label(value=job.backend),
            widgets.HTML(value=render.badge(st.phase, st.reason)),
            widgets.Label(value=f"{st.ready}/{st.total}"),
            widgets.Label(value=render.age(job.created)),
            widgets.HBox([monitor, cancel, delete]),
        ]
        row = Row(job, st, cells, monitor, cancel, delete)
        monitor.on_click(lambda _: self.open_monitor(job.name))
        cancel.on_click(lambda _: self.tasks.spawn(self.cancel(job.name)))
        delete.on_click(lambda _: self.tasks.spawn(self.delete(job.name)))
        return row

    # ------------------------------------------------------------------ actions
    def open_monitor(self, name: str) -> JobMonitor:
        """Show ``name``'s monitor below the table (replacing any other)."""
        job = self.row(name).job
        for old in self.detail.children:
            old.close()
        monitor = JobMonitor(job, **self.monitor_options)
        self.detail.children = (monitor,)
        return monitor

    async def cancel(self, name: str) -> None:
        row = self.row(name)
        row.cancel_button.disabled = True
        await row.job.cancel(dest_dir=self.monitor_options.get("archive_dir"))
        await self.refresh()

    async def delete(self, name: str) -> None:
        """First call: ask for confirmation (the button says so); second: delete."""
        row = self.row(name)
        if row.delete_button.description != "Confirm delete":
            row.delete_button.description = "Confirm delete"
            row.delete_button.tooltip = "click again to delete the job and its record for good"
            return
        row.delete_button.disabled = True
        for monitor in self.detail.children:
            if isinstance(monitor, JobMonitor) and monitor.job is row.job:
                monitor.close()
                self.detail.children = ()
        await row.job.delete()
        await self.refresh()

    # ------------------------------------------------------------------ auto-refresh
    def _on_auto(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._start_auto()
        elif self._auto_task is not None:
            self._auto_task.cancel()
            self._auto_task = None

    def _start_auto(self) -> None:
        if self._auto_task is None or self._auto_task.done():
            self._auto_task = self.tasks.spawn(
                self._auto_loop(), background=True, name="teamhub-joblist-auto"
            )

    async def _auto_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()

    def close(self) -> None:
        close_parts(self, "detail_children", "rows", "header", "table", "detail", "toolbar")
        close_parts(self, "refresh_button", "auto", "message")
        super().close()

    @property
    def detail_children(self) -> tuple[widgets.Widget, ...]:
        detail = getattr(self, "detail", None)
        return tuple(detail.children) if detail is not None else ()
