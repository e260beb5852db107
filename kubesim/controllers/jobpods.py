"""The pods of a Job as one sync sees them, and the pods it creates: pure functions.

``build_pod`` is ``GetPodFromTemplate`` plus what ``manageJob`` adds (the tracking
finalizer, the controller reference, and for Indexed Jobs the completion index label,
annotation, ``JOB_COMPLETION_INDEX`` env var and ``<job>-<index>`` hostname). The index
helpers follow ``indexed_job_utils.go``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kubesim.controllers import jobstatus as js

Obj = dict[str, Any]


@dataclass
class SyncCtx:
    """What one sync knows about its Job (``syncJobCtx``)."""

    job: Obj
    pods: list[Obj]
    active: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    succeeded: int = 0
    failed: int = 0
    finished: Obj | None = None
    prev_succeeded_indexes: js.Intervals = field(default_factory=list)
    succeeded_indexes: js.Intervals = field(default_factory=list)
    failed_indexes: js.Intervals | None = None
    #: Per index, the failed pod kept (finalizer and all) until its replacement exists.
    delayed: dict[int, Obj] = field(default_factory=dict)
    backoff: js.BackoffRecord = field(default_factory=js.BackoffRecord)
    new_finished: bool = False


def indexed(job: Obj) -> bool:
    return job["spec"].get("completionMode") == "Indexed"


def per_index(job: Obj) -> bool:
    return job["spec"].get("backoffLimitPerIndex") is not None


def controller_ref(job: Obj) -> Obj:
    m = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": m["name"],
        "uid": m["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def generate_name(job_name: str, index: int | None) -> str:
    """``<job>-`` or ``<job>-<index>-``, shortened as the apiserver would shorten it."""
    if index is None:
        return (job_name + "-")[: js.MAX_GENERATED_NAME_LENGTH]
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > js.MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[: js.MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def _add_index_env(container: Obj) -> None:
    env = container.setdefault("env", [])
    if any(e.get("name") == js.COMPLETION_INDEX_ENV for e in env):
        return
    path = f"metadata.labels['{js.COMPLETION_INDEX}']"  # PodIndexLabel (GA): the label
    env.append({"name": js.COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {"fieldPath": path}}})


def build_pod(job: Obj, index: int | None, failure_counts: tuple[int, int] | None = None) -> Obj:
    """The pod ``manageJob`` creates for ``job`` (and completion ``index``)."""
    tpl = job["spec"].get("template") or {}
    tmeta = tpl.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    annotations = dict(tmeta.get("annotations") or {})
    finalizers = list(tmeta.get("finalizers") or [])
    if js.TRACKING_FINALIZER not in finalizers:
        finalizers.append(js.TRACKING_FINALIZER)
    spec = copy.deepcopy(tpl.get("spec") or {})
    name = job["metadata"]["name"]
    if indexed(job):
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            _add_index_env(c)
    if index is not None:
        annotations[js.COMPLETION_INDEX] = str(index)
        labels[js.COMPLETION_INDEX] = str(index)
        spec["hostname"] = f"{name}-{index}"
        if failure_counts is not None:
            count, ignored = failure_counts
            annotations[js.INDEX_FAILURE_COUNT] = str(count)
            if ignored > 0:
                annotations[js.INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    meta: Obj = {"generateName": generate_name(name, index), "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    meta["finalizers"] = finalizers
    meta["ownerReferences"] = [controller_ref(job)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def new_failure_counts(job: Obj, replaced: Obj | None) -> tuple[int, int]:
    """``getNewIndexFailureCounts``: the counts a replacement of ``replaced`` carries."""
    if replaced is None:
        return 0, 0
    count, ignored = js.failure_counts(replaced)
    if js.match_pod_failure_policy(job["spec"].get("podFailurePolicy"), replaced)[1]:
        return count + 1, ignored
    return count, ignored + 1


def _indexes_of(pods: list[Obj]) -> set[int]:
    return {ix for p in pods if (ix := js.completion_index(p)) >= 0}


def first_pending_indexes(job: Obj, ctx: SyncCtx, count: int) -> list[int]:
    """The lowest ``count`` indexes with no active pod that did not succeed or fail."""
    completions = job["spec"]["completions"]
    busy = js.with_indexes(ctx.succeeded_indexes, sorted(_indexes_of(ctx.active)))
    if js.only_replace_failed(job):
        terminating = [p for p in ctx.pods if js.is_terminating(p)]
        busy = js.with_indexes(busy, sorted(_indexes_of(terminating)))
    if ctx.failed_indexes:
        busy = js.merge(busy, ctx.failed_indexes)
    out = []
    ix = 0
    while ix < completions and len(out) < count:
        if js.has(busy, ix):
            ix += 1
            continue
        out.append(ix)
        ix += 1
    return out


def active_pods_for_removal(job: Obj, active: list[Obj], at_least: int) -> list[Obj]:
    """Pods to delete: for Indexed Jobs first those with a duplicated, missing or out of
    range index, then the cheapest ones (``controller.ActivePods`` order)."""
    rm: list[Obj] = []
    left = list(active)
    if indexed(job):
        completions = job["spec"]["completions"]
        rm, left = [], []
        by_index: dict[int, list[Obj]] = {}
        for p in active:
            ix = js.completion_index(p)
            if ix < 0 or ix >= completions:
                rm.append(p)
            else:
                by_index.setdefault(ix, []).append(p)
        for ix in sorted(by_index):
            same = sorted(by_index[ix], key=js.removal_key)
            rm.extend(same[:-1])
            left.append(same[-1])
    if len(rm) < at_least:
        left.sort(key=js.removal_key)
        rm.extend(left[: at_least - len(rm)])
    return rm


def _index_failed(job: Obj, pod: Obj) -> bool:
    """``isIndexFailed``: FailIndex matched, or the index used up backoffLimitPerIndex."""
    counted = False
    if js.is_pod_failed(pod, job):
        _, counted, action = js.match_pod_failure_policy(job["spec"].get("podFailurePolicy"), pod)
        if action == "FailIndex":
            return True
    return counted and js.failure_counts(pod)[0] >= job["spec"]["backoffLimitPerIndex"]


def failed_indexes(job: Obj, pods: list[Obj]) -> js.Intervals:
    completions = job["spec"]["completions"]
    prev = js.parse_indexes((job.get("status") or {}).get("failedIndexes"), completions)
    new = {
        js.completion_index(p)
        for p in pods
        if 0 <= js.completion_index(p) < completions
        and js.has_tracking_finalizer(p)
        and _index_failed(job, p)
    }
    return js.with_indexes(prev, sorted(new))


def pods_with_delayed_deletion(
    job: Obj,
    pods: list[Obj],
    active: list[Obj],
    succeeded: js.Intervals,
    failed: js.Intervals | None,
) -> dict[int, Obj]:
    """Per index, the last failed pod, whose finalizer stays until its replacement is
    created so the replacement can carry the index's failure count."""
    completions = job["spec"]["completions"]
    active_ix = _indexes_of(active)
    out: dict[int, Obj] = {}
    for p in pods:
        if not js.has_tracking_finalizer(p) or not js.is_pod_failed(p, job):
            continue
        ix = js.completion_index(p)
        if not 0 <= ix < completions:
            continue
        if js.has(succeeded, ix) or js.has(failed, ix) or ix in active_ix:
            continue
        last = out.get(ix)
        if last is None or (
            sum(js.failure_counts(last)) <= sum(js.failure_counts(p))
            and js.finished_time(p) >= js.finished_time(last)
        ):
            out[ix] = p
    return out
