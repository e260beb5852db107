"""A job's status in five phases, computed from the workload, its pods and (when pending)
events — the same for every backend.

========== =============================================================================
phase      when
========== =============================================================================
Pending    no rank is running yet: pods not created (quota), unschedulable, pulling the
           image, mounting volumes, or the workload is suspended
Running    at least one rank's pod runs (``ready``/``total`` say how many)
Succeeded  the workload says so (Job ``Complete``/``SuccessCriteriaMet``; Kubeflow
           ``Succeeded``)
Failed     the workload says so (Job ``Failed``/``FailureTarget`` with its reason, e.g.
           ``BackoffLimitExceeded``, ``DeadlineExceeded``, ``PodFailurePolicy``; Kubeflow
           ``Failed``)
Cancelled  the user cancelled it: the workload is gone and its record remains
           (:mod:`teamhub.jobs.job`)
========== =============================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from teamhub.jobs.backends import Backend
from teamhub.jobs.events import JobEvent
from teamhub.jobs.pods import JobPod

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Cancelled")
FINISHED = frozenset({"Succeeded", "Failed", "Cancelled"})


@dataclass(frozen=True)
class JobStatus:
    phase: str
    #: A CamelCase reason (``Unschedulable``, ``BackoffLimitExceeded``, ``Cancelled``...).
    reason: str | None = None
    #: A human explanation.
    message: str | None = None
    #: Pods running and ready / pods the job runs.
    ready: int = 0
    total: int = 0
    #: The workload's conditions as the API reports them.
    conditions: tuple[dict[str, Any], ...] = ()
    #: Per replica type (lowercase): ``{"active", "succeeded", "failed"}`` counts.
    replicas: dict[str, dict[str, int]] = field(default_factory=dict)
    start_time: str | None = None
    completion_time: str | None = None

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "reason": self.reason,
            "message": self.message,
            "ready": self.ready,
            "total": self.total,
            "conditions": [dict(c) for c in self.conditions],
            "replicas": {k: dict(v) for k, v in self.replicas.items()},
            "startTime": self.start_time,
            "completionTime": self.completion_time,
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobStatus:
        return cls(
            phase=data["phase"],
            reason=data.get("reason"),
            message=data.get("message"),
            ready=int(data.get("ready") or 0),
            total=int(data.get("total") or 0),
            conditions=tuple(data.get("conditions") or ()),
            replicas=dict(data.get("replicas") or {}),
            start_time=data.get("startTime"),
            completion_time=data.get("completionTime"),
        )


def _true(conditions: list[dict[str, Any]], *types: str) -> dict[str, Any] | None:
    """The newest condition of one of ``types`` with status True."""
    found = [c for c in conditions if c.get("type") in types and c.get("status") == "True"]
    return max(found, key=lambda c: c.get("lastTransitionTime") or "", default=None)


def terminal_phase(backend: Backend, workload: dict[str, Any]) -> JobStatus | None:
    """The final status the workload alone shows (no pods needed), or None if running."""
    status = workload.get("status") or {}
    conds = list(status.get("conditions") or [])
    if backend.workload_kind.kind == "Job":
        done, failed = ("Complete", "SuccessCriteriaMet"), ("Failed", "FailureTarget")
    else:
        done, failed = ("Succeeded",), ("Failed",)
    for phase, types in (("Failed", failed), ("Succeeded", done)):
        cond = _true(conds, *types)
        if cond is not None:
            return JobStatus(
                phase=phase,
                reason=cond.get("reason") or cond.get("type"),
                message=cond.get("message"),
                conditions=tuple(conds),
                start_time=status.get("startTime"),
                completion_time=status.get("completionTime"),
            )
    return None


def _replica_counts(backend: Backend, workload: dict[str, Any]) -> dict[str, dict[str, int]]:
    status = workload.get("status") or {}
    if backend.workload_kind.kind == "Job":
        return {
            "rank": {k: int(status.get(k) or 0) for k in ("active", "succeeded", "failed", "ready")}
        }
    out = {}
    for rtype, counts in (status.get("replicaStatuses") or {}).items():
        out[rtype.lower()] = {
            k: int((counts or {}).get(k) or 0) for k in ("active", "succeeded", "failed")
        }
    return out


def _problems(pods: list[JobPod], events: Iterable[JobEvent], total: int) -> list[tuple[str, str]]:
    """What keeps ranks from running, most fundamental first: pods the controller could not
    create (quota, admission), then each pending pod's own reason (from its status, else
    from its newest explained event)."""
    events = list(events)
    out: list[tuple[str, str]] = []
    missing = total - len({p.replica for p in pods})
    if missing > 0:
        job_level = [e for e in events if e.explanation and e.type == "Warning" and not e.replica]
        if job_level:
            e = job_level[-1]
            reason = "QuotaExceeded" if "exceeded quota" in e.message else e.reason
            out.append((reason, f"{missing} of {total} pods not created: {e.explanation}"))
    for p in pods:
        if p.phase != "Pending":
            continue
        if p.reason:
            out.append((p.reason, f"{p.replica}: {p.message or p.reason}"))
            continue
        mine = [e for e in events if e.replica == p.replica and e.explanation]
        if mine:
            out.append((mine[-1].reason, f"{p.replica}: {mine[-1].explanation}"))
    unique: dict[str, tuple[str, str]] = {}
    for reason, message in out:
        unique.setdefault(message.split(": ", 1)[-1], (reason, message))
    return list(unique.values())


def compute_status(
    backend: Backend,
    workload: dict[str, Any],
    pods: list[JobPod],
    events: Iterable[JobEvent] = (),
) -> JobStatus:
    """The status of a live workload (see the module doc)."""
    status = workload.get("status") or {}
    conds = tuple(status.get("conditions") or [])
    total = backend.expected_pods(workload)
    ready = sum(1 for p in pods if p.ready)
    common = {
        "ready": ready,
        "total": total,
        "conditions": conds,
        "replicas": _replica_counts(backend, workload),
        "start_time": status.get("startTime"),
        "completion_time": status.get("completionTime"),
    }
    final = terminal_phase(backend, workload)
    if final is not None:
        return JobStatus(phase=final.phase, reason=final.reason, message=final.message, **common)
    suspended = _true(list(conds), "Suspended")
    if suspended is not None:
        return JobStatus(
            phase="Pending",
            reason="Suspended",
            message=suspended.get("message") or "the job is suspended (e.g. by a queue)",
            **common,
        )
    if (workload.get("metadata") or {}).get("deletionTimestamp"):
        return JobStatus(
            phase="Running" if ready else "Pending",
            reason="Terminating",
            message="the job is being deleted",
            **common,
        )
    problems = _problems(pods, events, total)
    reason = problems[0][0] if problems else None
    message = "; ".join(m for _, m in problems) if problems else None
    running = [p for p in pods if p.phase == "Running"]
    if running:
        restarting = _true(list(conds), "Restarting")
        if restarting is not None:
            reason, message = "Restarting", restarting.get("message")
        return JobStatus(phase="Running", reason=reason, message=message, **common)
    if any(p.phase in ("Succeeded", "Failed") for p in pods) and not any(
        p.phase == "Pending" for p in pods
    ):
        return JobStatus(
            phase="Running", reason="Finishing", message="the job's ranks have ended", **common
        )
    if reason is None:
        reason, message = (
            ("ContainerCreating", "the job's pods are starting")
            if pods
            else ("PodsNotCreated", "waiting for the job's pods to be created")
        )
    return JobStatus(phase="Pending", reason=reason, message=message, **common)
