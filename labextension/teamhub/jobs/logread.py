"""Reading one container instance's log from ``pods/log`` in bounded memory.

The body is read in chunks of at most ``CHUNK`` bytes and split into lines incrementally,
so memory per stream is one chunk plus one partial line (capped at ``MAX_LINE``: a longer
line is delivered in pieces). Lines are handed on in batches (one batch per chunk) through
a bounded queue: when the consumer is slow the ``put`` waits, reading stops, and TCP flow
control pushes back on the API server.

Log requests ask for ``timestamps=true``: the kubelet's per-line timestamp is what lets
merged output be ordered by time, a reconnect resume where it stopped, and a container
restart never repeat a line (see ``Cursor``). It is stripped unless the caller asked for
timestamps. The one exception is a ``plain`` read (a snapshot of one container at a time
rendered as bytes), which needs none of that and is read as the container wrote it.

Two renderings: ``LogLine`` objects (the Python API), or UTF-8 bytes exactly as
``str(line) + "\n"`` (``render="bytes"``, for the server extension), which for whole
chunks is done with one regular-expression substitution in C rather than per line in
Python — the difference between keeping up with a fast writer and not.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from teamhub.jobs.logio import open_raw

CHUNK = 64 * 1024
MAX_LINE = 256 * 1024
# A line's leading timestamp and its space, anchored on the newline before it: a literal
# prefix lets the regex engine jump between lines instead of trying ``(?m)^`` at every byte
# (the body gets a newline prepended, removed again after the substitution).
_STAMP = re.compile(rb"\n(\S*) ")


class Batch(list):
    """Items read from one chunk (``LogLine``s, or rendered bytes) and the time key
    (``ts_key``) of each, for merging; one queue item per chunk keeps the per-line overhead
    low. A "blob" batch holds a whole chunk's rendering as one item, keyed by its first
    line."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[bytes] = []


class LogLine(NamedTuple):
    """One line of one container's log (``text`` has no trailing newline).

    ``str(line)`` is what a terminal shows: ``[worker-1] text``; with ``show_container``
    (pods with several containers) ``[worker-1/sidecar] text``; the kubelet's RFC 3339
    timestamp follows the prefix when timestamps were requested; no prefix when
    ``prefix`` is False. (A named tuple: immutable, and cheap to make by the million.)"""

    replica: str
    pod: str
    container: str
    text: str
    timestamp: str | None = None
    prefix: bool = True
    show_container: bool = False

    def __str__(self) -> str:
        return render_head(self.replica, self.container, self.prefix, self.show_container) + (
            f"{self.timestamp} {self.text}" if self.timestamp is not None else self.text
        )


def render_head(replica: str, container: str, prefix: bool, show_container: bool) -> str:
    if not prefix:
        return ""
    return f"[{replica}/{container}] " if show_container else f"[{replica}] "


# ----------------------------------------------------------------- time
def ts_key(ts: bytes) -> bytes:
    """A kubelet RFC 3339 timestamp (trailing fraction zeros dropped, UTC ``Z``) as a key
    that sorts by time: the fraction padded to nanoseconds."""
    main, dot, frac = ts[:19], ts[19:20], ts[20:].rstrip(b"Z")
    return main + b"." + (frac if dot == b"." else b"").ljust(9, b"0")[:9]


def key_epoch(key: bytes) -> float:
    dt = datetime.strptime(key[:19].decode(), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return dt.timestamp() + int(key[20:29]) / 1e9


def since_params(
    since: float | int | timedelta | datetime | None,
) -> tuple[int | None, bytes | None]:
    """``since`` as (``sinceSeconds`` for the server, exact lower bound key or None).

    Seconds or a timedelta: "the last N seconds", as ``kubectl logs --since``. A datetime
    (naive means local time): lines at or after it; the server only takes whole seconds
    relative to its clock, so a slightly wider window is asked and the rest is filtered
    here on the kubelet's timestamps."""
    if since is None:
        return None, None
    if isinstance(since, datetime):
        epoch = since.timestamp()
        seconds = max(1, math.ceil(time.time() - epoch) + 1)
        key = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").encode()
        return seconds, key + b"000"
    if isinstance(since, timedelta):
        since = since.total_seconds()
    if isinstance(since, bool) or not isinstance(since, int | float) or since <= 0:
        raise ValueError(
            f"since must be a positive number of seconds, a timedelta or a datetime, got {since!r}"
        )
    return max(1, math.ceil(since)), None


# ----------------------------------------------------------------- one instance
@dataclass
class Cursor:
    """Where one container's output has got to, across reads of that container.

    Lines at or before the last delivered timestamp are skipped on a later read, so a
    resumed stream (reconnect) or a read that raced a restart (and got an instance already
    read) repeats nothing; lines sharing the last timestamp are skipped by count (the
    kubelet stamps lines written together alike)."""

    last: bytes | None = None
    at_last: int = 0
    reads: int = 0

    def advance(self, last: bytes, n: int, whole: bool) -> None:
        """``n`` lines at the end of a delivery carry ``last`` (``whole``: all of them do)."""
        if whole and last == self.last:
            self.at_last += n
        else:
            self.last, self.at_last = last, n

    def delivered(self, keys: list[bytes]) -> None:
        """Record delivered lines by their keys, in order."""
        if keys:
            last, n = keys[-1], 0
            for k in reversed(keys):
                if k != last:
                    break
                n += 1
            self.advance(last, n, n == len(keys))


@dataclass
class ReadSpec:
    """One ``pods/log`` request: which instance, and how to label, filter and render its
    lines. ``blobs``: bytes rendering may hand on a whole chunk as one item (no merging
    by time downstream)."""

    pod: str
    container: str
    replica: str
    follow: bool = False
    previous: bool = False
    tail: int | None = None
    since_seconds: int | None = None
    since_key: bytes | None = None
    timestamps: bool = False
    prefix: bool = True
    show_container: bool = False
    render: str = "lines"
    blobs: bool = False
    #: A snapshot in bytes that needs no time key (one container at a time, no
    #: ``timestamps``, no exact ``since``, nothing to resume): read without the kubelet's
    #: timestamps, and prefixed with one ``bytes.replace`` per chunk (see ``_Plain``).
    plain: bool = False
    cursor: Cursor = field(default_factory=Cursor)


class _Splitter:
    """Turns one response's chunks into batches (the per-read state of ``read_instance``)."""

    def __init__(self, spec: ReadSpec) -> None:
        self.spec = spec
        cur = spec.cursor
        self.before, self.skip = cur.last, cur.at_last  # already delivered: skip if resent
        self.cont: bytes | None = None  # a line longer than MAX_LINE continues with this key
        self.stamp_b, self.key, self.stamp = b"", b"", ""
        head = render_head(spec.replica, spec.container, spec.prefix, spec.show_container)
        self.head = head.encode()
        escaped = self.head.replace(b"\\", b"\\\\")  # a substitution template
        self.sub = b"\n" + escaped + (b"\\1 " if spec.timestamps else b"")

    def _stamp(self, stamp_b: bytes) -> None:
        if stamp_b != self.stamp_b:  # lines written together share a stamp: parse once
            self.stamp_b, self.key = stamp_b, ts_key(stamp_b)
            self.stamp = stamp_b.decode("ascii", "replace")

    def lines(self, raws: list[bytes], batch: Batch, whole: bool = True) -> None:
        """Per line: filter, key and render (LogLine or bytes)."""
        spec, since, new = self.spec, self.spec.since_key, tuple.__new__
        as_bytes, ts = spec.render == "bytes", spec.timestamps
        rep, pod, ctr, pre, show = (
            spec.replica,
            spec.pod,
            spec.container,
            spec.prefix,
            spec.show_container,
        )
        keys, head, k0 = batch.keys, self.head, len(batch.keys)
        for raw in raws:
            if self.cont is not None:  # the rest of a long line: no stamp of its own
                text_b, key = raw, self.cont
            else:
                sp = raw.find(b" ", 0, 41)
                if sp >= 19:
                    stamp_b, text_b = raw[:sp], raw[sp + 1 :]
                else:
                    stamp_b, text_b = raw, b""
                if stamp_b != self.stamp_b:
                    self._stamp(stamp_b)
                key = self.key
            self.cont = None if whole else key
            if self.before is not None and key <= self.before:
                if key < self.before:
                    continue
                if self.skip > 0:
                    self.skip -= 1
                    continue
            if since is not None and key < since:
                continue
            keys.append(key)
            if as_bytes:  # (a piece of a runaway line is a line of its own, as a LogLine is)
                batch.append(head + (self.stamp_b + b" " if ts else b"") + text_b + b"\n")
            else:
                text = text_b.decode("utf-8", "replace")
                batch.append(
                    new(LogLine, (rep, pod, ctr, text, self.stamp if ts else None, pre, show))
                )
        self.spec.cursor.delivered(keys[k0:])

    def body(self, body: bytes) -> Batch:
        """A chunk's complete lines (``body`` ends with a newline)."""
        batch = Batch()
        if self.spec.render == "bytes" and self.spec.blobs and self.cont is None:
            sp = body.find(b" ", 0, 41)
            last_start = body.rfind(b"\n", 0, len(body) - 1) + 1
            last_sp = body.find(b" ", last_start, last_start + 41)
            if sp >= 19 and last_sp - last_start >= 19:
                first, last = body[:sp], body[last_start:last_sp]
                fkey, lkey = ts_key(first), ts_key(last)
                skip_free = self.before is None or fkey > self.before
                since_free = self.spec.since_key is None or fkey >= self.spec.since_key
                if skip_free and since_free:
                    batch.append(_STAMP.sub(self.sub, b"\n" + body)[1:])
                    batch.keys.append(fkey)
                    # Stamps never go back: the lines carrying the last one end the chunk.
                    n = (b"\n" + body).count(b"\n" + last + b" ")
                    self.spec.cursor.advance(lkey, n, fkey == lkey)
                    return batch
        self.lines(body[:-1].split(b"\n"), batch)
        return batch


class _Plain:
    """``_Splitter`` for a ``plain`` read: the body has no timestamps, so rendering a chunk
    is putting the prefix after every newline — C speed, no per-line Python — and there
    are no time keys (nothing merges or resumes a plain read)."""

    def __init__(self, spec: ReadSpec) -> None:
        head = render_head(spec.replica, spec.container, spec.prefix, spec.show_container)
        self.head = head.encode()
        self.newline_head = b"\n" + self.head

    def lines(self, raws: list[bytes], batch: Batch, whole: bool = True) -> None:
        for raw in raws:  # (a piece of a runaway line is a line of its own, as elsewhere)
            batch.append(self.head + raw + b"\n")
            batch.keys.append(b"")

    def body(self, body: bytes) -> Batch:
        batch = Batch()
        if self.head:
            body = self.head + body[:-1].replace(b"\n", self.newline_head) + b"\n"
        batch.append(body)
        batch.keys.append(b"")
        return batch


async def read_instance(
    core: Any, namespace: str, spec: ReadSpec, emit: Callable[[Batch], Awaitable[None]]
) -> None:
    """Stream one log request to ``emit`` in batches; returns at the end of the log (for
    ``follow``, when the container instance has stopped)."""
    resp = await open_raw(
        core.read_namespaced_pod_log(
            spec.pod,
            namespace,
            container=spec.container,
            follow=spec.follow,
            previous=spec.previous,
            tail_lines=spec.tail,
            since_seconds=spec.since_seconds,
            timestamps=not spec.plain,
            _preload_content=False,
        )
    )
    spec.cursor.reads += 1
    split: _Splitter | _Plain = _Plain(spec) if spec.plain else _Splitter(spec)
    pending = b""
    try:
        while chunk := await resp.content.read(CHUNK):
            data = pending + chunk if pending else chunk
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            batch = split.body(data[:cut]) if cut else Batch()
            while len(pending) > MAX_LINE:  # deliver a runaway line in pieces
                split.lines([pending[:MAX_LINE]], batch, whole=False)
                pending = pending[MAX_LINE:]
            if batch:
                await emit(batch)
        if pending:
            batch = Batch()
            split.lines([pending], batch)
            if batch:
                await emit(batch)
    finally:
        resp.release()
