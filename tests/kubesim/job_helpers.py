"""Helpers for the Job controller tests: Job manifests scripted for the instant kubelet,
and waits/reads through the sync ``kubernetes`` client."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import kubernetes

from kubesim.controllers import jobstatus as js
from kubesim.sim import KubeSim
from tests.kubesim.helpers import wait_for


def clients(sim: KubeSim, ns: str = "default") -> SimpleNamespace:
    """``core`` and ``batch`` sync clients for ``sim`` (which has a ``kubeconfig``), and the
    namespace ``ns`` the helpers below work in."""
    client = kubernetes.config.new_client_from_config(str(sim.kubeconfig))  # type: ignore[attr-defined]
    return SimpleNamespace(
        core=kubernetes.client.CoreV1Api(client), batch=kubernetes.client.BatchV1Api(client), ns=ns
    )


def submit(k: SimpleNamespace, manifest: dict) -> Any:
    return k.batch.create_namespaced_job(k.ns, manifest)


def job(
    name: str,
    *,
    exit_code: int | None = None,
    logs: str | None = None,
    restart: str = "Never",
    pod_spec: dict | None = None,
    **spec: Any,
) -> dict:
    ann = {}
    if exit_code is not None:
        ann["kubesim.io/exit-code"] = str(exit_code)
    if logs is not None:
        ann["kubesim.io/logs"] = logs
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": ann},
                "spec": {
                    "restartPolicy": restart,
                    "containers": [{"name": "main", "image": "busybox"}],
                    **(pod_spec or {}),
                },
            },
            **spec,
        },
    }


def conditions(j: Any) -> dict[str, Any]:
    return {c.type: c for c in j.status.conditions or []}


def wait_condition(k: SimpleNamespace, name: str, type_: str, timeout: float = 10) -> Any:
    def done() -> Any:
        j = k.batch.read_namespaced_job(name, k.ns)
        c = conditions(j).get(type_)
        return j if c is not None and c.status == "True" else None

    return wait_for(done, timeout, what=f"job {name} {type_}")


def pods_of(k: SimpleNamespace, name: str) -> list[Any]:
    pods = k.core.list_namespaced_pod(k.ns, label_selector=f"batch.kubernetes.io/job-name={name}")
    return sorted(pods.items, key=lambda p: p.metadata.creation_timestamp)


def running_pods(k: SimpleNamespace, name: str, n: int) -> list[Any]:
    """Wait until ``name`` has ``n`` running pods (and return them)."""

    def running() -> list[Any]:
        pods = [p for p in pods_of(k, name) if p.status.phase == "Running"]
        return pods if len(pods) == n else []

    return wait_for(running, what=f"{n} running pods of {name}")


def job_events(k: SimpleNamespace, name: str) -> list[Any]:
    evs = k.core.list_namespaced_event(
        k.ns, field_selector=f"involvedObject.kind=Job,involvedObject.name={name}"
    ).items
    return sorted(evs, key=lambda e: e.metadata.name)


def reasons(k: SimpleNamespace, name: str) -> list[str]:
    return [e.reason for e in job_events(k, name)]


def set_pod_status(k: SimpleNamespace, pod: Any, phase: str, code: int, **extra: Any) -> None:
    """Write what the kubelet reports when the container ends (and, with ``conditions``,
    what an eviction adds)."""
    cur = k.core.read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
    [cs] = k.core.api_client.sanitize_for_serialization(cur.status.container_statuses)
    cs.update(ready=False, started=False)
    cs["state"] = {
        "terminated": {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": cs["state"]["running"]["startedAt"],
            "finishedAt": js.format_time(time.time()),
        }
    }
    status = {"phase": phase, "containerStatuses": [cs], **extra}
    k.core.patch_namespaced_pod_status(
        pod.metadata.name, pod.metadata.namespace, {"status": status}
    )
