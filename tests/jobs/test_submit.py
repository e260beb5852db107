"""Submitting, finding, following, cancelling and deleting jobs against kubesim, as the
notebook's own ServiceAccount (``teamhub-user``, exactly the Role TeamSpawner gives it).

kubesim runs the batch/v1 Job controller and the Kubeflow training operator v1.9 (the
instant kubelet: pods run at once and forever)."""

from __future__ import annotations

import asyncio
import json

import pytest
from teamhub.jobs import labels as L
from teamhub.jobs.client import JobsClient
from teamhub.jobs.errors import (
    BackendUnavailableError,
    ImageNotAllowedError,
    JobExistsError,
    JobNotFoundError,
    JobSpecError,
    QuotaExceededError,
    SubmitError,
)

from tests.hub.teams_fixtures import base
from tests.jobs.jobs_support import NS, POD, job_objects, notebook, provision, serves
from tests.kubesim.helpers import wait_for


@pytest.fixture
def kubeconfig(kubesim, tmp_path):
    """alice's namespace, objects and notebook pod, as TeamSpawner makes them; a
    kubeconfig acting as her notebook's ServiceAccount."""
    return provision(kubesim, notebook(), tmp_path)


async def connect(kubeconfig) -> JobsClient:
    return await JobsClient.connect(kubeconfig=kubeconfig, namespace=NS, pod_name=POD)


def needs_kind(kubesim, plural: str) -> None:
    assert serves(kubesim, "kubeflow.org", plural), f"kubesim serves kubeflow.org {plural}"


async def until(fn, timeout: float = 15.0, what: str = "condition"):
    """Await ``fn()`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await fn()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {got!r})")
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------ objects only
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("backend", "kind", "plural"),
    [
        ("indexed", "Job", None),
        ("pytorch", "PyTorchJob", "pytorchjobs"),
        ("tf", "TFJob", "tfjobs"),
        ("mpi", "MPIJob", "mpijobs"),
    ],
)
async def test_submit_creates_owned_objects_list_and_get_find_it(
    kubesim, kubeconfig, backend, kind, plural
):
    if plural:
        needs_kind(kubesim, plural)
    async with await connect(kubeconfig) as jobs:
        job = await jobs.submit(backend=backend, source="print('hi')", workers=2, cpu="1")
        assert job.kind == kind and job.backend == backend and not job.cancelled
        name = job.name
        assert name.startswith(f"alice-{backend}-")
        wl = kubesim.call(lambda: kubesim.store.peek(kubesim.registry.get(*_key(kind)), NS, name))
        assert wl["metadata"]["uid"] == job.uid
        cm = kubesim.lookup("configmaps", NS, f"{name}.job")
        assert cm["metadata"]["ownerReferences"] == [
            {"apiVersion": wl["apiVersion"], "kind": kind, "name": name, "uid": job.uid}
        ]
        assert cm["data"]["main.py"] == "print('hi')"
        if backend == "indexed":
            svc = kubesim.lookup("services", NS, name)
            assert svc["metadata"]["ownerReferences"][0]["uid"] == job.uid
            assert svc["spec"]["clusterIP"] == "None"
        listed = await jobs.list()
        assert [(j.name, j.backend) for j in listed] == [(name, backend)]
        got = await jobs.get(name)
        assert (got.name, got.uid, got.submission) == (name, job.uid, job.submission)
        assert got.spec["workers"] == 2 and got.spec["source"] == "<11 bytes>"
        await got.delete()
        with pytest.raises(JobNotFoundError, match=f"no job named '{name}'"):
            await jobs.get(name)
        assert await jobs.list() == []
    wait_for(lambda: job_objects(kubesim) == [], what="every object of the job gone")


def _key(kind: str) -> tuple[str, str]:
    return {
        "Job": ("batch", "jobs"),
        "PyTorchJob": ("kubeflow.org", "pytorchjobs"),
        "TFJob": ("kubeflow.org", "tfjobs"),
        "MPIJob": ("kubeflow.org", "mpijobs"),
    }[kind]


@pytest.mark.asyncio
async def test_list_is_rebuilt_from_labels_by_a_new_client(kubesim, kubeconfig):
    async with await connect(kubeconfig) as jobs:
        a = await jobs.submit(source="1", name="first")
        b = await jobs.submit(
            command=["true"], name="second", labels={"kueue.x-k8s.io/queue-name": "q"}
        )
    async with await connect(kubeconfig) as fresh:  # a restarted notebook server
        names = [j.name for j in await fresh.list()]
        assert sorted(names) == ["first", "second"]
        second = await fresh.get("second")
        assert second.submission == b.submission and second.submission != a.submission
        assert second.workload["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "q"


@pytest.mark.asyncio
async def test_names_are_unique_across_backends_and_records(kubesim, kubeconfig):
    async with await connect(kubeconfig) as jobs:
        await jobs.submit(source="1", name="train")
        with pytest.raises(JobExistsError, match="a job named 'train' exists already"):
            await jobs.submit(source="2", name="train")
        with pytest.raises(JobExistsError):
            await jobs.submit(source="2", name="train", backend="pytorch")
        assert len(await jobs.list()) == 1
        with pytest.raises(JobNotFoundError, match="not a job name"):
            await jobs.get("Not/A/Name")


# ------------------------------------------------------------------ nothing created
BAD = [
    ({"workers": -1}, JobSpecError, "workers: must be at least 1"),
    ({"backend": "horovod"}, JobSpecError, "backend: 'horovod' is not a backend"),
    ({"gpus": 3, "workers": 2}, QuotaExceededError, "6 GPUs exceeds your quota of 4 GPUs"),
    ({"image": "docker.io/evil/miner"}, ImageNotAllowedError, "is not allowed for your teams"),
    ({"env": {"BAD-NAME": "1"}}, JobSpecError, "not a valid variable name"),
    ({"env": {"X": 1}}, JobSpecError, "the value must be a string"),
    ({"backend": "tf", "procs_per_worker": 2}, JobSpecError, "one process per worker"),
    ({"source": "#" * (1 << 20)}, JobSpecError, "holds at most 1 MiB"),
    ({"replicas": 2}, JobSpecError, "unknown option"),
    ({"labels": {"teamhub.io/owner": "bob"}}, JobSpecError, "reserved"),
    ({"script": "/no/such/file.py", "source": None}, JobSpecError, "script: no such file"),
]


@pytest.mark.asyncio
async def test_bad_input_is_a_clear_error_and_creates_nothing(kubesim, kubeconfig):
    async with await connect(kubeconfig) as jobs:
        kubesim.counters.reset()
        for kwargs, error, words in BAD:
            with pytest.raises(error) as e:
                await jobs.submit(**({"source": "print(1)"} | kwargs))
            assert words in str(e.value), (kwargs, str(e.value))
        assert kubesim.counters.total(verb="create") == 0
        assert kubesim.counters.total() == 0  # refused before any request
    assert job_objects(kubesim) == []


@pytest.mark.asyncio
async def test_backend_without_its_operator_is_refused(tmp_path):
    from kubesim.sim import KubeSim

    sim = KubeSim(data_dir=tmp_path / "sim", training_operator=False).start()
    try:
        assert not serves(sim, "kubeflow.org", "pytorchjobs")
        kc = provision(sim, notebook(), tmp_path)
        async with await connect(kc) as jobs:
            with pytest.raises(BackendUnavailableError, match="needs the Kubeflow training"):
                await jobs.submit(backend="pytorch", source="1")
            assert await jobs.list() == []  # kinds the cluster lacks are skipped
        assert job_objects(sim) == []
    finally:
        sim.stop()


# ------------------------------------------------------------------ rollback
@pytest.mark.asyncio
@pytest.mark.parametrize("resource", ["configmaps", "services"])
async def test_failure_half_way_removes_what_was_created(kubesim, kubeconfig, resource):
    async with await connect(kubeconfig) as jobs:
        kubesim.faults.add_error(500, 1.0, verbs={"create"}, resources={resource})
        with pytest.raises(SubmitError) as e:
            await jobs.submit(source="print(1)", name="half", workers=2)
        kind = "ConfigMap half.job" if resource == "configmaps" else "Service half"
        assert f"failed while creating its {kind}" in str(e.value)
        assert "removed what had been created" in str(e.value) and e.value.leftovers == []
        kubesim.faults.clear()
        wait_for(lambda: job_objects(kubesim) == [], what="nothing left of the submission")
        assert await jobs.list() == []
        # and the name is free again
        job = await jobs.submit(source="print(1)", name="half", workers=2)
        assert job.name == "half"


@pytest.mark.asyncio
async def test_rollback_reports_what_it_could_not_remove(kubesim, kubeconfig):
    async with await connect(kubeconfig) as jobs:
        kubesim.faults.add_error(500, 1.0, verbs={"create"}, resources={"services"})
        kubesim.faults.add_error(503, 1.0, verbs={"delete"}, resources={"jobs"})
        with pytest.raises(SubmitError) as e:
            await jobs.submit(source="print(1)", name="stuck")
        assert e.value.leftovers == ["Job stuck"]
        assert "could not remove Job stuck (delete them by hand)" in str(e.value)
        kubesim.faults.clear()
        assert kubesim.lookup("configmaps", NS, "stuck.job") is None  # removed first


# ------------------------------------------------------------------ with pods
@pytest.mark.asyncio
async def test_indexed_job_runs_its_ranks_and_is_found_by_label(kubesim, kubeconfig):
    async with await connect(kubeconfig) as jobs:
        job = await jobs.submit(source="print(1)", workers=3, cpu="1", memory="1Gi")

        async def running():
            st = await job.status()
            return st if st.phase == "Running" and st.ready == 3 else None

        st = await until(running, what="3 ranks running")
        assert (st.ready, st.total, st.reason) == (3, 3, None)
        pods = await job.pods()
        assert [(p.replica, p.rank) for p in pods] == [("rank-0", 0), ("rank-1", 1), ("rank-2", 2)]
        for p in pods:
            spec = p.pod["spec"]
            assert spec["hostname"] == f"{job.name}-{p.rank}" and spec["subdomain"] == job.name
            assert spec["automountServiceAccountToken"] is False
            assert not any(v["name"].startswith("kube-api-access") for v in spec["volumes"])
            assert p.pod["metadata"]["labels"][L.SUBMISSION] == job.submission
        events = await job.events()
        assert any(e.reason == "SuccessfulCreate" and e.object == f"Job/{job.name}" for e in events)
        assert any(e.replica == "rank-1" and e.reason == "Started" for e in events)
        assert [e.time for e in events] == sorted(e.time for e in events)
        with pytest.raises(TimeoutError, match=f"job {job.name} has not finished after 0.3 s"):
            await job.wait(timeout=0.3)


@pytest.mark.asyncio
async def test_gpus_beyond_node_capacity_show_the_scheduling_reason(kubesim, kubeconfig):
    async with await connect(kubeconfig) as jobs:
        job = await jobs.submit(source="print(1)", workers=2, gpus=1)

        async def unschedulable():
            st = await job.status()
            return st if st.reason == "Unschedulable" else None

        st = await until(unschedulable, what="unschedulable")
        assert st.phase == "Pending" and "Insufficient nvidia.com/gpu" in st.message
        events = await job.events()
        sched = [e for e in events if e.reason == "FailedScheduling"]
        assert sched and sched[0].explanation.startswith("unschedulable:")
        assert "Insufficient nvidia.com/gpu" in sched[0].explanation


@pytest.fixture
def small_quota(kubesim, tmp_path):
    """alice's team has a quota of 4 CPUs; her notebook requests 0.5 of them."""
    config = base()
    config["teams"]["vision"]["quota"]["cpu"] = "4"
    return provision(kubesim, notebook(config=config), tmp_path)


@pytest.mark.asyncio
async def test_quota_exceeded_at_run_time_is_explained(kubesim, small_quota):
    """Within the quota on paper (2 x 2 = 4 CPUs), but the notebook already uses some."""
    async with await connect(small_quota) as jobs:
        job = await jobs.submit(source="print(1)", workers=2, cpu="2")

        async def quota():
            st = await job.status()
            return st if st.reason == "QuotaExceeded" else None

        st = await until(quota, what="quota explanation")
        assert "1 of 2 pods not created: quota exceeded" in st.message
        assert "exceeded quota: teamhub-quota" in st.message
        assert st.phase == "Running" and st.ready == 1 and st.total == 2
        events = await job.events()
        assert any(e.explanation and e.explanation.startswith("quota exceeded") for e in events)


@pytest.mark.asyncio
async def test_cancel_keeps_the_record_and_the_logs(kubesim, kubeconfig, tmp_path):
    async with await connect(kubeconfig) as jobs:
        job = await jobs.submit(source="print(1)", workers=2, name="doomed")
        await until(lambda: _ready(job, 2), what="running")
        st = await job.cancel(dest_dir=tmp_path / "logs")
        assert st.phase == "Cancelled" and st.reason == "Cancelled"
        assert "cancelled by alice" in st.message and "while Running (2/2 ready)" in st.message
        assert sorted(p.name for p in (tmp_path / "logs" / "doomed").iterdir()) == [
            "rank-0.log",
            "rank-1.log",
        ]
        assert kubesim.lookup("configmaps", NS, "doomed.record") is not None
        wait_for(
            lambda: [o for o in job_objects(kubesim) if not o.endswith("doomed.record")] == [],
            what="pods, Service and code ConfigMap gone",
        )
        again = await jobs.get("doomed")
        assert again.cancelled and again.uid == job.uid and again.submission == job.submission
        assert (await again.status()).phase == "Cancelled"
        assert [(j.name, j.cancelled) for j in await jobs.list()] == [("doomed", True)]
        assert (await again.cancel()).phase == "Cancelled"  # nothing more to do
        record = kubesim.lookup("configmaps", NS, "doomed.record")
        assert json.loads(record["data"]["workload.json"])["kind"] == "Job"
        assert record["metadata"]["labels"][L.COMPONENT] == L.COMPONENT_RECORD
        with pytest.raises(JobExistsError, match="cancelled; delete it"):
            await jobs.submit(source="1", name="doomed")
        await again.delete()
        assert job_objects(kubesim) == [] and await jobs.list() == []
        await jobs.submit(source="1", name="doomed")


async def _ready(job, n: int) -> bool:
    st = await job.status()
    return st.phase == "Running" and st.ready == n


@pytest.mark.asyncio
async def test_a_job_deleted_elsewhere_is_not_found(kubesim, kubeconfig):
    async with await connect(kubeconfig) as jobs:
        job = await jobs.submit(source="print(1)", name="gone")
        other = await jobs.get("gone")
        await other.delete()
        with pytest.raises(JobNotFoundError, match="job gone no longer exists"):
            await job.status()


@pytest.mark.asyncio
async def test_kubeflow_jobs_surface_operator_refusals(kubesim, kubeconfig):
    """The stock operator v1's PyTorch init container breaks ``restricted``; say so."""
    needs_kind(kubesim, "pytorchjobs")
    async with await connect(kubeconfig) as jobs:
        job = await jobs.submit(backend="pytorch", source="print(1)", workers=2)

        async def explained():
            st = await job.status()
            return st if st.reason and "Pod Security" in (st.message or "") else None

        st = await until(explained, what="a Pod Security explanation")
        assert "init-pytorch" in st.message and "1 of 2 pods not created" in st.message
        pods = await job.pods()
        assert [(p.replica, p.rank) for p in pods] == [("master-0", 0)]


@pytest.mark.asyncio
async def test_watch_events_carry_objects_larger_than_a_read_buffer(kubesim, kubeconfig):
    """wait() watches the workload; one event holds a whole object (aiohttp's readline
    stops at 64 KiB)."""
    from teamhub.jobs import kube as K

    async with await connect(kubeconfig) as jobs:
        kube = jobs.kube
        big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}}
        big["data"] = {"blob": "x" * 300_000}
        rv = (await kube.list(K.CONFIGMAP, NS))["metadata"]["resourceVersion"]

        async def first_event():
            async for etype, obj in kube.watch(
                K.CONFIGMAP, NS, field_selector="metadata.name=big", resource_version=rv
            ):
                return etype, obj

        watching = asyncio.ensure_future(first_event())
        await asyncio.sleep(0.2)
        await kube.create(K.CONFIGMAP, NS, big)
        etype, obj = await asyncio.wait_for(watching, 10)
        assert etype == "ADDED" and len(obj["data"]["blob"]) == 300_000


@pytest.mark.asyncio
async def test_sync_api_works_inside_a_running_event_loop(kubesim, kubeconfig):
    """As in a Jupyter kernel: the main thread runs an event loop, and the blocking API
    is called from a coroutine (it runs its calls on a private loop)."""
    from teamhub.jobs.api import Jobs

    asyncio.get_running_loop()
    jobs = Jobs(kubeconfig=kubeconfig, namespace=NS, pod_name=POD)
    try:
        assert jobs.environment.username == "alice"
        manifests = jobs.build(source="x", name="planned")
        assert manifests[0]["metadata"]["name"] == "planned" and job_objects(kubesim) == []
        job = jobs.submit(source="print(1)", workers=2, name="sync")
        assert (job.name, job.backend, job.kind) == ("sync", "indexed", "Job")
        assert [j.name for j in jobs.list()] == ["sync"]
        assert jobs.get("sync").uid == job.uid
        assert job.status().phase in ("Pending", "Running")
        with pytest.raises(TimeoutError):
            job.wait(timeout=0.2)
        assert job.cancel(archive_logs=False).phase == "Cancelled"
        assert jobs.get("sync").cancelled
        job.delete()
        assert jobs.list() == []
        with pytest.raises(JobNotFoundError):
            jobs.get("sync")
    finally:
        jobs.close()
