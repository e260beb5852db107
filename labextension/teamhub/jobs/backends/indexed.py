"""``indexed``: a batch/v1 Indexed Job plus a headless Service — distributed training with
no operator installed.

- ``completions = parallelism = workers``, ``completionMode: Indexed``: one pod per rank,
  all at once; the pod of index *i* is host ``<job>-<i>`` (the Job controller sets the
  hostname) in the headless Service ``<job>`` (``subdomain``), so rank *i* is reachable at
  ``<job>-<i>.<job>``; the Service publishes not-ready addresses, so ranks resolve each
  other while they start.
- rank wiring in the PyTorch convention (as the training operator sets it, so the same
  script runs on either backend): ``RANK`` (the completion index, through the downward
  API), ``WORLD_SIZE`` (workers x procs_per_worker), ``MASTER_ADDR=<job>-0.<job>``,
  ``MASTER_PORT``, and torchrun's ``PET_NNODES``, ``PET_NPROC_PER_NODE``,
  ``PET_NODE_RANK``, ``PET_MASTER_ADDR``, ``PET_MASTER_PORT``. With ``procs_per_worker >
  1`` a script or cell is started with ``torchrun`` (which reads the ``PET_*`` variables
  and sets each process's own ``RANK``/``LOCAL_RANK``).
- failure handling: ``restartPolicy: Never``; a rank that exits non-zero fails the whole
  job at once (``podFailurePolicy`` ``FailJob`` — the other ranks would only wait for it);
  pods disrupted by the cluster (preemption, eviction, drained node) are replaced without
  counting (``Ignore`` on ``DisruptionTarget``); other pod failures are retried up to
  :data:`BACKOFF_LIMIT` times.
- ``deadline`` is ``activeDeadlineSeconds``. No ``ttlSecondsAfterFinished``: the job and its
  pods stay (with their logs) until the user deletes the job.
"""

from __future__ import annotations

import re
from typing import Any

from teamhub.jobs.backends.base import Backend, BuildContext, env_var, field_env
from teamhub.jobs.kube import BATCH_JOB
from teamhub.jobs.spec import JobSpec

MASTER_PORT = 29500
BACKOFF_LIMIT = 3
#: The Indexed Job limit on completions (and so on workers).
MAX_INDEXED_COMPLETIONS = 100_000
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
_INDEX_FROM_NAME = re.compile(r"-(\d+)(?:-[a-z0-9]{5})?$")


class IndexedBackend(Backend):
    name = "indexed"
    workload_kind = BATCH_JOB
    kinds = ("batch/v1 Job", "v1 Service", "v1 ConfigMap")
    needs_operator = False
    supports_procs_per_worker = True
    supports_gpus = True
    max_workers = MAX_INDEXED_COMPLETIONS
    reserved_env = frozenset(
        {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "JOB_COMPLETION_INDEX"}
    )
    reserved_env_prefixes = ("PET_",)
    container_name = "job"

    def name_suffixes(self, spec: JobSpec) -> list[str]:
        return [f"-{spec.workers - 1}"]

    def uses_torchrun(self, spec: JobSpec) -> bool:
        return spec.procs_per_worker > 1

    def rank_env(self, ctx: BuildContext) -> list[dict[str, Any]]:
        spec = ctx.spec
        master = f"{ctx.name}-0.{ctx.name}"
        index = f"metadata.annotations['{COMPLETION_INDEX}']"
        return [
            field_env("RANK", index),
            env_var("WORLD_SIZE", str(spec.workers * spec.procs_per_worker)),
            env_var("MASTER_ADDR", master),
            env_var("MASTER_PORT", str(MASTER_PORT)),
            env_var("PET_NNODES", str(spec.workers)),
            env_var("PET_NPROC_PER_NODE", str(spec.procs_per_worker)),
            field_env("PET_NODE_RANK", index),
            env_var("PET_MASTER_ADDR", master),
            env_var("PET_MASTER_PORT", str(MASTER_PORT)),
        ]

    def workload(self, ctx: BuildContext) -> dict[str, Any]:
        spec = ctx.spec
        template = self.pod_template(
            ctx,
            command=self.command(ctx),
            env=self.rank_env(ctx),
            resources=self.resources(spec),
            ports=[{"name": "rendezvous", "containerPort": MASTER_PORT, "protocol": "TCP"}],
            pod_spec={"restartPolicy": "Never", "subdomain": ctx.name},
        )
        job_spec: dict[str, Any] = {
            "completionMode": "Indexed",
            "completions": spec.workers,
            "parallelism": spec.workers,
            "backoffLimit": BACKOFF_LIMIT,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    },
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": self.container_name,
                            "operator": "NotIn",
                            "values": [0],
                        },
                    },
                ]
            },
            "template": template,
        }
        if spec.deadline is not None:
            job_spec["activeDeadlineSeconds"] = spec.deadline
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": self.metadata(ctx),
            "spec": job_spec,
        }

    def owned(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """The headless Service giving each rank its DNS name."""
        return [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": ctx.name,
                    "namespace": ctx.namespace,
                    "labels": dict(ctx.labels),
                    "annotations": dict(ctx.annotations),
                },
                "spec": {
                    "clusterIP": "None",
                    "publishNotReadyAddresses": True,
                    "selector": {
                        "teamhub.io/submission": ctx.submission,
                        "teamhub.io/job": ctx.name,
                    },
                    "ports": [
                        {
                            "name": "rendezvous",
                            "port": MASTER_PORT,
                            "targetPort": MASTER_PORT,
                            "protocol": "TCP",
                        }
                    ],
                },
            }
        ]

    def replica_of(self, pod: dict[str, Any]) -> tuple[str, int]:
        meta = pod.get("metadata") or {}
        raw = (meta.get("annotations") or {}).get(COMPLETION_INDEX) or (
            meta.get("labels") or {}
        ).get(COMPLETION_INDEX)
        if raw is None:
            host = (pod.get("spec") or {}).get("hostname") or meta.get("name", "")
            m = _INDEX_FROM_NAME.search(host)
            raw = m.group(1) if m else "0"
        try:
            return "rank", int(raw)
        except ValueError:
            return "rank", 0

    def expected_pods(self, workload: dict[str, Any]) -> int:
        spec = workload.get("spec") or {}
        return int(spec.get("parallelism") or spec.get("completions") or 1)
