#!/usr/bin/env python
"""Log streaming benchmark: a job's log through the teamhub server extension against the
same log read directly from the API server (kubesim's ``pods/log``), and 16 ranks
followed at once.

What a user waits for when a job wrote a lot is how fast its log arrives in the browser,
and what the notebook server must not do is hold it in memory (kubeflow/sdk#682): the
notebook's memory is the user's, and a 200 MB log must not cost 200 MB. So:

1. a job (kubesim's process kubelet: a real process) writes a 200 MB log, lines of 160
   bytes, as fast as it can;
2. the finished log is read, alternately, directly from kubesim (``GET pods/<pod>/log``,
   what ``kubectl logs`` does) and through a real ``jupyter server`` process with the
   extension (``GET /user/alice/teamhub/api/jobs/<job>/logs``, each line prefixed
   ``[rank-0] ``), ``--rounds`` times each; the server's RSS is sampled every 10 ms;
3. a 16-rank job is submitted through the extension and followed from the moment it is
   submitted (``?follow=true``) while every rank writes ``--rank-lines`` numbered lines
   as fast as it can; every line of every rank must arrive, in order, once, and the
   stream must end when the job has finished.

    python bench/logs.py [--mb 200] [--line-bytes 160] [--rounds 3] [--ranks 16]
                         [--rank-lines 20000]

Readers run in a separate process (aiohttp, 1 MiB reads, counting bytes and lines), so
the three parties — kubesim (in this process), the notebook server and the reader — each
have their own interpreter. Prints throughput in MB/s of log text (the direct read's
bytes: the extension's output is larger by its prefixes), the ratio (target >= 0.7), the
server's RSS growth over its level before the first stream (target <= 50 MB) and CPU per
MB, and the 16-rank check (target: no line lost). Exit code 0 only if all targets are met.

Needs root (job pods mount the notebook's volumes at their paths in a mount namespace).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.notebook_server import NotebookServer, kubesim_api
from kubesim.sim import KubeSim
from tests.jobs.jobs_support import NS

MB = 1_000_000
TARGET_RATIO, TARGET_RSS_MB = 0.7, 50.0
PREFIX = b"[rank-0] "


# ------------------------------------------------------------------ readers (own process)
def read(url: str, headers: dict[str, str], params: dict[str, str], ranks: int = 0) -> dict:
    """Read a whole response; bytes, lines, seconds, and with ``ranks`` the check of
    numbered lines ``[rank-R] R SEQ ...`` (lost, duplicated or out-of-order lines)."""
    return asyncio.run(_read(url, headers, params, ranks))


async def _read(url: str, headers: dict[str, str], params: dict[str, str], ranks: int) -> dict:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    nbytes = nlines = 0
    next_seq = [0] * ranks
    bad: list[str] = []
    partial = b""
    async with aiohttp.ClientSession(timeout=timeout) as s:
        t0 = time.perf_counter()
        async with s.get(url, headers=headers, params=params) as r:
            if r.status != 200:
                return {"error": f"{r.status}: {(await r.text())[:500]}"}
            first = None
            async for chunk in r.content.iter_chunked(1 << 20):
                if first is None:
                    first = time.perf_counter() - t0
                nbytes += len(chunk)
                nlines += chunk.count(b"\n")
                if ranks:
                    *lines, partial = (partial + chunk).split(b"\n")
                    for line in lines:
                        _check(line, next_seq, bad)
        seconds = time.perf_counter() - t0
    return {
        "bytes": nbytes,
        "lines": nlines,
        "seconds": seconds,
        "first_byte": first,
        "next_seq": next_seq,
        "bad": bad[:20],
        "bad_count": len(bad),
    }


def _check(line: bytes, next_seq: list[int], bad: list[str]) -> None:
    try:
        head, rank_s, seq_s, _ = line.split(b" ", 3)
        rank, seq = int(rank_s), int(seq_s)
        if head != b"[rank-%d]" % rank:
            raise ValueError("prefix")
    except ValueError:
        bad.append(f"unexpected line {line[:80]!r}")
        return
    if seq != next_seq[rank]:
        bad.append(f"rank {rank}: line {seq} after {next_seq[rank] - 1}")
    next_seq[rank] = seq + 1


# ------------------------------------------------------------------ the API, plainly
def api(server: NotebookServer, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(
        f"{server.api}/{path}",
        data=data,
        method=method,
        headers={**server.headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path}: {e.code} {e.read().decode()[:500]}") from None
    return json.loads(raw) if raw else None


def wait_finished(server: NotebookServer, name: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = api(server, "GET", f"jobs/{name}")
        if job["status"]["finished"]:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {name} has not finished: {job['status']}")
        time.sleep(0.5)


def _sample(pid: int, peak: Any, stop: Any) -> None:
    import psutil

    proc = psutil.Process(pid)
    while not stop.is_set():
        peak.value = max(peak.value, proc.memory_info().rss)
        time.sleep(0.01)


class RssSampler:
    """Peak RSS of a process, sampled every 10 ms by a process of its own (a thread here
    would take the GIL from kubesim, which runs in this process, and slow it down)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.pid = pid
        self.proc = psutil.Process(pid)
        self._ctx = mp.get_context("spawn")
        self._peak = self._ctx.Value("q", 0)
        self._stop = self._ctx.Event()
        self._sampler: Any = None

    @property
    def peak(self) -> int:
        return int(self._peak.value)

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def __enter__(self) -> RssSampler:
        self._peak.value = 0  # the sampler's first sample makes it non-zero
        self._stop.clear()
        self._sampler = self._ctx.Process(target=_sample, args=(self.pid, self._peak, self._stop))
        self._sampler.start()
        while self._peak.value == 0:
            time.sleep(0.001)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join()


def big_log_script(lines: int, width: int) -> str:
    return (
        "import sys\n"
        f"pad = 'x' * {width - 12}\n"
        "w = sys.stdout.write\n"
        f"for start in range(0, {lines}, 1000):\n"
        f"    end = min(start + 1000, {lines})\n"
        "    w(''.join(f'{i:010d} {pad}\\n' for i in range(start, end)))\n"
    )


def ranks_script(lines: int, width: int) -> str:
    return (
        "import os, sys\n"
        "r = int(os.environ['RANK'])\n"
        f"pad = 'y' * {width - 20}\n"
        "w = sys.stdout.write\n"
        f"for i in range({lines}):\n"
        "    w(f'{r} {i:08d} {pad}\\n')\n"
        "    if i % 200 == 0: sys.stdout.flush()\n"
    )


# ------------------------------------------------------------------ the benchmark
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the big log (MB)")
    parser.add_argument("--line-bytes", type=int, default=160, help="bytes per line, newline in")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ranks", type=int, default=16)
    parser.add_argument("--rank-lines", type=int, default=20_000, help="lines each rank writes")
    parser.add_argument("--profile", type=Path, help="write the server's cProfile stats here")
    parser.add_argument(
        "--stamped",
        action="store_true",
        help="also read directly with timestamps=true (what the extension asks kubesim for)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("needs root and unshare: job pods mount the notebook's volumes (process kubelet)")
        return 2

    lines = args.mb * MB // args.line_bytes
    source_bytes = lines * args.line_bytes
    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp_s:
        tmp = Path(tmp_s)
        sim = KubeSim(kubelet="process", data_dir=tmp / "sim").start()
        server = None
        try:
            from tests.server.server_support import process_notebook

            kubeconfig = process_notebook(sim, tmp / "nb")
            server = NotebookServer(kubeconfig, tmp / "server", profile=args.profile).start()
            kube_url, kube_headers = kubesim_api(sim)
            pool.submit(time.sleep, 0).result()  # start the reader process now
            rss = RssSampler(server.pid)
            rss_start = rss.rss()

            # 1. the big log
            t0 = time.perf_counter()
            api(server, "POST", "jobs", {
                "name": "big",
                "command": [sys.executable, "-c", big_log_script(lines, args.line_bytes)],
            })  # fmt: skip
            job = wait_finished(server, "big")
            gen = time.perf_counter() - t0
            assert job["status"]["phase"] == "Succeeded", job["status"]
            pod = job["pods"][0]["name"]
            direct_url = f"{kube_url}/api/v1/namespaces/{NS}/pods/{pod}/log"
            server_url = f"{server.api}/jobs/big/logs"
            print(
                f"log: {source_bytes / MB:.0f} MB, {lines:,} lines of {args.line_bytes} bytes, "
                f"written by the job in {gen:.1f} s"
            )
            # warm up both paths (imports, connection pools): a few lines each
            for url, h in ((direct_url, kube_headers), (server_url, server.headers)):
                assert (
                    "error"
                    not in pool.submit(
                        read, url, h, {"tailLines": "5"} if h is kube_headers else {"tail": "5"}
                    ).result()
                )
            rss_base = rss.rss()

            # 2. direct vs through the extension, alternately
            results: dict[str, list[dict]] = {"direct": [], "extension": []}
            for _ in range(args.rounds):
                with rss:  # sampled alike in both phases
                    d = pool.submit(read, direct_url, kube_headers, {}).result()
                results["direct"].append(d)
                if args.stamped:  # what the extension asks kubesim for
                    with rss:
                        st = pool.submit(
                            read, direct_url, kube_headers, {"timestamps": "true"}
                        ).result()
                    results.setdefault("stamped", []).append(st)
                cpu0 = rss.cpu()
                with rss as sampler:
                    e = pool.submit(read, server_url, server.headers, {}).result()
                e["peak_rss"] = sampler.peak
                e["server_cpu"] = rss.cpu() - cpu0
                results["extension"].append(e)
            for kind, runs in results.items():
                for r in runs:
                    if "error" in r:
                        raise RuntimeError(f"{kind} read failed: {r['error']}")
            ok_bytes = all(r["bytes"] == source_bytes for r in results["direct"]) and all(
                r["bytes"] == source_bytes + lines * len(PREFIX) and r["lines"] == lines
                for r in results["extension"]
            )
            tput = {
                k: [source_bytes / MB / r["seconds"] for r in runs] for k, runs in results.items()
            }
            med = {k: statistics.median(v) for k, v in tput.items()}
            ratio = med["extension"] / med["direct"]
            peak_growth = max(r["peak_rss"] for r in results["extension"]) - rss_base
            cpu_per_mb = statistics.median(
                r["server_cpu"] / (source_bytes / MB) for r in results["extension"]
            )

            # 3. 16 ranks followed from submission
            before_follow = rss.rss()
            with rss as sampler:
                api(server, "POST", "jobs", {
                    "name": "ranks",
                    "workers": args.ranks,
                    "command": [sys.executable, "-c", ranks_script(args.rank_lines, 100)],
                })  # fmt: skip
                f = pool.submit(
                    read, f"{server.api}/jobs/ranks/logs", server.headers, {"follow": "true"},
                    args.ranks,
                ).result()  # fmt: skip
            if "error" in f:
                raise RuntimeError(f"follow failed: {f['error']}")
            ranks_job = api(server, "GET", "jobs/ranks")
            expected = args.ranks * args.rank_lines
            got = sum(f["next_seq"])
            lost = expected - got + sum(1 for b in f["bad"] if "after" in b)
            follow_ok = (
                f["bad_count"] == 0
                and f["next_seq"] == [args.rank_lines] * args.ranks
                and f["lines"] == expected
                and ranks_job["status"]["phase"] == "Succeeded"
            )
            follow_growth = sampler.peak - before_follow
            rss_end = rss.rss()
        finally:
            if server is not None:
                server.stop()
            sim.stop()
            pool.shutdown()

    print()
    print(f"{'':24}{'direct (kubesim)':>20}{'through extension':>20}")
    for i in range(args.rounds):
        print(
            f"{'round ' + str(i + 1) + ' MB/s':24}{tput['direct'][i]:>20.1f}"
            f"{tput['extension'][i]:>20.1f}"
        )
    print(f"{'median MB/s':24}{med['direct']:>20.1f}{med['extension']:>20.1f}")
    if "stamped" in med:
        print(f"{'direct, timestamps=true':24}{med['stamped']:>20.1f}")
    first = statistics.median(r["first_byte"] for r in results["extension"])
    print(f"{'first chunk (median)':24}{'':>20}{first * 1000:>18.0f} ms")
    print(f"bytes as expected: {ok_bytes} (the extension adds '[rank-0] ' to each line)")
    print(
        f"server: RSS {rss_start / 2**20:.0f} MiB at start, {rss_base / 2**20:.0f} MiB before the "
        f"first stream, peak +{peak_growth / 2**20:.1f} MiB while streaming, "
        f"{cpu_per_mb * 1000:.1f} ms CPU per MB"
    )
    print(
        f"{args.ranks} ranks followed: {f['lines']:,} of {expected:,} lines in "
        f"{f['seconds']:.1f} s (from submission until the job finished), "
        f"{f['bad_count']} out of order/lost/duplicated, server RSS peak "
        f"+{follow_growth / 2**20:.1f} MiB, {rss_end / 2**20:.0f} MiB after"
    )
    if f["bad"]:
        print("  first problems:", *f["bad"][:5], sep="\n    ")
    checks = [
        (f"throughput ratio {ratio:.2f} >= {TARGET_RATIO}", ratio >= TARGET_RATIO and ok_bytes),
        (
            f"server RSS growth {peak_growth / 2**20:.1f} MiB <= {TARGET_RSS_MB:.0f} MB",
            peak_growth <= TARGET_RSS_MB * MB,
        ),
        (f"{args.ranks} ranks followed, lines lost: {max(lost, 0)}", follow_ok),
    ]
    print()
    for text, ok in checks:
        print(f"{'MET ' if ok else 'MISSED'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
