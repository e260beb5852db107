"""Job logs against kubesim's instant kubelet: merging ranks, choosing replicas, tail,
since and previous, following until every pod ends, the sync iterator, archives that
outlive pods, and pending explanations. The client authenticates as the notebook's
ServiceAccount with only pods get/list/watch, pods/log and events rights.
(Process-kubelet cases — live restarts, pods created later, a 50 MB log — are in
``test_logs_follow.py``.)"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio.client.exceptions import ApiException
from teamhub.jobs import logread
from teamhub.jobs import logs as logs_module
from teamhub.jobs.logread import Batch, ReadSpec, _Splitter
from teamhub.jobs.logs import LogLine, iter_logs, replica_name, stream_log_text, stream_logs

from tests.jobs.logs_support import (
    container_state,
    core_api,
    finished,
    job_pod,
    notebook_kubeconfig,
    setup_namespace,
    wait_for,
)

NS = "team-logs"
SEL = "teamhub.io/submission=s1"
NSMETA = {"namespace": NS}


@pytest.fixture
def kubeconfig(kubesim, tmp_path: Path) -> Path:
    setup_namespace(kubesim, NS)
    return notebook_kubeconfig(kubesim, NS, tmp_path / "notebook-kubeconfig")


@pytest_asyncio.fixture
async def core(kubeconfig: Path):
    async with core_api(kubeconfig) as api:
        yield api


def ranks(sim, n_workers: int = 3, lines: int = 50, submission: str = "s1") -> list[str]:
    """A master and ``n_workers`` workers, each printing ``lines`` numbered lines."""
    names = []
    for role, idx in [("master", 0)] + [("worker", i) for i in range(n_workers)]:
        name = f"{submission}-{role}-{idx}"
        text = "".join(f"{role}{idx} line {i}\n" for i in range(lines))
        sim.apply(job_pod(name, NS, submission, role=role, index=idx, logs=text, exit_code=0))
        names.append(name)
    finished(sim, NS, *names)
    return names


async def collect(agen) -> list[LogLine]:
    return [line async for line in agen]


# ------------------------------------------------------------------ replica names
def test_replica_names_follow_one_scheme():
    def pod(labels=None, annotations=None, name="p"):
        meta = {"name": name, "labels": labels or {}, "annotations": annotations or {}}
        return {"metadata": meta}

    kf = "training.kubeflow.org/replica-"
    assert replica_name(pod({kf + "type": "worker", kf + "index": "1"})) == "worker-1"
    assert replica_name(pod({kf + "type": "Master", kf + "index": "0"})) == "master-0"
    assert replica_name(pod({kf + "type": "launcher", kf + "index": "0"})) == "launcher"
    assert replica_name(pod({kf + "type": "launcher"})) == "launcher"
    assert replica_name(pod({"batch.kubernetes.io/job-completion-index": "3"})) == "rank-3"
    ann = {"batch.kubernetes.io/job-completion-index": "2"}
    assert replica_name(pod(annotations=ann)) == "rank-2"
    assert replica_name(pod(name="lonely-pod")) == "lonely-pod"
    # Model objects, as Job.pods() may return them, work too.
    model = aclient.V1Pod(
        metadata=aclient.V1ObjectMeta(name="x", labels={kf + "type": "ps", kf + "index": "2"})
    )
    assert replica_name(model) == "ps-2"


def test_log_line_renders_prefix_container_and_timestamp():
    line = LogLine("worker-1", "p", "main", "hello")
    assert str(line) == "[worker-1] hello"
    assert str(LogLine("worker-1", "p", "main", "hello", prefix=False)) == "hello"
    ts = "2026-01-01T00:00:00.5Z"
    assert str(LogLine("rank-0", "p", "c", "x", ts, True, True)) == f"[rank-0/c] {ts} x"


# ------------------------------------------------------------------ merged / per replica
@pytest.mark.asyncio
async def test_all_ranks_merged_with_prefixes_in_time_order_no_line_lost(kubesim, core):
    ranks(kubesim, n_workers=3, lines=200)
    lines = await collect(stream_logs(core, NS, SEL, timestamps=True))
    assert len(lines) == 4 * 200
    by_replica: dict[str, list[str]] = {}
    for ln in lines:
        by_replica.setdefault(ln.replica, []).append(ln.text)
        assert str(ln) == f"[{ln.replica}] {ln.timestamp} {ln.text}"
        assert ln.container == "main" and ln.pod == f"s1-{ln.replica}"
    expected = {
        f"{r}-{i}": [f"{r}{i} line {n}" for n in range(200)]
        for r, i in [("master", 0), ("worker", 0), ("worker", 1), ("worker", 2)]
    }
    assert by_replica == expected  # every line, each rank in its own order
    stamps = [datetime.fromisoformat(ln.timestamp.replace("Z", "+00:00")) for ln in lines]
    assert stamps == sorted(stamps)  # ranks interleaved by the kubelet's clock


@pytest.mark.asyncio
async def test_without_prefix_or_timestamps_str_is_the_text(kubesim, core):
    ranks(kubesim, n_workers=1, lines=3)
    lines = await collect(stream_logs(core, NS, SEL, prefix=False))
    assert sorted(map(str, lines)) == sorted(
        [f"master0 line {i}" for i in range(3)] + [f"worker0 line {i}" for i in range(3)]
    )
    assert all(ln.timestamp is None for ln in lines)


@pytest.mark.asyncio
async def test_one_replica_a_role_or_a_list(kubesim, core):
    ranks(kubesim, n_workers=3, lines=5)
    one = await collect(stream_logs(core, NS, SEL, replica="worker-1"))
    assert [str(ln) for ln in one] == [f"[worker-1] worker1 line {i}" for i in range(5)]
    workers = await collect(stream_logs(core, NS, SEL, replica="worker"))
    assert {ln.replica for ln in workers} == {"worker-0", "worker-1", "worker-2"}
    assert len(workers) == 15
    some = await collect(
        stream_logs(core, NS, {"teamhub.io/submission": "s1"}, replica=["master-0", "worker-2"])
    )
    assert {ln.replica for ln in some} == {"master-0", "worker-2"}
    with pytest.raises(LookupError, match=r"replicas: master-0, worker-0, worker-1, worker-2"):
        await collect(stream_logs(core, NS, SEL, replica="worker-9"))


@pytest.mark.asyncio
async def test_indexed_job_ranks_and_multi_container_prefixes(kubesim, core):
    for i in range(2):
        kubesim.apply(
            job_pod(f"ix-{i}", NS, "ix", completion_index=i, logs=f"hello from {i}", exit_code=0)
        )
    kubesim.apply(
        job_pod(
            "side",
            NS,
            "ix",
            completion_index=2,
            logs="both",
            exit_code=0,
            containers=["main", "sidecar"],
        )
    )
    finished(kubesim, NS, "ix-0", "ix-1", "side")
    lines = await collect(stream_logs(core, NS, "teamhub.io/submission=ix"))
    assert sorted(map(str, lines)) == [
        "[rank-0] hello from 0",
        "[rank-1] hello from 1",
        "[rank-2/main] both",
        "[rank-2/sidecar] both",
    ]
    only = await collect(stream_logs(core, NS, "teamhub.io/submission=ix", container="sidecar"))
    assert [str(ln) for ln in only] == ["[rank-2/sidecar] both"]


# ------------------------------------------------------------------ tail, since, previous
@pytest.mark.asyncio
async def test_tail_applies_per_container(kubesim, core):
    ranks(kubesim, n_workers=1, lines=10)
    lines = await collect(stream_logs(core, NS, SEL, tail=2))
    assert sorted(map(str, lines)) == [
        "[master-0] master0 line 8",
        "[master-0] master0 line 9",
        "[worker-0] worker0 line 8",
        "[worker-0] worker0 line 9",
    ]
    assert await collect(stream_logs(core, NS, SEL, tail=0)) == []


@pytest.mark.asyncio
async def test_since_seconds_and_since_a_moment(kubesim, core):
    kubesim.apply(job_pod("early", NS, "s1", completion_index=0, logs="early", exit_code=0))
    finished(kubesim, NS, "early")
    between = datetime.now(UTC)
    kubesim.apply(job_pod("late", NS, "s1", completion_index=1, logs="late", exit_code=0))
    finished(kubesim, NS, "late")
    assert [ln.text for ln in await collect(stream_logs(core, NS, SEL, since=between))] == ["late"]
    recent = await collect(stream_logs(core, NS, SEL, since=timedelta(hours=1)))
    assert [ln.text for ln in recent] == ["early", "late"]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert await collect(stream_logs(core, NS, SEL, since=future)) == []


@pytest.mark.asyncio
async def test_previous_reads_the_instance_before_a_restart(kubesim, core):
    kubesim.apply(
        job_pod(
            "crashy",
            NS,
            "s1",
            role="worker",
            index=0,
            logs="boom",
            exit_code=1,
            restart="OnFailure",
        )
    )
    kubesim.apply(job_pod("steady", NS, "s1", role="worker", index=1, logs="fine"))
    wait_for(lambda: container_state(kubesim, NS, "crashy").get("restartCount", 0) >= 1)
    wait_for(lambda: "running" in container_state(kubesim, NS, "steady").get("state", {}))
    lines = await collect(stream_logs(core, NS, SEL, previous=True, timestamps=True))
    # Only the restarted container has a previous instance; the other is skipped.
    assert [(ln.replica, ln.text) for ln in lines] == [("worker-0", "boom")]
    # (Distinct output per instance is checked with the process kubelet.)


# ------------------------------------------------------------------ follow
@pytest.mark.asyncio
async def test_follow_merges_every_rank_and_ends_when_all_pods_end(kubesim, core):
    n, count = 8, 300
    for i in range(n):
        text = "".join(f"r{i} {k}\n" for k in range(count))
        kubesim.apply(
            job_pod(f"f-{i}", NS, "s1", completion_index=i, logs=text, exit_code=0, run_seconds=0.5)
        )
    lines = await asyncio.wait_for(collect(stream_logs(core, NS, SEL, follow=True)), 60)
    got: dict[str, list[str]] = {}
    for ln in lines:
        got.setdefault(ln.replica, []).append(ln.text)
    assert got == {f"rank-{i}": [f"r{i} {k}" for k in range(count)] for i in range(n)}
    assert all(
        kubesim.lookup("pods", NS, f"f-{i}")["status"]["phase"] == "Succeeded" for i in range(n)
    )


@pytest.mark.asyncio
async def test_follow_waits_for_the_job_and_its_replacement_pods(kubesim, core):
    """A failed pod is replaced (as a Job does): with ``job_finished`` the stream waits
    for the job, not just for the pods that exist."""
    done = asyncio.Event()

    async def job_finished() -> bool:
        return done.is_set()

    kubesim.apply(job_pod("try-1", NS, "s1", completion_index=0, logs="first try", exit_code=1))
    lines: list[str] = []

    async def follow() -> None:
        async for ln in stream_logs(core, NS, SEL, follow=True, job_finished=job_finished):
            lines.append(f"{ln.pod}: {ln}")

    task = asyncio.ensure_future(follow())
    while not lines:
        await asyncio.sleep(0.02)
    finished(kubesim, NS, "try-1")
    await asyncio.sleep(0.3)
    assert not task.done()  # every pod has ended, but the job has not
    kubesim.apply(job_pod("try-2", NS, "s1", completion_index=0, logs="second try", exit_code=0))
    finished(kubesim, NS, "try-2")
    done.set()
    await asyncio.wait_for(task, 30)
    assert lines == ["try-1: [rank-0] first try", "try-2: [rank-0] second try"]


@pytest.mark.asyncio
async def test_follow_ends_with_the_job_even_if_it_leaves_pods_running(kubesim, core, monkeypatch):
    """A finished TFJob with ``cleanPodPolicy: None`` leaves its parameter server running:
    following ends with the job, once the pods that ended are drained."""
    from teamhub.jobs import logfollow

    monkeypatch.setattr(logfollow, "JOB_POLL_RUNNING_SECONDS", 0.05)
    kubesim.apply(job_pod("tf-ps-0", NS, "s1", role="ps", index=0, logs="ps up"))  # runs on
    kubesim.apply(
        job_pod(
            "tf-worker-0",
            NS,
            "s1",
            role="worker",
            index=0,
            logs="trained",
            exit_code=0,
            run_seconds=0.2,
        )
    )
    lines: list[str] = []

    async def job_finished() -> bool:  # the job succeeds with its worker
        worker = kubesim.lookup("pods", NS, "tf-worker-0")["status"]["phase"] == "Succeeded"
        return worker and "[ps-0] ps up" in lines

    async for line in stream_logs(core, NS, SEL, follow=True, job_finished=job_finished):
        lines.append(str(line))
    assert sorted(lines) == ["[ps-0] ps up", "[worker-0] trained"]
    assert kubesim.lookup("pods", NS, "tf-ps-0")["status"]["phase"] == "Running"


@pytest.mark.asyncio
async def test_follow_survives_a_dropped_watch_and_expired_history(kubesim, core):
    """The pod watch is cut and its resourceVersion compacted away (410 Gone): following
    relists and still picks up a pod created afterwards."""
    kubesim.apply(job_pod("w-a", NS, "s1", completion_index=0, logs="a"))  # runs on
    it = aiter(stream_logs(core, NS, SEL, follow=True))
    assert str(await anext(it)) == "[rank-0] a"
    kubesim.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": NS}}
    )
    kubesim.call(kubesim.store.compact)
    kubesim.call(kubesim.store.drop_watches)
    kubesim.apply(job_pod("w-b", NS, "s1", completion_index=1, logs="b", exit_code=0))
    assert str(await asyncio.wait_for(anext(it), 20)) == "[rank-1] b"
    kubesim.call(lambda: kubesim.api.delete(kubesim.api.rt("", "pods"), NS, "w-a", grace=0))
    assert [ln async for ln in it] == []  # ends: one pod finished, the other is gone
    assert kubesim.counters.total("list", "pods", NS) == 2  # the first list, and the relist


# ------------------------------------------------------------------ sync iterator
def test_iter_logs_from_sync_code_and_stopping_early(kubesim, kubeconfig):
    ranks(kubesim, n_workers=2, lines=100)
    from kubernetes_asyncio import config

    def factory():
        return config.new_client_from_config(config_file=str(kubeconfig))

    lines = list(iter_logs(NS, SEL, api_client=factory, maxsize=8))
    assert len(lines) == 300 and {ln.replica for ln in lines} == {
        "master-0",
        "worker-0",
        "worker-1",
    }

    it = iter_logs(NS, SEL, api_client=factory, maxsize=4, follow=True, replica="worker-0")
    assert next(it).replica == "worker-0"
    it.close()  # cancels the stream and joins its thread
    assert not [t for t in threading.enumerate() if t.name == "teamhub-async-iter"]
    with pytest.raises(ValueError, match="tail"):
        iter_logs(NS, SEL, api_client=factory, tail=-1)


def test_iter_logs_raises_api_errors_in_the_caller(kubeconfig):
    from kubernetes_asyncio import config

    def factory():
        return config.new_client_from_config(config_file=str(kubeconfig))

    # The notebook's ServiceAccount has no rights outside its own namespace.
    with pytest.raises(ApiException) as e:
        list(iter_logs("kube-system", SEL, api_client=factory))
    assert e.value.status == 403


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tail": -1}, "tail must be a number of lines >= 0"),
        ({"tail": "5"}, "tail must be a number of lines >= 0"),
        ({"since": -3}, "since must be a positive number of seconds"),
        ({"since": "1h"}, "since must be a positive number of seconds"),
        ({"previous": True, "follow": True}, "previous and follow cannot be combined"),
        ({"replica": []}, "replica must be a replica name"),
        ({"container": ""}, "container must be a container name"),
        ({"queue_batches": 0}, "queue_batches must be >= 1"),
    ],
)
def test_bad_options_are_named_before_any_request(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stream_logs(None, NS, SEL, **kwargs)  # checked when called: no client is touched


def test_bad_selector_or_namespace_is_named():
    with pytest.raises(ValueError, match="selector must be a non-empty label selector"):
        stream_logs(None, NS, "")
    with pytest.raises(ValueError, match="namespace must be a non-empty string"):
        stream_logs(None, "", SEL)


# ------------------------------------------------------------------ wire rendering
@pytest.mark.asyncio
async def test_text_chunks_are_exactly_the_lines_rendered(kubesim, core):
    ranks(kubesim, n_workers=2, lines=300)
    for opts in ({}, {"timestamps": True}, {"prefix": False}, {"replica": "worker-1", "tail": 7}):
        lines = await collect(stream_logs(core, NS, SEL, **opts))
        chunks = await collect(stream_log_text(core, NS, SEL, **opts))
        assert all(isinstance(c, bytes) and c.endswith(b"\n") for c in chunks)
        assert b"".join(chunks).decode() == "".join(f"{ln}\n" for ln in lines), opts


@pytest.mark.asyncio
async def test_text_chunks_when_following(kubesim, core):
    for i in range(3):
        text = "".join(f"r{i} {k}\n" for k in range(100))
        kubesim.apply(
            job_pod(f"t-{i}", NS, "s1", completion_index=i, logs=text, exit_code=0, run_seconds=0.3)
        )
    data = b"".join(await collect(stream_log_text(core, NS, SEL, follow=True, timestamps=True)))
    got = [ln.split(" ", 2) for ln in data.decode().splitlines()]
    assert sorted((p, t) for p, _, t in got) == sorted(
        (f"[rank-{i}]", f"r{i} {k}") for i in range(3) for k in range(100)
    )
    assert all(stamp.endswith("Z") for _, stamp, _ in got)


@pytest.mark.asyncio
async def test_a_runaway_line_arrives_in_bounded_pieces(kubesim, core, monkeypatch):
    # Small sizes (annotations are capped at 256 KB): lines cross chunks, one exceeds the cap.
    monkeypatch.setattr(logread, "CHUNK", 512)
    monkeypatch.setattr(logread, "MAX_LINE", 1000)
    big = "".join(chr(ord("a") + i % 26) for i in range(2500))
    text = "".join(f"line {i}\n" for i in range(100)) + big + "\nafter"
    kubesim.apply(job_pod("long", NS, "s1", completion_index=0, logs=text, exit_code=0))
    finished(kubesim, NS, "long")
    lines = await collect(stream_logs(core, NS, SEL))
    assert [ln.text for ln in lines[:100]] == [f"line {i}" for i in range(100)]
    pieces = [ln.text for ln in lines[100:-1]]
    assert len(pieces) == 3 and all(len(p) <= 1000 for p in pieces)  # at most MAX_LINE each
    assert "".join(pieces) == big and lines[-1].text == "after"
    # The bytes rendering reads the log without timestamps (a plain snapshot), so its
    # pieces are cut at other places; the same bound, the same text.
    text_lines = b"".join(await collect(stream_log_text(core, NS, SEL))).decode().splitlines()
    assert text_lines[:100] == [f"[rank-0] line {i}" for i in range(100)]
    assert text_lines[-1] == "[rank-0] after"
    pieces = [t.removeprefix("[rank-0] ") for t in text_lines[100:-1]]
    assert all(t.startswith("[rank-0] ") for t in text_lines[100:-1])
    assert "".join(pieces) == big and all(len(p) <= 1000 for p in pieces)


@pytest.mark.asyncio
async def test_many_containers_are_read_rank_by_rank(kubesim, core, monkeypatch):
    monkeypatch.setattr(logs_module, "MERGE_LIMIT", 2)  # more sources than we merge by time
    ranks(kubesim, n_workers=3, lines=20)
    lines = await collect(stream_logs(core, NS, SEL))
    assert [ln.text for ln in lines] == [
        f"{r}{i} line {n}"
        for r, i in [("master", 0), ("worker", 0), ("worker", 1), ("worker", 2)]
        for n in range(20)
    ]


def test_cursor_skips_what_a_resumed_read_sends_again():
    """A read resumed after a dropped connection (or one that raced a restart) gets lines
    already delivered: those before the last stamp, and as many at the last stamp as were
    delivered; everything else passes."""
    first = ReadSpec("p", "c", "rank-0", render="bytes")
    split = _Splitter(first)
    batch = Batch()
    split.lines(
        [b"2026-01-01T00:00:01Z a", b"2026-01-01T00:00:02Z b", b"2026-01-01T00:00:02Z c"], batch
    )
    assert batch == [b"[rank-0] a\n", b"[rank-0] b\n", b"[rank-0] c\n"]
    assert (first.cursor.last, first.cursor.at_last) == (b"2026-01-01T00:00:02.000000000", 2)
    again = _Splitter(ReadSpec("p", "c", "rank-0", render="bytes", cursor=first.cursor))
    batch = Batch()
    again.lines(
        [
            b"2026-01-01T00:00:01Z a",
            b"2026-01-01T00:00:02Z b",
            b"2026-01-01T00:00:02Z c",
            b"2026-01-01T00:00:02Z d",
            b"2026-01-01T00:00:03.5Z e",
        ],
        batch,
    )
    assert batch == [b"[rank-0] d\n", b"[rank-0] e\n"]
    assert (first.cursor.last, first.cursor.at_last) == (b"2026-01-01T00:00:03.500000000", 1)


@pytest.mark.asyncio
@pytest.mark.parametrize("merge_limit", [64, 1], ids=["merged", "rank-by-rank"])
async def test_a_pod_deleted_after_the_list_is_skipped(kubesim, core, monkeypatch, merge_limit):
    """An operator cleaning up a finished job's workers can delete a pod between the list
    and its log read (its log is gone with it): the snapshot has the other ranks' logs."""
    monkeypatch.setattr(logs_module, "MERGE_LIMIT", merge_limit)
    ranks(kubesim, n_workers=2, lines=5)
    real_list = logs_module.list_pods

    async def list_then_delete(*args, **kwargs):
        listed = await real_list(*args, **kwargs)
        pods = kubesim.registry.get("", "pods")
        await asyncio.to_thread(kubesim.call, kubesim.api.delete, pods, NS, "s1-worker-1", grace=0)
        return listed

    monkeypatch.setattr(logs_module, "list_pods", list_then_delete)
    lines = await collect(stream_logs(core, NS, SEL))
    assert kubesim.lookup("pods", NS, "s1-worker-1") is None
    assert sorted({ln.replica for ln in lines}) == ["master-0", "worker-0"]
    assert len(lines) == 10
