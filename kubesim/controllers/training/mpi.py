"""MPIJob v1 (``pkg/controller.v1/mpi`` of training-operator v1.9: the mpi-operator v1 design).

For job ``j`` the operator creates:

- ServiceAccount, Role (``get/list/watch`` pods, ``create pods/exec`` on the workers) and
  RoleBinding ``j-launcher`` (the ServiceAccount only when the Launcher template names none);
- ConfigMap ``j-config`` with ``hostfile`` (one ``j-worker-<i> slots=<slotsPerWorker>`` line
  per worker: mpirun reaches workers by *pod name* through ``kubexec.sh``, i.e.
  ``kubectl exec``), ``kubexec.sh`` and ``discover_hosts.sh`` (the Running workers);
- worker pods ``j-worker-<i>`` (no Services), whose first container runs ``sleep 365d``
  unless it has a command, with ``kubexec.sh`` mounted at ``/etc/mpi``;
- the launcher pod ``j-launcher`` (label ``job-role: master``, ServiceAccount ``j-launcher``)
  with ``/etc/mpi`` (``hostfile``, ``kubexec.sh``, ``discover_hosts.sh``), ``/opt/kube`` and
  ``OMPI_MCA_plm_rsh_agent=/etc/mpi/kubexec.sh``,
  ``OMPI_MCA_orte_default_hostfile=/etc/mpi/hostfile``, ``I_MPI_HYDRA_BOOTSTRAP*``.

The real launcher pod is created at once and its ``kubectl-delivery`` init container holds
it until every worker is Ready. kubesim runs no init containers, so it creates the launcher
only once every worker pod is Running: the launcher's command starts after the workers, as
on a cluster (the pod itself appears later than on a cluster).

The job succeeds when the launcher succeeds and fails when it fails (reason
``MPIJobMPIJobFailed``, the operator's doubled prefix); a failed worker fails it too.

In the process kubelet ``mpirun`` really runs: the kubelet puts a ``kubectl`` where the
``kubectl-delivery`` init container would (:mod:`kubesim.kubelet.kubectl_delivery`), and
kubesim serves ``pods/exec`` (:mod:`kubesim.execstream`), so ``kubexec.sh`` starts Open MPI's
daemons in the workers as the launcher's ServiceAccount. Its Role grants ``create`` on
``pods/exec`` only, so kubectl's WebSocket attempt is refused (no ``get``) and it falls back
to SPDY, as on a cluster. As the real operator's, the ``kubectl-delivery`` container sets no
``securityContext`` (Pod Security ``restricted`` refuses the launcher), and ``kubectl``
authenticates only if the launcher's template leaves its ServiceAccount token mounted.
"""

from __future__ import annotations

import copy
from typing import Any

from kubesim import errors
from kubesim.controllers.training import defaults
from kubesim.controllers.training import names as n
from kubesim.controllers.training import status as st
from kubesim.controllers.training.common import TrainingJobController
from kubesim.controllers.training.mpi_objects import (
    LAUNCHER,
    WORKER,
    config_data,
    is_gpu_launcher,
    launcher_pod,
    validation_error,
    worker_pod,
)
from kubesim.controllers.training.replicas import CreateFailed
from kubesim.store import now_rfc3339

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"


class MPIJobController(TrainingJobController):
    kind = "MPIJob"
    plural = "mpijobs"
    controller_name = "mpijob-controller"
    default_container = "mpi"
    replica_specs_field = "mpiReplicaSpecs"
    dependents = (
        ("", "configmaps"),
        ("", "serviceaccounts"),
        (RBAC, "roles"),
        (RBAC, "rolebindings"),
    )

    def __init__(self, sim: Any, kubectl_delivery_image: str = "kubeflow/kubectl-delivery:latest"):
        super().__init__(sim)
        self.kubectl_delivery_image = kubectl_delivery_image

    def default(self, job: Obj) -> Obj:
        return defaults.mpi(job)

    def prevalidate(self, job: Obj) -> bool:
        err = validation_error(job.get("spec") or {})
        if err:
            self.event(
                job,
                "Warning",
                n.reason(self.kind, "FailedValidation"),
                f"MPIJob failed validation because {err}",
            )
        return not err

    def is_master_role(self, replicas: dict[str, Obj], rtype: str, index: int) -> bool:
        return rtype == LAUNCHER

    def reconcile_services(self, job: Obj, services: list[Obj], rtype: str, spec: Obj) -> None:
        return None  # MPIJob v1 has no Services

    # ------------------------------------------------------------- objects
    def _meta(self, job: Obj, name: str) -> Obj:
        return {
            "name": name,
            "labels": {"app": job["metadata"]["name"]},
            "ownerReferences": [self.owner_reference(job)],
        }

    def _controlled(self, job: Obj, obj: Obj) -> bool:
        uid = job["metadata"]["uid"]
        return any(
            r.get("controller") and r.get("uid") == uid
            for r in obj["metadata"].get("ownerReferences") or []
        )

    def _not_ours(self, job: Obj, obj: Obj) -> CreateFailed:
        msg = (
            f'Resource "{obj["metadata"]["name"]}" of Kind "{obj.get("kind", "")}" already '
            "exists and is not managed by MPIJob"
        )
        self.event(job, "Warning", "ErrResourceExists", msg)
        return CreateFailed(msg)

    def _get_or_create(
        self, job: Obj, group: str, plural: str, obj: Obj, exists_reason: str
    ) -> Obj:
        rt, ns = self.api.rt(group, plural), job["metadata"]["namespace"]
        current = self.store.peek(rt, ns, obj["metadata"]["name"])
        if current is not None:
            if exists_reason:  # the operator reports, every time, that it found it
                kind = exists_reason.split(" ")[0]
                self.event(job, "Normal", exists_reason, f"{kind}: {obj['metadata']['name']}")
            return copy.deepcopy(current)
        try:
            return self.api.create(rt, ns, obj, user=self.user)
        except errors.ApiError as e:
            raise CreateFailed(e.message) from e

    def launcher_sa(self, job: Obj) -> str:
        tpl = job["spec"]["mpiReplicaSpecs"][LAUNCHER].get("template") or {}
        return (tpl.get("spec") or {}).get(
            "serviceAccountName"
        ) or f"{job['metadata']['name']}-launcher"

    def ensure_support_objects(self, job: Obj, workers: int, gpu: bool, running: list[str]) -> None:
        name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
        launcher = f"{name}-launcher"
        sa = self.launcher_sa(job)
        self._get_or_create(
            job, "", "serviceaccounts", {"metadata": self._meta(job, sa)}, "ServiceAccount is exist"
        )
        data = config_data(job, workers, gpu, running)
        cm = self._get_or_create(
            job, "", "configmaps", {"metadata": self._meta(job, f"{name}-config"), "data": data}, ""
        )
        if not self._controlled(job, cm):
            raise self._not_ours(job, cm)
        if cm.get("data") != data:
            cm["data"] = data
            self.api.update(
                self.api.rt("", "configmaps"), ns, cm["metadata"]["name"], cm, user=self.user
            )
        rules: list[Obj] = [
            {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["create"], "apiGroups": [""], "resources": ["pods/exec"]},
        ]
        if workers:
            rules[1]["resourceNames"] = [f"{name}-worker-{i}" for i in range(workers)]
        role = self._get_or_create(
            job,
            RBAC,
            "roles",
            {"metadata": self._meta(job, launcher), "rules": rules},
            "LauncherRole is exist",
        )
        if not self._controlled(job, role):
            raise self._not_ours(job, role)
        if role.get("rules") != rules:
            role["rules"] = rules
            self.api.update(self.api.rt(RBAC, "roles"), ns, launcher, role, user=self.user)
        binding = {
            "metadata": self._meta(job, launcher),
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": launcher},
        }
        rb = self._get_or_create(job, RBAC, "rolebindings", binding, "RoleBinding is exist")
        if not self._controlled(job, rb):
            raise self._not_ours(job, rb)

    def worker_pod(self, job: Obj, index: int) -> Obj:
        labels = self.pod_labels(job, "worker", index)
        return worker_pod(job, index, labels, self.owner_reference(job))

    def launcher_pod(self, job: Obj, gpu: bool) -> Obj:
        spec = job["spec"]["mpiReplicaSpecs"][LAUNCHER]
        if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy"):
            self.event(
                job,
                "Warning",
                "SettedPodTemplateRestartPolicy",
                "Restart policy in pod template will be overwritten by restart policy in "
                "replica spec",
            )
        labels = {**self.pod_labels(job, "launcher", None), n.JOB_ROLE_LABEL: "master"}
        return launcher_pod(
            job, gpu, labels, self.owner_reference(job), self.kubectl_delivery_image
        )

    def get_or_create_workers(self, job: Obj) -> list[Obj]:
        name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
        spec = job["spec"]["mpiReplicaSpecs"].get(WORKER)
        if spec is None:
            return []
        wanted = int(spec.get("replicas") or 0)
        pods_rt = self.api.rt("", "pods")
        mine = [
            p
            for p in self.owned(job, "pods")
            if p["metadata"]["labels"].get(n.REPLICA_TYPE_LABEL) == "worker"
        ]
        if len(mine) > wanted:  # scaled down
            for p in mine:
                idx = (p["metadata"].get("labels") or {}).get(n.REPLICA_INDEX_LABEL, "")
                if idx.isdigit() and int(idx) >= wanted:
                    self.api.delete(pods_rt, ns, p["metadata"]["name"], user=self.user)
        out = []
        for i in range(wanted):
            pod = self.store.peek(pods_rt, ns, f"{name}-worker-{i}")
            if pod is None:
                try:
                    pod = self.api.create(pods_rt, ns, self.worker_pod(job, i), user=self.user)
                except errors.ApiError as e:
                    # sic: the operator names the pod it failed to create from an empty object
                    self.event(job, "Warning", n.FAILED_CREATE_POD, "Created worker pod: ")
                    self.event(
                        job,
                        "Warning",
                        n.reason(self.kind, n.FAILED),
                        f"worker pod created failed: {e.message}",
                    )
                    raise CreateFailed(e.message) from e
                self.event(
                    job,
                    "Normal",
                    n.SUCCESSFUL_CREATE_POD,
                    f"Created worker pod: {pod['metadata']['name']}",
                )
            if not self._controlled(job, pod):
                raise self._not_ours(job, pod)
            out.append(copy.deepcopy(pod))
        return out

    def reconcile_pods(
        self,
        job: Obj,
        status: st.Status,
        pods: list[Obj],
        rtype: str,
        spec: Obj,
        replicas: dict[str, Obj],
    ) -> None:
        name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
        if not status.get("startTime"):
            status["startTime"] = now_rfc3339()
        st.init_replica_status(status, rtype)
        launcher = self.store.peek(self.api.rt("", "pods"), ns, f"{name}-launcher")
        if launcher is not None and not self._controlled(job, launcher):
            raise self._not_ours(job, launcher)
        phase = lambda p: (p.get("status") or {}).get("phase")  # noqa: E731
        workers: list[Obj] = []
        if launcher is None or phase(launcher) not in ("Succeeded", "Failed"):
            worker_spec = job["spec"]["mpiReplicaSpecs"].get(WORKER) or {}
            count = int(worker_spec.get("replicas") or 0)
            gpu = is_gpu_launcher(job)
            running = [
                p["metadata"]["name"]
                for p in self.owned(job, "pods")
                if p["metadata"]["labels"].get(n.REPLICA_TYPE_LABEL) == "worker"
                and phase(p) == "Running"
            ]
            self.ensure_support_objects(job, count, gpu, running)
            workers = self.get_or_create_workers(job)
            # kubectl-delivery stands in here: the launcher starts once all workers run.
            if launcher is None and all(phase(w) == "Running" for w in workers):
                try:
                    launcher = self.api.create(
                        self.api.rt("", "pods"), ns, self.launcher_pod(job, gpu), user=self.user
                    )
                except errors.ApiError as e:
                    self.event(
                        job,
                        "Warning",
                        n.reason(self.kind, n.FAILED),
                        f"launcher pod created failed: {e.message}",
                    )
                    raise CreateFailed(e.message) from e
                self.event(
                    job,
                    "Normal",
                    n.reason(self.kind, n.RUNNING),
                    f"launcher pod created success: {launcher['metadata']['name']}",
                )
        self.update_mpi_job_status(job, status, launcher, workers)

    def update_mpi_job_status(
        self, job: Obj, status: st.Status, launcher: Obj | None, workers: list[Obj]
    ) -> None:
        """Replica counts (and the events ``updateMPIJobStatus`` records)."""
        name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
        phase = lambda p: (p.get("status") or {}).get("phase")  # noqa: E731
        if launcher is not None:
            st.init_replica_status(status, LAUNCHER)
            if phase(launcher) == "Succeeded":
                st.set_count(status, LAUNCHER, "succeeded", 1)
                self.event(
                    job,
                    "Normal",
                    n.reason(self.plural, n.SUCCEEDED),
                    f"MPIJob {ns}/{name} successfully completed.",
                )
            elif phase(launcher) == "Failed":
                st.set_count(status, LAUNCHER, "failed", 1)
                why = (launcher.get("status") or {}).get("reason") or n.reason(self.kind, n.FAILED)
                self.event(job, "Warning", why, f"MPIJob {ns}/{name} has failed")
            elif phase(launcher) == "Running":
                st.set_count(status, LAUNCHER, "active", 1)
        st.init_replica_status(status, WORKER)
        running = evicted = 0
        for w in workers:
            if phase(w) == "Failed":
                st.bump(status, WORKER, "failed")
                evicted += (w.get("status") or {}).get("reason") == "Evicted"
            elif phase(w) == "Succeeded":
                st.bump(status, WORKER, "succeeded")
            elif phase(w) == "Running":
                running += 1
                st.bump(status, WORKER, "active")
        if evicted:
            self.event(
                job, "Warning", "MPIJobEvicted", f"{evicted}/{len(workers)} workers are evicted"
            )
        if launcher is not None and phase(launcher) == "Running" and running == len(workers):
            self.event(
                job, "Normal", n.reason(self.kind, n.RUNNING), f"MPIJob {ns}/{name} is running"
            )

    def update_job_status(self, job: Obj, replicas: dict[str, Obj], status: st.Status) -> None:
        name, kind = job["metadata"]["name"], self.kind
        for rtype in (LAUNCHER, WORKER):
            spec = replicas.get(rtype)
            if spec is None:
                continue
            succeeded = st.count(status, rtype, "succeeded")
            running = st.count(status, rtype, "active")
            failed = st.count(status, rtype, "failed")
            expected = int(spec.get("replicas") or 0) - succeeded
            if rtype == LAUNCHER:
                if running > 0:
                    self.mark_running(status, f"MPIJob {name} is running.")
                if expected == 0:
                    msg = f"MPIJob {name} is successfully completed."
                    self.finish(job, status, n.SUCCEEDED, msg)
                    return
            if failed > 0:
                if spec.get("restartPolicy") == n.EXIT_CODE:
                    msg = f"MPIJob {name} is restarting because {failed} {rtype} replica(s) failed."
                    self.mark_restarting(job, status, msg)
                else:
                    msg = f"MPIJob {name} is failed because {failed} {rtype} replica(s) failed."
                    # sic: NewReason(kind, NewReason(kind, Failed))
                    doubled = n.reason(kind, n.reason(kind, n.FAILED))
                    self.finish(job, status, n.FAILED, msg, reason=doubled)
