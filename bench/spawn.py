#!/usr/bin/env python
"""Spawn benchmark: TeamSpawner against plain KubeSpawner, 100 concurrent starts each.

What a user waits for is time-to-ready: from ``start()`` being called until the pod is
Running and the URL is returned. TeamSpawner does more than KubeSpawner before the pod
(namespace, identity, credentials, volumes, network policy, quota), so this measures what
that costs when many users start at once, e.g. at the beginning of a class or a workshop.

Each phase runs in a process of its own on a fresh kubesim (instant kubelet), with the
hub side (the spawners, KubeSpawner's reflectors) in another process, as a hub would be.
The two phases of a round run side by side and take turns at each stage, so that the
KubeSpawner and TeamSpawner bursts are seconds apart and a noisy machine affects both
alike. A phase:

1. starts 10 users concurrently (this also starts KubeSpawner's reflectors, as the first
   spawns after a hub start do), counts the watches the hub holds open, stops them;
2. starts 100 other users concurrently (timed, counted), counts the watches again, and
   stops them;
3. starts the same 100 users again (timed, counted: their namespaces and objects exist,
   as at every start after a user's first) and stops them.

    python bench/spawn.py [--users 100] [--rounds 1]
                          [--profile DIR [--profiler py-spy] [--profile-stage again]]

Prints median and p95 time-to-ready for both spawners and their ratios, API requests per
spawn by verb (kubesim's counters), the watches held at 10 and 100 users, whether any
spawn polled (read the same object or list twice), and whether each target is met.
``--profile DIR`` writes cProfile stats (or, with ``--profiler py-spy``, py-spy's folded
stacks) of the hub process and of kubesim for the timed stage of each phase.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import multiprocessing.connection
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import request_cost
from spawn_hub import HUB_NS, WARM_USERS, Profiler, hub_process

from kubesim.sim import KubeSim, tune_gc_for_serving

TARGET_MEDIAN, TARGET_P95 = 1.25, 1.5
KINDS = ("kubespawner", "teamhub")


# ============================================================================ kubesim side
def start_sim(users: int) -> KubeSim:
    per_node = users + WARM_USERS + 20
    nodes = [
        {"name": f"bench-node-{i}", "cpu": "1000", "memory": "4Ti", "pods": per_node}
        for i in (1, 2)
    ]
    # kubesim has this process to itself (the hub is another): it serves on uvloop, as
    # `kubesim serve` does.
    sim = KubeSim(kubelet="instant", nodes=nodes, event_loop="uvloop").start()
    # kubesim's process is the benchmark's own: its collector is set up as `kubesim serve`
    # sets it (the OpenAPI schemas out of every full collection, young collections less
    # often). A real API server's collector does not stop the world to walk its heap. The
    # hub process is left as JupyterHub runs it.
    tune_gc_for_serving()
    sim.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HUB_NS}})
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "vision-s3", "namespace": HUB_NS},
            "stringData": {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"},
        }
    )
    return sim


def open_watches(sim: KubeSim) -> int:
    """The watch streams open now. A reflector re-opens its watch every few seconds
    (``timeoutSeconds``), so one sample can fall in that gap: the most seen over half a
    second is what the hub holds."""
    most = 0
    for _ in range(10):
        most = max(most, sim.call(sim.store.watcher_count))
        time.sleep(0.05)
    return most


#: The stages of a phase that take turns (see ``spawn_hub.hub_side``).
STAGES = ("warm", "burst", "again")


class _Turns:
    """A phase's side of taking turns: asks the benchmark's process (``run_round``) for
    its turn at each stage, and says when it is done."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def take(self, stage: str) -> None:
        self.conn.send(("take", stage))
        if self.conn.recv() != "go":
            raise RuntimeError(f"no turn for stage {stage!r}")

    def done(self, stage: str) -> None:
        self.conn.send(("done", stage))


@dataclass(frozen=True)
class Profiling:
    """What ``--profile`` asked for: where to write, with which profiler, which stage."""

    dir: Path
    profiler: str = "cprofile"
    stage: str = "burst"


def phase_process(conn: Any, kind: str, users: int, profiling: Profiling | None, tag: str) -> None:
    """One phase in a process of its own: its kubesim, and the hub process it starts."""
    try:
        conn.send(("result", _run_phase(kind, users, profiling, tag, _Turns(conn))))
    except BaseException as e:  # report, don't hang the benchmark
        import traceback

        conn.send(("error", "".join(traceback.format_exception(e))))
    finally:
        conn.close()


def run_round(
    order: tuple[str, ...], users: int, profiling: Profiling | None, tag: str
) -> dict[str, dict]:
    """Both phases of a round, side by side, taking turns at each stage in ``order``: one
    phase's warm-up, the other's, one's burst, the other's, and so on.

    Why: machine speed here drifts by a third within a minute (other work on the host).
    Phases run back to back put their bursts some 40 s apart, and the ratio of two bursts
    measured in different spells was as much noise as signal; in turns they are a few
    seconds apart. Each phase has a process of its own (its kubesim; its hub in another),
    so that neither's objects weigh on the other's memory or garbage collections. A phase
    that fails gives up its turns; the other goes on.
    """
    ctx = mp.get_context("spawn")
    conns, procs = {}, {}
    for kind in order:
        parent, child = ctx.Pipe()
        procs[kind] = ctx.Process(target=phase_process, args=(child, kind, users, profiling, tag))
        procs[kind].start()
        child.close()
        conns[kind] = parent
    turns = [(stage, kind) for stage in STAGES for kind in order]
    asking: dict[str, str] = {}  # kind -> the stage it waits to run
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    live = dict(conns)
    try:
        while live:
            ready = mp.connection.wait(list(live.values()), timeout=600)
            if not ready:
                raise RuntimeError(f"no phase answered in 600 s ({', '.join(live)})")
            for kind in [k for k, c in live.items() if c in ready]:
                try:
                    msg, arg = live[kind].recv()
                except EOFError:
                    msg, arg = "error", f"the phase process died (exit code {procs[kind].exitcode})"
                if msg == "take":
                    asking[kind] = arg
                elif msg == "done" and turns and turns[0] == (arg, kind):
                    turns.pop(0)
                elif msg in ("result", "error"):
                    (results if msg == "result" else errors)[kind] = arg
                    del live[kind]
            while turns and turns[0][1] not in live:  # finished or failed: skip its turns
                turns.pop(0)
            if turns and asking.get(turns[0][1]) == turns[0][0]:
                conns[turns[0][1]].send("go")
                del asking[turns[0][1]]
    finally:
        for proc in procs.values():
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    if errors:
        kind, err = next(iter(errors.items()))
        raise RuntimeError(f"{kind} phase failed:\n{err}")
    return results


def _run_phase(kind: str, users: int, profiling: Profiling | None, tag: str, turns: _Turns) -> dict:
    sim = start_sim(users)
    sim_prof = hub_prof = None
    stage = profiling.stage if profiling else "burst"
    if profiling:
        ext = ".prof" if profiling.profiler == "cprofile" else ".txt"
        name = f"{kind}-{stage}-{tag}{ext}"
        # py-spy samples the whole benchmark process: kubesim's thread does the work.
        sim_prof = Profiler(profiling.profiler, str(profiling.dir / f"kubesim-{name}"), sim.call)
        hub_prof = (profiling.profiler, str(profiling.dir / f"hub-{name}"))
    try:
        with tempfile.TemporaryDirectory() as d:
            kubeconfig = str(sim.write_kubeconfig(Path(d) / "kubeconfig"))
            parent, child = mp.Pipe()
            proc = mp.get_context("spawn").Process(
                target=hub_process, args=(child, kubeconfig, kind, users, hub_prof, stage)
            )
            proc.start()
            child.close()
            try:
                while True:
                    if not parent.poll(300):
                        raise RuntimeError(f"{kind}: the hub process did not answer in 300 s")
                    try:
                        cmd, *rest = parent.recv()
                    except EOFError:
                        proc.join(5)
                        raise RuntimeError(
                            f"{kind}: the hub process died (exit code {proc.exitcode})"
                        ) from None
                    if cmd == "turn":
                        turns.take(rest[0])
                        parent.send(None)
                    elif cmd == "turn done":
                        turns.done(rest[0])
                        parent.send(None)
                    elif cmd == "watches":
                        parent.send(open_watches(sim))
                    elif cmd == "cpu":  # CPU time of kubesim's thread (it serves everything)
                        parent.send(sim.call(time.thread_time))
                    elif cmd == "rv":  # every write kubesim stored, its controllers' too
                        parent.send(sim.call(lambda: sim.store.rv))
                    elif cmd == "reset":
                        parent.send(sim.call(sim.counters.reset))
                    elif cmd == "counters":
                        parent.send(sim.call(lambda: dict(sim.counters.requests)))
                    elif cmd == "profile":
                        assert sim_prof is not None
                        sim_prof.start() if rest[0] else sim_prof.stop()
                        parent.send(None)
                    elif cmd == "done":
                        result = rest[0]
                        break
                    else:
                        raise RuntimeError(f"{kind}: hub process failed:\n{rest[0]}")
            finally:
                proc.join(30)
                if proc.is_alive():
                    proc.kill()
        return result
    finally:
        sim.stop()


# ============================================================================ report
def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank on the sorted values, no interpolation)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def per_spawn_by_verb(counters: dict, users: int) -> dict[str, float]:
    out: Counter[str] = Counter()
    for (verb, _resource, _ns), n in counters.items():
        out[verb] += n
    return {v: n / users for v, n in sorted(out.items())}


def per_spawn_by_resource(counters: dict, users: int) -> dict[str, float]:
    out: Counter[str] = Counter()
    for (verb, resource, _ns), n in counters.items():
        out[f"{verb} {resource}"] += n
    return {k: n / users for k, n in sorted(out.items())}


def report_phase(r: dict, users: int) -> None:
    t = r["times"]
    print(f"--- {r['kind']}: {len(t)}/{users} ready in {r['wall']:.2f} s (all {users} concurrent)")
    if t:
        print(
            f"  time-to-ready   median {statistics.median(t) * 1000:7.0f} ms   "
            f"p95 {pct(t, 95) * 1000:7.0f} ms   max {max(t) * 1000:7.0f} ms"
        )
        ranks = [r for r in (1, 10, 25, 50, 75, 95, 100) if r <= len(t)]
        ordered = sorted(t)
        print(
            "  k-th user ready after "
            + ", ".join(f"{k}: {ordered[k - 1] * 1000:.0f}" for k in ranks)
            + " ms"
        )
    w = r["warm_times"]
    if w:
        print(
            f"  ({WARM_USERS} concurrent, first after hub start: "
            f"median {statistics.median(w) * 1000:.0f} ms, max {max(w) * 1000:.0f} ms)"
        )
    print(
        f"  CPU per spawn: hub {r['hub_cpu'] / users * 1000:.1f} ms, "
        f"kubesim {r['sim_cpu'] / users * 1000:.1f} ms "
        f"(busy {r['hub_cpu'] / r['wall']:.0%} and {r['sim_cpu'] / r['wall']:.0%} "
        f"of the {r['wall']:.1f} s); "
        f"objects written per spawn (controllers' writes too) {r['writes'] / users:.1f}, "
        f"kubesim CPU per write {r['sim_cpu'] / max(r['writes'], 1) * 1000:.2f} ms"
    )
    gcs = r["hub_gc"]
    print(
        "  hub garbage collections: "
        + ", ".join(f"gen{g} {n} ({t * 1000:.0f} ms)" for g, (n, t) in sorted(gcs.items()))
        + f"; objects kept per spawn {r['kept'] / users:.0f}"
    )
    print(
        "  median step times: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in r["steps"].items())
    )
    verbs = per_spawn_by_verb(r["counters"], users)
    total = sum(verbs.values())
    print(
        f"  API requests per spawn {total:5.1f}: "
        + ", ".join(f"{k} {v:.1f}" for k, v in verbs.items())
    )
    detail = per_spawn_by_resource(r["counters"], users)
    print("    " + ", ".join(f"{k} {v:.2f}" for k, v in detail.items()))
    print(f"    seen by the hub's polling check: {r['spawn_requests'] / users:.1f} per spawn")
    print(
        f"  watches held by the hub: {r['watches_10']} at {WARM_USERS} users, "
        f"{r['watches_100']} at {users} users, {r['watches_after']} after stopping all"
    )
    print(f"  stopping {len(t)} servers took {r['stop_wall']:.2f} s")
    if r["polled"]:
        print(f"  POLLING: {len(r['polled'])} repeated reads, e.g. {next(iter(r['polled']))}")
    if r["errors"]:
        user, err = next(iter(r["errors"].items()))
        print(f"  {len(r['errors'])} FAILED, e.g. {user}: {err}")
    restart = r["restart"]
    again = restart["times"]
    if again:
        n = len(again)
        verbs = per_spawn_by_verb(r["restart_counters"], n)
        print(
            f"  the same {n} users again (everything but the pod exists): "
            f"median {statistics.median(again) * 1000:.0f} ms, p95 {pct(again, 95) * 1000:.0f} ms; "
            f"API requests per spawn {sum(verbs.values()):.1f}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in verbs.items())
        )
        hub, sim, wall = restart["hub_cpu"], restart["sim_cpu"], restart["wall"]
        print(
            f"    CPU per spawn: hub {hub / n * 1000:.1f} ms, kubesim {sim / n * 1000:.1f} ms "
            f"(busy {hub / wall:.0%} and {sim / wall:.0%}); objects written per spawn "
            f"{restart['writes'] / n:.1f}; median step times: "
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in restart["steps"].items())
        )
    if restart["errors"]:
        user, err = next(iter(restart["errors"].items()))
        print(f"  {len(restart['errors'])} second starts FAILED, e.g. {user}: {err}")


def report_request_cost(pair: dict[str, dict], cost: dict[str, float], users: int) -> None:
    """What the requests alone cost, measured right after the round (``request_cost``):
    the part of each side's CPU per start that no spawner code can save, given how many
    requests it makes."""
    made = {kind: sum(per_spawn_by_verb(r["counters"], users).values()) for kind, r in pair.items()}
    extra = made["teamhub"] - made["kubespawner"]
    print(
        f"--- one bare request, measured after the round: client {cost['client'] * 1000:.2f} ms, "
        f"server {cost['server'] * 1000:.2f} ms of CPU"
    )
    for side, key, label in (("client", "hub_cpu", "hub"), ("server", "sim_cpu", "kubesim")):
        team, base = (pair[k][key] / users * 1000 for k in ("teamhub", "kubespawner"))
        print(
            f"  {label}: TeamSpawner's {extra:.0f} more requests per start cost "
            f"{extra * cost[side] * 1000:.1f} ms bare, of the {team - base:.1f} ms it spends "
            f"more than KubeSpawner ({team:.1f} against {base:.1f} ms)"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--users", type=int, default=100, help="concurrent spawns to time")
    ap.add_argument("--rounds", type=int, default=1, help="KubeSpawner/TeamSpawner pairs")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="profile a timed stage")
    ap.add_argument(
        "--profiler",
        choices=("cprofile", "py-spy"),
        default="cprofile",
        help="cProfile stats (.prof) or py-spy folded stacks (.txt, needs py-spy)",
    )
    ap.add_argument(
        "--profile-stage",
        choices=("burst", "again"),
        default="burst",
        help="the first starts (burst) or the same users' second starts (again)",
    )
    args = ap.parse_args(argv)
    profiling = None
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        profiling = Profiling(args.profile, args.profiler, args.profile_stage)
    print(f"spawn benchmark: {args.users} concurrent starts, kubesim instant kubelet")
    rounds = []
    for i in range(args.rounds):
        # Alternate which spawner goes first at each stage, so that neither always meets
        # the machine in the same state (caches, the other's leftovers, other work).
        order = KINDS if i % 2 == 0 else KINDS[::-1]
        pair = run_round(order, args.users, profiling, str(i))
        for kind in order:
            report_phase(pair[kind], args.users)
        report_request_cost(pair, request_cost.measure(), args.users)
        rounds.append(pair)

    print("--- summary (TeamSpawner / KubeSpawner)")
    ok = True
    ratios: list[tuple[float, float]] = []
    several = args.rounds > 1  # then the ratio targets are judged on the rounds' medians
    for i, pair in enumerate(rounds):
        base, team = pair["kubespawner"]["times"], pair["teamhub"]["times"]
        if not base or not team:
            print(f"  round {i}: no spawn succeeded")
            ok = False
            continue
        med = statistics.median(team) / statistics.median(base)
        p95 = pct(team, 95) / pct(base, 95)
        ratios.append((med, p95))
        w = pair["teamhub"]
        watches_equal = w["watches_10"] == w["watches_100"]
        no_polling = not w["polled"] and not pair["kubespawner"]["polled"]
        complete = len(w["times"]) == args.users
        checks = [
            (f"median ratio {med:.3f} <= {TARGET_MEDIAN}", med <= TARGET_MEDIAN),
            (f"p95 ratio {p95:.3f} <= {TARGET_P95}", p95 <= TARGET_P95),
            (
                f"watches at {WARM_USERS} users == at {args.users} users "
                f"({w['watches_10']} == {w['watches_100']})",
                watches_equal,
            ),
            ("no polling requests", no_polling),
            (f"all {args.users} TeamSpawner spawns succeeded", complete),
        ]
        label = f"round {i}: " if args.rounds > 1 else ""
        for n, (text, met) in enumerate(checks):
            print(f"  {label}{text}: {'MET' if met else 'MISSED'}")
            ok &= met or (several and n < 2)
    if several and ratios:
        med = statistics.median(r[0] for r in ratios)
        p95 = statistics.median(r[1] for r in ratios)
        print(f"  over {len(ratios)} rounds (median of the rounds' ratios):")
        for text, met in (
            (f"median ratio {med:.3f} <= {TARGET_MEDIAN}", med <= TARGET_MEDIAN),
            (f"p95 ratio {p95:.3f} <= {TARGET_P95}", p95 <= TARGET_P95),
        ):
            print(f"    {text}: {'MET' if met else 'MISSED'}")
            ok &= met
    if args.profile:
        print(f"--- profiles written to {args.profile} (hub-*, kubesim-*)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
