"""A job's pods as the user thinks of them: each rank's replica name, rank and state.

Replica names are :mod:`teamhub.jobs.replicas`' (the log prefixes and archive file
names): ``master-0``/``worker-1`` for Kubeflow jobs, ``launcher`` for the MPI launcher,
``rank-<i>`` for the Indexed Job. Ranks are the backend's: PyTorch master 0 and worker
*i* → *i*+1; TF chief 0 (when there is one); Indexed completion index; MPI workers by
index, the launcher none. Pods are sorted as the logs list them (coordinators first, then
by index, older pods of a replaced replica first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from teamhub.jobs.backends import Backend

#: Container waiting reasons that are just "starting", not a problem.
STARTING = frozenset({"ContainerCreating", "PodInitializing"})


@dataclass(frozen=True)
class JobPod:
    """One pod of a job."""

    name: str
    #: ``worker-1``, ``master-0``, ``launcher``, ``rank-3`` (see the module doc).
    replica: str
    #: ``worker``, ``master``, ``chief``, ``launcher``, ``rank``.
    role: str
    index: int
    rank: int | None
    phase: str
    ready: bool
    restarts: int
    node: str | None
    created: str
    #: Why the pod is not running (``Unschedulable``, ``ErrImagePull``...), with details.
    reason: str | None = None
    message: str | None = None
    pod: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "replica": self.replica,
            "role": self.role,
            "index": self.index,
            "rank": self.rank,
            "phase": self.phase,
            "ready": self.ready,
            "restarts": self.restarts,
            "node": self.node,
            "created": self.created,
            "reason": self.reason,
            "message": self.message,
        }


def _problem(pod: dict[str, Any]) -> tuple[str | None, str | None]:
    """(reason, message) of what keeps a pod from running or made it fail."""
    status = pod.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return c.get("reason") or "Unschedulable", c.get("message")
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] not in STARTING:
            return waiting["reason"], waiting.get("message")
        term = state.get("terminated") or {}
        if term and term.get("exitCode") not in (None, 0):
            detail = term.get("message") or f"exit code {term['exitCode']}"
            return term.get("reason") or "Error", f"container {cs.get('name')}: {detail}"
    if status.get("reason"):  # Evicted, DeadlineExceeded...
        return status["reason"], status.get("message")
    return None, None


def _ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def job_pod(backend: Backend, workload: dict[str, Any], pod: dict[str, Any]) -> JobPod:
    """One pod as a :class:`JobPod` (``workload`` may be ``{}`` when the job is gone)."""
    from teamhub.jobs import replicas

    role, index = backend.replica_of(pod)
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    reason, message = _problem(pod)
    return JobPod(
        name=meta.get("name", ""),
        replica=replicas.replica_name(pod),
        role=role,
        index=index,
        rank=backend.rank_of(role, index, workload),
        phase=status.get("phase") or "Pending",
        ready=_ready(pod),
        restarts=sum(
            int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []
        ),
        node=spec.get("nodeName"),
        created=meta.get("creationTimestamp") or "",
        reason=reason,
        message=message,
        pod=pod,
    )


def job_pods(
    backend: Backend, workload: dict[str, Any], pods: list[dict[str, Any]]
) -> list[JobPod]:
    """The pods in log order (see the module doc)."""
    from teamhub.jobs import replicas

    return [job_pod(backend, workload, p) for p in sorted(pods, key=replicas.replica_sort_key)]
