"""Pod creation and deletion for the Job controller (``manageJob`` and ``PodControl``).

Every write goes through ``kubesim.api`` as the job-controller's ServiceAccount, so
admission (Pod Security, ResourceQuota, validation) treats these pods like any other, and
every create/delete leaves the event the real controller records on the Job:
``SuccessfulCreate`` "Created pod: <name>", ``FailedCreate`` "Error creating: <API message>",
``SuccessfulDelete`` "Deleted pod: <name>", ``FailedDelete`` "Error deleting: ...".
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from typing import Any

from kubesim import errors
from kubesim.controllers import jobstatus as js
from kubesim.controllers.jobpods import (
    SyncCtx,
    active_pods_for_removal,
    build_pod,
    first_pending_indexes,
    indexed,
    new_failure_counts,
    per_index,
)

USER = "system:serviceaccount:kube-system:job-controller"
MAX_POD_CREATE_DELETE_PER_SYNC = 500
Obj = dict[str, Any]


class PodControl:
    """Mixed into ``JobController``: needs ``api``, ``store``, ``pods_rt``, ``event`` and
    ``requeue``, and the back-off settings."""

    api: Any
    store: Any
    pods_rt: Any
    pod_failure_backoff: float
    max_pod_failure_backoff: float
    event: Callable[[Obj, str, str, str], None]
    requeue: Callable[[Hashable, float], None]

    # ---------------------------------------------------------------- manage
    def manage(self, key: Hashable, ctx: SyncCtx, now: float) -> tuple[int, Exception | None]:
        """``manageJob``: delete or create pods towards the wanted number of active pods.
        Returns the number of active pods to report and the first API error."""
        job, spec = ctx.job, ctx.job["spec"]
        active = len(ctx.active)
        if spec.get("suspend"):
            pods = active_pods_for_removal(job, ctx.active, active)
            return self._scale_down(job, ctx, active, pods)
        parallelism = spec.get("parallelism", 1)
        completions = spec.get("completions")
        if completions is None:
            # A work queue: once a pod succeeded, whatever runs may finish; nothing new.
            want = active if ctx.succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - ctx.succeeded, parallelism))
        surplus = active_pods_for_removal(job, ctx.active, max(0, active - want))
        if surplus:  # deletion takes precedence over creation in one sync
            return self._scale_down(job, ctx, active, surplus[:MAX_POD_CREATE_DELETE_PER_SYNC])
        terminating = ctx.terminating if js.only_replace_failed(job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active, None
        if not per_index(job):
            wait = js.backoff_remaining(
                ctx.backoff.failures,
                ctx.backoff.last_failure,
                self.pod_failure_backoff,
                self.max_pod_failure_backoff,
                now,
            )
            if wait > 0:
                self.requeue(key, wait)
                return 0, None  # sic: kube-controller-manager reports 0 active while it waits
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int] = []
        if indexed(job):
            indexes = first_pending_indexes(job, ctx, diff)
            if per_index(job):
                indexes, wait = self._ready_indexes(indexes, ctx.delayed, now)
                if wait > 0:
                    self.requeue(key, wait)
                    return 0, None
            diff = len(indexes)
        return self._create_pods(job, ctx, active, diff, indexes)

    def _scale_down(
        self, job: Obj, ctx: SyncCtx, active: int, pods: list[Obj]
    ) -> tuple[int, Exception | None]:
        ready, removed, err = self.delete_pods(job, pods, drop_finalizer=True)
        ctx.terminating += removed
        ctx.ready -= ready
        return active - removed, err

    def _ready_indexes(
        self, indexes: list[int], delayed: dict[int, Obj], now: float
    ) -> tuple[list[int], float]:
        """Indexes whose per-index back-off is over, else the shortest remaining wait."""
        ready, waits = [], []
        for ix in indexes:
            last = delayed.get(ix)
            wait = 0.0
            if last is not None:
                wait = js.backoff_remaining(
                    sum(js.failure_counts(last)) + 1,
                    js.finished_time(last),
                    self.pod_failure_backoff,
                    self.max_pod_failure_backoff,
                    now,
                )
            if wait == 0:
                ready.append(ix)
            else:
                waits.append(wait)
        return (ready, 0.0) if ready else ([], min(waits, default=0.0))

    # ---------------------------------------------------------------- create
    def _create_pods(
        self, job: Obj, ctx: SyncCtx, active: int, diff: int, indexes: list[int]
    ) -> tuple[int, Exception | None]:
        """Create ``diff`` pods in slow-start batches (1, 2, 4 ...): after a batch with a
        failure the rest waits for the next sync, so a quota or Pod Security rejection
        costs one request per retry, not one per missing pod."""
        active += diff
        first_err: Exception | None = None
        batch = min(diff, 1)
        while diff > 0:
            failures = 0
            for _ in range(batch):
                ix = indexes.pop(0) if indexes else None
                counts = None
                if ix is not None and per_index(job):
                    counts = new_failure_counts(job, ctx.delayed.get(ix))
                err = self._create_pod(job, build_pod(job, ix, counts))
                if err is not None:
                    active -= 1
                    failures += 1
                    first_err = first_err or err
            skipped = diff - batch
            if failures and skipped > 0:
                active -= skipped
                break
            diff -= batch
            batch = min(2 * batch, diff)
        return active, first_err

    def _create_pod(self, job: Obj, pod: Obj) -> Exception | None:
        ns = job["metadata"]["namespace"]
        try:
            created = self.api.create(self.pods_rt, ns, pod, user=USER)
        except errors.ApiError as e:
            if "because it is being terminated" in e.message:
                return None  # the namespace is going away: no event, as the real one
            self.event(job, "Warning", "FailedCreate", f"Error creating: {e.message}")
            return e
        self.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return None

    # ---------------------------------------------------------------- delete
    def delete_pods(
        self, job: Obj, pods: list[Obj], *, drop_finalizer: bool
    ) -> tuple[int, int, Exception | None]:
        """Delete pods; returns (how many were ready, deleted, first error).

        ``drop_finalizer``: pods removed while the Job goes on (suspend, scale down) are
        not counted, so their finalizer goes first (``deleteJobPods``); pods of a Job that
        is finishing keep it until they are counted (``deleteActivePods``)."""
        ns = job["metadata"]["namespace"]
        ready = deleted = 0
        first_err: Exception | None = None
        for pod in pods:
            name = pod["metadata"]["name"]
            try:
                if drop_finalizer:
                    self.remove_finalizer(pod)
                self.api.delete(self.pods_rt, ns, name, user=USER)
                self.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
                deleted += 1
            except errors.ApiError as e:
                if e.code == 404:
                    deleted += 1
                else:
                    self.event(job, "Warning", "FailedDelete", f"Error deleting: {e.message}")
                    first_err = first_err or e
            ready += js.is_ready(pod)
        return ready, deleted, first_err

    def remove_finalizer(self, pod: Obj) -> None:
        """Drop the tracking finalizer (the real controller patches the pod). A pod that is
        gone counts as done."""
        m = pod["metadata"]
        cur = self.store.peek(self.pods_rt, m["namespace"], m["name"])
        if cur is None or cur["metadata"]["uid"] != m["uid"] or not js.has_tracking_finalizer(cur):
            return
        new = copy.deepcopy(cur)
        fins = [f for f in new["metadata"]["finalizers"] if f != js.TRACKING_FINALIZER]
        if fins:
            new["metadata"]["finalizers"] = fins
        else:
            del new["metadata"]["finalizers"]
        try:
            self.api.update(self.pods_rt, m["namespace"], m["name"], new, user=USER)
        except errors.ApiError as e:
            if e.code != 404:
                raise
