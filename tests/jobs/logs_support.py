"""Helpers for the job-log tests: a namespace whose notebook ServiceAccount has exactly the
rights a user's notebook gets for logs (pods get/list/watch, pods/log get, events read),
pods labelled as a job's pods are, and waiting on kubesim's view of them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config

from kubesim.sim import KubeSim

SUBMISSION = "teamhub.io/submission"
RBAC = "rbac.authorization.k8s.io"


def setup_namespace(sim: KubeSim, ns: str) -> None:
    """``ns`` with a ServiceAccount ``notebook`` allowed only what reading logs needs."""
    sim.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "notebook", "namespace": ns},
        }
    )
    rules = [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    ]
    meta = {"name": "logs-reader", "namespace": ns}
    sim.apply({"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": meta, "rules": rules})
    sim.apply(
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "logs-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "notebook", "namespace": ns}],
        }
    )


def notebook_kubeconfig(sim: KubeSim, ns: str, path: Path) -> Path:
    return sim.write_kubeconfig(path, token=sim.create_token(ns, "notebook"), namespace=ns)


@contextlib.asynccontextmanager
async def core_api(kubeconfig: Path) -> AsyncIterator[client.CoreV1Api]:
    api = await config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client.CoreV1Api(api)
    finally:
        await api.close()


def job_pod(
    name: str,
    ns: str,
    submission: str,
    *,
    role: str | None = None,
    index: int | None = None,
    completion_index: int | None = None,
    logs: str | None = None,
    exit_code: int | None = None,
    run_seconds: float | None = None,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
    restart: str = "Never",
    containers: list[str] = ("main",),  # type: ignore[assignment]
    job: str | None = None,
    **spec: Any,
) -> dict:
    """A pod labelled as a teamhub job's pod (Kubeflow replica labels or an Indexed Job's
    completion index), scripted for the instant kubelet or given a command."""
    labels = {SUBMISSION: submission}
    if job:
        labels["training.kubeflow.org/job-name"] = job
    if role:
        labels["training.kubeflow.org/replica-type"] = role
        if index is not None:
            labels["training.kubeflow.org/replica-index"] = str(index)
    if completion_index is not None:
        labels["batch.kubernetes.io/job-completion-index"] = str(completion_index)
    ann = {}
    if logs is not None:
        ann["kubesim.io/logs"] = logs
    if exit_code is not None:
        ann["kubesim.io/exit-code"] = str(exit_code)
    if run_seconds is not None:
        ann["kubesim.io/run-seconds"] = str(run_seconds)
    ctrs = []
    for c in containers:
        ctr: dict[str, Any] = {"name": c, "image": "python:3.11"}
        if command:
            ctr["command"] = command
        if env:
            ctr["env"] = [{"name": k, "value": v} for k, v in env.items()]
        ctrs.append(ctr)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": ann},
        "spec": {"restartPolicy": restart, "containers": ctrs, **spec},
    }


def wait_for(fn: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def await_for(fn: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """``wait_for`` for async tests: polls without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def phase(sim: KubeSim, ns: str, name: str) -> str | None:
    pod = sim.lookup("pods", ns, name)
    return (pod or {}).get("status", {}).get("phase")


def finished(sim: KubeSim, ns: str, *names: str, timeout: float = 15.0) -> None:
    for n in names:
        wait_for(lambda n=n: phase(sim, ns, n) in ("Succeeded", "Failed"), timeout, f"{n} done")


def container_state(sim: KubeSim, ns: str, name: str, container: str = "main") -> dict:
    pod = sim.lookup("pods", ns, name) or {}
    for s in pod.get("status", {}).get("containerStatuses") or []:
        if s["name"] == container:
            return s
    return {}
