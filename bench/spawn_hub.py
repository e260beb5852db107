"""The hub side of ``bench/spawn.py``, run in a process of its own as a hub would be.

It starts users with TeamSpawner or plain KubeSpawner and reports back, through a pipe to
the benchmark (which owns kubesim): each start's time-to-ready, the times of its steps,
every API request it made (to find polling) and the watches it holds. What it records is
hooked into KubeSpawner and kubernetes_asyncio here, so that the spawners under test run
unmodified.
"""

from __future__ import annotations

import asyncio
import contextvars
import cProfile
import gc
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HUB_NS = "hub"
IMAGE = "quay.io/jupyter/minimal-notebook:2025-01-01"
CMD = ["jupyterhub-singleuser"]
WARM_USERS = 10

#: A representative team: two team volumes, a global dataset, home, one credential, quota.
TEAMS: dict[str, Any] = {
    "namespacePrefix": "teamhub",
    "home": {"size": "10Gi", "mountPath": "/home/jovyan"},
    "globalVolumes": [
        {
            "name": "datasets",
            "mountPath": "/data/public",
            "source": {"nfs": {"server": "nfs.example.org", "path": "/exports/datasets"}},
        }
    ],
    "profiles": [{"slug": "cpu", "displayName": "CPU notebook", "default": True}],
    "teams": {
        "vision": {
            "groups": ["vision"],
            "volumes": [
                {
                    "name": "data",
                    "mountPath": "/teams/vision/data",
                    "source": {
                        "csi": {
                            "driver": "nfs.csi.k8s.io",
                            "volumeHandle": "nfs.example.org#/exports/vision",
                            "volumeAttributes": {
                                "server": "nfs.example.org",
                                "share": "/exports/vision",
                            },
                        }
                    },
                },
                {
                    "name": "models",
                    "mountPath": "/teams/vision/models",
                    "readOnly": True,
                    "source": {"nfs": {"server": "nfs.example.org", "path": "/exports/models"}},
                },
            ],
            "credentials": [
                {
                    "name": "s3",
                    "secretName": "vision-s3",
                    "keys": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
                    "env": {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"},
                }
            ],
            "profiles": ["cpu"],
            "images": ["quay.io/jupyter/*"],
            "quota": {"cpu": "32", "memory": "128Gi", "pods": 50},
        }
    },
}


#: The user whose spawn (or stop) the current task works for: set before each start() and
#: inherited by everything that task awaits, so each API request can be attributed.
CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("user", default=None)
#: (user, method, URL with its query) of every request the hub made, in order.
REQUESTS: list[tuple[str | None, str, str]] = []
#: user -> step -> perf_counter() when that step of the user's spawn happened.
STEPS: dict[str, dict[str, float]] = {}
#: "namespace/pod" -> user, to attribute what the pod reflector sees.
PODS: dict[str, str] = {}


def _step(user: str | None, step: str) -> None:
    if user is not None:
        STEPS.setdefault(user, {}).setdefault(step, time.perf_counter())


class _SeenRunning(dict):
    """The pod reflector's store: notes when each pod is first seen Running, which is
    when its spawn could return at the earliest."""

    def __setitem__(self, key: str, pod: dict) -> None:
        if key in PODS and (pod.get("status") or {}).get("phase") == "Running":
            _step(PODS[key], "running")
        super().__setitem__(key, pod)


def _record_steps() -> None:
    """Timestamps of a spawn's steps: objects provisioned (the pod manifest is asked for),
    pod created, pod seen Running by the reflector, start() returned."""
    from kubespawner import KubeSpawner
    from kubespawner.reflector import ResourceReflector
    from kubespawner.spawner import PodReflector
    from teamhub_spawner.reflectors import TeamPodReflector

    get_manifest, create_pod = KubeSpawner.get_pod_manifest, KubeSpawner._make_create_pod_request

    async def get_pod_manifest(self: Any) -> Any:
        _step(CURRENT.get(), "provisioned")
        PODS[f"{self.namespace}/{self.pod_name}"] = self.user.name
        return await get_manifest(self)

    async def make_create_pod_request(self: Any, *args: Any) -> Any:
        ok = await create_pod(self, *args)
        if ok:
            _step(CURRENT.get(), "pod created")
        return ok

    KubeSpawner.get_pod_manifest = get_pod_manifest  # TeamSpawner's calls super()'s
    KubeSpawner._make_create_pod_request = make_create_pod_request  # and this one
    list_and_update = ResourceReflector._list_and_update
    wake = TeamPodReflector._wake

    def _wake(self: Any, key: str) -> None:
        # TeamSpawner's pod reflector replaces its store after each (re)list with one
        # that reports changes: noted here instead of through _SeenRunning.
        pod = self.resources.get(key)
        if key in PODS and pod and (pod.get("status") or {}).get("phase") == "Running":
            _step(PODS[key], "running")
        wake(self, key)

    TeamPodReflector._wake = _wake

    async def _list_and_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The shared reflectors' (re)lists are no spawn's, whichever spawn started them.
        token = CURRENT.set(None)
        try:
            rv = await list_and_update(self, *args, **kwargs)
        finally:
            CURRENT.reset(token)
        if isinstance(self, PodReflector) and not isinstance(self, TeamPodReflector):
            self._trait_values["resources"] = _SeenRunning(self.resources)
        return rv

    ResourceReflector._list_and_update = _list_and_update


def _record_requests() -> None:
    """Record every request the hub's Kubernetes clients make (to find polling: the same
    read twice by one spawn), where kubernetes_asyncio and teamhub's ``restapi`` both
    end: the aiohttp session's ``request``. Watches are KubeSpawner's reflectors, not a
    spawn's; they are marked. Recording is kept to an append: the timed stage should
    measure the spawners, and a TeamSpawner start makes eight times the requests of a
    KubeSpawner one."""
    import aiohttp

    original = aiohttp.ClientSession.request

    def request(self: Any, method: str, url: Any, **kw: Any) -> Any:
        REQUESTS.append((CURRENT.get(), method, str(url)))
        return original(self, method, url, **kw)

    aiohttp.ClientSession.request = request


def _request_key(url: str) -> tuple[str, str]:
    """A recorded request as (path, query), without what differs between identical reads."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    for volatile in ("resourceVersion", "resourceVersionMatch", "timeoutSeconds"):
        params.pop(volatile, None)
    return parts.path, "&".join(f"{k}={v}" for k, v in sorted(params.items()))


class FakeUser:
    """The parts of jupyterhub.user.User a spawner uses."""

    def __init__(self, name: str, index: int) -> None:
        from jupyterhub.objects import Server

        self.name = name
        self.id = index + 1
        self.url = f"/user/{name}/"
        self.server = Server(base_url=self.url)
        self.groups: list[Any] = []
        self.spawners: dict[str, Any] = {}
        self.auth_state = {"access_token": f"oidc-{name}", "teamhub": {"groups": ["vision"]}}

    async def get_auth_state(self) -> dict:
        return self.auth_state


def make_spawner(kind: str, name: str, index: int) -> Any:
    from jupyterhub.objects import Hub
    from kubespawner import KubeSpawner
    from teamhub_spawner.spawner import TeamSpawner
    from traitlets.config import Config

    c = Config()
    # Shared settings on KubeSpawner (TeamSpawner inherits them): same image, command and
    # timeouts for both; both put each user in their own namespace.
    c.KubeSpawner.image = IMAGE
    c.KubeSpawner.cmd = CMD
    c.KubeSpawner.start_timeout = 120
    c.KubeSpawner.enable_user_namespaces = True
    c.KubeSpawner.user_namespace_template = "plain-{username}"
    c.TeamRegistry.teams = TEAMS
    c.TeamSpawner.hub_namespace = HUB_NS
    cls = TeamSpawner if kind == "teamhub" else KubeSpawner
    sp = cls(hub=Hub(), user=FakeUser(name, index), config=c)
    sp.api_token = f"hub-token-{name}"
    sp.user_options = {}
    return sp


async def _timed_start(sp: Any, out: dict[str, float], errors: dict[str, str]) -> None:
    CURRENT.set(sp.user.name)
    t0 = time.perf_counter()
    _step(sp.user.name, "start")
    try:
        await sp.start()
        out[sp.user.name] = time.perf_counter() - t0
        _step(sp.user.name, "ready")
    except Exception as e:  # reported, not hidden
        errors[sp.user.name] = _short(e)


def _short(e: BaseException) -> str:
    import json

    body = getattr(e, "body", None)
    if body:
        try:
            return f"{e.status}: {json.loads(body)['message']}"  # type: ignore[attr-defined]
        except (ValueError, KeyError, TypeError):
            pass
    return f"{type(e).__name__}: {e}".replace("\n", " ")[:300]


async def _stop(sp: Any) -> None:
    CURRENT.set(sp.user.name)
    await sp.stop(now=True)


async def hub_side(
    conn: Any, kind: str, users: int, profile: tuple[str, str] | None, profile_stage: str
) -> dict:
    import logging

    # KubeSpawner logs whole pod manifests on errors; failures are summarised instead.
    logging.basicConfig(level=logging.CRITICAL)
    _record_steps()
    loop = asyncio.get_running_loop()

    async def ask(*msg: Any) -> Any:
        conn.send(msg)
        return await loop.run_in_executor(None, conn.recv)

    # Each stage runs in its turn: the other spawner's phase runs beside this one, on its
    # own kubesim, and takes the same stage just before or after (see bench/spawn.py).

    # Stage 1: a few users; also starts KubeSpawner's shared reflectors.
    await ask("turn", "warm")
    warm = [make_spawner(kind, f"warm{i:03d}", i) for i in range(WARM_USERS)]
    warm_times: dict[str, float] = {}
    await asyncio.gather(*(_timed_start(sp, warm_times, {}) for sp in warm))
    watches_10 = await ask("watches")
    await asyncio.gather(*(_stop(sp) for sp in warm if sp.user.name in warm_times))
    await ask("turn done", "warm")

    # Stage 2: the timed, counted, concurrent starts.
    spawners = [make_spawner(kind, f"user{i:03d}", 1000 + i) for i in range(users)]
    await ask("turn", "burst")
    await ask("reset")
    mark = len(REQUESTS)
    burst = await _measured(ask, spawners, profile if profile_stage == "burst" else None)
    counters = await ask("counters")
    watches_100 = await ask("watches")
    timed_requests = REQUESTS[mark:]
    times = burst["times"]
    t1 = time.perf_counter()
    await asyncio.gather(*(_stop(sp) for sp in spawners if sp.user.name in times))
    stop_wall = time.perf_counter() - t1
    watches_after = await ask("watches")
    await ask("turn done", "burst")

    # Stage 3: the same users start again, as every morning: their namespaces and
    # objects exist (timed and counted).
    again = [sp for sp in spawners if sp.user.name in times]
    for sp in again:
        STEPS.pop(sp.user.name, None)
    await ask("turn", "again")
    await ask("reset")
    restart = await _measured(ask, again, profile if profile_stage == "again" else None)
    restart_counters = await ask("counters")
    await asyncio.gather(*(_stop(sp) for sp in again if sp.user.name in restart["times"]))
    await ask("turn done", "again")

    # Polling: one spawn reading the same thing (object or list) more than once.
    keyed = [(u, m, *_request_key(url)) for u, m, url in timed_requests]
    reads = Counter(
        (user, path, query)
        for user, method, path, query in keyed
        if user is not None and method == "GET" and "watch=" not in query
    )
    polled = {f"{u}: GET {p}{'?' + q if q else ''} x{n}": n for (u, p, q), n in reads.items()}
    polled = {k: n for k, n in polled.items() if n > 1}
    return {
        "kind": kind,
        **{k: v for k, v in burst.items() if k != "times"},
        "times": list(times.values()),
        "warm_times": list(warm_times.values()),
        "stop_wall": stop_wall,
        "counters": counters,
        "watches_10": watches_10,
        "watches_100": watches_100,
        "watches_after": watches_after,
        "polled": polled,
        # what the polling check sees: the requests attributed to a spawn
        "spawn_requests": sum(1 for user, _, _ in timed_requests if user is not None),
        "restart": {**restart, "times": list(restart["times"].values())},
        "restart_counters": restart_counters,
    }


async def _measured(
    ask: Callable[..., Awaitable[Any]], spawners: list[Any], profile: tuple[str, str] | None
) -> dict[str, Any]:
    """Start ``spawners`` concurrently, each timed from its own ``start()`` call, and
    measure the stage: wall time, the hub's and kubesim's CPU, kubesim's writes, the
    hub's garbage collections and the objects the stage left it holding, the median step
    times; ``profile``d if asked."""
    times: dict[str, float] = {}
    errors: dict[str, str] = {}
    # Each stage starts with no garbage-collection debt. A full collection (some 300 ms of
    # a hub's ~300k objects) comes once 25% more objects than the last one left have
    # survived: whether that falls inside a burst of 100 starts depended on what the hub
    # did before (warm-up, imports), not on the spawner; both phases keep far fewer than
    # that per burst ("objects kept" in the report).
    gc.collect()
    objects0 = len(gc.get_objects())
    prof = Profiler(*profile) if profile else None
    if prof:  # (after the collection: it is not the spawners' work)
        await ask("profile", True)
        prof.start()
    sim_cpu0, rv0 = await ask("cpu"), await ask("rv")
    cpu0, t0 = time.process_time(), time.perf_counter()
    with _GcTimes() as hub_gc:
        await asyncio.gather(*(_timed_start(sp, times, errors) for sp in spawners))
    wall, hub_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    sim_cpu, writes = await ask("cpu") - sim_cpu0, await ask("rv") - rv0
    if prof:
        prof.stop()
        await ask("profile", False)
    gc.collect()  # (after the profile: a full collection is not the spawners' work)
    return {
        "times": times,
        "errors": errors,
        "wall": wall,
        "hub_cpu": hub_cpu,
        "sim_cpu": sim_cpu,
        "writes": writes,
        "hub_gc": hub_gc.summary(),
        "kept": len(gc.get_objects()) - objects0,
        "steps": _median_steps([STEPS.get(sp.user.name, {}) for sp in spawners]),
    }


class Profiler:
    """Profiles the timed stage of a phase into ``path``: cProfile (``.prof``, exact call
    counts, but it slows Python-heavy code several times over and so shifts the balance),
    or py-spy (``.txt``, folded stacks; samples another process without slowing it down;
    ``pip install py-spy``). Either may run in a thread other than the profiled one:
    cProfile is then enabled through ``call`` in the profiled thread."""

    def __init__(self, kind: str, path: str, call: Any = None) -> None:
        self.kind, self.path, self._call = kind, path, call or (lambda fn: fn())
        self._cprofile = cProfile.Profile() if kind == "cprofile" else None
        self._spy: subprocess.Popen | None = None

    def start(self) -> None:
        if self._cprofile:
            self._call(self._cprofile.enable)
            return
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._spy = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(os.getpid()),
                "--nonblocking",
                "--rate",
                "500",
                "--format",
                "raw",
                "--output",
                self.path,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let it attach before the stage starts

    def stop(self) -> None:
        if self._cprofile:
            self._call(self._cprofile.disable)
            self._cprofile.dump_stats(self.path)
        elif self._spy:
            self._spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            self._spy.wait(60)


class _GcTimes:
    """The hub process's garbage collections while in the block: count and time per
    generation (a full collection of a hub's heap takes a noticeable part of a burst)."""

    def __enter__(self) -> _GcTimes:
        self.times: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._t0 = 0.0
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.times[info["generation"]].append(time.perf_counter() - self._t0)

    def summary(self) -> dict[int, tuple[int, float]]:
        return {g: (len(t), sum(t)) for g, t in self.times.items()}


STEP_ORDER = ("start", "provisioned", "pod created", "running", "ready")


def _median_steps(per_user: list[dict[str, float]]) -> dict[str, float]:
    """Median time of each step since the previous one, over the users that completed."""
    done = [u for u in per_user if all(k in u for k in STEP_ORDER)]
    return {
        f"{a} -> {b}": statistics.median(u[b] - u[a] for u in done) if done else float("nan")
        for a, b in itertools.pairwise(STEP_ORDER)
    }


def hub_process(
    conn: Any,
    kubeconfig: str,
    kind: str,
    users: int,
    profile: tuple[str, str] | None,
    profile_stage: str = "burst",
) -> None:
    # kubernetes_asyncio reads $KUBECONFIG when it is imported: set it first.
    os.environ["KUBECONFIG"] = kubeconfig
    _record_requests()
    try:
        result = asyncio.run(hub_side(conn, kind, users, profile, profile_stage))
        conn.send(("done", result))
    except BaseException as e:  # report, don't hang the parent
        import traceback

        conn.send(("error", "".join(traceback.format_exception(e))))
    finally:
        conn.close()
