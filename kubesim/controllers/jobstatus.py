"""The pure rules of the batch/v1 Job controller: which pods count, how indexes are
written, what a pod failure policy or a success policy says, and when to retry.

Kept apart from :mod:`kubesim.controllers.jobs` (the I/O) so each rule reads like its
counterpart in kube-controller-manager's ``pkg/controller/job`` (``indexed_job_utils.go``,
``pod_failure_policy.go``, ``success_policy.go``, ``backoff_utils.go``) and can be unit
tested without a cluster. Objects are plain manifest dicts; times are Unix seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
#: Closed intervals of completion indexes, ordered and non-adjacent: [(0, 2), (5, 5)].
Intervals = list[tuple[int, int]]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
#: names.MaxGeneratedNameLength: the apiserver keeps this much of a generateName prefix.
MAX_GENERATED_NAME_LENGTH = 58


# ------------------------------------------------------------------ time
def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def format_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------- intervals
def parse_indexes(text: str | None, completions: int) -> Intervals:
    """``parseIndexesFromString``: "1,3-5" -> [(1, 1), (3, 5)], clipped to completions."""
    out: Intervals = []
    for part in (text or "").split(","):
        if not part:
            continue
        lo_s, _, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if hi_s else lo
        except ValueError:
            continue  # corrupted interval: ignored, as the controller does
        if lo >= completions:
            break
        hi = min(hi, completions - 1)
        if out and out[-1][1] == lo - 1:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def merge(a: Intervals, b: Intervals) -> Intervals:
    out: Intervals = []
    for lo, hi in sorted(a + b):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def with_indexes(iv: Intervals, indexes: Iterable[int]) -> Intervals:
    return merge(iv, [(i, i) for i in indexes])


def total(iv: Intervals | None) -> int:
    return sum(hi - lo + 1 for lo, hi in iv or [])


def has(iv: Intervals | None, ix: int) -> bool:
    return any(lo <= ix <= hi for lo, hi in iv or [])


def format_indexes(iv: Intervals) -> str:
    """``orderedIntervals.String``: two adjacent indexes are written "3,4", more "3-5"."""
    parts = []
    for lo, hi in iv:
        if hi == lo:
            parts.append(str(lo))
        elif hi == lo + 1:
            parts.append(f"{lo},{hi}")
        else:
            parts.append(f"{lo}-{hi}")
    return ",".join(parts)


# ------------------------------------------------------------------ pods
def phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase", "")


def is_terminal(pod: Obj) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """``controller.FilterActivePods``: not finished and not being deleted."""
    return not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and not is_terminal(pod)


def is_ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def completion_index(pod: Obj) -> int:
    """The pod's completion index annotation, or -1 when missing or malformed."""
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    try:
        ix = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1
    return ix if ix >= 0 else -1


def restarts(pod: Obj) -> int:
    st = pod.get("status") or {}
    return sum(
        c.get("restartCount", 0)
        for c in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or [])
    )


def removal_key(pod: Obj) -> tuple:
    """``controller.ActivePods`` order: the first pods are the cheapest to delete
    (unscheduled < scheduled, Pending < Unknown < Running, not ready < ready, more
    restarts first, newer first)."""
    rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(phase(pod), 0)
    created = parse_time(pod["metadata"].get("creationTimestamp")) or 0.0
    return (bool(pod["spec"].get("nodeName")), rank, is_ready(pod), -restarts(pod), -created)


def only_replace_failed(job: Obj) -> bool:
    spec = job["spec"]
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed phase or, unless only failed pods are replaced, deleted before succeeding."""
    if phase(pod) == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) != "Succeeded"


def finished_time(pod: Obj) -> float:
    """``getFinishedTime``: the last container's finish, else Ready=False's transition,
    else the deletion time minus its grace period, else the creation time."""
    st = pod.get("status") or {}
    latest = None
    statuses = st.get("containerStatuses") or []
    for cs in statuses:
        t = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is None:
            latest = None
            break
        latest = t if latest is None else max(latest, t)
    if latest is not None:
        return latest
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "False":
            t = parse_time(c.get("lastTransitionTime"))
            if t is not None:
                return t
    meta = pod["metadata"]
    deleted = parse_time(meta.get("deletionTimestamp"))
    if deleted is not None:
        return deleted - (meta.get("deletionGracePeriodSeconds") or 0)
    return parse_time(meta.get("creationTimestamp")) or 0.0


def failure_counts(pod: Obj) -> tuple[int, int]:
    """(index failure count, ignored failure count) from the pod's annotations."""
    ann = pod["metadata"].get("annotations") or {}

    def parse(key: str) -> int:
        try:
            v = int(ann.get(key, "0"))
        except ValueError:
            return 0
        return v if 0 <= v <= 2**31 - 1 else 0

    return parse(INDEX_FAILURE_COUNT), parse(INDEX_IGNORED_FAILURE_COUNT)


# -------------------------------------------------------------- policies
def _exit_code_matches(code: int, req: Obj) -> bool:
    values = req.get("values") or []
    if req.get("operator") == "In":
        return code in values
    if req.get("operator") == "NotIn":
        return code not in values
    return False


def _matching_container(pod: Obj, req: Obj) -> Obj | None:
    st = pod.get("status") or {}
    for statuses in (st.get("containerStatuses") or [], st.get("initContainerStatuses") or []):
        for cs in statuses:
            term = (cs.get("state") or {}).get("terminated")
            if term is None:
                continue  # still terminating: no exit code to match yet
            if req.get("containerName") in (None, cs.get("name")):
                code = term.get("exitCode", 0)
                if code != 0 and _exit_code_matches(code, req):
                    return cs
    return None


def _matching_condition(pod: Obj, patterns: list[Obj]) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        for pat in patterns:
            # The API defaults a pattern's status to "True".
            if cond.get("type") == pat.get("type") and cond.get("status") == pat.get(
                "status", "True"
            ):
                return cond
    return None


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str | None, bool, str | None]:
    """``matchPodFailurePolicy``: (FailJob message, counts toward backoffLimit, action)."""
    if not policy:
        return None, True, None
    ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
    for i, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            cs = _matching_container(pod, rule["onExitCodes"])
            if cs is None:
                continue
            code = cs["state"]["terminated"].get("exitCode", 0)
            msg = (
                f"Container {cs.get('name')} for pod {ns}/{name} failed with exit code "
                f"{code} matching {action} rule at index {i}"
            )
        elif rule.get("onPodConditions") is not None:
            cond = _matching_condition(pod, rule["onPodConditions"])
            if cond is None:
                continue
            msg = (
                f"Pod {ns}/{name} has condition {cond.get('type')} matching {action} "
                f"rule at index {i}"
            )
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("Count", "FailIndex"):
            return None, True, action
        if action == "FailJob":
            return msg, True, action
    return None, True, None


def match_success_policy(policy: Obj | None, completions: int, succeeded: Intervals) -> str | None:
    """``matchSuccessPolicy``: "Matched rules at index N" when a rule is met."""
    if not policy or not succeeded:
        return None
    for i, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], completions)
            if not required:
                continue
            contained = sum(
                max(0, min(hi, shi) - max(lo, slo) + 1)
                for lo, hi in required
                for slo, shi in succeeded
            )
            if contained == total(required) or (count is not None and contained >= count):
                return f"Matched rules at index {i}"
        elif count is not None and total(succeeded) >= count:
            return f"Matched rules at index {i}"
    return None


# ------------------------------------------------------------ conditions
def new_condition(type_: str, status: str, reason: str, message: str, now: str) -> Obj:
    cond = {"type": type_, "status": status, "lastProbeTime": now, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def find_condition(conds: list[Obj], type_: str) -> Obj | None:
    return next((c for c in conds if c.get("type") == type_), None)


def ensure_condition(
    conds: list[Obj], type_: str, status: str, reason: str, message: str, now: str
) -> bool:
    """``ensureJobConditionStatus``: set or add the condition; never adds a False one."""
    cur = find_condition(conds, type_)
    if cur is not None:
        if (cur.get("status"), cur.get("reason", ""), cur.get("message", "")) == (
            status,
            reason,
            message,
        ):
            return False
        conds[conds.index(cur)] = new_condition(type_, status, reason, message, now)
        return True
    if status != "False":
        conds.append(new_condition(type_, status, reason, message, now))
        return True
    return False


def condition_true(job: Obj, type_: str) -> Obj | None:
    cond = find_condition((job.get("status") or {}).get("conditions") or [], type_)
    return cond if cond is not None and cond.get("status") == "True" else None


def is_finished(job: Obj) -> bool:
    return bool(condition_true(job, "Complete") or condition_true(job, "Failed"))


def finish_time(job: Obj) -> float | None:
    """When a finished Job finished: its Complete/Failed condition's transition time."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return parse_time(c.get("lastTransitionTime"))
    return None


# --------------------------------------------------------------- backoff
@dataclass
class BackoffRecord:
    """Consecutive pod failures since the last success, and when the last one was."""

    failures: int = 0
    last_failure: float | None = None

    def updated(self, succeeded: list[Obj], failed: list[Obj]) -> BackoffRecord:
        """``newBackoffRecord`` for the pods that finished since the last sync."""
        fail_times = sorted(finished_time(p) for p in failed)
        if not succeeded:
            if not fail_times:
                return self
            return BackoffRecord(self.failures + len(fail_times), fail_times[-1])
        last_success = max(finished_time(p) for p in succeeded)
        after = [t for t in fail_times if t > last_success]
        return BackoffRecord(len(after), after[-1] if after else None)


def backoff_remaining(
    failures: int, last_failure: float | None, base: float, cap: float, now: float
) -> float:
    """``getRemainingTimeForFailuresCount``: base * 2^(failures-1) (at most cap) after the
    last failure, minus the time already waited."""
    if failures == 0 or last_failure is None:
        return 0.0
    delay = base
    for _ in range(1, failures):
        delay *= 2
        if delay >= cap:
            delay = cap
            break
    return max(0.0, delay - (now - last_failure))


def render_status(st: Obj) -> Obj:
    """The status as the API serializes it (omitempty counters, pointer fields kept)."""
    out: Obj = {}
    for key in ("conditions", "startTime", "completionTime", "active", "succeeded", "failed"):
        if st.get(key):
            out[key] = st[key]
    out["terminating"] = st.get("terminating") or 0
    if st.get("completedIndexes"):
        out["completedIndexes"] = st["completedIndexes"]
    if st.get("failedIndexes") is not None:
        out["failedIndexes"] = st["failedIndexes"]
    unc = st.get("uncountedTerminatedPods") or {}
    out["uncountedTerminatedPods"] = {k: unc[k] for k in ("succeeded", "failed") if unc.get(k)}
    out["ready"] = st.get("ready") or 0
    return out
