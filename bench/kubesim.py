#!/usr/bin/env python
"""Watch fan-out benchmark for kubesim: P pod creates while N clients watch pods.

A hub that spawns many servers has one reflector per resource, but a test suite or a demo
with many notebook servers can have hundreds of open watches; this measures whether
kubesim keeps up. Each round runs twice on fresh simulators, back to back so that a noisy
machine affects both alike: once with 0 watchers (the baseline) and once with N. The
client load (watchers and creators) runs in a separate process by default, as a hub
would, so that the client's own parsing does not compete with kubesim for the GIL.

    python bench/kubesim.py [--pods 500] [--watchers 200] [--creators 8]
                            [--in-process] [--profile FILE] [--rounds 1]

Prints, per phase: time for all creates to return, time until every watcher had seen
every pod's ADDED event and its kubelet's Running update, creates/s, requests/s (from
kubesim's counters), watch events delivered/s, and whether the target is met.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import pstats
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from kubesim.sim import KubeSim

NAMESPACE = "bench"
TARGET_SECONDS = 10.0
TARGET_PODS, TARGET_WATCHERS = 500, 200
_NAME = re.compile(rb'"name":"(bench-\d+)"')


def pod_manifest(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"bench-{i:05d}", "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "busybox:1.36",
                    "command": ["sleep", "infinity"],
                    "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                }
            ]
        },
    }


# ------------------------------------------------------------------------ client load
@dataclass
class WatchStat:
    lines: int = 0
    added: int = 0
    running: set[bytes] = field(default_factory=set)
    t_added: float | None = None
    t_running: float | None = None


async def _watch(
    session: aiohttp.ClientSession,
    url: str,
    rv: str,
    pods: int,
    st: WatchStat,
    connected: asyncio.Future[None],
    progress: asyncio.Queue[str],
) -> None:
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "300"}
    async with session.get(url, params=params) as resp:
        resp.raise_for_status()
        connected.set_result(None)
        # Cheap byte checks instead of json.loads: the point is to measure the server.
        async for line in resp.content:
            st.lines += 1
            if line.startswith(b'{"type":"ADDED"'):
                st.added += 1
                if st.added == pods:
                    st.t_added = time.perf_counter()
                    progress.put_nowait("added")
            if b'"phase":"Running"' in line and st.t_running is None:
                m = _NAME.search(line)
                if m:
                    st.running.add(m.group(1))
                    if len(st.running) == pods:
                        st.t_running = time.perf_counter()
                        progress.put_nowait("running")


async def run_load(
    url: str, token: str, pods: int, watchers: int, creators: int, timeout: float
) -> dict[str, Any]:
    """Open ``watchers`` watches, create ``pods`` pods with ``creators`` concurrent clients,
    and wait until every watcher saw every pod ADDED and Running."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"{url}/api/v1/namespaces/{NAMESPACE}/pods"
    connector = aiohttp.TCPConnector(limit=0)
    no_timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=no_timeout) as s:
        async with s.get(base) as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        loop = asyncio.get_running_loop()
        stats = [WatchStat() for _ in range(watchers)]
        connected = [loop.create_future() for _ in range(watchers)]
        progress: asyncio.Queue[str] = asyncio.Queue()
        tasks = [
            asyncio.ensure_future(_watch(s, base, rv, pods, st, c, progress))
            for st, c in zip(stats, connected, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*connected), 60)

        todo = iter(range(pods))
        failures: list[str] = []

        async def creator() -> None:
            for i in todo:
                async with s.post(base, json=pod_manifest(i)) as r:
                    if r.status != 201:
                        failures.append(f"{r.status}: {(await r.text())[:300]}")
                    else:
                        await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(creator() for _ in range(creators)))
        t_created = time.perf_counter()
        added = running = 0
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                while (added < watchers or running < watchers) and not failures:
                    if (await progress.get()) == "added":
                        added += 1
                    else:
                        running += 1
        except TimeoutError:
            timed_out = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def latest(values: list[float | None]) -> float | None:
        if not values or any(v is None for v in values):
            return None
        return max(v for v in values if v is not None) - t0

    return {
        "create_s": t_created - t0,
        "added_s": latest([st.t_added for st in stats]) if watchers else t_created - t0,
        "running_s": latest([st.t_running for st in stats]) if watchers else None,
        "lines": sum(st.lines for st in stats),
        "min_added": min((st.added for st in stats), default=0),
        "min_running": min((len(st.running) for st in stats), default=0),
        "failures": failures[:5],
        "n_failures": len(failures),
        "timed_out": timed_out,
    }


def _child(conn: Any, *args: Any) -> None:
    try:
        conn.send(asyncio.run(run_load(*args)))
    except BaseException as e:  # report, don't hang the parent
        conn.send({"error": repr(e)})
    finally:
        conn.close()


# --------------------------------------------------------------------------- one phase
def start_sim(pods: int) -> KubeSim:
    per_node = pods // 2 + 20
    nodes = [
        {"name": f"bench-node-{i}", "cpu": "64", "memory": "256Gi", "pods": per_node}
        for i in (1, 2)
    ]
    sim = KubeSim(kubelet="instant", nodes=nodes).start()
    for ns in (NAMESPACE, "warmup"):
        sim.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # pods need the namespace's default ServiceAccount
        if sim.call(
            lambda: all(sim.lookup("serviceaccounts", n, "default") for n in (NAMESPACE, "warmup"))
        ):
            break
        time.sleep(0.02)
    # Warm up schema loading and the handlers so that the phase measures steady state.
    for i in range(5):
        sim.apply({**pod_manifest(i), "metadata": {"name": f"warm-{i}", "namespace": "warmup"}})
    return sim


def run_phase(args: argparse.Namespace, watchers: int, profile: cProfile.Profile | None) -> dict:
    sim = start_sim(args.pods)
    try:
        sim.call(sim.counters.reset)
        rv0 = sim.call(lambda: sim.store.rv)
        load_args = (sim.url, sim.auth.admin_token, args.pods, watchers, args.creators, 45.0)
        if profile:
            sim.call(profile.enable)
        t0 = time.perf_counter()
        if args.in_process:
            res = asyncio.run(run_load(*load_args))
        else:
            parent, child = mp.Pipe(duplex=False)
            proc = mp.get_context("spawn").Process(target=_child, args=(child, *load_args))
            proc.start()
            child.close()
            res = parent.recv() if parent.poll(90) else {"error": "client process timed out"}
            proc.join(10)
        wall = time.perf_counter() - t0
        if profile:
            sim.call(profile.disable)
        if "error" in res:
            raise RuntimeError(res["error"])
        res["requests"] = sim.call(sim.counters.total)
        res["by_verb"] = sim.call(sim.counters.by_verb)
        res["writes"] = sim.call(lambda: sim.store.rv) - rv0
        res["wall_s"] = wall
        res["watchers"] = watchers
        return res
    finally:
        sim.stop()


def report(args: argparse.Namespace, r: dict) -> None:
    w, p = r["watchers"], args.pods
    done = r["running_s"] if w else r["create_s"]
    print(f"--- {w} watchers, {p} pods, {args.creators} creators")
    print(f"  creates returned     {r['create_s']:7.2f} s   {p / r['create_s']:8.0f} creates/s")
    if w:
        added = f"{r['added_s']:7.2f} s" if r["added_s"] is not None else "  never"
        running = f"{r['running_s']:7.2f} s" if r["running_s"] is not None else "  never"
        print(f"  all watchers ADDED   {added}   (slowest watcher saw {r['min_added']}/{p})")
        print(f"  all watchers Running {running}   (slowest watcher saw {r['min_running']}/{p})")
        span = done or r["wall_s"]
        print(f"  events delivered     {r['lines']:8d}     {r['lines'] / span:8.0f} events/s")
    span = done or r["wall_s"]
    verbs = ", ".join(f"{k}={v}" for k, v in sorted(r["by_verb"].items()))
    print(
        f"  API requests         {r['requests']:8d}     {r['requests'] / span:8.0f} req/s ({verbs})"
    )
    print(f"  store writes         {r['writes']:8d}     {r['writes'] / span:8.0f} writes/s")
    if r["n_failures"]:
        print(f"  FAILED creates: {r['n_failures']}, e.g. {r['failures'][0]}")
    if r["timed_out"]:
        print("  TIMED OUT waiting for the watchers")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pods", type=int, default=TARGET_PODS)
    ap.add_argument("--watchers", type=int, default=TARGET_WATCHERS)
    ap.add_argument("--creators", type=int, default=8, help="concurrent creating clients")
    ap.add_argument("--rounds", type=int, default=1, help="baseline/watchers pairs to run")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="run the clients in kubesim's process (as the test suite does)",
    )
    ap.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile kubesim's thread during the watcher phases; write stats to FILE",
    )
    args = ap.parse_args(argv)
    profile = cProfile.Profile() if args.profile else None
    mode = "in-process" if args.in_process else "clients in a separate process"
    print(f"kubesim watch benchmark ({mode})")
    ratios, results = [], []
    for _ in range(args.rounds):
        base = run_phase(args, 0, None)
        report(args, base)
        loaded = run_phase(args, args.watchers, profile)
        report(args, loaded)
        ratios.append(loaded["create_s"] / base["create_s"])
        results.append(loaded)
    print("--- summary")
    print(
        f"  create time with {args.watchers} watchers / with 0 watchers: "
        + ", ".join(f"{x:.2f}x" for x in ratios)
    )
    best = min(results, key=lambda r: r["running_s"] or float("inf"))
    ok_added = best["added_s"] is not None and best["added_s"] < TARGET_SECONDS
    ok_running = best["running_s"] is not None and best["running_s"] < TARGET_SECONDS
    ok = ok_added and not best["n_failures"]
    scale = (
        ""
        if (args.pods, args.watchers) == (TARGET_PODS, TARGET_WATCHERS)
        else (f" (target is defined for {TARGET_PODS} pods / {TARGET_WATCHERS} watchers)")
    )
    print(
        f"  target: {TARGET_PODS} creates seen by {TARGET_WATCHERS} watchers in "
        f"< {TARGET_SECONDS:.0f} s: {'MET' if ok else 'MISSED'}{scale}"
    )
    print(
        f"  (every watcher also saw every pod Running in < {TARGET_SECONDS:.0f} s: "
        f"{'yes' if ok_running else 'no'})"
    )
    if profile:
        profile.dump_stats(args.profile)
        print(f"--- profile of kubesim's thread (watcher phases), written to {args.profile}")
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
