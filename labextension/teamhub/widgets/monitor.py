"""``JobMonitor``: one job's status and logs, live, in the notebook.

Shows a status badge (phase, reason), why the job is pending or failed (from its pods'
states and events: unschedulable with the reason, quota exceeded, image pull errors), how
many replicas are ready, the logs of every rank merged and per replica
(:class:`~teamhub.widgets.logview.LogView`), a follow toggle and a cancel button.

Two tasks on the kernel's loop keep it current: one polls the job's status every
``poll_interval`` seconds until the job ends, one follows its logs (new pods and
restarts included) while *Follow* is on. Turning *Follow* off stops the stream and keeps
what is shown; turning it on again re-reads each container's last ``max_lines`` lines and
follows from there. When the job ends, each pod's log is archived to the user's home
(``~/.teamhub/job-logs/<job>/``, as cancelling does), so the output outlives the pods.
Closing the widget stops both tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from teamhub.jobs.archive import DEFAULT_ARCHIVE_DIR
from teamhub.jobs.errors import JobError, JobNotFoundError
from teamhub.jobs.job import AsyncJob
from teamhub.jobs.status import JobStatus
from teamhub.widgets import render
from teamhub.widgets.connection import JobLike, JobsLike, describe, resolve_job
from teamhub.widgets.logview import LogView
from teamhub.widgets.tasks import Tasks, close_parts


class JobMonitor(widgets.VBox):
    """A live view of ``job`` (an ``AsyncJob``, a ``Job`` or a job name).

    ``jobs``: the client the job belongs to (see :mod:`teamhub.widgets.connection`).
    ``follow``: start following the logs at once. ``max_lines``: lines kept per tab.
    ``archive``: archive the logs when the job ends (to ``archive_dir``, default
    ``~/.teamhub/job-logs``)."""

    def __init__(
        self,
        job: JobLike,
        *,
        jobs: JobsLike = None,
        follow: bool = True,
        max_lines: int = 1000,
        max_line_chars: int = 2000,
        poll_interval: float = 2.0,
        archive: bool = True,
        archive_dir: str | Path | None = None,
        log_height: str = "24em",
        **kwargs: Any,
    ) -> None:
        self.tasks = Tasks(self, on_error=self._show_error)
        self.job: AsyncJob | None = None
        self.status: JobStatus | None = None
        self.poll_interval = poll_interval
        self.archive = archive
        self.archive_dir = archive_dir
        self.archived: list[Path] = []
        self._follow_task: asyncio.Task[Any] | None = None
        self._quiet = False  # set while the code (not the user) moves the follow toggle

        self.title = widgets.HTML(value=f"<b>{render.esc(describe(job))}</b>")
        self.badge = widgets.HTML(value=render.badge("Pending", "Connecting"))
        self.replicas = widgets.Label(value="")
        self.message = widgets.HTML(value="")
        self.follow = widgets.ToggleButton(
            value=follow, description="Follow", icon="play", tooltip="follow the logs live"
        )
        self.cancel_button = widgets.Button(
            description="Cancel",
            button_style="danger",
            icon="stop",
            disabled=True,
            tooltip="stop the job (its logs are archived first)",
        )
        self.error = widgets.HTML(value="")
        self.notice = widgets.HTML(value="")
        self.logs = LogView(max_lines=max_lines, max_line_chars=max_line_chars, height=log_height)
        self.header = widgets.HBox(
            [self.title, self.badge, self.replicas, self.follow, self.cancel_button],
            layout=widgets.Layout(align_items="center", grid_gap="12px"),
        )
        super().__init__(
            children=(self.header, self.message, self.error, self.logs, self.notice), **kwargs
        )
        self.follow.observe(self._on_follow, names="value")
        self.cancel_button.on_click(lambda _: self.tasks.spawn(self.cancel()))
        self.tasks.spawn(self._start(job, jobs), name="teamhub-monitor-start")

    # ------------------------------------------------------------------ state
    @property
    def phase(self) -> str | None:
        return self.status.phase if self.status else None

    @property
    def following(self) -> bool:
        """Whether a log stream is running now."""
        return self._follow_task is not None and not self._follow_task.done()

    async def idle(self) -> None:
        """Wait for pending actions (start, cancel), not for the live updates."""
        await self.tasks.idle()

    def _show_error(self, e: BaseException) -> None:
        self.error.value = render.error(e)

    # ------------------------------------------------------------------ tasks
    async def _start(self, job: JobLike, jobs: JobsLike) -> None:
        try:
            self.job = await resolve_job(job, jobs)
        except JobError as e:
            self.badge.value = render.badge("Unknown")
            self._show_error(e)
            self.follow.disabled = True
            return
        spec = self.job.spec
        what = f"{self.job.backend}, {spec.get('workers', 1)} worker(s)"
        self.title.value = f"<b>{render.esc(self.job.name)}</b> ({render.esc(what)})"
        self.cancel_button.disabled = False
        self.tasks.spawn(self._poll(), background=True, name="teamhub-monitor-status")
        if self.follow.value:
            self._start_following()

    async def _poll(self) -> None:
        assert self.job is not None
        failed = False
        while True:
            try:
                st = await self.job.status()
            except JobNotFoundError as e:
                self.badge.value = render.badge("Deleted")
                self.message.value = render.note(e)
                self.cancel_button.disabled = True
                return
            except JobError as e:  # the API refused or failed: say so, keep trying
                self._show_error(e)
                failed = True
                await asyncio.sleep(max(self.poll_interval, 5.0))
                continue
            if failed:
                self.error.value, failed = "", False
            self._show(st)
            if st.finished:
                await self._finished(st)
                return
            await asyncio.sleep(self.poll_interval)

    def _show(self, st: JobStatus) -> None:
        self.status = st
        self.badge.value = render.badge(st.phase, st.reason)
        self.message.value = render.status_message(st)
        self.replicas.value = render.replicas_text(st)
        if st.finished:
            self.cancel_button.disabled = True

    async def _finished(self, st: JobStatus) -> None:
        assert self.job is not None
        if st.phase == "Cancelled":  # cancel() archived the logs; the pods are gone
            self.notice.value = render.note(f"cancelled; logs archived to {self._archive_folder()}")
            return
        if self.archive:
            self.archived = await self.job.archive_logs(self.archive_dir)
            n = len(self.archived)
            self.notice.value = render.note(
                f"{n} log file{'s' if n != 1 else ''} archived to {self._archive_folder()}"
            )

    def _archive_folder(self) -> str:
        assert self.job is not None
        base = str(self.archive_dir) if self.archive_dir is not None else DEFAULT_ARCHIVE_DIR
        return f"{base.rstrip('/')}/{self.job.name}/"

    # ------------------------------------------------------------------ logs
    def _on_follow(self, change: dict[str, Any]) -> None:
        if self._quiet or self.job is None:
            return
        if change["new"]:
            self._start_following()
        elif self._follow_task is not None:
            self._follow_task.cancel()

    def _start_following(self) -> None:
        if self.following or self.tasks.closed:
            return
        self._follow_task = self.tasks.spawn(
            self._follow_logs(), background=True, name="teamhub-monitor-logs"
        )

    async def _follow_logs(self) -> None:
        assert self.job is not None
        self.logs.clear()
        tooltip = "the job has ended; press to read its logs again"
        try:
            stream = self.job.logs(follow=True, tail=self.logs.max_lines)
            async with contextlib.aclosing(stream) as lines:  # type: ignore[type-var]
                async for line in lines:
                    self.logs.append(line)
        except asyncio.CancelledError:  # the user switched Follow off, or closed the widget
            raise
        except Exception as e:  # the stream broke: say so, and let Follow restart it
            self._show_error(f"following the logs failed: {e}")
            tooltip = "following failed; press to try again"
        finally:
            self.logs.flush()
        # The stream ended by itself (the job has ended) or failed: not following now.
        self._quiet = True
        try:
            self.follow.value = False
        finally:
            self._quiet = False
        self.follow.tooltip = tooltip

    # ------------------------------------------------------------------ actions
    async def cancel(self) -> JobStatus | None:
        """Cancel the job (what the cancel button does); its status afterwards."""
        if self.job is None:
            return None
        self.cancel_button.disabled = True
        self.cancel_button.description = "Cancelling…"
        try:
            st = await self.job.cancel(dest_dir=self.archive_dir)
        except Exception:
            self.cancel_button.disabled = False
            raise
        finally:
            self.cancel_button.description = "Cancel"
        self._show(st)
        self.notice.value = render.note(f"cancelled; logs archived to {self._archive_folder()}")
        return st

    def close(self) -> None:
        """Stop following and polling, and close the widget."""
        close_parts(self, *_PARTS)
        super().close()


_PARTS = (
    "title",
    "badge",
    "replicas",
    "message",
    "follow",
    "cancel_button",
    "error",
    "notice",
    "logs",
    "header",
)
