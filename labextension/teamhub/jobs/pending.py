"""Why a job is not running: human explanations from its pods' status and from events
(kubeflow/trainer#1863 — users otherwise stare at "Pending").

Sources, each read with the notebook's own rights (list pods, list events):

- a pod's ``PodScheduled=False`` condition: the scheduler's message
  (``0/2 nodes are available: 2 Insufficient nvidia.com/gpu. ...``);
- a container waiting with an image error (``ErrImagePull``, ``ImagePullBackOff``,
  ``InvalidImageName``...), a configuration error (``CreateContainerConfigError``: a
  missing Secret or key, ``CreateContainerError``), or crash-looping;
- Warning events on those pods the status does not already say (``FailedMount``, image
  pull ``Failed``, ``FailedScheduling`` before the condition is written);
- Warning ``FailedCreate*`` events on the job object itself (``job_kind``/``job_name``):
  the Job controller or training operator could not create a pod, typically because the
  namespace's ResourceQuota refused it. Such events outlive the problem, so only those
  at least as recent as the newest pod are reported.

The same explanation for several replicas is given once: ``worker-0, worker-1: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from teamhub.jobs import replicas as rp
from teamhub.jobs.logio import get_json, list_pods

IMAGE_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "RegistryUnavailable",
        "SignatureValidationFailed",
    }
)
START_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
POD_EVENT_REASONS = frozenset(
    {"FailedScheduling", "FailedMount", "FailedAttachVolume", "Failed", "FailedCreatePodSandBox"}
)


def _time(stamp: str | None) -> float:
    """An RFC 3339 stamp as epoch seconds (0 if missing or unreadable): stamps written by
    different clients differ in form (``Z`` or ``+00:00``, fractions)."""
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else 0.0
    except ValueError:
        return 0.0


def _event_time(ev: dict) -> float:
    return _time(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp"))


def _container_reasons(pod: dict) -> list[str]:
    st = pod.get("status") or {}
    images = {c["name"]: c.get("image", "") for c in pod["spec"].get("containers", [])}
    images |= {c["name"]: c.get("image", "") for c in pod["spec"].get("initContainers") or []}
    out = []
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        name = cs.get("name", "")
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason, message = waiting.get("reason", ""), waiting.get("message", "")
        detail = f": {message}" if message else ""
        if reason in IMAGE_REASONS:
            image = cs.get("image") or images.get(name, "")
            out.append(f"cannot pull image {image!r} for container {name} ({reason}){detail}")
        elif reason in START_REASONS:
            out.append(f"container {name} cannot start ({reason}){detail}")
        elif reason == "CrashLoopBackOff":
            last = ((cs.get("lastState") or {}).get("terminated")) or {}
            code = last.get("exitCode")
            out.append(
                f"container {name} keeps failing: restarted {cs.get('restartCount', 0)} times"
                + (f", last exit code {code}" if code is not None else "")
            )
    return out


def _pod_reasons(pod: dict, events: list[dict]) -> list[str]:
    out = []
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            out.append(f"cannot be scheduled: {c.get('message') or c.get('reason', 'unknown')}")
    out += _container_reasons(pod)
    uid = pod["metadata"].get("uid")
    latest: dict[str, dict] = {}  # per reason, the newest event
    for ev in events:
        mine = (ev.get("involvedObject") or {}).get("uid") == uid
        if not mine or ev.get("reason") not in POD_EVENT_REASONS:
            continue
        if _event_time(ev) >= _event_time(latest.get(ev["reason"], {})):
            latest[ev["reason"]] = ev
    from_status = len(out)
    for reason, ev in latest.items():
        message = ev.get("message", "")
        bare = message.removeprefix("Error: ")
        if any(bare and bare in o for o in out):
            continue  # the status already says it
        if reason == "FailedScheduling":
            if not any(o.startswith("cannot be scheduled") for o in out):
                out.append(f"cannot be scheduled: {message}")
        elif reason in ("FailedMount", "FailedAttachVolume"):
            out.append(f"cannot mount a volume: {message}")
        elif reason == "Failed":  # the kubelet's image-pull and container-start failures
            if not any(o.startswith(("cannot pull", "container ")) for o in out[:from_status]):
                what = "cannot pull image" if "pull" in message.lower() else "container failed"
                out.append(f"{what}: {message}")
        else:
            out.append(f"{reason}: {message}")
    return out


def _job_reasons(kind: str | None, name: str, events: list[dict], pods: list[dict]) -> list[str]:
    newest_pod = max((_time(p["metadata"].get("creationTimestamp")) for p in pods), default=0.0)
    out = []
    for ev in events:
        inv = ev.get("involvedObject") or {}
        if inv.get("name") != name or (kind and inv.get("kind") != kind):
            continue
        if not str(ev.get("reason", "")).startswith("FailedCreate"):
            continue
        if _event_time(ev) < newest_pod:
            continue  # pods were created since: stale
        what = f"{inv.get('kind') or kind or 'job'} {name}"
        message = ev.get("message", "")
        text = f"{what} cannot create pods: {message}"
        if "exceeded quota" in message:
            text = f"quota exceeded: {text}"
        if text not in out:
            out.append(text)
    return out


async def pending_reasons(
    core: Any,
    namespace: str,
    selector: str | Mapping[str, str],
    *,
    job_kind: str | None = None,
    job_name: str | None = None,
) -> list[str]:
    """Human explanations of why the job's pods (matching ``selector``) are not running,
    most fundamental first: the job object's pod-creation failures (when ``job_name``, and
    optionally ``job_kind`` such as ``Job`` or ``PyTorchJob``, are given), then each
    non-terminal pod's, in rank order. Empty when nothing is wrong (or not yet known)."""
    selector = rp.label_selector(selector)
    pods, _ = await list_pods(core, namespace, selector)
    body = await get_json(
        core.list_namespaced_event(namespace, field_selector="type=Warning", _preload_content=False)
    )
    events = body.get("items") or []
    out = _job_reasons(job_kind, job_name, events, pods) if job_name else []
    grouped: dict[str, list[str]] = {}
    for pod in sorted(pods, key=rp.replica_sort_key):
        if rp.is_terminal(pod):
            continue
        for text in _pod_reasons(pod, events):
            grouped.setdefault(text, []).append(rp.replica_name(pod))
    out += [f"{', '.join(who)}: {text}" for text, who in grouped.items()]
    return out
