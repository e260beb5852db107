"""A job's events, in time order, each with a plain-language explanation where it says why
the job is stuck (kubeflow/trainer#1863: users otherwise stare at "Pending").

Events are read once per call (all events of the user's namespace: it holds only their
own objects) and kept when they are about the workload, its Service or ConfigMap, or one
of its pods (current pods by uid; pods already gone by their owner's events).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from teamhub.jobs.pods import JobPod

IMAGE_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)


@dataclass(frozen=True)
class JobEvent:
    """One event about a job or one of its pods."""

    time: str
    type: str  # Normal | Warning
    reason: str
    message: str
    #: ``Kind/name`` of the object it is about (``Pod/train-0-x7k2p``, ``Job/train``).
    object: str
    #: The pod's replica name (``worker-1``) for pod events, else None.
    replica: str | None
    count: int
    #: Why the job is stuck, in plain words (None for events that need no explaining).
    explanation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        who = f"[{self.replica}] " if self.replica else f"{self.object}: "
        text = f"{self.time} {self.type} {self.reason} {who}{self.message}"
        return f"{text}\n  -> {self.explanation}" if self.explanation else text


def explain(reason: str, message: str) -> str | None:
    """A plain-language explanation of an event that keeps a job from running."""
    if "exceeded quota" in message:
        return (
            "quota exceeded: your namespace's ResourceQuota refused a pod (it is created when "
            f"running pods finish, or ask for less): {message}"
        )
    if "violates PodSecurity" in message:
        return (
            "a pod was refused by Pod Security admission (the namespace enforces "
            "'restricted', and a container the controller adds does not meet it: ask your "
            f"admin): {message}"
        )
    if reason == "FailedScheduling":
        return f"unschedulable: no node can run this pod now ({message})"
    if reason.startswith("FailedCreate"):
        return f"a pod could not be created ({message})"
    if reason in IMAGE_REASONS or (reason == "Failed" and "pull" in message.lower()):
        return f"image pull error: check the image name and that it is public ({message})"
    if reason in ("FailedMount", "FailedAttachVolume"):
        return f"a volume cannot be mounted yet ({message})"
    if reason == "BackOff" and "restarting" in message.lower():
        return f"a container keeps failing ({message})"
    if reason in ("Evicted", "Preempting", "Preempted"):
        return f"the cluster took the pod away ({message})"
    if reason in ("DeadlineExceeded",):
        return f"the job ran longer than its deadline ({message})"
    return None


def event_time(ev: dict[str, Any]) -> str:
    return (
        ev.get("lastTimestamp")
        or ev.get("eventTime")
        or ev.get("firstTimestamp")
        or (ev.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def job_events(
    events: Iterable[dict[str, Any]],
    *,
    kind: str,
    name: str,
    uids: Iterable[str] = (),
    pods: Iterable[JobPod] = (),
    owned: Iterable[tuple[str, str]] = (),
) -> list[JobEvent]:
    """The events about the workload (``kind``/``name``, or any of ``uids``), its ``pods``
    and its ``owned`` objects (``(kind, name)`` pairs), sorted by time."""
    by_uid = {p.pod.get("metadata", {}).get("uid"): p for p in pods}
    by_name = {p.name: p for p in pods}
    uids, owned = set(uids), set(owned)
    out = []
    for ev in events:
        inv = ev.get("involvedObject") or ev.get("regarding") or {}
        key, uid = (inv.get("kind"), inv.get("name")), inv.get("uid")
        pod = by_uid.get(uid) if key[0] == "Pod" else None
        if pod is None and key[0] == "Pod" and not uid:
            pod = by_name.get(key[1] or "")
        # the workload by uid when known (an earlier job of the same name had another)
        workload = uid in uids if uid and uids else key == (kind, name)
        if pod is None and not workload and key not in owned:
            continue
        reason, message = ev.get("reason") or "", ev.get("message") or ev.get("note") or ""
        out.append(
            JobEvent(
                time=event_time(ev),
                type=ev.get("type") or "Normal",
                reason=reason,
                message=message,
                object=f"{inv.get('kind', '?')}/{inv.get('name', '?')}",
                replica=pod.replica if pod else None,
                count=int(ev.get("count") or (ev.get("series") or {}).get("count") or 1),
                explanation=explain(reason, message),
            )
        )
    out.sort(key=lambda e: e.time)
    return out
