"""Container logs kept as the kubelet keeps them: one file per container attempt, each line
prefixed with its RFC 3339 timestamp and stream (the CRI log format), so that
``pods/log`` can honour ``tailLines``, ``sinceSeconds``/``sinceTime``, ``timestamps``,
``limitBytes``, ``previous`` and ``follow`` while reading in bounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO


def _ts() -> str:
    """Now in Go's RFC 3339 with nanoseconds (trailing zeros dropped), as CRI logs stamp
    lines and ``kubectl logs --timestamps`` prints them."""
    secs, nanos = divmod(time.time_ns(), 1_000_000_000)
    frac = f"{nanos:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (f".{frac}Z" if frac else "Z")


def _parse_ts(ts: str) -> float:
    ts = ts.rstrip("Z")
    if "." in ts:
        main, frac = ts.split(".", 1)
        ts = f"{main}.{frac[:6]}"
        fmt = "%Y-%m-%dT%H:%M:%S.%f"
    else:
        fmt = "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(ts, fmt).replace(tzinfo=UTC).timestamp()


class LogWriter:
    """Appends lines to one container attempt's log file.

    The file is made at the first line: most containers of a burst of starts print nothing
    for a while, and a directory and an open file per container were a measurable part of
    a start (``bench/spawn.py``). Readers take a missing file as an empty log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: BinaryIO | None = None
        self._partial = b""
        self.changed = asyncio.Event()

    def _file(self) -> BinaryIO:
        if self._f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "ab", buffering=0)  # noqa: SIM115 (kept open while running)
        return self._f

    def write(self, data: bytes, stream: str = "stdout") -> None:
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if lines:
            prefix = f"{_ts()} {stream} F ".encode()
            self._file().write(b"".join(prefix + ln + b"\n" for ln in lines))
            self._notify()

    def _notify(self) -> None:
        # Broadcast: wake every follower waiting on the current event, then start a new one.
        self.changed.set()
        self.changed = asyncio.Event()

    def close(self) -> None:
        if self._partial:
            self._file().write(f"{_ts()} stdout P ".encode() + self._partial + b"\n")
            self._partial = b""
        if self._f is not None:
            self._f.close()
        self._notify()


def _tail_offset(path: Path, n: int) -> int:
    """Byte offset where the last ``n`` lines start, reading backwards in blocks."""
    size = path.stat().st_size
    if n <= 0:
        return size
    with open(path, "rb") as f:
        pos, seen = size, 0
        block = 64 * 1024
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step)
            end = len(chunk)
            if pos + end == size and chunk.endswith(b"\n"):
                end -= 1  # the final newline doesn't start a line
            idx = chunk.rfind(b"\n", 0, end)
            while idx != -1:
                seen += 1
                if seen == n:
                    return pos + idx + 1
                idx = chunk.rfind(b"\n", 0, idx)
        return 0


async def read_log(
    path: Path,
    *,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
    timestamps: bool = False,
    limit_bytes: int | None = None,
    running: Callable[[], bool] = lambda: False,
    changed: Callable[[], asyncio.Event | None] = lambda: None,
) -> AsyncIterator[bytes]:
    """Yield the log in chunks of lines; with ``follow``, until ``running()`` turns False."""
    start = _tail_offset(path, tail) if tail is not None else 0
    sent = 0
    with open(path, "rb") as f:
        f.seek(start)
        pending = b""
        while True:
            ev = changed()
            chunk = f.read(256 * 1024)
            if chunk:
                data = pending + chunk
                cut = data.rfind(b"\n") + 1
                pending = data[cut:]
                out = []
                for line in data[:cut].splitlines(keepends=True):
                    ts, _, rest = line.partition(b" ")
                    _stream, _, rest = rest.partition(b" ")
                    tag, _, content = rest.partition(b" ")
                    if since is not None and _parse_ts(ts.decode()) < since:
                        continue
                    if tag == b"P":
                        content = content[:-1]  # a partial line had no newline
                    out.append(ts + b" " + content if timestamps else content)
                if out:
                    blob = b"".join(out)
                    if limit_bytes is not None and sent + len(blob) >= limit_bytes:
                        yield blob[: limit_bytes - sent]
                        return
                    sent += len(blob)
                    yield blob
                continue
            if not follow or not running():
                # One last read: the writer may have flushed just before stopping.
                if follow and f.tell() < os.path.getsize(path):
                    continue
                return
            if ev is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), 0.5)
            else:
                await asyncio.sleep(0.05)
