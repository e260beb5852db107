"""HTML fragments the widgets show, built from plain values.

**Everything that comes from a job is escaped.** Log lines, event messages, job names and
error messages are text written by programs and users; an ``HTML`` widget's value is put
into the page as markup, so unescaped text could run script in the user's JupyterLab
session. Only the fixed markup here is markup; every value passes through :func:`esc`.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable

from teamhub.jobs.replicas import ROLE_ORDER, replica_role
from teamhub.jobs.status import JobStatus

PHASE_COLOURS = {
    "Pending": "#9a6700",
    "Running": "#0969da",
    "Succeeded": "#1a7f37",
    "Failed": "#cf222e",
    "Cancelled": "#57606a",
}
UNKNOWN_COLOUR = "#57606a"
ERROR_STYLE = "color:#cf222e"
#: The log box: at most ``height`` tall, scrolled to its end (a reversed flex column starts
#: at the bottom, so the newest lines are in view without any script).
LOG_BOX = (
    "max-height:{height};overflow:auto;display:flex;flex-direction:column-reverse;"
    "border:1px solid var(--jp-border-color2,#ddd);background:var(--jp-layout-color1,#fff)"
)
LOG_PRE = (
    "margin:0;padding:4px 6px;white-space:pre-wrap;word-break:break-all;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px)"
)


def esc(text: object) -> str:
    """``text`` as HTML text (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


def badge(phase: str | None, reason: str | None = None) -> str:
    """A coloured phase label, with the reason beside it."""
    label = phase or "Unknown"
    colour = PHASE_COLOURS.get(label, UNKNOWN_COLOUR)
    out = (
        f'<span style="background:{colour};color:#fff;padding:1px 8px;border-radius:9px;'
        f'font-weight:600">{esc(label)}</span>'
    )
    if reason and reason != phase:
        out += f' <span style="color:{colour}">{esc(reason)}</span>'
    return out


def status_message(status: JobStatus | None) -> str:
    """Why the job is where it is (pending reasons, failure message), as HTML."""
    if status is None or not status.message:
        return ""
    style = ERROR_STYLE if status.phase in ("Pending", "Failed") and status.reason else ""
    parts = [esc(p) for p in status.message.split("; ")]
    return f'<div style="{style}">' + "<br>".join(parts) + "</div>"


def replicas_text(status: JobStatus | None) -> str:
    if status is None:
        return ""
    return f"{status.ready}/{status.total} replicas ready"


def error(text: object) -> str:
    return f'<span style="{ERROR_STYLE}">{esc(text)}</span>' if text else ""


def note(text: object) -> str:
    return f'<span style="color:#57606a">{esc(text)}</span>' if text else ""


def log_html(lines: Iterable[str], *, dropped: int = 0, height: str = "24em") -> str:
    """A scrolling ``<pre>`` of log lines (escaped), noting how many older lines were
    dropped from the widget."""
    body = esc("\n".join(lines))
    head = ""
    if dropped:
        head = (
            f'<div style="color:#57606a;padding:2px 6px">… {dropped} earlier line'
            f"{'s' if dropped != 1 else ''} not kept here</div>"
        )
    return (
        f'<div style="{LOG_BOX.format(height=height)}"><div>{head}'
        f'<pre style="{LOG_PRE}">{body}</pre></div></div>'
    )


def replica_key(replica: str) -> tuple[int, str, int, str]:
    """Tab order of replica names: coordinators first, then by index (``worker-2`` before
    ``worker-10``)."""
    role = replica_role(replica)
    index = replica[len(role) + 1 :] if replica != role else ""
    order = ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)
    return (order, role, int(index) if index.isdigit() else -1, replica)


def age(created: str | None, now: dt.datetime | None = None) -> str:
    """``3m``, ``2h``, ``5d`` since an RFC 3339 time ('' if unknown)."""
    if not created:
        return ""
    try:
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return ""
    seconds = max(0, int(((now or dt.datetime.now(dt.UTC)) - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
