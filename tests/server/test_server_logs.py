"""``GET jobs/{name}/logs`` through the server extension, against kubesim's process
kubelet (job pods are real processes writing real output): every rank merged with
``[rank-N]`` prefixes, replica/tail/since/timestamps/prefix options, following a job from
before its pods start until it finishes, a client that goes away, bounded memory, and
errors before any output as JSON."""

from __future__ import annotations

import asyncio
import re
import sys
import textwrap
import tracemalloc
from typing import Any

import psutil
import pytest

from kubesim.sim import KubeSim
from tests.server.server_support import (
    call,
    needs_process_kubelet,
    process_kubesim,  # noqa: F401  (the module's kubesim: a process kubelet)
    process_notebook_kubeconfig,  # noqa: F401
    until,
)

pytestmark = [pytest.mark.asyncio, needs_process_kubelet]
MB = 2**20


def py(script: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(script)]


async def submit(jp_fetch: Any, name: str, script: str, workers: int, **extra: Any) -> None:
    body = {"command": py(script), "workers": workers, "name": name, **extra}
    r = await call(jp_fetch, "POST", "jobs", body=body)
    assert r.code == 201, r.text


async def finished(jp_fetch: Any, name: str) -> dict[str, Any]:
    async def done():
        st = (await call(jp_fetch, "GET", "jobs", name)).json["status"]
        return st if st["finished"] else None

    return await until(done, timeout=60, what=f"{name} finished")


async def logs(jp_fetch: Any, name: str, **params: Any) -> Any:
    return await call(jp_fetch, "GET", "jobs", name, "logs", params=params)


COUNT = """
    import os
    rank = os.environ["RANK"]
    for i in range(5):
        print(f"rank {rank} line {i}", flush=True)
"""


async def test_every_rank_merged_and_the_options(jp_fetch):
    await submit(jp_fetch, "count", COUNT, 3)
    st = await finished(jp_fetch, "count")
    assert st["phase"] == "Succeeded", st

    r = await logs(jp_fetch, "count")
    assert r.code == 200 and r.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = r.text.splitlines()
    assert len(lines) == 15 and r.text.endswith("\n")
    for rank in range(3):
        mine = [line for line in lines if line.startswith(f"[rank-{rank}] ")]
        assert mine == [f"[rank-{rank}] rank {rank} line {i}" for i in range(5)]

    r = await logs(jp_fetch, "count", replica="rank-1", prefix="false")
    assert r.text.splitlines() == [f"rank 1 line {i}" for i in range(5)]
    r = await logs(jp_fetch, "count", replica="rank-0,rank-2", tail=2)
    assert sorted(r.text.splitlines()) == [
        "[rank-0] rank 0 line 3",
        "[rank-0] rank 0 line 4",
        "[rank-2] rank 2 line 3",
        "[rank-2] rank 2 line 4",
    ]
    r = await logs(jp_fetch, "count", replica="rank-2", timestamps="true", since=3600)
    stamped = r.text.splitlines()
    assert len(stamped) == 5
    assert all(
        re.fullmatch(r"\[rank-2\] \d{4}-\d\d-\d\dT[\d:.]+Z rank 2 line \d", s) for s in stamped
    )
    r = await logs(jp_fetch, "count", since="2999-01-01T00:00:00Z")
    assert (r.code, r.text) == (200, "")


@pytest.mark.parametrize(
    ("params", "status", "reason", "words"),
    [
        ({"replica": "worker-9"}, 404, "ReplicaNotFound", "no pod of replica ['worker-9']"),
        ({"tail": "-1"}, 400, "InvalidQuery", "tail: Input should be greater than or equal to 0"),
        ({"follow": "true", "previous": "true"}, 400, "InvalidQuery", "cannot be combined"),
        ({"since": "yesterday"}, 400, "InvalidQuery", "since: must be seconds"),
        ({"lines": "5"}, 400, "InvalidQuery", "lines: unknown parameter"),
    ],
)
async def test_bad_log_requests_are_json_errors(jp_fetch, params, status, reason, words):
    await submit(jp_fetch, "few", "print('x')", 1)
    await finished(jp_fetch, "few")
    r = await logs(jp_fetch, "few", **params)
    assert r.code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json["reason"] == reason and words in r.json["message"], r.json
    assert (await call(jp_fetch, "DELETE", "jobs", "few")).code == 204


GATED = """
    import os, sys, time
    rank = os.environ["RANK"]
    print(f"rank {rank} started", flush=True)
    while not os.path.exists(os.environ["GATE"]):
        time.sleep(0.02)
    for i in range(100):
        print(f"rank {rank} step {i}", flush=True)
"""


async def test_follow_streams_every_rank_live_until_the_job_finishes(jp_fetch, tmp_path):
    gate = tmp_path / "gate"
    chunks: list[bytes] = []
    # followed from before the job exists' pods run: the stream waits for them
    await submit(jp_fetch, "live", GATED, 4, env={"GATE": str(gate)})
    stream = asyncio.ensure_future(
        jp_fetch(
            "teamhub",
            "api",
            "jobs",
            "live",
            "logs",
            params={"follow": "true"},
            streaming_callback=chunks.append,
            request_timeout=90,
        )
    )

    def text() -> str:
        return b"".join(chunks).decode()

    async def all_started():
        return all(f"[rank-{r}] rank {r} started" in text() for r in range(4))

    await until(all_started, timeout=60, what="every rank's first line, live")
    assert not stream.done()  # the job still runs: the stream goes on
    gate.touch()
    r = await asyncio.wait_for(stream, 60)
    assert r.code == 200
    lines = text().splitlines()
    for rank in range(4):
        mine = [line for line in lines if line.startswith(f"[rank-{rank}] ")]
        expected = [f"rank {rank} started"] + [f"rank {rank} step {i}" for i in range(100)]
        assert mine == [f"[rank-{rank}] {t}" for t in expected]
    assert len(lines) == 4 * 101
    assert (await call(jp_fetch, "GET", "jobs", "live")).json["status"]["phase"] == "Succeeded"


#: One line, then silence: only the connection's close can tell the server to stop.
FOREVER = """
    import os, time
    print(f"rank {os.environ['RANK']} alive", flush=True)
    time.sleep(3600)
"""


def api_connections(sim: KubeSim) -> int:
    """Open client connections of this process to kubesim (the server's API clients)."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == sim.port and c.status == psutil.CONN_ESTABLISHED
    )


async def test_a_client_that_goes_away_stops_the_stream(
    jp_fetch, jp_serverapp, kubesim, monkeypatch
):
    backend = jp_serverapp.web_app.settings["teamhub_backend"]
    closed = asyncio.Event()
    open_logs = backend.open_logs

    async def spied(name, query):
        chunks = await open_logs(name, query)

        async def watched():
            try:
                async for chunk in chunks:
                    yield chunk
            finally:
                await chunks.aclose()
                closed.set()

        return watched()

    monkeypatch.setattr(backend, "open_logs", spied)
    await submit(jp_fetch, "forever", FOREVER, 2)
    port = jp_serverapp.port
    token = jp_serverapp.identity_provider.token
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "GET /user/alice/teamhub/api/jobs/forever/logs?follow=true HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: token {token}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    seen = b""
    while not all(f"[rank-{r}] rank {r} alive".encode() in seen for r in range(2)):
        seen += await asyncio.wait_for(reader.read(65536), 30)
    assert seen.startswith(b"HTTP/1.1 200 OK") and b"Transfer-Encoding: chunked" in seen
    during = api_connections(kubesim)
    assert not closed.is_set()
    writer.close()  # the ranks are silent now: only the close itself can stop the stream
    await writer.wait_closed()
    await asyncio.wait_for(closed.wait(), 20)

    async def released():  # the pod watch and both ranks' log streams
        return api_connections(kubesim) <= during - 3

    await until(released, what="the stream's API connections closed")
    await call(jp_fetch, "DELETE", "jobs", "forever")


BIG = """
    import sys
    w = sys.stdout.write
    pad = "x" * 990
    for i in range(20_000):
        w(f"{i:08d} {pad}\\n")
"""


async def test_a_large_log_passes_through_in_bounded_memory(jp_fetch):
    await submit(jp_fetch, "big", BIG, 1)
    await finished(jp_fetch, "big")
    size = lines = 0
    last = b""

    def count(chunk: bytes) -> None:
        nonlocal size, lines, last
        size += len(chunk)
        lines += chunk.count(b"\n")
        last = chunk

    tracemalloc.start()
    try:
        r = await jp_fetch(
            "teamhub", "api", "jobs", "big", "logs", streaming_callback=count, request_timeout=90
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.code == 200
    assert (lines, size) == (20_000, 20_000 * (1000 + len("[rank-0] ")))
    assert last.endswith(b"[rank-0] 00019999 " + b"x" * 990 + b"\n")
    assert peak < 8 * MB, f"peaked at {peak / MB:.1f} MB for a 20 MB log"
