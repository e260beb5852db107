"""A pod's status as the kubelet reports it, built from what the kubelet knows of each
container (its :class:`~kubesim.kubelet.ContainerRun`): pure functions, so that the rules
(what "ready" and "initialized" mean, how conditions keep their transition times) read in
one place."""

from __future__ import annotations

from typing import Any

#: The conditions the kubelet owns, in the order the kubelet lists them.
ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def is_sidecar(container: dict) -> bool:
    """A native sidecar: an init container with ``restartPolicy: Always`` (1.29+)."""
    return container.get("restartPolicy") == "Always"


def init_done(container: dict, run: Any) -> bool:
    """Whether init container ``container`` lets the next one start: it exited 0, or, as
    a sidecar, it has started (and runs, or was stopped with the pod)."""
    if is_sidecar(container):
        return "running" in run.state or run.sidecar_done
    return run.state.get("terminated", {}).get("exitCode") == 0


def container_status(container: dict, run: Any, pod_uid: str, ready: bool) -> dict[str, Any]:
    """One entry of ``containerStatuses`` or ``initContainerStatuses``."""
    image = container.get("image", "")
    s: dict[str, Any] = {
        "name": container["name"],
        "image": image,
        "imageID": f"kubesim://{image}",
        "ready": ready,
        "started": "running" in run.state,
        "restartCount": run.restarts,
        "state": run.state,
        "lastState": run.last_state,
    }
    if "waiting" not in run.state:
        s["containerID"] = f"kubesim://{pod_uid}-{container['name']}-{run.attempt}"
    return s


def conditions(
    old: list[dict], *, ready: bool, incomplete: list[str], now: str
) -> list[dict[str, Any]]:
    """The pod's conditions after this status: ``old`` with the kubelet's own set again,
    each keeping its ``lastTransitionTime`` unless its status changed. ``incomplete``: the
    init containers not done yet."""
    conds = {c["type"]: c for c in old or []}

    def cond(kind: str, ok: bool, reason: str = "", message: str = "") -> None:
        before = conds.get(kind)
        status = "True" if ok else "False"
        c: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": before["lastTransitionTime"]
            if before and before["status"] == status
            else now,
        }
        if reason and not ok:
            c["reason"] = reason
            if message:
                c["message"] = message
        conds[kind] = c

    cond("PodReadyToStartContainers", True)
    cond(
        "Initialized",
        not incomplete,
        "ContainersNotInitialized",
        f"containers with incomplete status: [{' '.join(incomplete)}]",
    )
    cond("Ready", ready, "ContainersNotReady")
    cond("ContainersReady", ready, "ContainersNotReady")
    return [conds[t] for t in ORDER if t in conds] + [c for t, c in conds.items() if t not in ORDER]
