"""``mpi``: a Kubeflow ``MPIJob`` (v1) — one ``Launcher`` plus ``workers`` ``Worker``
replicas with ``slotsPerWorker = procs_per_worker``.

As the v1 operator runs it: workers idle (``sleep 365d``, what the operator itself uses
when a worker has no command) and the launcher starts every rank on them with ``mpirun``
through the operator's hostfile and ``kubectl exec`` agent (its own ServiceAccount, made by
the operator). So the launcher runs ``mpirun -np <workers x procs_per_worker> <program>``
where ``<program>`` is the spec's command, script or cell — what each rank runs. GPUs,
cpu and memory are for workers; the launcher only coordinates (namespace defaults apply).
``cleanPodPolicy: Running`` removes the idle workers when the launcher finishes; the
launcher pod, which carries every rank's output, stays.

**The launcher's token.** Job pods mount no ServiceAccount token (a job has no API rights,
see ``base.py``), except the launcher: its ``kubectl exec`` needs the token of the
ServiceAccount the operator makes for it (``<job>-launcher``, which the template leaves
unnamed so the operator sets it), whose Role allows reading pods and ``create
pods/exec`` on this job's workers only — the pods that run the user's own program with the
same mounts anyway. The user's code in the launcher can use that token too; it reaches
nothing beyond the job.

**Pod Security.** The operator adds a ``kubectl-delivery`` init container to the launcher
with no ``securityContext``, which a namespace enforcing ``restricted`` (teamhub's default)
refuses: MPI jobs need ``TeamSpawner.pod_security_level = "baseline"`` (docs/admin).
"""

from __future__ import annotations

from typing import Any

from teamhub.jobs.backends.base import BuildContext
from teamhub.jobs.backends.kubeflow import KubeflowBackend
from teamhub.jobs.kube import MPIJOB
from teamhub.jobs.spec import JobSpec

WORKER_COMMAND = ["sleep", "365d"]


class MPIBackend(KubeflowBackend):
    name = "mpi"
    workload_kind = MPIJOB
    kinds = ("kubeflow.org/v1 MPIJob", "v1 ConfigMap")
    supports_procs_per_worker = True
    supports_gpus = True
    replica_specs_key = "mpiReplicaSpecs"
    container_name = "mpi"
    clean_pod_policy = "Running"
    # Kueue queues MPI Operator v2's kubeflow.org/v2beta1 MPIJob, not this v1 MPIJob.
    supports_queue = False
    reserved_env = frozenset({"OMPI_MCA_plm_rsh_agent", "OMPI_MCA_orte_default_hostfile"})

    def pod_count(self, spec: JobSpec) -> int:
        return spec.workers + 1

    def name_suffixes(self, spec: JobSpec) -> list[str]:
        return ["-launcher", f"-worker-{spec.workers - 1}"]

    def workload(self, ctx: BuildContext) -> dict[str, Any]:
        spec = ctx.spec
        ranks = spec.workers * spec.procs_per_worker
        launcher = self.pod_template(ctx, command=["mpirun", "-np", str(ranks), *self.command(ctx)])
        launcher["spec"]["automountServiceAccountToken"] = True  # kubexec.sh's credentials
        worker = self.pod_template(
            ctx, command=list(WORKER_COMMAND), resources=self.resources(spec)
        )
        return self.custom_object(
            ctx,
            {
                "slotsPerWorker": spec.procs_per_worker,
                "mainContainer": self.container_name,
                "runPolicy": self.run_policy(ctx),
                "mpiReplicaSpecs": {
                    "Launcher": self.replica(1, launcher),
                    "Worker": self.replica(spec.workers, worker),
                },
            },
        )

    def rank_of(self, replica_type: str, index: int, workload: dict[str, Any]) -> int | None:
        return None if replica_type == "launcher" else index
