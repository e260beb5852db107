"""kubesim's batch/v1 Job controller (and TTL-after-finished controller), driven through
the sync ``kubernetes`` client as a user would drive a real cluster.

Pods run in the instant kubelet, scripted by the Job template's annotations
(``kubesim.io/exit-code``, ``kubesim.io/run-seconds``, ``kubesim.io/logs``). Where a test
needs one pod of a Job to end differently from its siblings, it writes the pod status the
kubelet (or an eviction) would write. ``test_job_controller_process.py`` runs ranks of an
Indexed Job in the process kubelet.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from kubesim.controllers.jobs import JobController
from kubesim.sim import KubeSim
from tests.kubesim.helpers import wait_for
from tests.kubesim.job_helpers import (
    clients,
    conditions,
    job,
    job_events,
    pods_of,
    reasons,
    running_pods,
    set_pod_status,
    submit,
    wait_condition,
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    """One simulator for the module (each test works in its own namespace), whose Job
    controller backs off for 50 ms instead of 10 s after a pod failure."""
    tmp = tmp_path_factory.mktemp("jobs")
    s = KubeSim(kubelet="instant", data_dir=tmp / "kubesim").start()
    s.kubeconfig = s.write_kubeconfig(tmp / "kubeconfig")  # type: ignore[attr-defined]
    JobController.of(s).pod_failure_backoff = 0.05
    yield s
    s.stop()


def namespace(sim: KubeSim, name: str, labels: dict | None = None) -> SimpleNamespace:
    k = clients(sim, name)
    k.core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
    # Pods need the namespace's default ServiceAccount, which its controller adds.
    wait_for(lambda: k.core.list_namespaced_service_account(name).items, what="default SA")
    return k


@pytest.fixture
def k(sim: KubeSim, request: pytest.FixtureRequest) -> SimpleNamespace:
    """Clients working in a namespace of this test's own."""
    return namespace(sim, request.node.name.removeprefix("test_").replace("_", "-")[:63])


# ------------------------------------------------------------- completion
def test_non_indexed_job_runs_its_completions_and_completes(k: Any) -> None:
    submit(k, job("hello", exit_code=0, logs="done", completions=3, parallelism=2))
    j = wait_condition(k, "hello", "Complete")
    st = j.status
    assert (st.succeeded, st.failed, st.active, st.ready, st.terminating) == (3, None, None, 0, 0)
    assert st.uncounted_terminated_pods.succeeded is None
    assert st.start_time is not None and st.completion_time is not None
    conds = conditions(j)
    for type_ in ("SuccessCriteriaMet", "Complete"):
        assert conds[type_].reason == "CompletionsReached"
        assert conds[type_].message == "Reached expected number of succeeded pods"
    assert st.completion_time == conds["Complete"].last_transition_time

    pods = pods_of(k, "hello")
    assert len(pods) == 3
    uid = j.metadata.uid
    for p in pods:
        assert p.status.phase == "Succeeded"
        assert p.metadata.generate_name == "hello-"
        assert p.metadata.name.startswith("hello-") and len(p.metadata.name) == len("hello-") + 5
        [ref] = p.metadata.owner_references
        assert (ref.api_version, ref.kind, ref.name, ref.uid) == ("batch/v1", "Job", "hello", uid)
        assert ref.controller and ref.block_owner_deletion
        assert p.metadata.labels == {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": "hello",
            "controller-uid": uid,
            "job-name": "hello",
        }
        assert not p.metadata.finalizers  # counted: the tracking finalizer is gone
        assert k.core.read_namespaced_pod_log(p.metadata.name, k.ns) == "done\n"

    evs = job_events(k, "hello")
    created = [e.message for e in evs if e.reason == "SuccessfulCreate"]
    assert sorted(created) == sorted(f"Created pod: {p.metadata.name}" for p in pods)
    assert [(e.type, e.message) for e in evs if e.reason == "Completed"] == [
        ("Normal", "Job completed")
    ]
    assert {e.source.component for e in evs} == {"job-controller"}


def test_parallelism_scale_down_suspend_and_resume(k: Any) -> None:
    submit(k, job("svc", completions=4, parallelism=2))  # pods run until stopped

    def status(**want: int) -> Any:
        j = k.batch.read_namespaced_job("svc", k.ns)
        return j if all(getattr(j.status, f) == v for f, v in want.items()) else None

    wait_for(lambda: status(active=2, ready=2), what="2 ready pods")
    assert len(pods_of(k, "svc")) == 2  # parallelism caps the active pods

    k.batch.patch_namespaced_job("svc", k.ns, {"spec": {"parallelism": 1}})
    wait_for(lambda: len(pods_of(k, "svc")) == 1, what="scale down to 1 pod")
    assert status(active=1, failed=None)  # a pod removed on scale down is not a failure
    assert reasons(k, "svc").count("SuccessfulDelete") == 1

    k.batch.patch_namespaced_job("svc", k.ns, {"spec": {"suspend": True}})
    wait_for(lambda: not pods_of(k, "svc"), what="suspended job's pods to go")
    j = wait_for(lambda: status(active=None), what="no active pods")
    cond = conditions(j)["Suspended"]
    assert (cond.status, cond.reason, cond.message) == ("True", "JobSuspended", "Job suspended")
    assert "Suspended" in reasons(k, "svc")

    k.batch.patch_namespaced_job("svc", k.ns, {"spec": {"suspend": False}})
    j = wait_for(lambda: status(active=1), what="a pod after resuming")
    cond = conditions(j)["Suspended"]
    assert (cond.status, cond.reason, cond.message) == ("False", "JobResumed", "Job resumed")
    assert reasons(k, "svc")[-2:] == ["SuccessfulCreate", "Resumed"]  # manageJob first
    assert j.status.failed is None and "Complete" not in conditions(j)


def test_indexed_job_pods_carry_their_index_and_stable_hostname(k: Any) -> None:
    submit(
        k,
        job(
            "idx",
            exit_code=0,
            completions=3,
            parallelism=3,
            completionMode="Indexed",
            pod_spec={"subdomain": "workers"},
        ),
    )
    j = wait_condition(k, "idx", "Complete")
    assert (j.status.succeeded, j.status.completed_indexes) == (3, "0-2")
    pods = sorted(
        pods_of(k, "idx"),
        key=lambda p: int(p.metadata.annotations["batch.kubernetes.io/job-completion-index"]),
    )
    for i, p in enumerate(pods):
        assert p.metadata.generate_name == f"idx-{i}-"
        assert p.metadata.name.startswith(f"idx-{i}-")
        assert p.metadata.labels["batch.kubernetes.io/job-completion-index"] == str(i)
        assert (p.spec.hostname, p.spec.subdomain) == (f"idx-{i}", "workers")
        [env] = [e for e in p.spec.containers[0].env if e.name == "JOB_COMPLETION_INDEX"]
        assert env.value_from.field_ref.field_path == (
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
        )


# ---------------------------------------------------------------- failure
def test_backoff_limit_exceeded(k: Any) -> None:
    submit(k, job("crash", exit_code=1, backoffLimit=1))
    j = wait_condition(k, "crash", "Failed")
    assert (j.status.failed, j.status.succeeded, j.status.active) == (2, None, None)
    conds = conditions(j)
    for type_ in ("FailureTarget", "Failed"):
        assert conds[type_].reason == "BackoffLimitExceeded"
        assert conds[type_].message == "Job has reached the specified backoff limit"
    assert "Complete" not in conds and j.status.completion_time is None
    pods = pods_of(k, "crash")
    assert [p.status.phase for p in pods] == ["Failed", "Failed"]
    assert all(not p.metadata.finalizers for p in pods)
    [ev] = [e for e in job_events(k, "crash") if e.reason == "BackoffLimitExceeded"]
    assert (ev.type, ev.message) == ("Warning", "Job has reached the specified backoff limit")


def test_on_failure_restarts_count_against_the_backoff_limit(k: Any) -> None:
    submit(k, job("restarts", exit_code=1, restart="OnFailure", backoffLimit=2))
    j = wait_condition(k, "restarts", "Failed")
    assert conditions(j)["Failed"].reason == "BackoffLimitExceeded"
    # One pod, restarted in place by the kubelet, then deleted and counted as failed.
    assert j.status.failed == 1
    assert reasons(k, "restarts").count("SuccessfulCreate") == 1
    wait_for(lambda: not pods_of(k, "restarts"), what="the restarting pod to be deleted")


def test_pod_failure_policy_fails_the_job_on_an_exit_code(k: Any) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    submit(k, job("pfp", exit_code=42, podFailurePolicy=policy))
    j = wait_condition(k, "pfp", "Failed")
    [pod] = pods_of(k, "pfp")
    message = (
        f"Container main for pod {k.ns}/{pod.metadata.name} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )
    for type_ in ("FailureTarget", "Failed"):
        assert (conditions(j)[type_].reason, conditions(j)[type_].message) == (
            "PodFailurePolicy",
            message,
        )
    assert j.status.failed == 1
    assert [e.message for e in job_events(k, "pfp") if e.reason == "PodFailurePolicy"] == [message]


def test_pod_failure_policy_ignores_disruptions_and_counts_other_failures(k: Any) -> None:
    policy = {
        "rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}},
        ]
    }
    submit(k, job("evicted", backoffLimit=0, podFailurePolicy=policy))
    [first] = running_pods(k, "evicted", 1)
    disruption = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    }
    set_pod_status(k, first, "Failed", 137, conditions=[disruption])
    wait_for(lambda: len(pods_of(k, "evicted")) == 2, what="a replacement pod")
    j = k.batch.read_namespaced_job("evicted", k.ns)
    assert j.status.failed is None and not conditions(j)  # ignored: not a failure
    [second] = running_pods(k, "evicted", 1)
    set_pod_status(k, second, "Failed", 3)
    j = wait_condition(k, "evicted", "Failed")
    assert (j.status.failed, conditions(j)["Failed"].reason) == (1, "BackoffLimitExceeded")


def test_active_deadline_exceeded(k: Any) -> None:
    submit(k, job("slow", activeDeadlineSeconds=1))
    j = wait_condition(k, "slow", "Failed")
    assert conditions(j)["Failed"].reason == "DeadlineExceeded"
    assert conditions(j)["Failed"].message == "Job was active longer than specified deadline"
    assert j.status.failed == 1  # the pod it had to stop
    assert "SuccessfulDelete" in reasons(k, "slow")
    [ev] = [e for e in job_events(k, "slow") if e.reason == "DeadlineExceeded"]
    assert ev.type == "Warning"
    wait_for(lambda: not pods_of(k, "slow"), what="the pod to go")


def test_backoff_limit_per_index_fails_indexes(k: Any) -> None:
    submit(
        k,
        job(
            "perindex",
            exit_code=1,
            completions=2,
            parallelism=2,
            completionMode="Indexed",
            backoffLimitPerIndex=1,
        ),
    )
    j = wait_condition(k, "perindex", "Failed")
    assert (conditions(j)["Failed"].reason, conditions(j)["Failed"].message) == (
        "FailedIndexes",
        "Job has failed indexes",
    )
    assert (j.status.failed, j.status.failed_indexes, j.status.completed_indexes) == (
        4,
        "0,1",
        None,
    )
    counts = sorted(
        (
            p.metadata.annotations["batch.kubernetes.io/job-completion-index"],
            p.metadata.annotations["batch.kubernetes.io/job-index-failure-count"],
        )
        for p in pods_of(k, "perindex")
    )
    assert counts == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]


# ---------------------------------------------------------------- success
def test_success_policy_completes_an_indexed_job_early(k: Any) -> None:
    submit(
        k,
        job(
            "leader",
            completions=3,
            parallelism=3,
            completionMode="Indexed",
            successPolicy={"rules": [{"succeededIndexes": "0"}]},
        ),
    )
    [leader] = [p for p in running_pods(k, "leader", 3) if p.spec.hostname == "leader-0"]
    set_pod_status(k, leader, "Succeeded", 0)
    j = wait_condition(k, "leader", "Complete")
    for type_ in ("SuccessCriteriaMet", "Complete"):
        assert (conditions(j)[type_].reason, conditions(j)[type_].message) == (
            "SuccessPolicy",
            "Matched rules at index 0",
        )
    assert (j.status.succeeded, j.status.completed_indexes, j.status.failed) == (1, "0", None)
    assert [p.metadata.name for p in pods_of(k, "leader")] == [leader.metadata.name]


def test_ttl_after_finished_deletes_the_job_and_its_pods(k: Any) -> None:
    submit(k, job("short", exit_code=0, ttlSecondsAfterFinished=0))

    def gone() -> bool:
        try:
            k.batch.read_namespaced_job("short", k.ns)
        except ApiException as e:
            return e.status == 404
        return False

    wait_for(gone, what="the finished job to be deleted")
    wait_for(lambda: not pods_of(k, "short"), what="its pods to be deleted")
    assert "Completed" in reasons(k, "short")


def test_deleting_a_job_removes_or_orphans_its_pods(k: Any) -> None:
    submit(k, job("bg"))
    submit(k, job("orphans"))
    wait_for(lambda: len(pods_of(k, "bg")) == 1 and len(pods_of(k, "orphans")) == 1)
    k.batch.delete_namespaced_job("bg", k.ns, propagation_policy="Background")
    wait_for(lambda: not pods_of(k, "bg"), what="background deletion of the pods")
    k.batch.delete_namespaced_job("orphans", k.ns)  # batch/v1 default: orphan the pods

    def released() -> Any:
        [p] = pods_of(k, "orphans")
        return p if not p.metadata.owner_references and not p.metadata.finalizers else None

    pod = wait_for(released, what="the orphaned pod to lose its finalizer")
    assert pod.status.phase == "Running"


# ----------------------------------------------------------- pod creation
def test_pod_security_rejection_is_a_failed_create_event_and_retried(k: Any) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    k.core.patch_namespace(k.ns, {"metadata": {"labels": labels}})
    submit(k, job("psa", exit_code=0))

    def failed_create() -> Any:
        return [e for e in job_events(k, "psa") if e.reason == "FailedCreate"]

    ev = wait_for(failed_create, what="a FailedCreate event")[0]  # one per retry
    assert ev.type == "Warning"
    assert ev.message.startswith('Error creating: pods "psa-')
    assert 'is forbidden: violates PodSecurity "restricted:latest": ' in ev.message
    assert "allowPrivilegeEscalation != false" in ev.message
    assert not pods_of(k, "psa")

    labels["pod-security.kubernetes.io/enforce"] = "baseline"
    k.core.patch_namespace(k.ns, {"metadata": {"labels": labels}})
    wait_condition(k, "psa", "Complete")  # the controller kept retrying
    assert "SuccessfulCreate" in reasons(k, "psa")


def test_quota_rejection_is_a_failed_create_event(k: Any) -> None:
    quota = {"metadata": {"name": "two-pods"}, "spec": {"hard": {"pods": "1"}}}
    k.core.create_namespaced_resource_quota(k.ns, quota)
    submit(k, job("wide", completions=2, parallelism=2))

    def failed_create() -> Any:
        return [e for e in job_events(k, "wide") if e.reason == "FailedCreate"]

    ev = wait_for(failed_create, what="a FailedCreate event")[0]
    assert ev.message.startswith('Error creating: pods "wide-')
    assert ev.message.endswith(
        "is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=1, limited: pods=1"
    )
    j = wait_for(lambda: (j := k.batch.read_namespaced_job("wide", k.ns)).status.active and j)
    assert j.status.active == 1 and len(pods_of(k, "wide")) == 1
