"""ipywidgets for teamhub jobs, live in the notebook (core ipywidgets 8 only: they work in
JupyterLab 4 and Notebook 7 without a front-end extension).

    from teamhub.widgets import SubmitForm, JobMonitor, JobList
    SubmitForm()                 # fill in, submit, watch the job below the form
    JobMonitor("alice-pytorch-x7k2p")   # status, pending reasons, per-rank logs, cancel
    JobList(auto_refresh=True)   # every job, with monitor/cancel/delete buttons

They update without blocking the kernel: their work runs as tasks on the kernel's event
loop (:mod:`.tasks`) with a jobs client of their own on that loop (:mod:`.connection`),
and stops when the widget is closed. Log text is always escaped, never rendered as HTML.

Modules: :mod:`.form`, :mod:`.monitor`, :mod:`.logview`, :mod:`.joblist`, :mod:`.fields`
(the form's field rules), :mod:`.render` (HTML fragments).
"""

from __future__ import annotations

from teamhub.widgets.connection import close_clients
from teamhub.widgets.form import SubmitForm
from teamhub.widgets.joblist import JobList
from teamhub.widgets.logview import LogView
from teamhub.widgets.monitor import JobMonitor
from teamhub.widgets.tasks import live_widgets, stop_all

__all__ = ["JobList", "JobMonitor", "LogView", "SubmitForm", "shutdown"]


async def shutdown() -> None:
    """Close every teamhub widget, wait for their tasks to stop, and close the widgets'
    jobs clients on the running loop (e.g. before that loop ends)."""
    for widget in live_widgets():
        widget.close()
    await stop_all()
    await close_clients()
