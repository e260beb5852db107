"""The training operator's common job reconcile loop (``ReconcileJobs`` in
``pkg/controller.v1/common/job.go`` of v1.9), shared by the PyTorchJob, TFJob and MPIJob
controllers.

One reconcile of a job, in the operator's order:

1. Finished (``Succeeded``/``Failed``)? Clean up per ``runPolicy.cleanPodPolicy`` (``None``,
   the default, keeps everything; ``Running`` deletes pods still Running or Pending and
   their Services; ``All`` deletes all), move ``active`` counts to ``succeeded`` after a
   success, and delete the job ``ttlSecondsAfterFinished`` after ``completionTime``.
2. ``runPolicy.suspend``? Delete all pods and Services, ``Running`` -> False and
   ``Suspended`` -> True (reason ``<Kind>Suspended``). Unsuspending sets ``Suspended`` False
   (``<Kind>Resumed``) and restarts ``startTime``.
3. ``backoffLimit`` (container restarts of Running pods, for replicas restarting
   ``OnFailure``/``Always``/``ExitCode``) or ``activeDeadlineSeconds`` past ``startTime``?
   Delete everything and fail the job.
4. Otherwise create missing pods and Services per replica type and compute the status
   (the per-framework ``update_job_status``).

The status is written through the ``status`` subresource only when it changed. Events are
recorded on the job with the controller's name as source (``pytorchjob-controller``...).

Deviation: the real v1.9 operator only notices ``activeDeadlineSeconds`` on its next
reconcile triggered by some change (its requeue at the deadline goes to a no-op queue);
kubesim also re-checks at the deadline itself, so the job fails on time.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime
from typing import Any

from kubesim import errors
from kubesim.controllers import Controller
from kubesim.controllers.training import names as n
from kubesim.controllers.training import status as st
from kubesim.controllers.training.replicas import CreateFailed, ReplicaMixin
from kubesim.resources import ResourceType
from kubesim.store import Event, now_rfc3339

Obj = dict[str, Any]
log = logging.getLogger("kubesim.controllers.training")
OPERATOR_USER = "system:serviceaccount:kubeflow:training-operator"


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


class TrainingJobController(ReplicaMixin, Controller):
    """Base of the per-kind controllers; subclasses set the class attributes and hooks."""

    kind = ""
    plural = ""
    controller_name = ""
    default_container = ""
    replica_specs_field = ""
    #: Replica types in the order the status is evaluated.
    status_order: tuple[str, ...] = ()
    #: Dependents (besides pods) whose changes wake the job up.
    dependents: tuple[tuple[str, str], ...] = (("", "services"),)
    user = OPERATOR_USER

    def __init__(self, sim: Any) -> None:
        super().__init__(sim)
        self.watches = ((n.GROUP, self.plural), ("", "pods"), *self.dependents)
        self._retries: dict[Hashable, int] = {}

    @property
    def rt(self) -> ResourceType:
        return self.api.rt(n.GROUP, self.plural)

    # ------------------------------------------------------------- hooks
    def default(self, job: Obj) -> Obj:
        raise NotImplementedError

    def prevalidate(self, job: Obj) -> bool:
        """False stops the reconcile (MPIJob validates here, having no webhook)."""
        return True

    def set_cluster_spec(self, job: Obj, pod_spec: Obj, rt: str, index: int) -> None:
        """Inject the framework's env (``MASTER_ADDR``..., ``TF_CONFIG``) into a pod spec."""

    def is_master_role(self, replicas: dict[str, Obj], rtype: str, index: int) -> bool:
        raise NotImplementedError

    def update_job_status(self, job: Obj, replicas: dict[str, Obj], status: st.Status) -> None:
        raise NotImplementedError

    def delete_job_reason(self) -> str:
        return "SuccessfulDeleteJob"

    # ------------------------------------------------------------- wiring
    def keys_for(self, ev: Event) -> Iterable[Hashable]:
        m = ev.obj["metadata"]
        if ev.rt.key == (n.GROUP, self.plural):
            yield (m.get("namespace", ""), m["name"])
            return
        for ref in m.get("ownerReferences") or []:
            if (
                ref.get("controller")
                and ref.get("kind") == self.kind
                and (ref.get("apiVersion") == n.API_VERSION)
            ):
                yield (m.get("namespace", ""), ref["name"])

    def event(self, job: Obj, type_: str, reason: str, message: str) -> None:
        self.sim.recorder.record(job, type_, reason, message, self.controller_name)

    def owner_reference(self, job: Obj) -> Obj:
        m = job["metadata"]
        return {
            "apiVersion": n.API_VERSION,
            "kind": self.kind,
            "name": m["name"],
            "uid": m["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def job_labels(self, job: Obj) -> dict[str, str]:
        """``GenLabels``: what every pod and Service of the job carries."""
        return {
            n.OPERATOR_NAME_LABEL: self.controller_name,
            n.JOB_NAME_LABEL: job["metadata"]["name"].replace("/", "-"),
        }

    def replica_specs(self, job: Obj) -> dict[str, Obj]:
        specs = job["spec"].get(self.replica_specs_field) or {}
        return {k: v for k, v in specs.items() if v is not None}

    def owned(self, job: Obj, plural: str) -> list[Obj]:
        """Objects labelled for the job and controlled by it (``JobControlledPodList``)."""
        labels, uid = self.job_labels(job), job["metadata"]["uid"]
        out = []
        for o in self.store.iter(self.api.rt("", plural), job["metadata"]["namespace"]):
            have = o["metadata"].get("labels") or {}
            if any(have.get(k) != v for k, v in labels.items()):
                continue
            if any(
                r.get("controller") and r.get("uid") == uid
                for r in o["metadata"].get("ownerReferences") or []
            ):
                out.append(copy.deepcopy(o))
        return out

    # ------------------------------------------------------------- reconcile
    async def reconcile(self, key: Hashable) -> None:
        ns, name = key  # type: ignore[misc]
        stored = self.store.peek(self.rt, ns, name)
        if stored is None or stored["metadata"].get("deletionTimestamp"):
            self._retries.pop(key, None)
            return
        job = copy.deepcopy(stored)
        manager = (job.get("spec", {}).get("runPolicy") or {}).get("managedBy")
        if manager and manager != n.OWN_MANAGER:
            return  # left to another controller (e.g. MultiKueue)
        if not self.prevalidate(job):
            return
        self.default(job)
        status = copy.deepcopy(job.get("status") or {})
        if st.condition(status, n.CREATED) is None:  # onOwnerCreateFunc
            st.update_condition(
                status,
                n.CREATED,
                n.reason(self.kind, "Created"),
                f"{self.kind} {name} is created.",
            )
        try:
            after = self.reconcile_jobs(job, status)
        except CreateFailed:
            tries = self._retries.get(key, 0) + 1
            self._retries[key] = tries
            self.requeue(key, min(0.05 * 2**tries, 30.0))
            return
        except errors.ApiError as e:
            if e.code in (404, 409):  # stale job or a race with another writer: look again
                self.requeue(key, 0.05)
                return
            raise
        self._retries.pop(key, None)
        if after is not None:
            self.requeue(key, max(after, 0.0) + 0.01)

    # ------------------------------------------------------------- conditions
    def mark_running(self, status: st.Status, msg: str) -> None:
        st.update_condition(status, n.RUNNING, n.reason(self.kind, n.RUNNING), msg)

    def mark_restarting(self, job: Obj, status: st.Status, msg: str) -> None:
        """A failed replica will be restarted: a Warning event and ``Restarting``."""
        why = n.reason(self.kind, n.RESTARTING)
        self.event(job, "Warning", why, msg)
        st.update_condition(status, n.RESTARTING, why, msg)

    def finish(
        self, job: Obj, status: st.Status, condition: str, msg: str, reason: str | None = None
    ) -> None:
        """The job ends (``Succeeded``/``Failed``): a Normal event, ``completionTime`` (kept
        if set) and the condition, whose reason is ``reason`` when the operator gives it
        another than the event's."""
        why = n.reason(self.kind, condition)
        self.event(job, "Normal", why, msg)
        if not status.get("completionTime"):
            status["completionTime"] = now_rfc3339()
        st.update_condition(status, condition, reason or why, msg)

    def write_status(self, job: Obj, status: st.Status) -> None:
        """``UpdateJobStatusInApiServer``: a status-subresource update of the job."""
        m = job["metadata"]
        body = {
            "apiVersion": job["apiVersion"],
            "kind": job["kind"],
            "metadata": {"name": m["name"], "resourceVersion": m["resourceVersion"]},
            "status": st.compact(status),
        }
        self.api.update(
            self.rt, m["namespace"], m["name"], body, subresource="status", user=self.user
        )

    def reconcile_jobs(self, job: Obj, status: st.Status) -> float | None:
        """One pass of ``ReconcileJobs``; returns seconds until the job must be looked at
        again (TTL, deadline) or None."""
        name, kind = job["metadata"]["name"], self.kind
        run_policy = job["spec"].get("runPolicy") or {}
        replicas = self.replica_specs(job)
        pods, services = self.owned(job, "pods"), self.owned(job, "services")
        old = copy.deepcopy(status)

        if st.is_finished(status):
            self.cleanup_resources(job, run_policy, status, pods)
            if st.is_succeeded(status):
                for rtype in list(status.get("replicaStatuses") or {}):
                    active = st.count(status, rtype, "active")
                    st.bump(status, rtype, "succeeded", active)
                    st.set_count(status, rtype, "active", 0)
            if status != old:
                self.write_status(job, status)
            return self.until_expired(run_policy, status)

        if run_policy.get("suspend"):
            self.delete_pods_and_services(job, run_policy, status, pods)
            for rtype in status.get("replicaStatuses") or {}:
                st.set_count(status, rtype, "active", 0)
            msg = f"{kind} {name} is suspended."
            why = n.reason(kind, n.SUSPENDED)
            if st.is_true(status, n.RUNNING):
                st.update_condition(status, n.RUNNING, why, msg, "False")
            if not st.is_true(status, n.SUSPENDED):
                st.update_condition(status, n.SUSPENDED, why, msg)
            self.event(job, "Normal", why, msg)
            if status != old:
                self.write_status(job, status)
            return None
        if st.is_true(status, n.SUSPENDED):
            msg = f"{kind} {name} is resumed."
            why = n.reason(kind, n.RESUMED)
            st.update_condition(status, n.SUSPENDED, why, msg, "False")
            status["startTime"] = now_rfc3339()
            self.event(job, "Normal", why, msg)

        active_pods = [
            p
            for p in pods
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")
        ]
        self.record_abnormal_pods(job, active_pods)
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        total = sum(int(s.get("replicas") or 0) for s in replicas.values())
        failure = ""
        limit = run_policy.get("backoffLimit")
        if limit is not None:
            new_failure = failed > st.total_failed(status)
            # The operator's requeue count is always 0 (its work queue is a stub), so a new
            # failure only fails the job at once with backoffLimit 0.
            exceeds = new_failure and len(active_pods) != total and limit < 1
            if exceeds or self.past_backoff_limit(run_policy, replicas, pods):
                failure = (
                    f"Job {name} has failed because it has reached the specified backoff limit"
                )
        if not failure and self.past_deadline(run_policy, status):
            failure = f"Job {name} has failed because it was active longer than specified deadline"
        if failure:
            if not status.get("completionTime"):
                status["completionTime"] = now_rfc3339()
            self.delete_pods_and_services(job, run_policy, status, pods)
            self.cleanup_job(job, run_policy, status)
            self.finish(job, status, n.FAILED, failure)
            self.write_status(job, status)
            return self.until_expired(run_policy, status)

        for rtype in sorted(replicas):
            self.reconcile_pods(job, status, pods, rtype, replicas[rtype], replicas)
            self.reconcile_services(job, services, rtype, replicas[rtype])
        self.update_job_status(job, replicas, status)
        if status != old:
            self.write_status(job, status)
        if st.is_finished(status):
            return self.until_expired(run_policy, status)
        return self.until_deadline(run_policy, status)

    # ------------------------------------------------------------- policies
    def record_abnormal_pods(self, job: Obj, pods: list[Obj]) -> None:
        """``RecordAbnormalPods``: why an active pod is not progressing, as job events."""
        for pod in pods:
            pname, pst = pod["metadata"]["name"], pod.get("status") or {}
            statuses = pst.get("containerStatuses") or pst.get("initContainerStatuses") or []
            for cs in statuses:
                state = cs.get("state") or {}
                term, wait = state.get("terminated"), state.get("waiting")
                if term and term.get("exitCode", 0) != 0:
                    self.event(
                        job,
                        "Warning",
                        term.get("reason", ""),
                        f"Error pod {pname} container {cs.get('name')} exitCode: "
                        f"{term.get('exitCode')} terminated message: {term.get('message', '')}",
                    )
                if wait and wait.get("message"):
                    self.event(
                        job,
                        "Warning",
                        wait.get("reason", ""),
                        f"Error pod {pname} container {cs.get('name')} waiting message: "
                        f"{wait['message']}",
                    )
            if statuses or not pst.get("conditions"):
                continue
            latest = max(pst["conditions"], key=lambda c: c.get("lastTransitionTime") or "")
            if latest.get("status") != "True":
                self.event(
                    job,
                    "Warning",
                    latest.get("reason", ""),
                    f"Error pod {pname} condition message: {latest.get('message', '')}",
                )

    def past_backoff_limit(
        self, run_policy: Obj, replicas: dict[str, Obj], pods: list[Obj]
    ) -> bool:
        """Container restarts of Running pods, for replicas that restart, vs backoffLimit."""
        restarts = 0
        for rtype, spec in replicas.items():
            if spec.get("restartPolicy") not in (n.ON_FAILURE, n.ALWAYS, n.EXIT_CODE):
                continue
            for pod in pods:
                labels = pod["metadata"].get("labels") or {}
                pst = pod.get("status") or {}
                if (
                    labels.get(n.REPLICA_TYPE_LABEL) != rtype.lower()
                    or pst.get("phase") != "Running"
                ):
                    continue
                for cs in (pst.get("initContainerStatuses") or []) + (
                    pst.get("containerStatuses") or []
                ):
                    restarts += int(cs.get("restartCount") or 0)
        limit = int(run_policy["backoffLimit"])
        return restarts > 0 if limit == 0 else restarts >= limit

    def past_deadline(self, run_policy: Obj, status: st.Status) -> bool:
        deadline, start = (
            run_policy.get("activeDeadlineSeconds"),
            parse_time(status.get("startTime")),
        )
        return deadline is not None and start is not None and time.time() - start >= deadline

    def until_deadline(self, run_policy: Obj, status: st.Status) -> float | None:
        deadline, start = (
            run_policy.get("activeDeadlineSeconds"),
            parse_time(status.get("startTime")),
        )
        if deadline is None or start is None:
            return None
        return start + deadline - time.time()

    def until_expired(self, run_policy: Obj, status: st.Status) -> float | None:
        """``DurationUntilExpireTime``: when ttlSecondsAfterFinished deletes the job."""
        ttl, done = (
            run_policy.get("ttlSecondsAfterFinished"),
            parse_time(status.get("completionTime")),
        )
        if ttl is None or done is None or not st.is_finished(status):
            return None
        return done + ttl - time.time()

    def delete_pods_and_services(
        self, job: Obj, run_policy: Obj, status: st.Status, pods: list[Obj]
    ) -> None:
        """``DeletePodsAndServices``: cleanPodPolicy applies only once the job finished."""
        finished, policy = st.is_finished(status), run_policy.get("cleanPodPolicy")
        if not pods or (finished and policy == n.CLEAN_NONE):
            return
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            if finished and policy == n.CLEAN_RUNNING and phase not in ("Running", "Pending"):
                continue
            self.delete_pod(job, pod)
            self.delete_service(job, pod["metadata"]["name"])

    def cleanup_resources(
        self, job: Obj, run_policy: Obj, status: st.Status, pods: list[Obj]
    ) -> None:
        self.delete_pods_and_services(job, run_policy, status, pods)
        if not run_policy.get("suspend"):
            self.cleanup_job(job, run_policy, status)

    def cleanup_job(self, job: Obj, run_policy: Obj, status: st.Status) -> None:
        """``CleanupJob``: delete the job once ttlSecondsAfterFinished has passed."""
        left = self.until_expired(run_policy, status)
        if left is None or left > 0:
            return
        m = job["metadata"]
        try:
            self.api.delete(self.rt, m["namespace"], m["name"], user=self.user)
        except errors.ApiError as e:
            if e.code == 404:
                return
            self.event(job, "Warning", "FailedDeleteJob", f"Error deleting: {e.message}")
            raise
        self.event(job, "Normal", self.delete_job_reason(), f"Deleted job: {m['name']}")
