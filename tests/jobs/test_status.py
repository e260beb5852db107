"""Reading a job back, purely: phases from the workload's conditions (batch and Kubeflow
alike), pending reasons from pods and events, replica names and ranks of pods."""

from __future__ import annotations

import pytest
from teamhub.jobs.backends import get_backend
from teamhub.jobs.events import explain, job_events
from teamhub.jobs.pods import job_pod, job_pods
from teamhub.jobs.status import JobStatus, compute_status, terminal_phase


def cond(
    type_: str, status: str = "True", reason: str = "", message: str = "", t: str = ""
) -> dict:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": t or "2030-01-01T00:00:00Z",
    }


def batch_job(*conditions: dict, workers: int = 2, **status) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "uid": "u1"},
        "spec": {"parallelism": workers, "completions": workers},
        "status": {"conditions": list(conditions), **status},
    }


def pytorch_job(*conditions: dict, workers: int = 3, **status) -> dict:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "p", "uid": "u2"},
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": {"replicas": 1},
                "Worker": {"replicas": workers - 1},
            }
        },
        "status": {"conditions": list(conditions), **status},
    }


def pod(name: str, phase: str = "Running", *, labels=None, annotations=None, **status) -> dict:
    conditions = status.pop("conditions", None)
    if conditions is None and phase == "Running":
        conditions = [{"type": "Ready", "status": "True"}]
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "labels": labels or {},
            "annotations": annotations or {},
            "creationTimestamp": "2030-01-01T00:00:00Z",
        },
        "spec": {"containers": [{"name": "job"}], "nodeName": "n1"},
        "status": {"phase": phase, "conditions": conditions or [], **status},
    }


def rank_pod(i: int, phase: str = "Running", **kw) -> dict:
    return pod(
        f"j-{i}-abcde",
        phase,
        labels={"batch.kubernetes.io/job-completion-index": str(i)},
        annotations={"batch.kubernetes.io/job-completion-index": str(i)},
        **kw,
    )


def kf_pod(rtype: str, i: int, phase: str = "Running", **kw) -> dict:
    labels = {
        "training.kubeflow.org/replica-type": rtype,
        "training.kubeflow.org/replica-index": str(i),
        "training.kubeflow.org/job-name": "p",
    }
    return pod(f"p-{rtype}-{i}", phase, labels=labels, **kw)


INDEXED, PYTORCH = get_backend("indexed"), get_backend("pytorch")


@pytest.mark.parametrize(
    ("conditions", "phase", "reason"),
    [
        ([cond("Complete", reason="CompletionsReached")], "Succeeded", "CompletionsReached"),
        (
            [cond("SuccessCriteriaMet", reason="CompletionsReached")],
            "Succeeded",
            "CompletionsReached",
        ),
        ([cond("FailureTarget", reason="PodFailurePolicy")], "Failed", "PodFailurePolicy"),
        ([cond("Failed", reason="DeadlineExceeded")], "Failed", "DeadlineExceeded"),
        ([cond("Failed", "False")], None, None),
    ],
)
def test_batch_terminal_phases(conditions, phase, reason):
    got = terminal_phase(INDEXED, batch_job(*conditions))
    assert (got.phase, got.reason) == (phase, reason) if phase else got is None


@pytest.mark.parametrize(
    ("conditions", "phase", "reason"),
    [
        ([cond("Created"), cond("Running"), cond("Succeeded", reason="PyTorchJobSucceeded")],
         "Succeeded", "PyTorchJobSucceeded"),
        ([cond("Created"), cond("Failed", reason="PyTorchJobFailed", message="m")], "Failed",
         "PyTorchJobFailed"),
        ([cond("Created"), cond("Suspended", reason="JobSuspended")], "Pending", "Suspended"),
        ([cond("Created"), cond("Running"), cond("Restarting", message="again")], "Running",
         "Restarting"),
    ],
)  # fmt: skip
def test_kubeflow_phases(conditions, phase, reason):
    pods = job_pods(PYTORCH, pytorch_job(), [kf_pod("master", 0), kf_pod("worker", 0)])
    st = compute_status(PYTORCH, pytorch_job(*conditions), pods)
    assert (st.phase, st.reason) == (phase, reason)


def test_running_counts_ready_ranks():
    wl = batch_job(workers=3, active=3, ready=2)
    pods = job_pods(
        INDEXED,
        wl,
        [rank_pod(0), rank_pod(1), rank_pod(2, conditions=[{"type": "Ready", "status": "False"}])],
    )
    st = compute_status(INDEXED, wl, pods)
    assert (st.phase, st.ready, st.total, st.reason) == ("Running", 2, 3, None)
    assert st.replicas == {"rank": {"active": 3, "succeeded": 0, "failed": 0, "ready": 2}}
    assert st.to_dict()["finished"] is False
    assert JobStatus.from_dict(st.to_dict()).phase == "Running"


def test_pending_reasons_most_fundamental_first():
    wl = batch_job(workers=3)
    unschedulable = rank_pod(
        0,
        "Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
            }
        ],
    )
    pulling = rank_pod(
        1,
        "Pending",
        containerStatuses=[
            {"name": "job", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "x"}}}
        ],
    )
    pods = job_pods(INDEXED, wl, [unschedulable, pulling])
    events = job_events(
        [
            {
                "involvedObject": {"kind": "Job", "name": "j", "uid": "u1"},
                "type": "Warning",
                "reason": "FailedCreate",
                "message": 'pods "j-2-x" is forbidden: exceeded quota: q, requested: pods=1',
                "lastTimestamp": "2030-01-01T00:00:01Z",
            }
        ],
        kind="Job",
        name="j",
        uids=["u1"],
        pods=pods,
    )
    st = compute_status(INDEXED, wl, pods, events)
    assert st.phase == "Pending" and st.reason == "QuotaExceeded"
    parts = st.message.split("; ")
    assert parts[0].startswith("1 of 3 pods not created: quota exceeded")
    assert parts[1] == "rank-0: 0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    assert parts[2] == "rank-1: x"


def test_pending_without_pods_or_reasons():
    st = compute_status(INDEXED, batch_job(), [])
    assert (st.phase, st.reason) == ("Pending", "PodsNotCreated")
    pods = job_pods(INDEXED, batch_job(workers=1), [rank_pod(0, "Pending")])
    st = compute_status(INDEXED, batch_job(workers=1), pods)
    assert (st.phase, st.reason) == ("Pending", "ContainerCreating")


def test_terminating_workload():
    wl = batch_job()
    wl["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    st = compute_status(INDEXED, wl, job_pods(INDEXED, wl, [rank_pod(0)]))
    assert (st.phase, st.reason) == ("Running", "Terminating")


def test_replica_names_and_ranks():
    assert [
        (p.replica, p.role, p.rank)
        for p in job_pods(INDEXED, batch_job(), [rank_pod(1), rank_pod(0)])
    ] == [
        ("rank-0", "rank", 0),
        ("rank-1", "rank", 1),
    ]
    wl = pytorch_job()
    got = job_pods(PYTORCH, wl, [kf_pod("worker", 1), kf_pod("master", 0), kf_pod("worker", 0)])
    assert [(p.replica, p.rank) for p in got] == [("master-0", 0), ("worker-0", 1), ("worker-1", 2)]
    tf = get_backend("tf")
    tfjob = {"spec": {"tfReplicaSpecs": {"Chief": {"replicas": 1}, "Worker": {"replicas": 2}}}}
    assert job_pod(tf, tfjob, kf_pod("worker", 1)).rank == 2
    assert job_pod(tf, {"spec": {"tfReplicaSpecs": {"Worker": {}}}}, kf_pod("worker", 1)).rank == 1
    mpi = get_backend("mpi")
    launcher = pod("m-launcher", labels={"training.kubeflow.org/replica-type": "launcher"})
    assert (job_pod(mpi, {}, launcher).replica, job_pod(mpi, {}, launcher).rank) == (
        "launcher",
        None,
    )
    failed = rank_pod(
        0,
        "Failed",
        containerStatuses=[
            {"name": "job", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}
        ],
    )
    p = job_pod(INDEXED, {}, failed)
    assert (p.reason, p.message, p.ready) == ("Error", "container job: exit code 3", False)


@pytest.mark.parametrize(
    ("reason", "message", "starts"),
    [
        ("FailedScheduling", "0/2 nodes are available", "unschedulable:"),
        ("FailedCreate", "forbidden: exceeded quota: q", "quota exceeded:"),
        ("FailedCreatePod", "forbidden: violates PodSecurity", "a pod was refused by Pod"),
        ("FailedCreate", "something else", "a pod could not be created"),
        ("Failed", "Failed to pull image \"x\"", "image pull error"),
        ("ErrImagePull", "boom", "image pull error"),
        ("FailedMount", "configmap \"x\" not found", "a volume cannot be mounted"),
        ("BackOff", "Back-off restarting failed container", "a container keeps failing"),
        ("Started", "Started container job", None),
    ],
)  # fmt: skip
def test_event_explanations(reason, message, starts):
    got = explain(reason, message)
    assert (got is None) if starts is None else got.startswith(starts), got


def test_events_are_the_jobs_own_sorted_with_replicas():
    wl = batch_job()
    pods = job_pods(INDEXED, wl, [rank_pod(0)])
    raw = [
        {"involvedObject": {"kind": "Pod", "name": "j-0-abcde", "uid": "uid-j-0-abcde"},
         "reason": "Started", "message": "s", "lastTimestamp": "2030-01-01T00:00:03Z"},
        {"involvedObject": {"kind": "Job", "name": "j", "uid": "u1"}, "reason": "SuccessfulCreate",
         "message": "c", "lastTimestamp": "2030-01-01T00:00:01Z"},
        {"involvedObject": {"kind": "Job", "name": "j", "uid": "old"}, "reason": "Old",
         "message": "previous job of that name", "lastTimestamp": "2030-01-01T00:00:02Z"},
        {"involvedObject": {"kind": "Pod", "name": "other-0", "uid": "x"}, "reason": "Started",
         "message": "not ours", "lastTimestamp": "2030-01-01T00:00:02Z"},
        {"involvedObject": {"kind": "Service", "name": "j"}, "reason": "Created",
         "message": "svc", "eventTime": "2030-01-01T00:00:02Z"},
    ]  # fmt: skip
    events = job_events(raw, kind="Job", name="j", uids=["u1"], pods=pods, owned=[("Service", "j")])
    assert [(e.reason, e.replica) for e in events] == [
        ("SuccessfulCreate", None),
        ("Created", None),
        ("Started", "rank-0"),
    ]
    assert str(events[-1]).endswith("Started [rank-0] s")
