"""TFJob (``pkg/controller.v1/tensorflow`` of training-operator v1.9).

Replica types ``Chief``/``Master`` (at most one of them), ``PS``, ``Worker``, ``Evaluator``;
container ``tensorflow``, port ``tfjob-port`` (default 2222). A distributed job (more than
one replica in all) gets ``TF_CONFIG`` in its ``tensorflow`` container::

    {"cluster":{"ps":["j-ps-0.ns.svc:2222"],"worker":["j-worker-0.ns.svc:2222",...]},
     "task":{"type":"worker","index":0},"environment":"cloud"}

(Go's encoding: compact, cluster keys sorted; each address is the replica's Service.)

Success: the Chief/Master succeeded; without one, all Workers succeeded — or, with the
default ``successPolicy`` (not ``AllWorkers``), Worker 0 exited 0. Any failed replica fails
the job (``<Kind>Failed``) unless it is being restarted (``ExitCode`` policy) or it is a Worker
and ``enableDynamicWorker`` is set.
"""

from __future__ import annotations

import json
from typing import Any

from kubesim.controllers.training import defaults
from kubesim.controllers.training import names as n
from kubesim.controllers.training import status as st
from kubesim.controllers.training.common import TrainingJobController
from kubesim.controllers.training.replicas import exit_code, of_type, slices
from kubesim.store import now_rfc3339

Obj = dict[str, Any]
CHIEF, EVALUATOR, MASTER, PS, WORKER = "Chief", "Evaluator", "Master", "PS", "Worker"
CONTAINER, PORT_NAME = "tensorflow", "tfjob-port"


def port_of(job: Obj, rtype: str) -> int:
    spec = job["spec"]["tfReplicaSpecs"][rtype]
    for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
        if c.get("name") == CONTAINER:
            for p in c.get("ports") or []:
                if p.get("name") == PORT_NAME:
                    return int(p["containerPort"])
    raise ValueError("failed to found the port")


def is_distributed(job: Obj) -> bool:
    specs = job["spec"].get("tfReplicaSpecs") or {}
    count = 0
    for t in (CHIEF, EVALUATOR, MASTER, PS, WORKER):
        if specs.get(t) is not None:
            r = specs[t].get("replicas")
            count += 1 if r is None else int(r)
    return count != 1


def cluster_spec(job: Obj) -> dict[str, list[str]]:
    """``genClusterSpec``: every replica's Service address, by lower-case type."""
    name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
    out: dict[str, list[str]] = {}
    for rtype, spec in (job["spec"].get("tfReplicaSpecs") or {}).items():
        port = port_of(job, rtype)
        out[rtype.lower()] = [
            f"{n.replica_name(name, rtype, i)}.{ns}.svc:{port}"
            for i in range(int(spec.get("replicas") or 0))
        ]
    return out


def tf_config(job: Obj, rt: str, index: int) -> str:
    cluster = cluster_spec(job)
    if job["spec"].get("enableDynamicWorker"):
        sparse: Obj = {"worker": {}, "ps": []}
        if rt == "ps":
            sparse["ps"] = [cluster[rt][index]]
        elif rt == "worker":
            sparse["ps"] = cluster.get("ps", [])
            sparse["worker"] = {str(index): cluster[rt][index]}
        doc: Obj = {"sparseCluster": sparse, "task": {"type": rt, "index": index}}
    else:
        doc = {
            "cluster": dict(sorted(cluster.items())),
            "task": {"type": rt, "index": index},
            "environment": "cloud",
        }
    return json.dumps(doc, separators=(",", ":"))


class TFJobController(TrainingJobController):
    kind = "TFJob"
    plural = "tfjobs"
    controller_name = "tfjob-controller"
    default_container = CONTAINER
    replica_specs_field = "tfReplicaSpecs"

    def default(self, job: Obj) -> Obj:
        return defaults.tensorflow(job)

    @staticmethod
    def has_chief(replicas: dict[str, Obj]) -> bool:
        return CHIEF in replicas or MASTER in replicas

    def is_master_role(self, replicas: dict[str, Obj], rtype: str, index: int) -> bool:
        if self.has_chief(replicas):
            return rtype in (CHIEF, MASTER)
        return rtype == WORKER and index == 0

    def set_cluster_spec(self, job: Obj, pod_spec: Obj, rt: str, index: int) -> None:
        if not is_distributed(job):
            return
        value = tf_config(job, rt, index)
        for c in pod_spec.get("containers") or []:
            if c.get("name") == CONTAINER:
                c["env"] = [*(c.get("env") or []), {"name": "TF_CONFIG", "value": value}]
                break

    def worker0_completed(self, job: Obj, replicas: dict[str, Obj]) -> bool:
        if WORKER not in replicas:
            return True
        pods = of_type(self.owned(job, "pods"), "worker")
        for index, group in enumerate(slices(pods, int(replicas[WORKER].get("replicas") or 0))):
            if index == 0 and len(group) == 1:
                pod = group[0]
                ok = (pod.get("status") or {}).get("phase") == "Succeeded"
                return ok and exit_code(pod, CONTAINER) == 0
        return False

    def update_job_status(self, job: Obj, replicas: dict[str, Obj], status: st.Status) -> None:
        name, ns, kind = job["metadata"]["name"], job["metadata"]["namespace"], self.kind
        worker0_done = self.worker0_completed(job, replicas)
        if not status.get("startTime"):
            status["startTime"] = now_rfc3339()
        restarting = st.condition(status, n.RESTARTING)
        restarting = dict(restarting) if restarting else None
        for rtype in (CHIEF, EVALUATOR, MASTER, PS, WORKER):
            spec = replicas.get(rtype)
            if spec is None:
                continue
            succeeded = st.count(status, rtype, "succeeded")
            running = st.count(status, rtype, "active")
            failed = st.count(status, rtype, "failed")
            expected = int(spec.get("replicas") or 0) - succeeded
            done = f"{kind} {ns}/{name} successfully completed."
            if self.has_chief(replicas):
                if rtype in (CHIEF, MASTER):
                    if running > 0:
                        self.mark_running(status, f"{kind} {ns}/{name} is running.")
                    if expected == 0:
                        self.finish(job, status, n.SUCCEEDED, done)
            elif rtype == WORKER:
                all_workers = job["spec"].get("successPolicy") == "AllWorkers"
                if expected == 0 or (worker0_done and not all_workers):
                    self.finish(job, status, n.SUCCEEDED, done)
                elif running > 0:
                    self.mark_running(status, f"{kind} {ns}/{name} is running.")
            if failed > 0:
                if restarting is not None:
                    st.update_condition(
                        status, n.RESTARTING, restarting["reason"], restarting["message"]
                    )
                elif job["spec"].get("enableDynamicWorker") and rtype == WORKER:
                    continue
                else:
                    msg = (
                        f"{kind} {ns}/{name} has failed because {failed} {rtype} replica(s) failed."
                    )
                    self.finish(job, status, n.FAILED, msg)
