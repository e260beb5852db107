"""Builders and a small client wrapper for the training-operator tests (kubeflow.org/v1 jobs).

Kept apart from the test modules so each stays small. Pods are scripted through the instant
kubelet's annotations (``kubesim.io/exit-code``, ``kubesim.io/run-seconds``).
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.rest import ApiException

from tests.kubesim.helpers import wait_for

GROUP, VERSION = "kubeflow.org", "v1"
PLURAL = {"PyTorchJob": "pytorchjobs", "TFJob": "tfjobs", "MPIJob": "mpijobs"}
FIELD = {
    "PyTorchJob": "pytorchReplicaSpecs",
    "TFJob": "tfReplicaSpecs",
    "MPIJob": "mpiReplicaSpecs",
}
_ns = itertools.count()


def replica(
    n: int | None = 1,
    container: str = "pytorch",
    restart: str | None = None,
    exit_code: int | None = None,
    run_seconds: float | None = None,
    **container_extra: Any,
) -> dict[str, Any]:
    """A replica spec whose pods run forever, or exit with ``exit_code`` after ``run_seconds``."""
    ann = {}
    if exit_code is not None:
        ann["kubesim.io/exit-code"] = str(exit_code)
    if run_seconds is not None:
        ann["kubesim.io/run-seconds"] = str(run_seconds)
    c = {"name": container, "image": "python:3.11", "command": ["python", "-c", "pass"]}
    spec: dict[str, Any] = {
        "template": {
            "metadata": {"annotations": ann},
            "spec": {"containers": [{**c, **container_extra}]},
        }
    }
    if n is not None:
        spec["replicas"] = n
    if restart:
        spec["restartPolicy"] = restart
    return spec


def job(kind: str, name: str, replicas: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {FIELD[kind]: replicas, **spec},
    }


class Cluster:
    """Sync clients for one namespace of a kubesim."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        api = kubernetes.config.new_client_from_config(str(kubeconfig))
        self.co = kubernetes.client.CustomObjectsApi(api)
        self.core = kubernetes.client.CoreV1Api(api)
        self.rbac = kubernetes.client.RbacAuthorizationV1Api(api)
        self.ns = namespace

    # -- jobs
    def create(self, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        plural = PLURAL[body["kind"]]
        return self.co.create_namespaced_custom_object(GROUP, VERSION, self.ns, plural, body, **kw)

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.co.get_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL[kind], name)

    def patch(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.co.patch_namespaced_custom_object(
            GROUP, VERSION, self.ns, PLURAL[kind], name, body
        )

    def exists(self, kind: str, name: str) -> bool:
        try:
            self.get(kind, name)
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise

    def conditions(self, kind: str, name: str) -> list[tuple[str, str, str]]:
        st = self.get(kind, name).get("status") or {}
        return [(c["type"], c["status"], c["reason"]) for c in st.get("conditions") or []]

    def condition(self, kind: str, name: str, ctype: str) -> dict[str, Any] | None:
        for c in (self.get(kind, name).get("status") or {}).get("conditions") or []:
            if c["type"] == ctype and c["status"] == "True":
                return c
        return None

    def wait_condition(self, kind: str, name: str, ctype: str, timeout: float = 10) -> dict:
        return wait_for(
            lambda: self.condition(kind, name, ctype), timeout, what=f"{kind} {name} {ctype}"
        )

    def watch_condition(self, kind: str, name: str, ctype: str, timeout: int = 10) -> dict:
        """The first ``ctype`` condition (status True) the job shows, seen through a watch:
        every change is delivered, so one the operator replaces a moment later
        (``Restarting`` by ``Running``) cannot be missed, as polling can miss it."""
        w = kubernetes.watch.Watch()
        for ev in w.stream(
            self.co.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.ns,
            PLURAL[kind],
            field_selector=f"metadata.name={name}",
            timeout_seconds=timeout,
        ):
            for c in (ev["object"].get("status") or {}).get("conditions") or []:
                if c["type"] == ctype and c["status"] == "True":
                    w.stop()
                    return c
        raise AssertionError(f"{kind} {name} showed no {ctype} condition in {timeout} s")

    # -- dependents
    def pods(self, job_name: str | None = None) -> dict[str, Any]:
        sel = f"training.kubeflow.org/job-name={job_name}" if job_name else None
        items = self.core.list_namespaced_pod(self.ns, label_selector=sel).items
        return {p.metadata.name: p for p in items}

    def services(self, job_name: str) -> dict[str, Any]:
        sel = f"training.kubeflow.org/job-name={job_name}"
        return {
            s.metadata.name: s
            for s in self.core.list_namespaced_service(self.ns, label_selector=sel).items
        }

    def events(self, name: str) -> list[tuple[str, str, str]]:
        items = self.core.list_namespaced_event(self.ns).items
        return [
            (e.type, e.reason, e.message)
            for e in items
            if e.involved_object.name == name and e.involved_object.kind in PLURAL
        ]

    def wait_event(self, name: str, reason: str, timeout: float = 10) -> tuple[str, str, str]:
        return wait_for(
            lambda: next((e for e in self.events(name) if e[1] == reason), None),
            timeout,
            what=f"event {reason} on {name}",
        )


def env_of(pod: Any, container: int = 0) -> dict[str, str]:
    return {e.name: e.value for e in pod.spec.containers[container].env or []}


def new_namespace(core: kubernetes.client.CoreV1Api, labels: dict[str, str] | None = None) -> str:
    name = f"train-{next(_ns)}"
    core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
    wait_for(lambda: _has_default_sa(core, name), what=f"default ServiceAccount in {name}")
    return name


def _has_default_sa(core: kubernetes.client.CoreV1Api, ns: str) -> bool:
    try:
        core.read_namespaced_service_account("default", ns)
        return True
    except ApiException:
        return False


#: Debian's python3, which has ``python3-mpi4py`` (./dev test installs it with Open MPI).
MPI_PYTHON = "/usr/bin/python3"


def have_mpi4py() -> bool:
    """Whether :data:`MPI_PYTHON` imports mpi4py (the MPI ranks of the real-run tests)."""
    try:
        return subprocess.run([MPI_PYTHON, "-c", "import mpi4py"], timeout=30).returncode == 0
    except OSError:
        return False
