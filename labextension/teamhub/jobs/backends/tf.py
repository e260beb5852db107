"""``tf``: a Kubeflow ``TFJob`` — ``Worker`` replicas, and with ``chief=True`` the first of
the ``workers`` is the ``Chief`` (rank 0, the one that writes checkpoints and decides
success).

The operator gives every replica ``TF_CONFIG`` (the cluster spec and the replica's own
task), which ``tf.distribute.MultiWorkerMirroredStrategy`` reads. TensorFlow runs one
process per worker: ``procs_per_worker`` other than 1 is an error. No parameter servers:
the strategies teamhub targets are all-reduce.
"""

from __future__ import annotations

from typing import Any

from teamhub.jobs.backends.base import BuildContext
from teamhub.jobs.backends.kubeflow import KubeflowBackend
from teamhub.jobs.kube import TFJOB
from teamhub.jobs.spec import JobSpec

#: The operator's default port (container port ``tfjob-port``).
TF_PORT = 2222


class TFBackend(KubeflowBackend):
    name = "tf"
    workload_kind = TFJOB
    kinds = ("kubeflow.org/v1 TFJob", "v1 ConfigMap")
    supports_procs_per_worker = False
    supports_gpus = True
    supports_chief = True
    replica_specs_key = "tfReplicaSpecs"
    container_name = "tensorflow"
    reserved_env = frozenset({"TF_CONFIG"})

    def _workers(self, spec: JobSpec) -> int:
        return spec.workers - (1 if spec.chief else 0)

    def name_suffixes(self, spec: JobSpec) -> list[str]:
        out = ["-chief-0"] if spec.chief else []
        if self._workers(spec) > 0:
            out.append(f"-worker-{self._workers(spec) - 1}")
        return out

    def workload(self, ctx: BuildContext) -> dict[str, Any]:
        template = self.pod_template(
            ctx,
            command=self.command(ctx),
            resources=self.resources(ctx.spec),
            ports=[{"name": "tfjob-port", "containerPort": TF_PORT, "protocol": "TCP"}],
        )
        replicas: dict[str, Any] = {}
        if ctx.spec.chief:
            replicas["Chief"] = self.replica(1, template)
        if self._workers(ctx.spec) > 0:
            replicas["Worker"] = self.replica(self._workers(ctx.spec), template)
        return self.custom_object(
            ctx, {"runPolicy": self.run_policy(ctx), "tfReplicaSpecs": replicas}
        )

    def rank_of(self, replica_type: str, index: int, workload: dict[str, Any]) -> int | None:
        specs = (workload.get("spec") or {}).get(self.replica_specs_key) or {}
        if replica_type == "chief":
            return 0
        return index + (1 if "Chief" in specs else 0)
