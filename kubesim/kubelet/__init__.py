"""The kubelet: runs the pods bound to kubesim's nodes through a container runtime.

The runtime decides what "running a container" means: ``instant`` (containers are Running
and Ready at once, optionally printing scripted output and exiting) or ``process`` (each
container's command runs as a local process with the pod's env and volumes). Everything a
client observes — status, conditions, container states, restarts, events, logs — is
produced here the way the real kubelet produces it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kubesim import errors
from kubesim.kubelet import podstatus
from kubesim.kubelet.logs import LogWriter
from kubesim.store import Event, deep_copy, now_rfc3339

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

log = logging.getLogger("kubesim.kubelet")


class Container(Protocol):
    async def wait(self) -> int: ...
    async def stop(self, grace: float) -> None: ...


class Runtime(Protocol):
    async def prepare_pod(self, pod: dict) -> None: ...
    async def start(self, pod: dict, container: dict, writer: LogWriter) -> Container: ...
    async def cleanup_pod(self, pod: dict) -> None: ...


@dataclass
class ContainerRun:
    name: str
    attempt: int = 0
    handle: Container | None = None
    writer: LogWriter | None = None
    started_at: str = ""
    state: dict[str, Any] = field(
        default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}}
    )
    last_state: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    #: A native sidecar stopped because the pod's containers are done.
    sidecar_done: bool = False


@dataclass
class PodRun:
    uid: str
    namespace: str
    name: str
    task: asyncio.Task[None] | None = None
    containers: dict[str, ContainerRun] = field(default_factory=dict)
    #: The init containers, run one after another before ``containers``.
    init: dict[str, ContainerRun] = field(default_factory=dict)
    stopping: bool = False
    done: bool = False


class Kubelet:
    def __init__(self, sim: KubeSim, runtime: Runtime, log_dir: Path) -> None:
        self.sim = sim
        self.runtime = runtime
        self.log_dir = log_dir
        self.pods: dict[str, PodRun] = {}

    # ------------------------------------------------------------ wiring
    def on_event(self, ev: Event) -> None:
        if ev.rt.key != ("", "pods"):
            return
        pod = ev.obj
        uid = pod["metadata"]["uid"]
        if ev.type == "DELETED":
            run = self.pods.get(uid)
            if run and not run.stopping:
                run.stopping = True
                asyncio.get_running_loop().create_task(self._stop(run, 0))
            return
        if not pod["spec"].get("nodeName"):
            return
        run = self.pods.get(uid)
        if run is None and not pod["metadata"].get("deletionTimestamp"):
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                return
            run = PodRun(uid, pod["metadata"]["namespace"], pod["metadata"]["name"])
            self.pods[uid] = run
            run.task = asyncio.get_running_loop().create_task(self._run_pod(run))
        elif pod["metadata"].get("deletionTimestamp"):
            if run is None:
                asyncio.get_running_loop().create_task(self._finish_delete(pod))
            elif not run.stopping:
                run.stopping = True
                grace = pod["metadata"].get("deletionGracePeriodSeconds", 30)
                asyncio.get_running_loop().create_task(self._stop(run, grace, delete=True))

    def log_path(self, namespace: str, name: str, uid: str, container: str, attempt: int) -> Path:
        return self.log_dir / f"{namespace}_{name}_{uid}" / container / f"{attempt}.log"

    # ------------------------------------------------------------ status
    def _pod(self, run: PodRun) -> dict | None:
        pod = self.sim.store.peek(self.sim.api.rt("", "pods"), run.namespace, run.name)
        if pod is None or pod["metadata"]["uid"] != run.uid:
            return None
        return pod

    def _write_status(self, run: PodRun, phase: str | None = None, **extra: Any) -> dict | None:
        """Write the pod's status as the kubelet sees it; returns the stored pod (read-only)."""
        pod = self._pod(run)
        if pod is None:
            return None
        # Only the status changes: the new version shares the spec and the metadata's maps
        # with the stored pod (stored objects are never changed in place); the store sets
        # top-level metadata fields, so the metadata itself is a copy. The status is a new
        # dict whose fields below are all new; the others (IPs, start time) are shared.
        new = {
            **pod,
            "metadata": dict(pod["metadata"]),
            "status": dict(pod.get("status") or {}),
        }
        st = new["status"]
        if phase:
            st["phase"] = phase
        st.update(deep_copy(extra))
        default = ContainerRun("")
        statuses = []
        for c in pod["spec"]["containers"]:
            cr = run.containers.get(c["name"]) or default
            ready = "running" in cr.state and not run.stopping
            statuses.append(podstatus.container_status(c, cr, run.uid, ready))
        inits, incomplete = [], []
        for c in pod["spec"].get("initContainers") or []:
            cr = run.init.get(c["name"]) or default
            done = podstatus.init_done(c, cr)
            inits.append(podstatus.container_status(c, cr, run.uid, done))
            if not done:
                incomplete.append(c["name"])
        # The states are the kubelet's own (it changes them in place): the store keeps copies.
        st["containerStatuses"] = deep_copy(statuses)
        if inits:
            st["initContainerStatuses"] = deep_copy(inits)
        st["conditions"] = podstatus.conditions(
            st.get("conditions") or [],
            ready=bool(statuses) and all(s["ready"] for s in statuses),
            incomplete=incomplete,
            now=now_rfc3339(),
        )
        try:
            # ``new`` shares nothing with the kubelet's state, and only unchanged parts
            # with the stored pod.
            return self.sim.store.replace(
                self.sim.api.rt("", "pods"), new, check_rv=False, take=True, share=True
            )
        except errors.ApiError:
            return None

    def _event(
        self,
        run: PodRun,
        type_: str,
        reason: str,
        message: str,
        container: str = "",
        init: bool = False,
    ) -> None:
        pod = self._pod(run)
        if pod is not None:
            kind = "initContainers" if init else "containers"
            fp = f"spec.{kind}{{{container}}}" if container else ""
            self.sim.recorder.record(
                pod, type_, reason, message, "kubelet", pod["spec"].get("nodeName", ""), fp
            )

    # ------------------------------------------------------------ lifecycle
    async def _run_pod(self, run: PodRun) -> None:
        pod = self._pod(run)
        if pod is None:
            return
        ip = self.sim.allocate_pod_ip(run.uid)
        node = self.sim.store.peek(self.sim.api.rt("", "nodes"), "", pod["spec"]["nodeName"])
        host_ip = "127.0.0.1"
        if node:
            for a in node.get("status", {}).get("addresses", []):
                if a.get("type") == "InternalIP":
                    host_ip = a["address"]
        inits = pod["spec"].get("initContainers") or []
        for c in pod["spec"]["containers"]:
            run.containers[c["name"]] = ContainerRun(c["name"])
            if inits:
                run.containers[c["name"]].state = {"waiting": {"reason": "PodInitializing"}}
        for c in inits:
            run.init[c["name"]] = ContainerRun(c["name"])
            run.init[c["name"]].state = {"waiting": {"reason": "PodInitializing"}}
        self._write_status(
            run,
            "Pending",
            podIP=ip,
            podIPs=[{"ip": ip}],
            hostIP=host_ip,
            hostIPs=[{"ip": host_ip}],
            startTime=now_rfc3339(),
        )
        backoff = 0.2
        while True:  # the real kubelet retries mounts until they succeed (PVC bound etc.)
            try:
                await self.runtime.prepare_pod(pod)
                break
            except Exception as e:  # volume/secret missing etc.: stays Pending with an event
                self._event(run, "Warning", "FailedMount", str(e))
                log.info("pod %s/%s cannot start: %s", run.namespace, run.name, e)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
            pod = self._pod(run)
            if pod is None or run.stopping:
                return
        restart = pod["spec"].get("restartPolicy", "Always")
        sidecars: dict[str, asyncio.Task[int | None]] = {}  # by name
        for c in inits:  # one after another, each to success, before any other container
            if podstatus.is_sidecar(c):
                # A native sidecar: started, then the next one; it runs beside the pod's
                # containers (restarted whenever it exits) until they are done.
                sidecars[c["name"]] = asyncio.get_running_loop().create_task(
                    self._run_container(run, pod, c, "Always", init=True)
                )
                while not run.stopping and "running" not in run.init[c["name"]].state:
                    await asyncio.sleep(0.02)
                continue
            code = await self._run_container(run, pod, c, restart, init=True)
            if run.stopping:
                return
            if code != 0:  # restartPolicy Never: the pod has failed
                run.done = True
                await self._stop_sidecars(run, sidecars)
                self._write_status(run, "Failed")
                await self.runtime.cleanup_pod(pod)
                return
        if inits:
            for cr in run.containers.values():
                cr.state = {"waiting": {"reason": "ContainerCreating"}}
        await asyncio.gather(
            *(self._run_container(run, pod, c, restart) for c in pod["spec"]["containers"])
        )
        if run.stopping:
            return
        await self._stop_sidecars(run, sidecars)
        codes = [
            cr.state.get("terminated", {}).get("exitCode", 1) for cr in run.containers.values()
        ]
        phase = "Succeeded" if all(c == 0 for c in codes) else "Failed"
        run.done = True
        self._write_status(run, phase)
        await self.runtime.cleanup_pod(pod)

    async def _run_container(
        self, run: PodRun, pod: dict, c: dict, restart: str, init: bool = False
    ) -> int | None:
        """Run container ``c`` (an init container with ``init``) and restart it as
        ``restart`` says; its last exit code, None when the pod is being stopped. An init
        container is restarted only after a failure, and not at all under ``Never``."""
        cr = (run.init if init else run.containers)[c["name"]]
        backoff = 0.1
        while not run.stopping and not cr.sidecar_done:
            if cr.attempt == 0:
                self._event(
                    run,
                    "Normal",
                    "Pulled",
                    f'Container image "{c.get("image", "")}" already present on machine',
                    c["name"],
                    init,
                )
            writer = LogWriter(
                self.log_path(run.namespace, run.name, run.uid, c["name"], cr.attempt)
            )
            cr.writer = writer
            try:
                handle = await self.runtime.start(pod, c, writer)
            except Exception as e:
                # CreateContainerConfigError (missing Secret key...) or CreateContainerError:
                # the container keeps waiting and the kubelet keeps retrying.
                writer.close()
                reason = getattr(e, "reason", None) or "CreateContainerError"
                cr.state = {"waiting": {"reason": reason, "message": str(e)}}
                self._write_status(run)
                self._event(run, "Warning", "Failed", f"Error: {e}", c["name"], init)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            cr.handle = handle
            name = c["name"]
            self._event(run, "Normal", "Created", f"Created container: {name}", name, init)
            cr.started_at = now_rfc3339()
            cr.state = {"running": {"startedAt": cr.started_at}}
            self._event(run, "Normal", "Started", f"Started container {name}", name, init)
            self._write_status(run, None if init else "Running")
            code = await handle.wait()
            writer.close()
            reason = "Completed" if code == 0 else "Error"
            # The runtime may know better (StartError: the command could not be executed).
            reason = getattr(handle, "reason", None) or reason
            cr.state = {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": cr.started_at,
                    "finishedAt": now_rfc3339(),
                    "containerID": f"kubesim://{run.uid}-{c['name']}-{cr.attempt}",
                }
            }
            if getattr(handle, "message", None):
                cr.state["terminated"]["message"] = handle.message
            if cr.sidecar_done:
                self._write_status(run)
            if run.stopping or cr.sidecar_done:
                return None
            if init and not podstatus.is_sidecar(c):
                again = code != 0 and restart != "Never"
            else:
                again = restart == "Always" or (restart == "OnFailure" and code != 0)
            if not again:
                self._write_status(run)
                return code
            cr.last_state = cr.state
            cr.restarts += 1
            cr.attempt += 1
            cr.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff" if code else "Completed",
                    "message": f"back-off restarting failed container "
                    f"{c['name']} in pod {run.name}",
                }
            }
            self._write_status(run)
            if code:
                self._event(
                    run,
                    "Warning",
                    "BackOff",
                    "Back-off restarting failed container "
                    f"{c['name']} in pod {run.name}_{run.namespace}({run.uid})",
                    c["name"],
                    init,
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
        return None

    async def _stop_sidecars(
        self, run: PodRun, sidecars: dict[str, asyncio.Task[int | None]]
    ) -> None:
        """Stop the native sidecars once the pod's containers are done, as the kubelet
        does (in reverse order of their start), and let their runs end."""
        if not sidecars:
            return
        runs = [run.init[name] for name in sidecars]
        for cr in runs:
            cr.sidecar_done = True  # their loops end instead of restarting them
        for cr in reversed(runs):
            if "running" in cr.state and cr.handle is not None:
                await cr.handle.stop(2)
        _, late = await asyncio.wait(sidecars.values(), timeout=10)  # one in its back-off
        for task in late:
            task.cancel()

    async def _stop(self, run: PodRun, grace: float, delete: bool = False) -> None:
        pod = self._pod(run)
        handles = [
            cr
            for cr in (*run.init.values(), *run.containers.values())
            if cr.handle is not None and "running" in cr.state
        ]
        for cr in handles:
            self._event(run, "Normal", "Killing", f"Stopping container {cr.name}", cr.name)
        await asyncio.gather(*(cr.handle.stop(grace) for cr in handles if cr.handle))
        if run.task:
            try:
                await asyncio.wait_for(asyncio.shield(run.task), grace + 5)
            except (TimeoutError, asyncio.CancelledError):
                run.task.cancel()
        if delete and not run.done and self._pod(run) is not None:
            # As the kubelet does before a deleted pod goes (KEP-3329): record how its
            # containers ended and a terminal phase, so controllers that keep a finalizer
            # on the pod (Job tracking) see it finish.
            for cr in run.containers.values():
                if "terminated" not in cr.state:  # never started, or still waiting
                    cr.state = {
                        "terminated": {
                            "exitCode": 137,
                            "reason": "ContainerStatusUnknown",
                            "message": "The container could not be located when the pod "
                            "was terminated",
                        }
                    }
            codes = [cr.state["terminated"]["exitCode"] for cr in run.containers.values()]
            run.done = True
            self._write_status(run, "Succeeded" if all(c == 0 for c in codes) else "Failed")
        if pod is not None:
            await self.runtime.cleanup_pod(pod)
        self.sim.release_pod_ip(run.uid)
        self.pods.pop(run.uid, None)
        if delete:
            await self._finish_delete(pod)

    async def _finish_delete(self, pod: dict | None) -> None:
        if pod is None:
            return
        m = pod["metadata"]
        try:
            self.sim.api.delete(
                self.sim.api.rt("", "pods"),
                m["namespace"],
                m["name"],
                grace=0,
                preconditions={"uid": m["uid"]},
            )
        except errors.ApiError as e:
            if e.code not in (404, 409):
                raise

    def container(self, uid: str, name: str) -> ContainerRun | None:
        """The kubelet's record of container (or init container) ``name`` of pod ``uid``."""
        run = self.pods.get(uid)
        if run is None:
            return None
        return run.containers.get(name) or run.init.get(name)

    def running(self, uid: str, container: str, attempt: int | None = None) -> bool:
        cr = self.container(uid, container)
        if cr is None:
            return False
        return (attempt is None or cr.attempt == attempt) and "terminated" not in cr.state

    def writer(self, uid: str, container: str) -> LogWriter | None:
        cr = self.container(uid, container)
        return cr.writer if cr is not None else None

    async def shutdown(self) -> None:
        runs = list(self.pods.values())
        for run in runs:
            run.stopping = True
        await asyncio.gather(*(self._stop(r, 1) for r in runs), return_exceptions=True)
