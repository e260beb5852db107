"""The batch/v1 Job controller, as kube-controller-manager's ``job-controller`` runs it.

One sync (``syncJob``) per Job key: count the Job's pods, decide whether the Job failed
(pod failure policy, ``backoffLimit``, ``backoffLimitPerIndex``, ``activeDeadlineSeconds``)
or met its success criteria (completions, ``successPolicy``), create or delete pods
(parallelism, completions, Indexed completion, ``suspend``, pod-failure backoff), and track
finished pods through the ``batch.kubernetes.io/job-tracking`` finalizer and
``status.uncountedTerminatedPods`` exactly as the real controller does, so counts survive
pods being deleted. Terminal conditions are set as a 1.37 cluster sets them: first
``FailureTarget``/``SuccessCriteriaMet``, and ``Failed``/``Complete`` once no pod is
terminating any more.

Pods are created, patched and deleted through ``kubesim.api`` as
``system:serviceaccount:kube-system:job-controller``: a pod that Pod Security admission or a
ResourceQuota rejects becomes a ``FailedCreate`` event on the Job with the API's message, and
the sync is retried with the controller's rate limiter (1 s doubling to 60 s).

Deviations from the real controller (simulator, not production):

- no 1 s batching of pod events and no informer expectations: kubesim's store is read and
  written synchronously, so a sync always sees every pod it created;
- orphans matching a Job's selector are not adopted, and pods whose labels stop matching are
  not released (only the controller reference counts);
- the pod-failure backoff (10 s doubling to 10 min in the real controller) is
  ``JobController.pod_failure_backoff`` / ``max_pod_failure_backoff``; tests lower it with
  ``JobController.of(sim).pod_failure_backoff = 0.1``;
- with ``restartPolicy: OnFailure`` failures are counted as the real controller does: the sum
  of the restart counts of the Job's running/pending pods against ``backoffLimit``; the kubelet
  restarts containers with its own (short) back-off, so the limit is reached in seconds.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from kubesim import errors
from kubesim.controllers import Controller
from kubesim.controllers import jobstatus as js
from kubesim.controllers.jobmanage import USER, PodControl
from kubesim.controllers.jobpods import (
    SyncCtx,
    failed_indexes,
    indexed,
    pods_with_delayed_deletion,
)
from kubesim.controllers.jobtracking import track
from kubesim.store import Event, now_rfc3339

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

COMPONENT = "job-controller"
Obj = dict[str, Any]
log = logging.getLogger("kubesim.controllers.jobs")


class KeyedTimers(Controller):
    """A controller whose delayed re-syncs are kept to one timer per key (the earliest),
    as a workqueue's ``AddAfter`` does, instead of piling up one per sync."""

    def __init__(self, sim: KubeSim) -> None:
        super().__init__(sim)
        self._timer_by_key: dict[Hashable, asyncio.TimerHandle] = {}

    def requeue(self, key: Hashable, after: float) -> None:
        loop = asyncio.get_running_loop()
        when = loop.time() + max(after, 0.0)
        old = self._timer_by_key.get(key)
        if old is not None and not old.cancelled():
            if old.when() <= when:
                return
            old.cancel()
            self._timers.discard(old)

        def fire() -> None:
            self._timer_by_key.pop(key, None)
            self._timers.discard(handle)
            self.enqueue(key)

        handle = loop.call_at(when, fire)
        self._timer_by_key[key] = handle
        self._timers.add(handle)


class JobController(PodControl, KeyedTimers):
    #: The pod-failure backoff base and cap, in seconds (kube-controller-manager: 10 s, 10 min).
    pod_failure_backoff = 10.0
    max_pod_failure_backoff = 600.0
    #: The sync retry rate limiter after API errors (1 s doubling to 60 s).
    api_backoff = 1.0
    max_api_backoff = 60.0

    def __init__(self, sim: KubeSim) -> None:
        super().__init__(sim)
        self.jobs_rt = self.api.rt("batch", "jobs")
        self.pods_rt = self.api.rt("", "pods")
        self._backoff: dict[Hashable, js.BackoffRecord] = {}
        self._api_errors: dict[Hashable, int] = {}

    @classmethod
    def of(cls, sim: KubeSim) -> JobController:
        """The simulator's Job controller (to tune its back-off in tests)."""
        return next(c for c in sim.controllers if isinstance(c, cls))

    # ---------------------------------------------------------------- events
    def on_event(self, ev: Event) -> None:
        if ev.rt.key == ("batch", "jobs"):
            m = ev.obj["metadata"]
            self.enqueue(("job", m["namespace"], m["name"]))
            if ev.type == "DELETED" or js.is_finished(ev.obj):
                self._cleanup_pod_finalizers(ev.obj)
        elif ev.rt.key == ("", "pods"):
            self._pod_event(ev)

    def _pod_event(self, ev: Event) -> None:
        pod, ns = ev.obj, ev.obj["metadata"]["namespace"]
        ref = _controller_ref(pod)
        old_ref = _controller_ref(ev.old) if ev.old else None
        if old_ref and old_ref != ref and (old := self._resolve(ns, old_ref)) is not None:
            self.enqueue(("job", ns, old["metadata"]["name"]))
        job = self._resolve(ns, ref) if ref else None
        if job is None or js.is_finished(job):
            # An orphan, or a pod of a finished Job: nothing will count it any more.
            if js.has_tracking_finalizer(pod) and ev.type != "DELETED":
                self.enqueue(("orphan", ns, pod["metadata"]["name"]))
            return
        self.enqueue(("job", ns, job["metadata"]["name"]))

    def _resolve(self, ns: str, ref: Obj) -> Obj | None:
        if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
            return None
        job = self.store.peek(self.jobs_rt, ns, ref.get("name", ""))
        if job is None or job["metadata"]["uid"] != ref.get("uid"):
            return None
        return job

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        uid, ns = job["metadata"]["uid"], job["metadata"]["namespace"]
        for pod in self.store.iter(self.pods_rt, ns):
            ref = _controller_ref(pod)
            if ref and ref.get("uid") == uid and js.has_tracking_finalizer(pod):
                self.enqueue(("orphan", ns, pod["metadata"]["name"]))

    # ------------------------------------------------------------- reconcile
    async def reconcile(self, key: Hashable) -> None:
        kind, ns, name = key  # type: ignore[misc]
        if kind == "orphan":
            self._sync_orphan(ns, name)
            return
        try:
            err = self._sync_job(ns, name)
        except errors.ApiError as e:
            err = e
        if err is None:
            self._api_errors.pop(key, None)
            return
        n = self._api_errors.get(key, 0)
        self._api_errors[key] = n + 1
        log.info("syncing job %s/%s (attempt %d): %s", ns, name, n + 1, err)
        self.requeue(key, min(self.api_backoff * 2**n, self.max_api_backoff))

    def _sync_orphan(self, ns: str, name: str) -> None:
        """``syncOrphanPod``: drop the tracking finalizer of a pod no live Job will count."""
        pod = self.store.peek(self.pods_rt, ns, name)
        if pod is None:
            return
        ref = _controller_ref(pod)
        if ref:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return
            job = self._resolve(ns, ref)
            if job is not None and _managed_elsewhere(job):
                return
            if job is not None and not js.is_finished(job):
                return  # still counted by its Job
        self.remove_finalizer(pod)

    def _sync_job(self, ns: str, name: str) -> Exception | None:
        key = ("job", ns, name)
        shared = self.store.peek(self.jobs_rt, ns, name)
        if shared is None or js.is_finished(shared):
            self._backoff.pop(key, None)
            return None
        if _managed_elsewhere(shared):
            return None
        job = copy.deepcopy(shared)
        spec, st = job["spec"], job.setdefault("status", {})
        conds = st.setdefault("conditions", [])
        now, now_s = time.time(), now_rfc3339()
        uid = job["metadata"]["uid"]
        pods = [
            p
            for p in self.store.iter(self.pods_rt, ns)
            if (_controller_ref(p) or {}).get("uid") == uid
        ]
        active = [p for p in pods if js.is_active(p)]
        unc = st.get("uncountedTerminatedPods") or {}
        ctx = SyncCtx(
            job,
            pods,
            active,
            ready=sum(js.is_ready(p) for p in active),
            terminating=sum(js.is_terminating(p) for p in pods),
            uncounted_succeeded=set(unc.get("succeeded") or []),
            uncounted_failed=set(unc.get("failed") or []),
        )
        new_succeeded, new_failed = self._new_finished_pods(ctx)
        ctx.new_finished = bool(new_succeeded or new_failed)
        ctx.succeeded = st.get("succeeded", 0) + len(new_succeeded) + len(ctx.uncounted_succeeded)
        counted = [p for p in new_failed if _counts(job, p)]
        ctx.failed = st.get("failed", 0) + len(counted) + len(ctx.uncounted_failed)
        suspended = bool(spec.get("suspend"))
        if not st.get("startTime") and not suspended:
            st["startTime"] = now_s
        ctx.backoff = self._backoff.get(key, js.BackoffRecord()).updated(new_succeeded, new_failed)

        ctx.finished = js.condition_true(job, "SuccessCriteriaMet")
        if ctx.finished is None:
            target = js.condition_true(job, "FailureTarget")
            message = _fail_job_message(job, pods)
            if target is not None:
                ctx.finished = js.new_condition(
                    "Failed", "True", target.get("reason", ""), target.get("message", ""), now_s
                )
            elif message is not None:
                ctx.finished = _failure_target("PodFailurePolicy", message, now_s)
        if ctx.finished is None:
            deadline = spec.get("activeDeadlineSeconds")
            started = js.parse_time(st.get("startTime"))
            if ctx.failed > spec.get("backoffLimit", 6) or _past_backoff_limit_on_failure(
                job, pods
            ):
                ctx.finished = _failure_target(
                    "BackoffLimitExceeded", "Job has reached the specified backoff limit", now_s
                )
            elif deadline is not None and started is not None and not suspended:
                if now - started >= deadline:
                    ctx.finished = _failure_target(
                        "DeadlineExceeded", "Job was active longer than specified deadline", now_s
                    )
                else:
                    self.requeue(key, deadline - (now - started))
        if indexed(job):
            self._indexes(ctx, now_s)

        err: Exception | None = None
        n_active = len(active)
        if ctx.finished is not None:
            # Remove active pods: the Job failed or met its success criteria.
            deleted_ready, deleted, err = self.delete_pods(job, active, drop_finalizer=False)
            if deleted != n_active:
                ctx.finished = None  # pods remain: not finished yet
            n_active -= deleted
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
        else:
            managed = False
            if not job["metadata"].get("deletionTimestamp"):
                n_active, err = self.manage(key, ctx, now)
                managed = True
            completions = spec.get("completions")
            if completions is None:
                complete = ctx.succeeded > 0 and n_active == 0
            else:
                complete = ctx.succeeded >= completions and n_active == 0
            if complete:
                ctx.finished = js.new_condition(
                    "SuccessCriteriaMet",
                    "True",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    now_s,
                )
            elif managed and suspended:
                if js.ensure_condition(
                    conds, "Suspended", "True", "JobSuspended", "Job suspended", now_s
                ):
                    self.event(job, "Normal", "Suspended", "Job suspended")
            elif managed and js.ensure_condition(
                conds, "Suspended", "False", "JobResumed", "Job resumed", now_s
            ):
                self.event(job, "Normal", "Resumed", "Job resumed")
                # ActiveDeadlineSeconds counts the time a Job is continuously active.
                st["startTime"] = now_s
        st["active"], st["ready"], st["terminating"] = n_active, ctx.ready, ctx.terminating
        track(self, key, ctx, now_s)
        return err

    # -------------------------------------------------------------- counting
    def _new_finished_pods(self, ctx: SyncCtx) -> tuple[list[Obj], list[Obj]]:
        """``getNewFinishedPods``: finished pods not yet counted (they hold the finalizer)."""
        succeeded, failed = [], []
        completions = ctx.job["spec"].get("completions") or 0
        for p in ctx.pods:
            uid = p["metadata"]["uid"]
            if not js.has_tracking_finalizer(p):
                continue
            if indexed(ctx.job) and not 0 <= js.completion_index(p) < completions:
                continue
            if js.phase(p) == "Succeeded" and uid not in ctx.uncounted_succeeded:
                succeeded.append(p)
            elif js.is_pod_failed(p, ctx.job) and uid not in ctx.uncounted_failed:
                failed.append(p)
        return succeeded, failed

    def _indexes(self, ctx: SyncCtx, now_s: str) -> None:
        job, spec = ctx.job, ctx.job["spec"]
        completions = spec["completions"]
        ctx.prev_succeeded_indexes = js.parse_indexes(
            job["status"].get("completedIndexes"), completions
        )
        new = sorted(
            {
                js.completion_index(p)
                for p in ctx.pods
                if js.phase(p) == "Succeeded"
                and 0 <= js.completion_index(p) < completions
                and js.has_tracking_finalizer(p)
            }
        )
        ctx.succeeded_indexes = js.with_indexes(ctx.prev_succeeded_indexes, new)
        ctx.succeeded = js.total(ctx.succeeded_indexes)
        if spec.get("backoffLimitPerIndex") is not None:
            ctx.failed_indexes = failed_indexes(job, ctx.pods)
            n_failed = js.total(ctx.failed_indexes)
            if ctx.finished is None:
                max_failed = spec.get("maxFailedIndexes")
                if max_failed is not None and n_failed > max_failed:
                    ctx.finished = _failure_target(
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                        now_s,
                    )
                elif n_failed > 0 and n_failed + ctx.succeeded >= completions:
                    ctx.finished = _failure_target("FailedIndexes", "Job has failed indexes", now_s)
            ctx.delayed = pods_with_delayed_deletion(
                job, ctx.pods, ctx.active, ctx.succeeded_indexes, ctx.failed_indexes
            )
        if ctx.finished is None:
            msg = js.match_success_policy(
                spec.get("successPolicy"), completions, ctx.succeeded_indexes
            )
            if msg:
                ctx.finished = js.new_condition(
                    "SuccessCriteriaMet", "True", "SuccessPolicy", msg, now_s
                )

    # ---------------------------------------------------------------- output
    def write_status(self, job: Obj) -> Obj:
        """``UpdateStatus`` with the canonical (omitempty) status; a no-op when unchanged."""
        m = job["metadata"]
        body = copy.deepcopy(job)
        body["status"] = js.render_status(job["status"])
        cur = self.store.peek(self.jobs_rt, m["namespace"], m["name"])
        if cur is not None and cur.get("status") == body["status"]:
            return copy.deepcopy(cur)
        return self.api.update(
            self.jobs_rt, m["namespace"], m["name"], body, subresource="status", user=USER
        )

    def event(self, job: Obj, type_: str, reason: str, message: str) -> None:
        self.sim.recorder.record(job, type_, reason, message, COMPONENT)


def _controller_ref(obj: Obj | None) -> Obj | None:
    if not obj:
        return None
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def _managed_elsewhere(job: Obj) -> bool:
    managed = job["spec"].get("managedBy")
    return bool(managed) and managed != js.JOB_CONTROLLER_NAME


def _counts(job: Obj, pod: Obj) -> bool:
    return js.match_pod_failure_policy(job["spec"].get("podFailurePolicy"), pod)[1]


def _fail_job_message(job: Obj, pods: list[Obj]) -> str | None:
    policy = job["spec"].get("podFailurePolicy")
    if not policy:
        return None
    for p in pods:
        if js.is_pod_failed(p, job):
            msg = js.match_pod_failure_policy(policy, p)[0]
            if msg is not None:
                return msg
    return None


def _failure_target(reason: str, message: str, now_s: str) -> Obj:
    # With JobManagedBy/JobPodReplacementPolicy (1.37: always) Failed waits behind this.
    return js.new_condition("FailureTarget", "True", reason, message, now_s)


def _past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """OnFailure pods are restarted in place: their restarts count against backoffLimit."""
    if job["spec"]["template"].get("spec", {}).get("restartPolicy") != "OnFailure":
        return False
    n = sum(js.restarts(p) for p in pods if js.phase(p) in ("Running", "Pending"))
    limit = job["spec"].get("backoffLimit", 6)
    return n > 0 if limit == 0 else n >= limit
