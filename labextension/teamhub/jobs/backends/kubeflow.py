"""What the three Kubeflow training-operator (v1) backends share: replica specs, run
policy, and reading replicas back from the operator's pod labels.

The operator names pods and Services ``<job>-<replica type>-<index>`` (lowercase type),
labels them ``training.kubeflow.org/replica-type`` / ``replica-index`` / ``job-name``, and
injects the rank wiring itself (PyTorch ``MASTER_ADDR``..., TF ``TF_CONFIG``, MPI
hostfile), so these backends only describe the replicas. Fields follow the v1.9 CRDs'
``openAPIV3Schema`` (``/work/shared/crds``), which the API validates writes against.

Common choices: ``restartPolicy: Never`` per replica (a failed rank fails the job; a
restarted rank could not rejoin a static rendezvous), ``runPolicy.cleanPodPolicy: None``
(pods and their logs stay after the job ends; ``Running`` for MPI, whose idle workers
would otherwise run forever), ``runPolicy.activeDeadlineSeconds`` from ``deadline``.
"""

from __future__ import annotations

import re
from typing import Any

from teamhub.jobs.backends.base import Backend, BuildContext

REPLICA_TYPE_LABEL = "training.kubeflow.org/replica-type"
REPLICA_INDEX_LABEL = "training.kubeflow.org/replica-index"
JOB_NAME_LABEL = "training.kubeflow.org/job-name"


class KubeflowBackend(Backend):
    """Base of the ``pytorch``, ``tf`` and ``mpi`` backends."""

    needs_operator = True
    #: The spec key holding the replica specs (``pytorchReplicaSpecs``...).
    replica_specs_key: str = ""
    clean_pod_policy = "None"

    def run_policy(self, ctx: BuildContext) -> dict[str, Any]:
        policy: dict[str, Any] = {"cleanPodPolicy": self.clean_pod_policy}
        if ctx.spec.deadline is not None:
            policy["activeDeadlineSeconds"] = ctx.spec.deadline
        return policy

    def replica(self, replicas: int, template: dict[str, Any]) -> dict[str, Any]:
        return {"replicas": replicas, "restartPolicy": "Never", "template": template}

    def custom_object(self, ctx: BuildContext, spec: dict[str, Any]) -> dict[str, Any]:
        kind = self.workload_kind
        return {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": self.metadata(ctx),
            "spec": spec,
        }

    def replica_of(self, pod: dict[str, Any]) -> tuple[str, int]:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        rtype = labels.get(REPLICA_TYPE_LABEL)
        index = labels.get(REPLICA_INDEX_LABEL)
        if rtype is None or index is None:
            job = labels.get(JOB_NAME_LABEL) or labels.get("teamhub.io/job") or ""
            m = re.match(rf"^{re.escape(job)}-([a-z]+)-(\d+)$", meta.get("name", ""))
            if m:
                rtype, index = m.group(1), m.group(2)
            elif meta.get("name", "").endswith("-launcher"):
                rtype, index = "launcher", "0"
        try:
            return (rtype or "worker").lower(), int(index or 0)
        except ValueError:
            return (rtype or "worker").lower(), 0

    def expected_pods(self, workload: dict[str, Any]) -> int:
        specs = (workload.get("spec") or {}).get(self.replica_specs_key) or {}
        return sum(int((r or {}).get("replicas", 1)) for r in specs.values())
