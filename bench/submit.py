#!/usr/bin/env python
"""Submit benchmark: how long ``POST /teamhub/api/jobs`` takes, through a real
``jupyter server`` process with the teamhub extension, side by side with the same
submission made directly with ``teamhub.jobs.JobsClient`` (the library the extension
wraps).

What a user waits for after pressing "Submit" (or running a ``%%job`` cell) is this
request: the spec checked, the manifests built, the name checked against existing jobs,
the workload and its ConfigMap and Service created (each write validated by kubesim
against the API's schemas, as a real API server does).

    python bench/submit.py [--jobs 200] [--warmup 10] [--workers 2] [--backend indexed]

kubesim (instant kubelet: pods run as soon as they are scheduled) runs in this process;
the notebook server and the clients run in processes of their own. Submissions are
sequential; each job is deleted (timed too) before the next, so the namespace holds one
job at a time and the controllers' work (creating the job's pods) overlaps the next
request, as it would for a user. Prints p50/p95/max of each, and whether the target
(extension p50 <= 150 ms) is met; exit code 0 if it is.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.notebook_server import NotebookServer
from kubesim.sim import KubeSim
from tests.jobs.jobs_support import NS, POD, notebook, provision

TARGET_P50_MS = 150.0


def spec(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "backend": args.backend,
        "source": "print('hello from', __import__('os').environ['RANK'])",
        "workers": args.workers,
        "cpu": "1",
        "memory": "1Gi",
    }


# ------------------------------------------------------------------ clients (own process)
def through_extension(api: str, headers: dict, body: dict, n: int, warmup: int) -> dict:
    return asyncio.run(_through_extension(api, headers, body, n, warmup))


async def _through_extension(api: str, headers: dict, body: dict, n: int, warmup: int) -> dict:
    import aiohttp

    submit: list[float] = []
    delete: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as s:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            async with s.post(f"{api}/jobs", json={**body, "name": f"ext-{i}"}) as r:
                job = await r.json()
                if r.status != 201:
                    return {"error": f"{r.status}: {job}"}
            t1 = time.perf_counter()
            async with s.delete(f"{api}/jobs/{job['name']}") as r:
                if r.status != 204:
                    return {"error": f"delete {r.status}: {await r.text()}"}
            t2 = time.perf_counter()
            if i >= warmup:
                submit.append(t1 - t0)
                delete.append(t2 - t1)
    return {"submit": submit, "delete": delete}


def direct(kubeconfig: str, body: dict, n: int, warmup: int) -> dict:
    return asyncio.run(_direct(kubeconfig, body, n, warmup))


async def _direct(kubeconfig: str, body: dict, n: int, warmup: int) -> dict:
    from teamhub.jobs.client import JobsClient

    submit: list[float] = []
    delete: list[float] = []
    async with await JobsClient.connect(kubeconfig=kubeconfig, namespace=NS, pod_name=POD) as c:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            job = await c.submit({**body, "name": f"lib-{i}"})
            t1 = time.perf_counter()
            await job.delete()
            t2 = time.perf_counter()
            if i >= warmup:
                submit.append(t1 - t0)
                delete.append(t2 - t1)
    return {"submit": submit, "delete": delete}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="timed submissions per client")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", default="indexed")
    args = parser.parse_args()
    body = spec(args)
    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp_s:
        tmp = Path(tmp_s)
        sim = KubeSim(kubelet="instant", data_dir=tmp / "sim").start()
        server = None
        try:
            kubeconfig = provision(sim, notebook(), tmp)
            server = NotebookServer(kubeconfig, tmp / "server").start()
            pool.submit(time.sleep, 0).result()
            results = {}
            # alternate halves so that a noisy moment affects both alike
            half = args.jobs // 2
            for _ in range(2):
                for name, fn, fargs in (
                    ("extension", through_extension, (server.api, server.headers, body)),
                    ("JobsClient", direct, (str(kubeconfig), body)),
                ):
                    r = pool.submit(fn, *fargs, half, args.warmup).result()
                    if "error" in r:
                        raise RuntimeError(f"{name}: {r['error']}")
                    acc = results.setdefault(name, {"submit": [], "delete": []})
                    for k in acc:
                        acc[k] += r[k]
        finally:
            if server is not None:
                server.stop()
            sim.stop()
            pool.shutdown()

    print(
        f"{args.jobs} sequential submissions each: backend {args.backend}, {args.workers} "
        f"workers (workload + code ConfigMap{' + Service' if args.backend == 'indexed' else ''})"
    )
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'mean ms':>10}")
    for name, r in results.items():
        for what in ("submit", "delete"):
            v = r[what]
            print(
                f"{name + ' ' + what:28}{pct(v, 0.5):>10.1f}{pct(v, 0.95):>10.1f}"
                f"{max(v) * 1000:>10.1f}{statistics.mean(v) * 1000:>10.1f}"
            )
    p50 = pct(results["extension"]["submit"], 0.5)
    overhead = p50 - pct(results["JobsClient"]["submit"], 0.5)
    print(f"extension overhead at p50: {overhead:+.1f} ms (HTTP, auth, JSON, response model)")
    ok = p50 <= TARGET_P50_MS
    print(f"\n{'MET ' if ok else 'MISSED'}  submit p50 through the extension {p50:.1f} ms "
          f"<= {TARGET_P50_MS:.0f} ms")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
