"""Counting finished pods with the tracking finalizer (``trackJobStatusAndRemoveFinalizers``).

A finished pod is first written into ``status.uncountedTerminatedPods``, then its
``batch.kubernetes.io/job-tracking`` finalizer is removed, then it moves from the uncounted
list into ``succeeded``/``failed``: a pod is counted exactly once even if it is deleted the
moment its finalizer goes. The terminal condition (``Complete``/``Failed``) is added only
when nothing is left uncounted and no pod is terminating; the interim
``SuccessCriteriaMet``/``FailureTarget`` condition is written before the finalizers go.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from kubesim.controllers import jobstatus as js
from kubesim.controllers.jobpods import SyncCtx, indexed

Obj = dict[str, Any]


def _clean_uncounted(st: Obj, with_finalizer: set[str]) -> None:
    """Move uncounted pods whose finalizer is gone into the counters."""
    unc = st.setdefault("uncountedTerminatedPods", {})
    for key, counter in (("succeeded", "succeeded"), ("failed", "failed")):
        uids = unc.get(key) or []
        keep = [u for u in uids if u in with_finalizer]
        if len(keep) != len(uids):
            st[counter] = st.get(counter, 0) + len(uids) - len(keep)
            unc[key] = keep


def _can_remove_finalizer(ctx: SyncCtx, pod: Obj, failed: bool) -> bool:
    if ctx.job["metadata"].get("deletionTimestamp") or ctx.finished or js.phase(pod) == "Succeeded":
        return True
    if not failed:
        return False
    delayed = ctx.delayed.get(js.completion_index(pod))
    return delayed is None or delayed["metadata"]["uid"] != pod["metadata"]["uid"]


def track(jc: Any, key: Hashable, ctx: SyncCtx, now_s: str) -> None:
    """Count finished pods, remove their finalizers, and finish the Job when it is done.
    ``jc`` is the JobController (``write_status``, ``remove_finalizer``, ``event``)."""
    job, spec = ctx.job, ctx.job["spec"]
    st = job["status"]
    conds = st.setdefault("conditions", [])
    completions = spec.get("completions") or 0
    pods = ctx.pods
    if indexed(job):
        pods = sorted(pods, key=js.completion_index)
    with_finalizer = {p["metadata"]["uid"] for p in pods if js.has_tracking_finalizer(p)}
    _clean_uncounted(st, with_finalizer)
    unc = st["uncountedTerminatedPods"]
    policy = spec.get("podFailurePolicy")
    to_remove: list[Obj] = []
    new_indexes: list[int] = []
    for pod in pods:
        if not js.has_tracking_finalizer(pod):
            continue  # counted in an earlier sync
        failed = js.is_pod_failed(pod, job)
        if not _can_remove_finalizer(ctx, pod, failed):
            continue
        to_remove.append(pod)
        uid, ix = pod["metadata"]["uid"], js.completion_index(pod)
        if js.phase(pod) == "Succeeded" and uid not in ctx.uncounted_failed:
            if indexed(job):
                if 0 <= ix < completions and not js.has(ctx.prev_succeeded_indexes, ix):
                    new_indexes.append(ix)
            elif uid not in ctx.uncounted_succeeded:
                unc.setdefault("succeeded", []).append(uid)
        elif failed or (ctx.finished and ctx.finished["type"] != "SuccessCriteriaMet"):
            # When the Job failed, every pod that did not succeed counts as failed.
            valid = not indexed(job) or 0 <= ix < completions
            if (
                uid not in ctx.uncounted_failed
                and valid
                and js.match_pod_failure_policy(policy, pod)[1]
            ):
                unc.setdefault("failed", []).append(uid)
    if indexed(job):
        ctx.succeeded_indexes = js.with_indexes(ctx.succeeded_indexes, sorted(new_indexes))
        st["succeeded"] = js.total(ctx.succeeded_indexes)
        st["completedIndexes"] = js.format_indexes(ctx.succeeded_indexes)
        if ctx.failed_indexes is not None:
            st["failedIndexes"] = js.format_indexes(ctx.failed_indexes)
    fin = ctx.finished
    if fin is not None and fin["type"] == "FailureTarget":
        conds.append(fin)
        ctx.finished = js.new_condition(
            "Failed", "True", fin.get("reason", ""), fin.get("message", ""), now_s
        )
    elif fin is not None and fin["type"] == "SuccessCriteriaMet":
        if js.condition_true(job, "SuccessCriteriaMet") is None:
            conds.append(fin)
        ctx.finished = js.new_condition(
            "Complete", "True", fin.get("reason", ""), fin.get("message", ""), now_s
        )
    # 1. the uncounted pods and interim conditions reach the API before any finalizer goes
    ctx.job = job = _flush(jc, job)
    if ctx.new_finished:
        jc._backoff[key] = ctx.backoff
    # 2. finalizers; 3. counters for the pods whose finalizer is gone
    first_err = None
    for pod in to_remove:
        try:
            jc.remove_finalizer(pod)
            with_finalizer.discard(pod["metadata"]["uid"])
        except Exception as e:  # counted in a later sync
            first_err = first_err or e
    st = job["status"]
    _clean_uncounted(st, with_finalizer)
    finished = _enact_finished(ctx, now_s)
    ctx.job = job = _flush(jc, job)
    if finished:
        _record_finished(jc, job, ctx.finished)  # type: ignore[arg-type]
    if first_err is not None:
        raise first_err


def _flush(jc: Any, job: Obj) -> Obj:
    job["status"] = js.render_status(job["status"])
    written = jc.write_status(job)
    written.setdefault("status", {}).setdefault("conditions", [])
    return written


def _enact_finished(ctx: SyncCtx, now_s: str) -> bool:
    """Add Complete/Failed once every pod is counted and none is terminating."""
    fin, st = ctx.finished, ctx.job["status"]
    if fin is None:
        return False
    unc = st.get("uncountedTerminatedPods") or {}
    if unc.get("succeeded") or unc.get("failed") or ctx.terminating > 0:
        return False
    js.ensure_condition(
        st.setdefault("conditions", []),
        fin["type"],
        fin["status"],
        fin.get("reason", ""),
        fin.get("message", ""),
        now_s,
    )
    if fin["type"] == "Complete":
        st["completionTime"] = fin["lastTransitionTime"]
    return True


def _record_finished(jc: Any, job: Obj, fin: Obj) -> None:
    if fin["type"] == "Complete":
        completions = job["spec"].get("completions")
        if completions is not None and job["status"].get("succeeded", 0) > completions:
            jc.event(
                job,
                "Warning",
                "TooManySucceededPods",
                "Too many succeeded pods running after completion count reached",
            )
        jc.event(job, "Normal", "Completed", "Job completed")
    else:
        jc.event(job, "Warning", fin.get("reason", ""), fin.get("message", ""))
