"""Replica pods and their headless Services: the operator's common ``ReconcilePods`` /
``ReconcileServices`` (``pkg/controller.v1/common/{pod,service}.go``) and pod/service control.

Every replica ``<type>`` index ``i`` of job ``j`` is one pod and one headless Service, both
named ``j-<type lower case>-i`` and labelled with the job name, replica type and index; the
Service selects exactly that pod, so ranks reach each other by these names (``MASTER_ADDR``,
``TF_CONFIG``). Pods are created through kubesim's API, so Pod Security and ResourceQuota
admission apply; a refused pod becomes a ``FailedCreatePod`` Warning event on the job and the
reconcile is retried with backoff, as with the real operator.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from kubesim import errors
from kubesim.controllers.training import names as n
from kubesim.controllers.training import status as st

if TYPE_CHECKING:
    from kubesim.controllers.training.common import TrainingJobController

Obj = dict[str, Any]
log = logging.getLogger("kubesim.controllers.training")
NO_EXIT_CODE = 0xBEEF  # the operator's "magic number" for "container has not terminated"


class CreateFailed(Exception):
    """A dependent could not be created; the reconcile stops and is retried later."""


def replica_index(obj: Obj) -> int | None:
    try:
        return int((obj["metadata"].get("labels") or {}).get(n.REPLICA_INDEX_LABEL, ""))
    except ValueError:
        return None


def slices(objs: list[Obj], replicas: int) -> list[list[Obj]]:
    """``GetPodSlices``: objects by replica index, at least ``replicas`` long."""
    indexed = [(replica_index(o), o) for o in objs]
    size = max([replicas] + [i + 1 for i, _ in indexed if i is not None and i >= 0])
    out: list[list[Obj]] = [[] for _ in range(size)]
    for i, o in indexed:
        if i is not None and i >= 0:
            out[i].append(o)
    return out


def of_type(objs: list[Obj], rt: str) -> list[Obj]:
    return [o for o in objs if (o["metadata"].get("labels") or {}).get(n.REPLICA_TYPE_LABEL) == rt]


def exit_code(pod: Obj, container: str) -> int:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if cs.get("name") == container and term:
            return int(term.get("exitCode", 0))
    return NO_EXIT_CODE


def ports_of(spec: Obj, container: str) -> list[tuple[str, int]] | None:
    """``GetPortsFromJob``: the default container's ports; None if there is no such container."""
    for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            return [(p.get("name", ""), p.get("containerPort")) for p in c.get("ports") or []]
    return None


class ReplicaMixin:
    """Pod and Service reconciliation for one replica type of a job."""

    # ---------------------------------------------------------------- pods
    def reconcile_pods(
        self: TrainingJobController,
        job: Obj,
        status: st.Status,
        pods: list[Obj],
        rtype: str,
        spec: Obj,
        replicas: dict[str, Obj],
    ) -> None:
        rt = rtype.lower()
        name, kind = job["metadata"]["name"], self.kind
        wanted = int(spec.get("replicas") or 0)
        st.init_replica_status(status, rtype)
        policy = spec.get("restartPolicy")
        for index, group in enumerate(slices(of_type(pods, rt), wanted)):
            if len(group) > 1:
                log.warning("%s %s: too many pods for %s %d", kind, name, rt, index)
                continue
            if not group:
                self.create_pod(job, rt, index, spec, self.is_master_role(replicas, rtype, index))
                continue
            pod = group[0]
            if index >= wanted:
                self.delete_pod(job, pod)
            code = exit_code(pod, self.default_container)
            if code != NO_EXIT_CODE:
                m = pod["metadata"]
                self.event(
                    job,
                    "Normal",
                    n.EXITED_WITH_CODE,
                    f"Pod: {m['namespace']}.{m['name']} exited with code {code}",
                )
            failed = (pod.get("status") or {}).get("phase") == "Failed"
            if failed and (
                (policy == n.EXIT_CODE and n.is_retryable_exit_code(code))
                or policy in (n.ON_FAILURE, n.ALWAYS)
            ):
                self.delete_pod(job, pod)
                msg = f"job {name} is restarting because {rtype} replica(s) failed."
                why = n.reason(kind, n.RESTARTING)
                self.event(job, "Warning", why, msg)
                st.update_condition(status, n.RESTARTING, why, msg)
            elif failed and policy == n.EXIT_CODE:
                msg = f'job "{name}" is failing because "{rtype}" replica(s) failed.'
                why = n.reason(kind, n.FAILED)
                self.event(job, "Warning", why, msg)
                st.update_condition(status, n.FAILED, why, msg)
            st.update_replica_status(status, rtype, pod)

    def pod_labels(self: TrainingJobController, job: Obj, rt: str, index: int | None) -> Obj:
        labels = self.job_labels(job)
        labels[n.REPLICA_TYPE_LABEL] = rt
        if index is not None:
            labels[n.REPLICA_INDEX_LABEL] = str(index)
        return labels

    def create_pod(
        self: TrainingJobController, job: Obj, rt: str, index: int, spec: Obj, master: bool
    ) -> None:
        labels = self.pod_labels(job, rt, index)
        if master:
            labels[n.JOB_ROLE_LABEL] = "master"
        template = copy.deepcopy(spec.get("template") or {})
        tmeta = template.get("metadata") or {}
        pod_spec = template.setdefault("spec", {})
        name = n.replica_name(job["metadata"]["name"], rt, index)
        self.set_cluster_spec(job, pod_spec, rt, index)
        if pod_spec.get("restartPolicy"):
            self.event(
                job,
                "Warning",
                n.SET_POD_TEMPLATE_RESTART_POLICY,
                "Restart policy in pod template will be overwritten by restart policy in "
                "replica spec",
            )
        set_restart_policy(pod_spec, spec)
        meta: Obj = {
            "name": name,
            "labels": {**(tmeta.get("labels") or {}), **labels},
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [self.owner_reference(job)],
        }
        if tmeta.get("finalizers"):
            meta["finalizers"] = list(tmeta["finalizers"])
        self.create_pod_object(job, {"metadata": meta, "spec": pod_spec})

    def create_pod_object(self: TrainingJobController, job: Obj, pod: Obj) -> Obj:
        """``RealPodControl.createPods``: create, and tell the job what happened."""
        ns = job["metadata"]["namespace"]
        try:
            created = self.api.create(self.api.rt("", "pods"), ns, pod, user=self.user)
        except errors.ApiError as e:
            self.event(job, "Warning", n.FAILED_CREATE_POD, f"Error creating: {e.message}")
            raise CreateFailed(e.message) from e
        self.event(
            job, "Normal", n.SUCCESSFUL_CREATE_POD, f"Created pod: {created['metadata']['name']}"
        )
        return created

    def delete_pod(self: TrainingJobController, job: Obj, pod: Obj) -> None:
        """``RealPodControl.DeletePod``: a pod already terminating is left alone."""
        m = pod["metadata"]
        current = self.store.peek(self.api.rt("", "pods"), m["namespace"], m["name"])
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        try:
            self.api.delete(self.api.rt("", "pods"), m["namespace"], m["name"], user=self.user)
        except errors.ApiError as e:
            if e.code == 404:
                return
            self.event(job, "Warning", n.FAILED_DELETE_POD, f"Error deleting: {e.message}")
            raise
        self.event(job, "Normal", n.SUCCESSFUL_DELETE_POD, f"Deleted pod: {m['name']}")

    # ------------------------------------------------------------ services
    def reconcile_services(
        self: TrainingJobController, job: Obj, services: list[Obj], rtype: str, spec: Obj
    ) -> None:
        rt = rtype.lower()
        wanted = int(spec.get("replicas") or 0)
        for index, group in enumerate(slices(of_type(services, rt), wanted)):
            if len(group) > 1:
                log.warning("%s: too many services for %s %d", job["metadata"]["name"], rt, index)
            elif not group:
                self.create_service(job, rtype, spec, index)
            elif index >= wanted:
                self.delete_service(job, group[0]["metadata"]["name"])

    def create_service(
        self: TrainingJobController, job: Obj, rtype: str, spec: Obj, index: int
    ) -> None:
        rt = rtype.lower()
        labels = self.pod_labels(job, rt, index)
        ports = ports_of(spec, self.default_container)
        if ports is None:
            raise CreateFailed("failed to find the port")
        svc = {
            "metadata": {
                "name": n.replica_name(job["metadata"]["name"], rt, index),
                "labels": labels,
                "ownerReferences": [self.owner_reference(job)],
            },
            "spec": {
                "clusterIP": "None",
                "selector": dict(labels),
                "ports": [{"name": pname, "port": port} for pname, port in ports],
            },
        }
        ns = job["metadata"]["namespace"]
        try:
            created = self.api.create(self.api.rt("", "services"), ns, svc, user=self.user)
        except errors.ApiError as e:
            self.event(job, "Warning", n.FAILED_CREATE_SERVICE, f"Error creating: {e.message}")
            raise CreateFailed(e.message) from e
        self.event(
            job,
            "Normal",
            n.SUCCESSFUL_CREATE_SERVICE,
            f"Created service: {created['metadata']['name']}",
        )

    def delete_service(self: TrainingJobController, job: Obj, name: str) -> None:
        ns = job["metadata"]["namespace"]
        svc_rt = self.api.rt("", "services")
        current = self.store.peek(svc_rt, ns, name)
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        try:
            self.api.delete(svc_rt, ns, name, user=self.user)
        except errors.ApiError as e:
            if e.code == 404:
                return
            raise
        self.event(job, "Normal", n.SUCCESSFUL_DELETE_SERVICE, f"Deleted service: {name}")


def set_restart_policy(pod_spec: Obj, spec: Obj) -> None:
    """``SetRestartPolicy``: ``ExitCode`` is the operator's own; the pod gets ``Never``."""
    policy = spec.get("restartPolicy") or ""
    if policy:
        pod_spec["restartPolicy"] = n.NEVER if policy == n.EXIT_CODE else policy
    else:  # the API server defaults an empty policy to Always
        pod_spec.pop("restartPolicy", None)
