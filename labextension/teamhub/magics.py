"""IPython magics for jobs: ``%load_ext teamhub``, then

``%%job --workers 4 --gpus 1 --backend pytorch ...``
    submits the cell's code as a job in the notebook's environment and shows a live
    :class:`~teamhub.widgets.JobMonitor` (status, pending reasons, per-rank logs, cancel) —
    or, where widgets are unavailable, prints the logs as they come (``--no-follow``: just
    submit);
``%job list | status NAME | logs NAME [-f] [--replica R] [--tail N] | cancel NAME |
delete NAME | monitor NAME | form``
    the user's jobs.

Every command takes ``--help``. A bad command line or job spec is an IPython
``UsageError`` naming what is wrong, and nothing is created; so are the jobs API's own
refusals (no such job, a backend the cluster lacks, a name in use).

The magics use the blocking jobs API (:mod:`teamhub.jobs.api`, the shared client unless
one is given), which never blocks on the kernel's event loop; the widgets they show run on
that loop (:mod:`teamhub.widgets`). ``JobMagics.widgets`` (``%config``) chooses between
widgets and printed output.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import CaselessStrEnum, Float, Int

from teamhub import magic_args as A
from teamhub.jobs.errors import JobError

if TYPE_CHECKING:  # the jobs client loads the Kubernetes client: only when first used
    from teamhub.jobs.api import Job, Jobs
    from teamhub.jobs.status import JobStatus

#: Where logs are archived (``teamhub.jobs.archive.DEFAULT_ARCHIVE_DIR``).
ARCHIVE_DIR = "~/.teamhub/job-logs"


def working_dir_for(cwd: str, mounts: Iterable[Mapping[str, Any]]) -> str | None:
    """The kernel's directory as the job's working directory, when the job sees it too
    (it is on one of the notebook's volumes, which jobs mount at the same paths); else
    None (the notebook container's working directory)."""
    for m in mounts:
        path = str(m.get("mountPath") or "").rstrip("/")
        if path and (cwd == path or cwd.startswith(path + "/")):
            return cwd
    return None


def status_lines(job: Job, st: JobStatus, pods: Iterable[Any] = ()) -> list[str]:
    """A job's status as text: phase, reason and why, then one line per pod."""
    head = f"{job.name} ({job.backend}): {st.phase}"
    if st.reason and st.reason != st.phase:
        head += f" [{st.reason}]"
    out = [f"{head} — {st.ready}/{st.total} replicas ready"]
    if st.message:
        out += [f"  {part}" for part in st.message.split("; ")]
    rows = [
        (
            p.replica,
            "-" if p.rank is None else str(p.rank),
            p.phase,
            "ready" if p.ready else "",
            str(p.restarts),
            p.node or "",
            p.reason or "",
        )
        for p in pods
    ]
    if rows:
        out += [
            "  " + line
            for line in table(("REPLICA", "RANK", "PHASE", "", "RESTARTS", "NODE", "REASON"), rows)
        ]
    return out


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]


@magics_class
class JobMagics(Magics):
    """The ``%job`` and ``%%job`` magics (see the module doc)."""

    widgets = CaselessStrEnum(
        ("auto", "always", "never"),
        default_value="auto",
        help="Show widgets: 'auto' (in a Jupyter kernel with ipywidgets), 'always', or "
        "'never' (print instead).",
    ).tag(config=True)
    poll_interval = Float(
        2.0, help="Seconds between status updates of the job monitor widget."
    ).tag(config=True)
    max_lines = Int(
        1000, help="Log lines the job monitor widget keeps per tab (older ones are dropped)."
    ).tag(config=True)

    def __init__(self, shell: Any = None, jobs: Jobs | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._jobs = jobs
        self._cell_parser = A.cell_parser()
        self._line_parser = A.line_parser()
        #: The last job ``%%job`` submitted, and the monitor it showed.
        self.last_job: Job | None = None
        self.last_monitor: Any = None

    @property
    def jobs(self) -> Jobs:
        """The blocking jobs client (the shared one unless given)."""
        if self._jobs is not None:
            return self._jobs
        from teamhub.jobs.api import default_jobs

        return default_jobs()

    @line_cell_magic
    def job(self, line: str, cell: str | None = None) -> None:
        try:
            if cell is None:
                self._line(line)
            else:
                self._cell(line, cell)
        except A.ShowHelp as h:
            print(h.text)
        except JobError as e:  # the user's to fix (or to read): no traceback
            raise UsageError(str(e)) from None

    # ------------------------------------------------------------------ %%job
    def _cell(self, line: str, cell: str) -> None:
        args = self._cell_parser.parse_argstring(line)
        fields = A.spec_fields(args)
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out {args.out!r}: not a Python variable name")
        widgets = self._use_widgets()
        if "working_dir" not in fields:
            wd = working_dir_for(os.getcwd(), self.jobs.environment.volume_mounts)
            if wd:
                fields["working_dir"] = wd
        job = self.jobs.submit(source=cell, **fields)
        self.last_job = job
        if args.out:
            self.shell.user_ns[args.out] = job
        if widgets:
            self._show_monitor(job, follow=not args.no_follow)
            return
        workers = job.spec.get("workers", 1)
        print(f"submitted {job.name} ({job.backend}, {workers} worker(s))")
        if not args.no_follow:
            self._print_logs(job, follow=True)
            st = job.wait()
            print("\n".join(status_lines(job, st)))
            self._archive(job)

    def _show_monitor(self, job: Job | str, *, follow: bool = True) -> Any:
        from IPython.display import display

        from teamhub.widgets import JobMonitor

        monitor = JobMonitor(
            job,
            jobs=self.jobs,
            follow=follow,
            poll_interval=self.poll_interval,
            max_lines=self.max_lines,
        )
        self.last_monitor = monitor
        display(monitor)
        return monitor

    def _use_widgets(self, *, required: bool = False) -> bool:
        if self.widgets == "never":
            if required:
                raise UsageError("widgets are switched off (%config JobMagics.widgets)")
            return False
        try:
            import ipywidgets  # noqa: F401

            asyncio.get_running_loop()
        except (ImportError, RuntimeError):
            if required or self.widgets == "always":
                raise UsageError(
                    "teamhub's widgets need ipywidgets and a Jupyter kernel (ipykernel 6+)"
                ) from None
            return False
        return bool(required or self.widgets == "always" or getattr(self.shell, "kernel", None))

    # ------------------------------------------------------------------ %job
    def _line(self, line: str) -> None:
        args = self._line_parser.parse_argstring(line)
        if args.command is None:
            print(self._line_parser.format_help())
            return
        getattr(self, f"_cmd_{args.command}")(args)

    def _cmd_list(self, args: Any) -> None:
        if args.widget:
            self._use_widgets(required=True)
            from IPython.display import display

            from teamhub.widgets import JobList

            display(JobList(jobs=self.jobs))
            return
        from teamhub.widgets.render import age

        jobs = self.jobs.list()
        if not jobs:
            print("no jobs (submit one with %%job)")
            return
        rows = []
        for job in jobs:
            st = job.status()
            status = st.phase + (f" [{st.reason}]" if st.reason and st.reason != st.phase else "")
            rows.append((job.name, job.backend, status, f"{st.ready}/{st.total}", age(job.created)))
        print("\n".join(table(("NAME", "BACKEND", "STATUS", "READY", "AGE"), rows)))

    def _cmd_status(self, args: Any) -> None:
        job = self.jobs.get(args.name)
        st = job.status()
        pods = [] if job.cancelled else job.pods()
        print("\n".join(status_lines(job, st, pods)))

    def _cmd_logs(self, args: Any) -> None:
        job = self.jobs.get(args.name)
        self._print_logs(
            job, follow=args.follow, replica=args.replica, tail=args.tail, previous=args.previous
        )

    def _print_logs(self, job: Job, **options: Any) -> None:
        try:
            lines = job.logs(**options)
        except ValueError as e:
            raise UsageError(str(e)) from None
        try:
            for line in lines:
                print(line, flush=False)
        except LookupError as e:
            raise UsageError(f"{job.name}: {e}") from None
        except KeyboardInterrupt:
            print(f"\nstopped following {job.name} (it keeps running)")
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()

    def _cmd_cancel(self, args: Any) -> None:
        job = self.jobs.get(args.name)
        if job.cancelled:
            print(f"{job.name} was cancelled already")
            return
        st = job.cancel()
        if st.phase == "Cancelled":
            print(f"cancelled {job.name}; its logs are in {self._archive_folder(job)}")
        else:
            print(f"{job.name} had already finished ({st.phase}): nothing to cancel")

    def _cmd_delete(self, args: Any) -> None:
        job = self.jobs.get(args.name)
        job.delete()
        print(f"deleted {job.name} (archived logs, if any, stay in {self._archive_folder(job)})")

    def _cmd_monitor(self, args: Any) -> None:
        job = self.jobs.get(args.name)
        if self._use_widgets():
            self._show_monitor(job)
        else:
            self._cmd_status(args)

    def _cmd_form(self, args: Any) -> None:
        self._use_widgets(required=True)
        from IPython.display import display

        from teamhub.widgets import SubmitForm

        display(SubmitForm(jobs=self.jobs))

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _archive_folder(job: Job) -> str:
        return f"{ARCHIVE_DIR}/{job.name}/"

    def _archive(self, job: Job) -> None:
        paths = job.archive_logs()
        n = len(paths)
        print(f"archived {n} log file{'s' if n != 1 else ''} to {self._archive_folder(job)}")


JobMagics.job.__doc__ = A.usage()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext teamhub``: register the magics."""
    ipython.register_magics(JobMagics(ipython))
