"""teamhub's additions to KubeSpawner's reflectors (spawner/teamhub_spawner/reflectors.py),
without a watch: what a change wakes, and the per-pod index of events. A whole start
against kubesim is in test_team_spawner.py."""

from __future__ import annotations

import asyncio

import pytest
from teamhub_spawner import reflectors

from tests.spawner.spawner_support import without_watch


def event(uid: str, pod: str, at: str | None = None, *, micro: str | None = None) -> dict:
    return {
        "metadata": {"uid": uid, "name": f"{pod}.{uid}"},
        "involvedObject": {"kind": "Pod", "name": pod},
        "lastTimestamp": at,
        "eventTime": micro,
    }


def test_a_pods_events_come_from_its_own_in_the_reflectors_order() -> None:
    r = without_watch(
        reflectors.TeamEventReflector,
        {
            "ns/b": event("b", "jupyter-ann", "2026-01-01T00:00:02Z"),
            "ns/a": event("a", "jupyter-ann", "2026-01-01T00:00:01Z"),
            "ns/x": event("x", "jupyter-bob", "2026-01-01T00:00:00Z"),
        },
    )
    r.resources["ns/c"] = event("c", "jupyter-ann", micro="2026-01-01T00:00:03.000001Z")
    assert [e["metadata"]["uid"] for e in r.events_of("jupyter-ann")] == ["a", "b", "c"]
    # The same as KubeSpawner's scan of every event, filtered by the pod's name.
    every = [e for e in r.events if e["involvedObject"]["name"] == "jupyter-ann"]
    assert r.events_of("jupyter-ann") == every
    assert [e["metadata"]["uid"] for e in r.events_of("jupyter-bob")] == ["x"]
    assert r.events_of("jupyter-nobody") == []


def test_the_index_follows_updates_and_deletions() -> None:
    r = without_watch(
        reflectors.TeamEventReflector, {"ns/a": event("a", "jupyter-ann", "2026-01-01T00:00:01Z")}
    )
    r.resources["ns/a"] = event("a", "jupyter-ann", "2026-01-01T00:00:09Z")  # count += 1
    assert [e["lastTimestamp"] for e in r.events_of("jupyter-ann")] == ["2026-01-01T00:00:09Z"]
    assert r.resources.pop("ns/a")["metadata"]["uid"] == "a"
    assert r.events_of("jupyter-ann") == []
    assert r._by_object == {}  # nothing kept for a pod without events
    assert r.resources.pop("ns/gone", None) is None  # as dict.pop: no change, no error
    with pytest.raises(KeyError):
        r.resources.pop("ns/gone")


@pytest.mark.asyncio
async def test_wait_until_looks_again_only_when_its_keys_change() -> None:
    r = without_watch(reflectors.WakingReflector, {})
    looks = []

    def done() -> bool:
        looks.append(dict(r.resources))
        return r.resources.get("ns/pod") == "Running"

    async def changes() -> None:
        await asyncio.sleep(0.05)
        r.resources["ns/other"] = "Running"  # not a key waited for: no look
        r.resources["ns/pod"] = "Pending"
        await asyncio.sleep(0.05)
        r.resources["ns/pod"] = "Running"

    task = asyncio.create_task(changes())
    assert await r.wait_until(["ns/pod"], done, timeout=5) is True
    await task
    assert [look.get("ns/pod") for look in looks] == [None, "Pending", "Running"]
    assert r._waiters == {}
    assert await r.wait_until(["ns/never"], lambda: False, timeout=0.05) is False
    assert r._waiters == {}
