"""Watch semantics through real clients: resume from a resourceVersion, 410 Gone after
compaction, bookmarks, timeouts, label-selector transitions, namespace scoping.

Informers and kubespawner's reflector depend on exactly these behaviours, so they are
checked through ``kubernetes_asyncio`` (and once through the sync client) rather than
against the store directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch
from kubernetes_asyncio.client.exceptions import ApiException


@contextlib.asynccontextmanager
async def core_api(kubesim: Any) -> AsyncIterator[aclient.CoreV1Api]:
    api_client = await aconfig.new_client_from_config(config_file=str(kubesim.kubeconfig))
    try:
        yield aclient.CoreV1Api(api_client)
    finally:
        await api_client.close()


async def collect(
    stream: awatch.Watch, n: int | None = None, timeout: float = 5.0
) -> list[tuple[str, dict]]:
    """(type, raw object) of events until ``n`` were seen or the stream ended."""
    out: list[tuple[str, dict]] = []

    async def run() -> None:
        async for ev in stream:
            out.append((ev["type"], ev["raw_object"]))
            if n is not None and len(out) >= n:
                stream.stop()
                break

    try:
        await asyncio.wait_for(run(), timeout)
    finally:
        await stream.close()
    return out


def summary(events: list[tuple[str, dict]]) -> list[tuple[str, str]]:
    return [(t, o["metadata"]["name"]) for t, o in events]


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


async def _list_rv(core: aclient.CoreV1Api, ns: str = "default") -> str:
    return (await core.list_namespaced_config_map(ns)).metadata.resource_version


@pytest.mark.asyncio
async def test_watch_from_list_rv_sees_later_events_in_order(kubesim):
    async with core_api(kubesim) as core:
        await core.create_namespaced_config_map("default", cm("before"))
        rv = await _list_rv(core)
        w = awatch.Watch()
        stream = w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
        )
        task = asyncio.ensure_future(collect(stream, 4))
        await asyncio.sleep(0.1)  # the watch is open before the writes
        created = await core.create_namespaced_config_map("default", cm("a", k="1"))
        await core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
        await core.create_namespaced_config_map("default", cm("b"))
        await core.delete_namespaced_config_map("a", "default")
        events = await task
    assert summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert events[0][1]["metadata"]["uid"] == created.metadata.uid
    assert events[1][1]["data"] == {"k": "2"}
    rvs = [int(o["metadata"]["resourceVersion"]) for _, o in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4 and rvs[0] > int(rv)
    # The watch's resumption point is the last event's resourceVersion.
    assert w.resource_version == events[-1][1]["metadata"]["resourceVersion"]


@pytest.mark.asyncio
async def test_watch_without_rv_starts_with_current_state(kubesim):
    async with core_api(kubesim) as core:
        await core.create_namespaced_config_map("default", cm("x"))
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", timeout_seconds=5
        )
        events = await collect(stream, 2)
    assert sorted(summary(events)) == [("ADDED", "kube-root-ca.crt"), ("ADDED", "x")]


@pytest.mark.asyncio
async def test_resume_from_intermediate_rv_replays_only_later_events(kubesim):
    async with core_api(kubesim) as core:
        await core.create_namespaced_config_map("default", cm("one"))
        mid = (await core.create_namespaced_config_map("default", cm("two"))).metadata
        await core.patch_namespaced_config_map("one", "default", {"data": {"v": "x"}})
        await core.delete_namespaced_config_map("two", "default")
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=mid.resource_version,
            timeout_seconds=5,
        )
        # Replayed in order, so an event from before ``mid`` would come first.
        events = await collect(stream, 2)
    assert summary(events) == [("MODIFIED", "one"), ("DELETED", "two")]
    assert all(int(o["metadata"]["resourceVersion"]) > int(mid.resource_version) for _, o in events)


@pytest.mark.asyncio
async def test_too_old_rv_is_410_expired(kubesim):
    async with core_api(kubesim) as core:
        old = await _list_rv(core)
        await core.create_namespaced_config_map("default", cm("a"))
        kubesim.call(kubesim.store.compact)
        now = await _list_rv(core)
        # On the wire: HTTP 200 and one ERROR event whose object is a 410 Status.
        url = f"{kubesim.url}/api/v1/namespaces/default/configmaps"
        headers = {"Authorization": f"Bearer {kubesim.auth.admin_token}"}
        params = {"watch": "true", "resourceVersion": old, "timeoutSeconds": "5"}
        async with aiohttp.ClientSession() as s, s.get(url, headers=headers, params=params) as resp:
            assert resp.status == 200
            lines = (await asyncio.wait_for(resp.read(), 5)).splitlines()
        assert len(lines) == 1
        ev = json.loads(lines[0])
        assert ev["type"] == "ERROR"
        assert ev["object"] == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"too old resource version: {old} ({now})",
            "reason": "Expired",
            "code": 410,
        }
        # kubernetes_asyncio turns the ERROR event into an ApiException 410.
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=5
        )
        with pytest.raises(ApiException) as e:
            await collect(stream)
        assert e.value.status == 410
        assert "Expired: too old resource version" in e.value.reason
        # The current resourceVersion is still a valid starting point.
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=now, timeout_seconds=5
        )
        task = asyncio.ensure_future(collect(stream, 1))
        await asyncio.sleep(0.1)
        await core.create_namespaced_config_map("default", cm("b"))
        assert summary(await task) == [("ADDED", "b")]


@pytest.mark.asyncio
async def test_compaction_after_more_writes_still_410(kubesim):
    """History trimmed by later writes (not only emptied) also expires older versions."""
    async with core_api(kubesim) as core:
        old = await _list_rv(core)
        await core.create_namespaced_config_map("default", cm("a"))
        kubesim.call(kubesim.store.compact)
        await core.create_namespaced_config_map("default", cm("b"))
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=5
        )
        with pytest.raises(ApiException) as e:
            await collect(stream)
        assert e.value.status == 410


@pytest.mark.asyncio
async def test_bookmarks_carry_resource_version(kubesim):
    kubesim.bookmark_interval = 0.1
    async with core_api(kubesim) as core:
        rv = await _list_rv(core)
        w = awatch.Watch()
        stream = w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=5,
        )
        task = asyncio.ensure_future(collect(stream, 3))
        await asyncio.sleep(0.05)
        await core.create_namespaced_secret("default", {"metadata": {"name": "other-type"}})
        events = await task
        current = await _list_rv(core)
    assert [t for t, _ in events] == ["BOOKMARK"] * 3
    for _, obj in events:
        assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1"
        assert int(obj["metadata"]["resourceVersion"]) >= int(rv)
    # A bookmark advances past writes to other types, so a resumed watch skips them.
    assert events[-1][1]["metadata"]["resourceVersion"] == current
    assert w.resource_version == current


@pytest.mark.asyncio
async def test_no_bookmarks_unless_asked(kubesim):
    kubesim.bookmark_interval = 0.05
    async with core_api(kubesim) as core:
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=await _list_rv(core),
            timeout_seconds=1,
        )
        assert await collect(stream) == []


@pytest.mark.asyncio
async def test_timeout_seconds_ends_stream(kubesim):
    async with core_api(kubesim) as core:
        rv = await _list_rv(core)
        t0 = time.monotonic()
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
        )
        events = await collect(stream, timeout=10)
        elapsed = time.monotonic() - t0
    assert events == []
    assert 0.9 <= elapsed < 5
    assert kubesim.call(kubesim.store.watcher_count) == 0


@pytest.mark.asyncio
async def test_label_selector_transitions(kubesim):
    async with core_api(kubesim) as core:
        rv = await _list_rv(core)
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            label_selector="app=web",
            resource_version=rv,
            timeout_seconds=5,
        )
        task = asyncio.ensure_future(collect(stream, 5))
        await asyncio.sleep(0.1)
        await core.create_namespaced_config_map("default", cm("c", {"app": "db"}))
        await core.create_namespaced_config_map("default", cm("ignored", {"app": "db"}))
        # starts matching: ADDED
        await core.patch_namespaced_config_map(
            "c", "default", {"metadata": {"labels": {"app": "web"}}}
        )
        # still matching: MODIFIED
        await core.patch_namespaced_config_map("c", "default", {"data": {"k": "v"}})
        # stops matching: DELETED (the object is not deleted)
        await core.patch_namespaced_config_map(
            "c", "default", {"metadata": {"labels": {"app": "db"}}}
        )
        await core.patch_namespaced_config_map("ignored", "default", {"data": {"k": "v"}})
        await core.create_namespaced_config_map("default", cm("d", {"app": "web"}))
        await core.delete_namespaced_config_map("d", "default")
        events = await task
        assert (await core.read_namespaced_config_map("c", "default")).metadata.name == "c"
    assert summary(events) == [
        ("ADDED", "c"),
        ("MODIFIED", "c"),
        ("DELETED", "c"),
        ("ADDED", "d"),
        ("DELETED", "d"),
    ]
    assert events[0][1]["metadata"]["labels"] == {"app": "web"}
    # The DELETED event carries the object as it is now (labels no longer matching).
    assert events[2][1]["metadata"]["labels"] == {"app": "db"}


@pytest.mark.asyncio
async def test_label_selector_initial_state(kubesim):
    async with core_api(kubesim) as core:
        await core.create_namespaced_config_map("default", cm("w", {"app": "web"}))
        await core.create_namespaced_config_map("default", cm("d", {"app": "db"}))
        stream = awatch.Watch().stream(
            core.list_namespaced_config_map, "default", label_selector="app=web", timeout_seconds=5
        )
        # The initial state comes sorted by name, so "d" would come before "w".
        assert summary(await collect(stream, 1)) == [("ADDED", "w")]


@pytest.mark.asyncio
async def test_all_namespaces_vs_one_namespace(kubesim):
    async with core_api(kubesim) as core:
        for ns in ("ns-a", "ns-b"):
            await core.create_namespace({"metadata": {"name": ns}})
        rv = await _list_rv(core)
        mine = {"team": "t"}
        every = awatch.Watch().stream(
            core.list_config_map_for_all_namespaces,
            label_selector="team=t",
            resource_version=rv,
            timeout_seconds=5,
        )
        only_a = awatch.Watch().stream(
            core.list_namespaced_config_map,
            "ns-a",
            label_selector="team=t",
            resource_version=rv,
            timeout_seconds=5,
        )
        t_every = asyncio.ensure_future(collect(every, 3))
        t_a = asyncio.ensure_future(collect(only_a, 2))
        await asyncio.sleep(0.1)
        await core.create_namespaced_config_map("ns-a", cm("one", mine))
        await core.create_namespaced_config_map("ns-b", cm("two", mine))
        await core.delete_namespaced_config_map("one", "ns-a")
        ev_every, ev_a = await t_every, await t_a
    assert [(t, o["metadata"]["namespace"], o["metadata"]["name"]) for t, o in ev_every] == [
        ("ADDED", "ns-a", "one"),
        ("ADDED", "ns-b", "two"),
        ("DELETED", "ns-a", "one"),
    ]
    assert summary(ev_a) == [("ADDED", "one"), ("DELETED", "one")]
    assert {o["metadata"]["namespace"] for _, o in ev_a} == {"ns-a"}


@pytest.mark.asyncio
async def test_pod_watch_sees_scheduler_and_kubelet(kubesim):
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    async with core_api(kubesim) as core:
        rv = (await core.list_namespaced_pod("default")).metadata.resource_version
        stream = awatch.Watch().stream(
            core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=5
        )
        seen: list[tuple[str, str | None, str | None]] = []

        async def until_running() -> None:
            async for ev in stream:
                o = ev["raw_object"]
                status = o.get("status") or {}
                seen.append((ev["type"], o["spec"].get("nodeName"), status.get("phase")))
                if status.get("phase") == "Running":
                    stream.stop()
                    break

        task = asyncio.ensure_future(asyncio.wait_for(until_running(), 5))
        await asyncio.sleep(0.1)
        await core.create_namespaced_pod("default", pod)
        await task
        await stream.close()
    assert seen[0] == ("ADDED", None, "Pending")
    assert all(t == "MODIFIED" for t, _, _ in seen[1:])
    assert seen[-1][1] and seen[-1][1].startswith("kubesim-node-")


def test_sync_client_watch(kubesim):
    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(str(kubesim.kubeconfig))
    core = client.CoreV1Api(api_client)
    try:
        rv = core.list_namespaced_config_map("default").metadata.resource_version
        core.create_namespaced_config_map("default", cm("s1"))
        core.patch_namespaced_config_map("s1", "default", {"data": {"a": "b"}})

        def later() -> None:
            time.sleep(0.2)
            core.delete_namespaced_config_map("s1", "default")

        writer = threading.Thread(target=later)
        writer.start()
        w = watch.Watch()
        seen = []
        for ev in w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
        ):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 3:
                w.stop()
        writer.join()
        assert seen == [("ADDED", "s1"), ("MODIFIED", "s1"), ("DELETED", "s1")]
    finally:
        api_client.close()
