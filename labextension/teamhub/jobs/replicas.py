"""What a job's pod *is* within its job: its replica name, its rank order, and which
container instance a ``pods/log`` request would return right now.

A job's pods carry their role in labels, set by whoever created them:

- Kubeflow training operator v1 (PyTorchJob, TFJob, MPIJob):
  ``training.kubeflow.org/replica-type`` (``master``, ``worker``, ``ps``, ``chief``,
  ``evaluator``, ``launcher``; lower case) and ``training.kubeflow.org/replica-index``;
- an Indexed ``batch/v1`` Job: ``batch.kubernetes.io/job-completion-index`` (label, or the
  annotation of the same name on older clusters).

**Replica names** (one scheme, used as log prefixes and archive file names):

============================================  ===========================
pod                                           replica name
============================================  ===========================
Kubeflow ``replica-type=T``, ``replica-index=I``  ``T-I`` (``worker-1``, ``master-0``)
Kubeflow ``replica-type=launcher``            ``launcher`` (always one; no index)
Kubeflow ``replica-type=T`` without an index  ``T``
Indexed Job, completion index ``I``           ``rank-I``
anything else                                 the pod's name
============================================  ===========================

Several pods can share a replica name (a Job replaces a failed pod with a new pod of the
same index); ``LogLine.pod`` tells them apart.

Functions accept pods as plain dicts (the API's JSON) or as ``kubernetes_asyncio`` /
``kubernetes`` model objects, so ``Job.pods()`` may return either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REPLICA_TYPE = "training.kubeflow.org/replica-type"
REPLICA_INDEX = "training.kubeflow.org/replica-index"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABELS = ("training.kubeflow.org/job-name", "batch.kubernetes.io/job-name", "job-name")
SUBMISSION = "teamhub.io/submission"
#: Roles in the order their logs are listed: coordinators before workers.
ROLE_ORDER = ("launcher", "master", "chief", "ps", "worker", "evaluator", "rank")
TERMINAL_PHASES = ("Succeeded", "Failed")


def as_dict(obj: Any) -> Any:
    """A model object (``V1Pod``...) as the API's JSON (camelCase keys); dicts pass through.

    Model objects keep their JSON names in ``attribute_map``; this is what the clients'
    ``sanitize_for_serialization`` does, without needing an ``ApiClient`` (which would open
    an HTTP session)."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {k: as_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_dict(v) for v in obj]
    if hasattr(obj, "isoformat"):
        return obj.isoformat().replace("+00:00", "Z")
    amap = getattr(obj, "attribute_map", None)
    if amap is None:
        return obj
    return {
        amap[attr]: as_dict(getattr(obj, attr))
        for attr in getattr(obj, "openapi_types", amap)
        if getattr(obj, attr, None) is not None
    }


def label_selector(selector: str | Mapping[str, str]) -> str:
    """A label selector string from a string or a ``{key: value}`` mapping."""
    if isinstance(selector, Mapping):
        selector = ",".join(f"{k}={v}" for k, v in selector.items())
    if not isinstance(selector, str) or not selector.strip():
        raise ValueError(
            f"selector must be a non-empty label selector such as "
            f"'{SUBMISSION}=<id>', got {selector!r}"
        )
    return selector


def _meta(pod: Any) -> tuple[dict, dict, str]:
    meta = as_dict(pod)["metadata"] if not isinstance(pod, Mapping) else pod["metadata"]
    return meta.get("labels") or {}, meta.get("annotations") or {}, meta.get("name", "")


def _role_index(pod: Any) -> tuple[str, int | None, str]:
    """(role, index, pod name): ``("worker", 1, ...)``, ``("rank", 3, ...)``."""
    labels, annotations, name = _meta(pod)
    role = labels.get(REPLICA_TYPE)
    if role:
        idx = labels.get(REPLICA_INDEX)
        return role.lower(), int(idx) if idx is not None and idx.isdigit() else None, name
    idx = labels.get(COMPLETION_INDEX, annotations.get(COMPLETION_INDEX))
    if idx is not None and str(idx).isdigit():
        return "rank", int(idx), name
    return "", None, name


def replica_name(pod: Any) -> str:
    """The pod's replica name within its job (see the module docstring for the scheme)."""
    role, index, name = _role_index(pod)
    if not role:
        return name
    if role == "launcher" or index is None:
        return role
    return f"{role}-{index}"


def replica_role(replica: str) -> str:
    """``worker-1`` -> ``worker``; ``launcher`` -> ``launcher``."""
    head, _, tail = replica.rpartition("-")
    return head if head and tail.isdigit() else replica


def replica_sort_key(pod: Any) -> tuple:
    """Rank order: launcher, master/chief, ps, workers, evaluators; then by index, then
    oldest pod first (a replaced pod's log comes before its replacement's)."""
    role, index, name = _role_index(pod)
    d = pod if isinstance(pod, Mapping) else as_dict(pod)
    created = d["metadata"].get("creationTimestamp") or ""
    order = ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)
    return (order, role, -1 if index is None else index, str(created), name)


def matches_replica(pod: Any, wanted: frozenset[str] | None) -> bool:
    """Whether the pod is one of ``wanted`` replicas: a replica name (``worker-1``), a role
    (``worker``: every worker) or a pod name. ``None`` means every pod."""
    if wanted is None:
        return True
    name = replica_name(pod)
    return bool({name, replica_role(name), _meta(pod)[2]} & wanted)


def job_name(pods: list[dict]) -> str | None:
    """The job the pods belong to, from the controllers' labels or teamhub's submission id."""
    for key in (*JOB_NAME_LABELS, SUBMISSION):
        for p in pods:
            value = (p["metadata"].get("labels") or {}).get(key)
            if value:
                return value
    return None


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def container_names(pod: dict, container: str | None = None) -> list[str]:
    """The pod's (app) containers whose logs we read: all of them, or just ``container``.
    Init containers are not included."""
    names = [c["name"] for c in pod["spec"]["containers"]]
    return [c for c in names if c == container] if container else names


def default_container(pod: dict) -> str:
    """The container ``kubectl logs`` picks: the ``kubectl.kubernetes.io/default-container``
    annotation, else the first one."""
    names = container_names(pod)
    wanted = (pod["metadata"].get("annotations") or {}).get(
        "kubectl.kubernetes.io/default-container"
    )
    return wanted if wanted in names else names[0]


def container_status(pod: dict, container: str) -> dict | None:
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        if s.get("name") == container:
            return s
    return None


def current_instance(status: dict | None) -> int | None:
    """Which instance (0 for the first run, +1 per restart) a ``pods/log`` request for this
    container returns now, or None if it has no log yet.

    As the kubelet decides: a running or terminated container is instance ``restartCount``;
    one waiting to restart (CrashLoopBackOff) still serves its last run, ``restartCount - 1``;
    one that never started has no log."""
    if not status:
        return None
    restarts = int(status.get("restartCount") or 0)
    state = status.get("state") or {}
    if "running" in state or "terminated" in state:
        return restarts
    return restarts - 1 if restarts > 0 else None


def has_previous(status: dict | None) -> bool:
    """Whether ``previous=true`` would find a terminated earlier instance."""
    return bool(status) and int(status.get("restartCount") or 0) > 0  # type: ignore[union-attr]
