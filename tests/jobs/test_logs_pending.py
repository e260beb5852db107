"""Why a job is pending, explained from kubesim's real scheduler, quota admission and
events: an unschedulable GPU pod, a pod creation refused by the namespace quota (as the Job
controller reports it: a FailedCreate event on the job), image pull errors. Read as the
notebook's ServiceAccount (pods and events only). CreateContainerConfigError, which needs
the process kubelet, is in ``test_logs_follow.py``."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import pytest
import pytest_asyncio
from teamhub.jobs.pending import pending_reasons

from tests.jobs.logs_support import (
    core_api,
    finished,
    job_pod,
    notebook_kubeconfig,
    setup_namespace,
    wait_for,
)

NS = "team-pending"
SUBMISSION = "teamhub.io/submission"
CONTAINER = {"name": "c", "image": "x"}
SEL = "teamhub.io/submission=s1"


@pytest_asyncio.fixture
async def core(kubesim, tmp_path: Path):
    setup_namespace(kubesim, NS)
    async with core_api(notebook_kubeconfig(kubesim, NS, tmp_path / "kc")) as api:
        yield api


@pytest.fixture
def admin(kubesim) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(
        kubernetes.config.new_client_from_config(str(kubesim.kubeconfig))
    )


def gpu_pod(name: str, index: int, gpus: int = 1) -> dict:
    pod = job_pod(name, NS, "s1", role="worker", index=index)
    pod["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return pod


def condition(sim, name: str) -> dict:
    pod = sim.lookup("pods", NS, name) or {}
    conds = pod.get("status", {}).get("conditions") or []
    return next((c for c in conds if c["type"] == "PodScheduled"), {})


@pytest.mark.asyncio
async def test_unschedulable_gpu_pods_get_the_schedulers_message_once(kubesim, core):
    kubesim.apply(gpu_pod("w0", 0))
    kubesim.apply(gpu_pod("w1", 1))
    kubesim.apply(job_pod("m0", NS, "s1", role="master", index=0))  # schedulable: no reason
    for n in ("w0", "w1"):
        wait_for(lambda n=n: condition(kubesim, n).get("reason") == "Unschedulable")
    message = condition(kubesim, "w0")["message"]
    assert "Insufficient nvidia.com/gpu" in message
    reasons = await pending_reasons(core, NS, SEL)
    assert reasons == [f"worker-0, worker-1: cannot be scheduled: {message}"]


@pytest.mark.asyncio
async def test_quota_refusal_reported_on_the_job_object(kubesim, core, admin):
    kubesim.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "team-quota", "namespace": NS},
            "spec": {"hard": {"pods": "1"}},
        }
    )
    wait_for(
        lambda: (
            (kubesim.lookup("resourcequotas", NS, "team-quota") or {}).get("status", {}).get("used")
        )
    )
    job = kubesim.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "train", "namespace": NS, "labels": {SUBMISSION: "s1"}},
            "spec": {
                "suspend": True,  # no controller creates pods here: the test plays its part
                "template": {"spec": {"restartPolicy": "Never", "containers": [CONTAINER]}},
            },
        }
    )
    kubesim.apply(job_pod("train-0", NS, "s1", completion_index=0, logs="ok"))
    # The second pod is refused by quota admission, with the API server's own message...
    with pytest.raises(kubernetes.client.ApiException) as refused:
        admin.create_namespaced_pod(NS, job_pod("train-1", NS, "s1", completion_index=1))
    assert refused.value.status == 403
    import json

    message = json.loads(refused.value.body)["message"]
    assert "exceeded quota: team-quota" in message
    # ...which the Job controller records on the Job, as "Error creating: <message>".
    admin.create_namespaced_event(NS, failed_create(job, f"Error creating: {message}"))

    reasons = await pending_reasons(core, NS, SEL, job_kind="Job", job_name="train")
    assert reasons == [f"quota exceeded: Job train cannot create pods: Error creating: {message}"]
    # Without the job's name only the pods are looked at (and they are fine).
    assert await pending_reasons(core, NS, SEL) == []


@pytest.mark.asyncio
async def test_failed_create_events_older_than_the_newest_pod_are_stale(kubesim, core, admin):
    job = {
        "kind": "PyTorchJob",
        "apiVersion": "kubeflow.org/v1",
        "metadata": {"name": "pt", "namespace": NS, "uid": "u-1"},
    }
    kubesim.apply(job_pod("pt-worker-0", NS, "s1", role="worker", index=0))
    admin.create_namespaced_event(
        NS, failed_create(job, "old trouble", reason="FailedCreatePod", when="2020-01-01T00:00:00Z")
    )
    admin.create_namespaced_event(
        NS, failed_create(job, 'Service "pt-worker-0" is invalid', reason="FailedCreateService")
    )
    reasons = await pending_reasons(core, NS, SEL, job_kind="PyTorchJob", job_name="pt")
    assert reasons == ['PyTorchJob pt cannot create pods: Service "pt-worker-0" is invalid']


@pytest.mark.asyncio
async def test_image_pull_errors_from_status_and_events(kubesim, core, admin):
    # A pod whose kubelet reports an image it cannot pull (kubesim pulls no images, so the
    # status and event are written here as a kubelet writes them).
    pod = job_pod("w0", NS, "s1", role="worker", index=0)
    pod["spec"]["nodeName"] = "no-such-node"  # bound, but no kubelet will touch it
    kubesim.apply(pod)
    status = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "main",
                "image": "registry.example/private:1",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": 'Back-off pulling image "registry.example/private:1"',
                    }
                },
            }
        ],
    }
    admin.patch_namespaced_pod_status("w0", NS, {"status": status})
    stored = kubesim.lookup("pods", NS, "w0")
    event = failed_create(
        stored, 'Failed to pull image "registry.example/private:1": unauthorized', reason="Failed"
    )
    admin.create_namespaced_event(NS, event)
    reasons = await pending_reasons(core, NS, SEL)
    assert reasons == [
        "worker-0: cannot pull image 'registry.example/private:1' for container main "
        '(ImagePullBackOff): Back-off pulling image "registry.example/private:1"'
    ]  # the event says the same thing as the status: not repeated


@pytest.mark.asyncio
async def test_kubelet_events_explain_what_the_status_does_not_yet(kubesim, core, admin):
    for i in (0, 1):
        pod = job_pod(f"w{i}", NS, "s1", role="worker", index=i)
        pod["spec"]["nodeName"] = "no-such-node"
        kubesim.apply(pod)
    w0, w1 = (kubesim.lookup("pods", NS, n) for n in ("w0", "w1"))
    pull = 'Failed to pull image "python:3.99": manifest unknown'
    admin.create_namespaced_event(NS, failed_create(w0, pull, reason="Failed"))
    mount = 'MountVolume.SetUp failed for volume "data" : nfs: access denied'
    admin.create_namespaced_event(NS, failed_create(w1, mount, reason="FailedMount"))
    assert await pending_reasons(core, NS, SEL) == [
        f"worker-0: cannot pull image: {pull}",
        f"worker-1: cannot mount a volume: {mount}",
    ]


@pytest.mark.asyncio
async def test_finished_pods_have_no_pending_reason(kubesim, core):
    kubesim.apply(job_pod("done", NS, "s1", completion_index=0, logs="x", exit_code=3))
    finished(kubesim, NS, "done")
    assert await pending_reasons(core, NS, SEL) == []


def failed_create(
    obj: dict, message: str, reason: str = "FailedCreate", when: str | None = None
) -> dict:
    import uuid
    from datetime import UTC, datetime

    meta = obj["metadata"]
    stamp = when or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": NS},
        "involvedObject": {
            "kind": obj["kind"],
            "apiVersion": obj["apiVersion"],
            "name": meta["name"],
            "namespace": NS,
            "uid": meta.get("uid", ""),
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "source": {"component": "job-controller"},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
