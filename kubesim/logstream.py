"""``pods/<name>/log``: which container attempt's log a request means, and its streaming.

The choice of container and attempt, and the errors for a container that is still
waiting or has no previous attempt, are the kubelet's (``validateContainerLogStatus``),
so ``kubectl logs`` prints the messages it prints against a real node.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubesim import errors
from kubesim.kubelet.logs import read_log
from kubesim.server import query_bool

if TYPE_CHECKING:
    from kubesim.sim import KubeSim


async def stream_logs(
    sim: KubeSim, request: web.Request, namespace: str, name: str
) -> web.StreamResponse:
    """Serve ``pods/<name>/log``: pick the container and attempt as the kubelet does, with
    its error messages, then stream the CRI log file (see ``kubesim.kubelet.logs``)."""
    q = request.query
    pod = sim.store.get(sim.api.rt("", "pods"), namespace, name)
    containers = [c["name"] for c in pod["spec"]["containers"]]
    inits = [c["name"] for c in pod["spec"].get("initContainers") or []]
    container = q.get("container")
    if not container:
        if len(containers) != 1:
            choices = f"[{' '.join(containers)}]"
            if inits:
                choices += f" or one of the init containers: [{' '.join(inits)}]"
            raise errors.bad_request(
                f"a container name must be specified for pod {name}, choose one of: {choices}"
            )
        container = containers[0]
    if container not in containers and container not in inits:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    st = pod.get("status", {})
    status = next(
        (
            s
            for s in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or [])
            if s["name"] == container
        ),
        None,
    )
    previous = query_bool(q, "previous")
    uid = pod["metadata"]["uid"]
    if status is None or (
        "waiting" in status.get("state", {}) and status.get("restartCount", 0) == 0 and not previous
    ):
        reason = ((status or {}).get("state", {}).get("waiting") or {}).get(
            "reason", "ContainerCreating"
        )
        raise errors.bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: {reason}'
        )
    attempt = status.get("restartCount", 0)
    if "waiting" in status.get("state", {}):
        attempt -= 1  # between restarts: the last attempt is the current log
    if previous:
        if status.get("restartCount", 0) == 0:
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found'
            )
        attempt = status["restartCount"] - 1
    path = sim.kubelet.log_path(namespace, name, uid, container, attempt)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    since = None
    if q.get("sinceSeconds"):
        since = time.time() - int(q["sinceSeconds"])
    elif q.get("sinceTime"):
        since = datetime.fromisoformat(q["sinceTime"].replace("Z", "+00:00")).timestamp()
    follow = query_bool(q, "follow") and not previous
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await resp.prepare(request)

    def changed() -> Any:
        w = sim.kubelet.writer(uid, container)
        return w.changed if w else None

    try:
        async for chunk in read_log(
            path,
            follow=follow,
            tail=int(q["tailLines"]) if q.get("tailLines") else None,
            since=since,
            timestamps=query_bool(q, "timestamps"),
            limit_bytes=int(q["limitBytes"]) if q.get("limitBytes") else None,
            running=lambda: sim.kubelet.running(uid, container, attempt),
            changed=changed,
        ):
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionResetError:
        pass
    return resp
