"""``pytorch``: a Kubeflow ``PyTorchJob`` — ``Master`` (1 replica, rank 0) plus ``Worker``
(``workers - 1`` replicas, ranks 1..).

The operator injects ``MASTER_ADDR`` (the master's Service), ``MASTER_PORT`` (the
container port named ``pytorchjob-port``), ``WORLD_SIZE``, ``RANK`` and, with
``nprocPerNode``, torchrun's ``PET_*`` variables; so ``torch.distributed`` with
``init_method="env://"`` (or ``torchrun`` with no arguments) just works. With
``procs_per_worker > 1`` a script or cell is started with ``torchrun``.
"""

from __future__ import annotations

from typing import Any

from teamhub.jobs.backends.base import BuildContext
from teamhub.jobs.backends.kubeflow import KubeflowBackend
from teamhub.jobs.kube import PYTORCHJOB
from teamhub.jobs.spec import JobSpec

#: The operator's default port for the master (container port ``pytorchjob-port``).
PYTORCH_PORT = 23456


class PyTorchBackend(KubeflowBackend):
    name = "pytorch"
    workload_kind = PYTORCHJOB
    kinds = ("kubeflow.org/v1 PyTorchJob", "v1 ConfigMap")
    supports_procs_per_worker = True
    supports_gpus = True
    replica_specs_key = "pytorchReplicaSpecs"
    #: The operator looks for this container name (ports, env injection).
    container_name = "pytorch"
    reserved_env = frozenset({"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
    reserved_env_prefixes = ("PET_",)

    def name_suffixes(self, spec: JobSpec) -> list[str]:
        out = ["-master-0"]
        if spec.workers > 1:
            out.append(f"-worker-{spec.workers - 2}")
        return out

    def uses_torchrun(self, spec: JobSpec) -> bool:
        return spec.procs_per_worker > 1

    def workload(self, ctx: BuildContext) -> dict[str, Any]:
        template = self.pod_template(
            ctx,
            command=self.command(ctx),
            resources=self.resources(ctx.spec),
            ports=[{"name": "pytorchjob-port", "containerPort": PYTORCH_PORT, "protocol": "TCP"}],
        )
        replicas = {"Master": self.replica(1, template)}
        if ctx.spec.workers > 1:
            replicas["Worker"] = self.replica(ctx.spec.workers - 1, template)
        return self.custom_object(
            ctx,
            {
                "nprocPerNode": str(ctx.spec.procs_per_worker),
                "runPolicy": self.run_policy(ctx),
                "pytorchReplicaSpecs": replicas,
            },
        )

    def rank_of(self, replica_type: str, index: int, workload: dict[str, Any]) -> int | None:
        return 0 if replica_type == "master" else index + 1
