"""teamhub's reflectors list once and then resume their watch (ResumingReflector in
spawner/teamhub_spawner/reflectors.py), against kubesim: a watch that the API server ends
is resumed without a list, and one that cannot be resumed (410 Gone, as an event or as the
answer to the watch request) lists again; a read timeout resumes, a refused watch lists
again after a back-off, bookmarks keep a quiet watch resumable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from kubespawner.clients import load_config
from kubespawner.reflector import ResourceReflector
from teamhub_spawner import claims, reflectors
from teamhub_spawner.objects import labels as L

from kubesim.sim import KubeSim
from tests.spawner.spawner_support import (
    core_api,
    spawner_kubesim,
    stop_reflectors,  # noqa: F401 (an autouse fixture)
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

NS = "resume"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    with spawner_kubesim(tmp_path_factory.mktemp("resume"), {"k": "v"}) as s:
        core_api(s).create_namespace({"metadata": {"name": NS}})
        yield s


def claim(sim: KubeSim, name: str) -> None:
    core_api(sim).create_namespaced_persistent_volume_claim(
        NS,
        {
            "metadata": {"name": name, "labels": {L.MANAGED_BY: L.MANAGED_BY_VALUE}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "",
            },
        },
    )


def requests(sim: KubeSim, verb: str) -> int:
    return sim.call(lambda: sim.counters.total(verb, "persistentvolumeclaims"))


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_watch_that_ends_is_resumed_and_one_that_cannot_be_lists_again(
    sim: KubeSim,
) -> None:
    load_config()  # as a spawner does before its reflectors start
    sim.call(sim.counters.reset)
    r = claims.ClaimReflector(
        labels={L.MANAGED_BY: L.MANAGED_BY_VALUE}, omit_namespace=True, timeout_seconds=1
    )
    await r.start()
    try:
        claim(sim, "first")
        await until(lambda: f"{NS}/first" in r.resources)
        # The API server ends each watch after a second: it is resumed, never listed again.
        await until(lambda: requests(sim, "watch") >= 3)
        claim(sim, "second")
        await until(lambda: f"{NS}/second" in r.resources)
        assert requests(sim, "list") == 1
        assert set(r.resources) == {f"{NS}/first", f"{NS}/second"}

        # Another write, then the history is compacted and the watch dropped: resuming
        # at the reflector's resourceVersion is 410 Gone, so it lists again.
        core_api(sim).create_namespaced_config_map(NS, {"metadata": {"name": "later"}})
        sim.call(sim.store.compact)
        sim.call(sim.store.drop_watches)
        await until(lambda: requests(sim, "list") == 2)
        claim(sim, "third")
        await until(lambda: f"{NS}/third" in r.resources)
        assert set(r.resources) == {f"{NS}/first", f"{NS}/second", f"{NS}/third"}
        # The new copy still wakes who waits on it (WakingReflector after a list).
        changed = r.changed([f"{NS}/first"])
        core_api(sim).delete_namespaced_persistent_volume_claim("first", NS)
        await asyncio.wait_for(changed, 10)
        assert f"{NS}/first" not in r.resources
    finally:
        await r.stop()


async def test_teamhubs_watches_last_longer_than_kubespawners() -> None:
    for cls in (reflectors.TeamPodReflector, reflectors.TeamEventReflector, claims.ClaimReflector):
        trait = cls.class_traits()["timeout_seconds"]
        assert trait.default_value == 50 > ResourceReflector.timeout_seconds.default_value
        # Below the client's limit on the whole watch request, or every watch would fail.
        assert trait.default_value < cls.class_traits()["request_timeout"].default_value


async def test_a_read_timeout_resumes_and_a_failed_watch_lists_again(sim: KubeSim) -> None:
    """The client's limit on a watch request (``request_timeout``) ending it is resumed
    like a watch the server ended; a watch request the API server refuses (a 500) is an
    error: after a back-off the reflector lists again and goes on watching."""
    load_config()
    r = claims.ClaimReflector(
        labels={L.MANAGED_BY: L.MANAGED_BY_VALUE},
        omit_namespace=True,
        timeout_seconds=50,
        request_timeout=1,
    )
    sim.call(sim.counters.reset)
    await r.start()
    try:
        await until(lambda: requests(sim, "watch") >= 3)  # each cut after a second
        assert requests(sim, "list") == 1
        claim(sim, "after-timeouts")
        await until(lambda: f"{NS}/after-timeouts" in r.resources)

        rule = sim.call(sim.faults.add_error, 500, 1.0, {"watch"}, {"persistentvolumeclaims"})
        watches = requests(sim, "watch")
        await until(lambda: requests(sim, "watch") >= watches + 2)  # refused, then again
        sim.call(sim.faults.errors.remove, rule)
        await until(lambda: requests(sim, "list") >= 2)
        claim(sim, "after-errors")
        await until(lambda: f"{NS}/after-errors" in r.resources)
        assert r.watch_task is not None and not r.watch_task.done()
    finally:
        await r.stop()
    assert r.watch_task is None  # stop() ended the loop without an error


async def test_bookmarks_keep_a_quiet_watch_resumable(sim: KubeSim) -> None:
    """Writes the reflector does not watch move the API server's resourceVersion on; its
    bookmarks carry it to the watch, so after a compaction the watch still resumes (the
    reason client-go asks for bookmarks) instead of listing again."""
    load_config()
    sim.call(setattr, sim, "bookmark_interval", 0.2)
    r = claims.ClaimReflector(labels={L.MANAGED_BY: L.MANAGED_BY_VALUE}, omit_namespace=True)
    try:
        sim.call(sim.counters.reset)
        await r.start()
        await until(lambda: requests(sim, "watch") >= 1)
        core_api(sim).create_namespaced_config_map(NS, {"metadata": {"name": "unwatched"}})
        await asyncio.sleep(1.0)  # a few bookmarks
        sim.call(sim.store.compact)
        sim.call(sim.store.drop_watches)
        await until(lambda: requests(sim, "watch") >= 2)
        claim(sim, "after-compaction")
        await until(lambda: f"{NS}/after-compaction" in r.resources)
        assert requests(sim, "list") == 1
    finally:
        sim.call(setattr, sim, "bookmark_interval", 5.0)
        await r.stop()


async def test_a_watch_refused_with_410_lists_again_at_once(
    sim: KubeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API server without a watch cache answers a watch from a compacted
    resourceVersion with HTTP 410 rather than an ERROR event: the same "list again", at
    once, not an error to back off from."""
    load_config()
    real = reflectors.restapi.session_request
    refused: list[dict] = []

    class Gone:
        status = 410

        def release(self) -> None:
            pass

    async def session_request(method: str, path: str, **kw: object) -> object:
        query = kw.get("query") or {}
        if isinstance(query, dict) and query.get("watch") and len(refused) < 1:
            refused.append(query)
            return Gone()
        return await real(method, path, **kw)

    r = claims.ClaimReflector(labels={L.MANAGED_BY: L.MANAGED_BY_VALUE}, omit_namespace=True)
    errors: list[str] = []
    monkeypatch.setattr(r.log, "exception", lambda msg, *a: errors.append(msg % a))
    monkeypatch.setattr(reflectors.restapi, "session_request", session_request)
    sim.call(sim.counters.reset)
    await r.start()
    try:
        # The start's list, the refused watch, a second list, then a watch that holds.
        await until(lambda: requests(sim, "list") == 2 and requests(sim, "watch") == 1)
        claim(sim, "after-410")
        await until(lambda: f"{NS}/after-410" in r.resources)
        assert len(refused) == 1 and errors == []
    finally:
        await r.stop()
