"""TeamSpawner on a flaky API server: kubesim answers 5% of requests with 500/503/429 and
adds latency. Every start either succeeds or fails with a message naming what failed;
transient errors are retried (boundedly); a failed start leaves no credentials behind,
whether or not JupyterHub then calls stop(); stop itself retries; and after stopping
everything, what remains of each user is their namespace's scaffolding and their data.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from jupyterhub.objects import Hub
from kubernetes import client
from kubespawner import KubeSpawner
from teamhub_spawner import provision
from teamhub_spawner.spawner import TeamSpawner
from tornado import web
from traitlets.config import Config

from kubesim.faults import Faults
from kubesim.sim import KubeSim
from tests.hub.teams_fixtures import BASE
from tests.spawner.spawner_support import HUB_NS, FakeUser, core_api, spawner_kubesim

SPAWNS = 50
# KubeSpawner's reflectors are shared per class and live on the loop that started them:
# one loop for the module, as in the hub.
pytestmark = pytest.mark.asyncio(loop_scope="module")

#: What a clear failure message looks like: the operation and the object, e.g.
#: "creating Secret teamhub-f07/teamhub-credentials: 503 ... (gave up after 6 attempts)".
NAMES_WHAT_FAILED = re.compile(
    r"(creating|reading|updating|listing|deleting|patching) (the notebook pod|[A-Z]\w+) \S+"
    r"|pod \S+ did not start in \d+ seconds"
)
#: Kinds allowed to outlive a stop: data, and the namespace with its scaffolding (identity,
#: network policy, quota), which running jobs keep using; never a Secret or a pod.
MAY_STAY = {
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Namespace",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    with spawner_kubesim(
        tmp_path_factory.mktemp("faults"), {"KEY": "AKIA", "SECRET": "s3cr3t"}
    ) as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def reflectors(sim: KubeSim) -> AsyncIterator[None]:
    """KubeSpawner's reflectors, started before any fault: KubeSpawner halts the hub when
    their first list fails (that is its start-up, not a spawn), and they are shared by
    every spawner of the class. Stopped afterwards, so no other module finds them."""
    sp = make_spawner(FakeUser("warmup", []))
    await sp._start_watching_pods()
    await sp._start_watching_events()
    await sp._start_watching_claims()
    yield
    await KubeSpawner._stop_all_reflectors()


@pytest.fixture
def core(sim: KubeSim) -> client.CoreV1Api:
    return core_api(sim)


@pytest.fixture
def flaky(sim: KubeSim, reflectors: None) -> Iterator[Faults]:
    """kubesim failing 5% of all requests (500, 503, 429 mixed) with 20 ms latency."""
    sim.faults = faults = Faults(seed=20240611)
    faults.latency = 0.02
    faults.add_error(500, 0.02)
    faults.add_error(503, 0.015)
    faults.add_error(429, 0.015)
    yield faults
    faults.clear()


@pytest.fixture
def quiet(sim: KubeSim, reflectors: None) -> Iterator[Faults]:
    """kubesim without faults, for the deterministic cases (each adds its own rule)."""
    sim.faults = faults = Faults()
    yield faults
    faults.clear()


def make_spawner(user: FakeUser) -> TeamSpawner:
    cfg = copy.deepcopy(BASE)
    cfg["teams"]["vision"]["credentials"] = [
        {"name": "s3", "secretName": "vision-s3", "keys": ["KEY", "SECRET"]}
    ]
    c = Config()
    c.TeamRegistry.teams = cfg
    c.TeamSpawner.hub_namespace = HUB_NS
    c.TeamSpawner.image = "quay.io/jupyter/minimal-notebook:2025-01-01"
    c.TeamSpawner.cmd = ["jupyterhub-singleuser"]
    c.TeamSpawner.start_timeout = 60  # generous: a loaded CI machine, and 5% of calls retried
    sp = TeamSpawner(hub=Hub(), user=user, config=c)
    sp.api_token = f"hub-token-for-{user.name}"
    sp.user_options = {}
    return sp


async def hub_spawn(sp: TeamSpawner, stop_after_failure: bool) -> BaseException | None:
    """Start as JupyterHub's ``User.spawn`` does; on failure, optionally do what its
    ``User.stop`` does next: ``stop()`` only if ``poll()`` says the server is running."""
    try:
        await asyncio.wait_for(sp.start(), sp.start_timeout)
        return None
    except Exception as e:
        if stop_after_failure and await sp.poll() is None:
            await sp.stop()
        return e


def message(e: BaseException) -> str:
    return e.log_message if isinstance(e, web.HTTPError) else str(e)


def teamhub_leftovers(sim: KubeSim, namespaces: set[str]) -> dict[str, list[str]]:
    """Every object in ``namespaces`` (and every teamhub PV/namespace for them), by kind."""
    found: dict[str, list[str]] = {}

    def collect() -> None:
        for rt in sim.registry.types.values():
            if rt.virtual or rt.plural in ("events", "configmaps"):
                continue  # events, and kube-root-ca.crt (every namespace has one)
            for obj in sim.store.iter(rt):
                m = obj["metadata"]
                ns = m.get("namespace") or ""
                mine = ns in namespaces or (
                    not ns
                    and m.get("labels", {}).get("app.kubernetes.io/managed-by") == "teamhub"
                    and (
                        m["name"] in namespaces
                        or m.get("labels", {}).get("teamhub.io/namespace") in namespaces
                    )
                )
                if mine and not (rt.plural == "serviceaccounts" and m["name"] == "default"):
                    found.setdefault(rt.kind, []).append(f"{ns}/{m['name']}")

    sim.call(collect)
    return found


async def test_fifty_spawns_on_a_flaky_api_succeed_or_say_what_failed(sim, flaky, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger=provision.__name__)
    users = [FakeUser(f"f{i:02d}", ["vision"] if i % 3 else ["nlp"]) for i in range(SPAWNS)]
    spawners = [make_spawner(u) for u in users]
    # Half the failures are followed by JupyterHub's poll-then-stop, half by nothing at
    # all (a caller that only awaited start()): neither may leave credentials behind.
    outcomes = await asyncio.gather(
        *(hub_spawn(sp, stop_after_failure=i % 2 == 0) for i, sp in enumerate(spawners))
    )
    failed = {sp.user.name: e for sp, e in zip(spawners, outcomes, strict=True) if e is not None}
    for name, e in failed.items():
        assert NAMES_WHAT_FAILED.search(message(e)), f"{name}: unclear failure: {message(e)!r}"
    # Retries make a 5% error rate survivable: only requests teamhub does not own (the pod
    # create, which KubeSpawner does not retry) can still fail a start.
    assert len(failed) <= SPAWNS // 5, {n: message(e) for n, e in failed.items()}
    retried = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retried) >= 10  # the faults were there, and teamhub rode them out

    running = [sp for sp in spawners if sp.user.name not in failed]
    await asyncio.gather(*(sp.stop() for sp in running))  # with faults: stop retries

    flaky.clear()
    namespaces = {sp.namespace for sp in spawners}
    left = teamhub_leftovers(sim, namespaces)
    assert "Pod" not in left, left["Pod"]
    assert "Secret" not in left, left["Secret"]
    assert set(left) <= MAY_STAY, {k: v for k, v in left.items() if k not in MAY_STAY}
    # Data stays for every user who got a namespace: their home at least.
    homes = {ref.split("/")[0] for ref in left.get("PersistentVolumeClaim", []) if "/home" in ref}
    started = {sp.namespace for sp in running}
    assert started <= homes


async def test_a_failed_pod_create_names_the_pod_and_leaves_no_credentials(
    sim, quiet, core
) -> None:
    quiet.add_error(500, 1.0, verbs={"create"}, resources={"pods"})
    sp = make_spawner(FakeUser("podfail", ["vision"]))
    with pytest.raises(web.HTTPError) as e:
        await sp.start()
    assert e.value.status_code == 500
    assert (
        "creating the notebook pod teamhub-podfail/jupyter-podfail: 500 kubesim injected fault"
        in e.value.log_message
    )
    # JupyterHub would not call stop(): there is no pod for poll() to find.
    assert await sp.poll() is not None
    ns = "teamhub-podfail"
    assert core.list_namespaced_secret(ns).items == []
    assert core.list_namespaced_pod(ns).items == []
    # The data volumes were made and stay.
    pvcs = {p.metadata.name for p in core.list_namespaced_persistent_volume_claim(ns).items}
    assert "home" in pvcs
    # A caller that stops anyway finds nothing left to do, and no error.
    await sp.stop()
    assert core.list_namespaced_secret(ns).items == []


async def test_a_start_cancelled_at_its_timeout_leaves_no_credentials(sim, quiet, core) -> None:
    """JupyterHub cancels start() at ``start_timeout`` (asyncio.wait_for); here the pod
    can never be scheduled, so the cancellation comes while KubeSpawner waits for it."""
    sp = make_spawner(FakeUser("stuck", ["vision"]))
    sp.node_selector = {"teamhub.io/no-such-node": "true"}
    sim.counters.reset()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sp.start(), 3)
    ns = "teamhub-stuck"
    assert sim.counters.total("create", "pods", ns) == 1  # it got as far as the pod
    assert core.list_namespaced_secret(ns).items == []
    assert core.list_namespaced_pod(ns).items == []


async def test_persistent_errors_give_up_after_bounded_retries_naming_the_object(
    sim, quiet, core
) -> None:
    quiet.add_error(503, 1.0, verbs={"create"}, resources={"secrets"})
    sim.counters.reset()
    sp = make_spawner(FakeUser("nosecret", ["vision"]))
    with pytest.raises(web.HTTPError) as e:
        await sp.start()
    assert (
        "creating Secret teamhub-nosecret/teamhub-credentials: 503 kubesim injected fault "
        f"(503) (gave up after {provision.DEFAULT_RETRY.attempts} attempts)"
    ) in e.value.log_message
    assert sim.counters.total("create", "secrets") == provision.DEFAULT_RETRY.attempts
    assert sim.counters.total("create", "pods") == 0
    assert core.list_namespaced_secret("teamhub-nosecret").items == []


async def test_429_is_retried_after_its_retry_after(sim, quiet, monkeypatch) -> None:
    quiet.add_error(429, 1.0, verbs={"get"}, resources={"secrets"})
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(provision.asyncio, "sleep", sleep)
    policy = provision.RetryPolicy(attempts=3)
    with pytest.raises(provision.ProvisionError, match=r"reading Secret hub/vision-s3: 429 "):
        what = "reading Secret hub/vision-s3"
        await provision.call("Secret", "read", HUB_NS, "vision-s3", what=what, policy=policy)
    assert slept == [1.0, 1.0]  # kubesim's Retry-After, not the (shorter) backoff


async def test_a_transient_error_is_retried_until_it_passes(sim, quiet) -> None:
    quiet.add_error(500, 1.0, verbs={"get"}, resources={"secrets"})
    sim.counters.reset()

    class HealsOnBackoff(provision.RetryPolicy):
        def backoff(self, attempt: int) -> float:
            quiet.clear()  # the API server recovers while we wait
            return 0.0

    got = await provision.call(
        "Secret", "read", HUB_NS, "vision-s3", what="reading", policy=HealsOnBackoff()
    )
    assert got["metadata"]["name"] == "vision-s3"
    assert sim.counters.total("get", "secrets", HUB_NS) == 2


async def test_admin_secret_reads_are_shared_briefly_then_forgotten(sim, quiet, core) -> None:
    """Starts that begin together read an admin's team Secret once; once the sharing
    window is over the hub holds no copy of it, and the next start reads it again."""
    core.create_namespaced_secret(
        HUB_NS, {"metadata": {"name": "team-shared"}, "stringData": {"KEY": "value"}}
    )
    sim.counters.reset()

    async def read() -> dict | None:
        return await provision.read_shared("Secret", HUB_NS, "team-shared", ttl=0.3)

    got = await asyncio.gather(*(read() for _ in range(5)))
    assert all(g is got[0] for g in got) and got[0]["metadata"]["name"] == "team-shared"
    assert (await read()) is got[0]  # still within the window
    assert sim.counters.total("get", "secrets", HUB_NS) == 1
    await asyncio.sleep(0.4)
    held = provision._shared.get(asyncio.get_running_loop(), {})
    assert ("Secret", HUB_NS, "team-shared") not in held
    assert (await read()) is not got[0]
    assert sim.counters.total("get", "secrets", HUB_NS) == 2


async def test_stop_retries_and_removes_pod_and_credentials(sim, quiet, core, monkeypatch):
    sp = make_spawner(FakeUser("stopper", ["vision"]))
    await sp.start()
    ns = "teamhub-stopper"
    assert [p.metadata.name for p in core.list_namespaced_pod(ns).items] == ["jupyter-stopper"]
    quiet.add_error(503, 1.0, verbs={"delete"})

    class HealsOnBackoff(provision.RetryPolicy):
        def backoff(self, attempt: int) -> float:
            quiet.clear()
            return 0.0

    monkeypatch.setattr(provision, "DEFAULT_RETRY", HealsOnBackoff())
    sim.counters.reset()
    await sp.stop()
    assert sim.counters.total("delete", "pods", ns) == 2  # refused once, then done
    assert core.list_namespaced_pod(ns).items == []
    assert core.list_namespaced_secret(ns).items == []
