"""Waiting for a user's claims to bind before the pod (spawner/teamhub_spawner/claims.py):
which claims count as unbound, that the wait ends when they bind or when time is up, and
that a start's pod is then scheduled without a FailedScheduling detour."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from teamhub_spawner import claims

from kubesim.sim import KubeSim
from tests.spawner.spawner_support import (
    FakeUser,
    make_spawner,
    spawner_kubesim,
    stop_reflectors,  # noqa: F401 (an autouse fixture)
    without_watch,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def pvc(name: str, phase: str = "Pending", storage_class: str = "") -> dict:
    spec = {"storageClassName": storage_class} if storage_class else {}
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec, "status": {"phase": phase}}


async def modes(name: str) -> str:
    return {"late": "WaitForFirstConsumer"}.get(name, "Immediate")


async def test_what_counts_as_unbound() -> None:
    seen = {
        "ns/bound": pvc("bound", "Bound"),
        "ns/pending": pvc("pending", storage_class="standard"),
        "ns/static": pvc("static"),
        "ns/first-consumer": pvc("first-consumer", storage_class="late"),
        "other/bound": pvc("bound", "Bound"),
    }
    names = ["bound", "pending", "static", "first-consumer", "not-seen-yet"]
    assert await claims.unbound(seen, "ns", names, modes) == [
        "pending",
        "static",
        "not-seen-yet",
    ]


async def test_the_wait_ends_when_claims_bind_or_time_is_up() -> None:
    reflector = without_watch(claims.ClaimReflector, {"ns/a": pvc("a"), "ns/b": pvc("b", "Bound")})

    async def bind_later() -> None:
        await asyncio.sleep(0.15)
        reflector.resources["ns/other"] = pvc("other", "Bound")  # wakes nobody waiting
        reflector.resources["ns/a"] = pvc("a", "Bound")

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    binder = asyncio.create_task(bind_later())
    assert await claims.wait_bound(reflector, "ns", ["a", "b"], modes, timeout=5) == []
    assert 0.1 <= loop.time() - t0 < 2
    await binder

    t0 = loop.time()
    left = await claims.wait_bound(reflector, "ns", ["a", "never"], modes, timeout=0.2)
    assert left == ["never"]
    assert loop.time() - t0 >= 0.2
    assert reflector._waiters == {}  # a wait that ended leaves nothing registered


async def test_a_claim_bound_while_a_class_is_read_ends_the_wait() -> None:
    """The look at the claims awaits StorageClass reads: a claim bound during one (after
    it was looked at) still wakes the wait, rather than leaving it to its timeout."""
    reflector = without_watch(
        claims.ClaimReflector,
        {"ns/a": pvc("a", storage_class="slow"), "ns/b": pvc("b", "Bound", storage_class="slow")},
    )

    async def slow_modes(name: str) -> str:
        await asyncio.sleep(0.05)
        return "Immediate"

    async def bind_while_b_is_looked_at() -> None:
        await asyncio.sleep(0.075)  # a was found Pending at 0.05; b's class is read till 0.1
        reflector.resources["ns/a"] = pvc("a", "Bound", storage_class="slow")

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    binder = asyncio.create_task(bind_while_b_is_looked_at())
    assert await claims.wait_bound(reflector, "ns", ["a", "b"], slow_modes, timeout=3) == []
    assert loop.time() - t0 < 1
    await binder
    assert reflector._waiters == {}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    secret = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    with spawner_kubesim(tmp_path_factory.mktemp("claims"), secret, kueue=True) as s:
        yield s


async def test_starts_schedule_their_pods_without_unbound_claims(sim: KubeSim) -> None:
    """Ten users starting together: every pod is scheduled at its first try (no
    FailedScheduling event), and the hub holds one watch of claims for all of them."""
    users = [FakeUser(f"c{i}", ["vision"]) for i in range(10)]
    spawners = [make_spawner(u) for u in users]
    await asyncio.gather(*(sp.start() for sp in spawners))
    events = sim.call(lambda: list(sim.store.iter(sim.api.rt("", "events"))))
    failed = [e["message"] for e in events if e["reason"] == "FailedScheduling"]
    assert failed == []
    reflectors = [k for k in spawners[0].__class__.reflectors if k[0] == claims.REFLECTOR_KIND]
    assert reflectors == [(claims.REFLECTOR_KIND, None)]
    await asyncio.gather(*(sp.stop() for sp in spawners))


async def test_the_claim_watch_is_one_whatever_the_users(sim: KubeSim) -> None:
    before = sim.call(sim.store.watcher_count)
    spawners = [make_spawner(FakeUser(f"w{i}", ["vision"])) for i in range(5)]
    await asyncio.gather(*(sp.start() for sp in spawners))
    assert sim.call(sim.store.watcher_count) == before
    await asyncio.gather(*(sp.stop() for sp in spawners))


async def test_a_home_of_a_wait_for_first_consumer_class_binds_with_the_pod(sim: KubeSim) -> None:
    """A home StorageClass that binds only once a pod uses the claim (as most cloud
    default classes do): the start does not wait for that claim (it would wait for
    nothing); the scheduler gives the pod a node, the claim is provisioned for it, and
    the pod starts there, without a FailedScheduling detour."""
    from tests.spawner.spawner_support import teams_config

    sim.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "late"},
            "provisioner": "kubesim.io/hostpath",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    )
    teams = teams_config()
    teams["home"] = {**teams["home"], "storageClassName": "late"}
    sp = make_spawner(FakeUser("wren", ["vision"]), teams)
    assert sp.volume_bind_timeout == 30
    # Well within volume_bind_timeout: the start did not wait for the home claim.
    await asyncio.wait_for(sp.start(), 15)
    home = sim.lookup("persistentvolumeclaims", "teamhub-wren", "home")
    pod = sim.lookup("pods", "teamhub-wren", sp.pod_name)
    assert home["status"]["phase"] == "Bound"
    assert (
        home["metadata"]["annotations"]["volume.kubernetes.io/selected-node"]
        == (pod["spec"]["nodeName"])
    )
    events = sim.call(lambda: list(sim.store.iter(sim.api.rt("", "events"))))
    assert [e for e in events if e["reason"] == "FailedScheduling"] == []
    await sp.stop()
