"""PyTorchJob (``pkg/controller.v1/pytorch`` of training-operator v1.9).

Replica types ``Master`` (exactly 1) and ``Worker``; container ``pytorch``, port
``pytorchjob-port`` (default 23456). Env injected into every container of every replica:

- always ``PYTHONUNBUFFERED=0``;
- with a Master: ``MASTER_PORT`` (the Master's ``pytorchjob-port``), ``MASTER_ADDR``
  (``<job>-master-0``, the Master's Service), ``WORLD_SIZE`` (replicas x nprocPerNode when
  that is a number, else replicas), ``RANK`` (Master 0, Worker i -> i+1),
  ``PET_NPROC_PER_NODE`` (``spec.nprocPerNode``, default ``auto``), ``PET_NODE_RANK``;
- with ``elasticPolicy``: ``PET_RDZV_ENDPOINT`` (``rdzvHost`` or ``<job>-worker-0``, with
  ``rdzvPort`` or the Worker port), ``PET_RDZV_BACKEND`` (default ``c10d``), ``PET_NNODES``
  (``min:max``), and ``PET_MAX_RESTARTS``, ``PET_NPROC_PER_NODE`` (deprecated
  ``elasticPolicy.nProcPerNode``), ``PET_RDZV_ID``, ``PET_RDZV_CONF``, ``PET_STANDALONE`` when
  set; without it ``PET_NNODES`` = the number of replicas.

v1 sets no ``PET_MASTER_ADDR``/``PET_MASTER_PORT`` (those come from Trainer v2): torchrun
needs ``--master_addr=$MASTER_ADDR --master_port=$MASTER_PORT`` on its command line.

With a Master, each Worker also gets the ``init-pytorch`` init container that waits until
the Master's name resolves. Its default template has no securityContext, so in a namespace
enforcing the ``restricted`` Pod Security Standard the Worker pods are refused
(``FailedCreatePod``), exactly as with a stock operator; ``TrainingOperatorConfig``
takes the hardened template Kubeflow's platform manifests install instead. (kubesim does not
run init containers.)

Success: the Master succeeded, or without a Master all Workers (with ``elasticPolicy``: any
Worker) succeeded. A failed replica fails the job when its restartPolicy is ``Never``, else
the job is ``Restarting``.
"""

from __future__ import annotations

from typing import Any

import yaml

from kubesim.controllers.training import defaults
from kubesim.controllers.training import names as n
from kubesim.controllers.training import status as st
from kubesim.controllers.training.common import TrainingJobController
from kubesim.store import now_rfc3339

Obj = dict[str, Any]
MASTER, WORKER = "Master", "Worker"
CONTAINER, PORT_NAME = "pytorch", "pytorchjob-port"

#: The operator's default init container (``--pytorch-init-container-template-file`` unset).
INIT_CONTAINER_TEMPLATE = """
- name: init-pytorch
  image: {image}
  imagePullPolicy: IfNotPresent
  resources:
    limits:
      cpu: 100m
      memory: 20Mi
    requests:
      cpu: 50m
      memory: 10Mi
  command: ['sh', '-c', 'err=1;for i in $(seq {max_tries}); do if nslookup {master_addr}; \
then err=0 && break; fi;echo waiting for master; sleep 2; done; exit $err']
"""

#: The template Kubeflow's platform manifests configure, which meets ``restricted``.
RESTRICTED_INIT_CONTAINER_TEMPLATE = (
    INIT_CONTAINER_TEMPLATE
    + """  securityContext:
    allowPrivilegeEscalation: false
    capabilities:
      drop:
      - ALL
    runAsNonRoot: true
    runAsUser: 1000
    seccompProfile:
      type: RuntimeDefault
"""
)


def _env(name: str, value: Any) -> Obj:
    return {"name": name, "value": str(value)}


def port_of(job: Obj, rtype: str) -> int | None:
    spec = (job["spec"].get("pytorchReplicaSpecs") or {}).get(rtype) or {}
    for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
        if c.get("name") == CONTAINER:
            for p in c.get("ports") or []:
                if p.get("name") == PORT_NAME:
                    return p.get("containerPort")
    return None


def nproc_int(job: Obj) -> int:
    try:
        return int(job["spec"].get("nprocPerNode"))
    except (TypeError, ValueError):
        return 1


def elastic_env(job: Obj) -> list[Obj]:
    spec, name = job["spec"], job["metadata"]["name"]
    ep = spec["elasticPolicy"]
    host = ep.get("rdzvHost") or f"{name}-worker-0"
    port = ep.get("rdzvPort")
    if port is None:
        port = port_of(job, WORKER)
        if port is None:
            raise ValueError("port not found")
    env = [
        _env("PET_RDZV_ENDPOINT", f"{host}:{port}"),
        _env("PET_RDZV_BACKEND", ep.get("rdzvBackend") or "c10d"),
    ]
    lo, hi = ep.get("minReplicas"), ep.get("maxReplicas")
    if lo is None and hi is None:
        workers = (spec["pytorchReplicaSpecs"].get(WORKER) or {}).get("replicas")
        env.append(_env("PET_NNODES", workers))
    else:
        env.append(_env("PET_NNODES", f"{lo}:{hi}"))
    if ep.get("maxRestarts") is not None:
        env.append(_env("PET_MAX_RESTARTS", ep["maxRestarts"]))
    if ep.get("nProcPerNode") is not None:
        env.append(_env("PET_NPROC_PER_NODE", ep["nProcPerNode"]))
    if ep.get("rdzvId") is not None:
        env.append(_env("PET_RDZV_ID", ep["rdzvId"]))
    if ep.get("rdzvConf"):
        conf = ",".join(f"{c.get('key', '')}={c.get('value', '')}" for c in ep["rdzvConf"])
        env.append(_env("PET_RDZV_CONF", conf))
    if ep.get("standalone"):
        env.append(_env("PET_STANDALONE", ""))
    return env


def pod_env(job: Obj, rt: str, index: int) -> list[Obj]:
    """``setPodEnv``: what the operator appends to each container's env."""
    spec, name = job["spec"], job["metadata"]["name"]
    specs = spec["pytorchReplicaSpecs"]
    total = sum(int(s.get("replicas") or 0) for s in specs.values())
    env = [_env("PYTHONUNBUFFERED", "0")]
    if specs.get(MASTER) is not None:
        master_port = port_of(job, MASTER)
        if master_port is None:
            raise ValueError("port not found")
        rank = index + 1 if rt == WORKER.lower() else index
        env += [
            _env("MASTER_PORT", master_port),
            _env("MASTER_ADDR", n.replica_name(name, MASTER, 0)),
            _env("WORLD_SIZE", total * nproc_int(job)),
            _env("RANK", rank),
            _env("PET_NPROC_PER_NODE", spec.get("nprocPerNode")),
            _env("PET_NODE_RANK", rank),
        ]
    if spec.get("elasticPolicy") is not None:
        env += elastic_env(job)
    else:
        env.append(_env("PET_NNODES", total))
    return env


class PyTorchJobController(TrainingJobController):
    kind = "PyTorchJob"
    plural = "pytorchjobs"
    controller_name = "pytorchjob-controller"
    default_container = CONTAINER
    replica_specs_field = "pytorchReplicaSpecs"

    def __init__(
        self,
        sim: Any,
        init_container_template: str = INIT_CONTAINER_TEMPLATE,
        init_container_image: str = "alpine:3.10",
        init_container_max_tries: int = 100,
    ) -> None:
        super().__init__(sim)
        self.init_template = init_container_template
        self.init_image = init_container_image
        self.init_max_tries = init_container_max_tries

    def default(self, job: Obj) -> Obj:
        return defaults.pytorch(job)

    def delete_job_reason(self) -> str:
        return n.SUCCESSFUL_DELETE_POD  # sic: the PyTorchJob reconciler reuses the pod reason

    def is_master_role(self, replicas: dict[str, Obj], rtype: str, index: int) -> bool:
        if MASTER in replicas:
            return rtype == MASTER
        return rtype == WORKER and index == 0

    def set_cluster_spec(self, job: Obj, pod_spec: Obj, rt: str, index: int) -> None:
        env = pod_env(job, rt, index)
        for c in pod_spec.get("containers") or []:
            c["env"] = [*(c.get("env") or []), *[dict(e) for e in env]]
        if MASTER in job["spec"]["pytorchReplicaSpecs"] and rt == WORKER.lower():
            pod_spec["initContainers"] = [
                *(pod_spec.get("initContainers") or []),
                *self.init_containers(n.replica_name(job["metadata"]["name"], MASTER, 0)),
            ]

    def init_containers(self, master_addr: str) -> list[Obj]:
        text = self.init_template.format(
            image=self.init_image, max_tries=self.init_max_tries, master_addr=master_addr
        )
        return yaml.safe_load(text)

    def update_job_status(self, job: Obj, replicas: dict[str, Obj], status: st.Status) -> None:
        name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
        kind = self.kind
        if not status.get("startTime"):
            status["startTime"] = now_rfc3339()
        for rtype in replicas:  # the scale subresource's selector (set before any return)
            labels = {**self.job_labels(job), n.REPLICA_TYPE_LABEL: rtype.lower()}
            rs = status.setdefault("replicaStatuses", {}).setdefault(rtype, {})
            rs["selector"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        for rtype in (MASTER, WORKER):
            spec = replicas.get(rtype)
            if spec is None:
                continue
            succeeded = st.count(status, rtype, "succeeded")
            running = st.count(status, rtype, "active")
            failed = st.count(status, rtype, "failed")
            want = int(spec.get("replicas") or 0)
            expected = want - succeeded
            if MASTER in replicas:
                if rtype == MASTER:
                    if running > 0:
                        self.mark_running(status, f"{kind} {name} is running.")
                    if expected == 0:
                        msg = f"{kind} {name} is successfully completed."
                        self.finish(job, status, n.SUCCEEDED, msg)
                        return
            elif rtype == WORKER:
                if expected == 0 or (
                    job["spec"].get("elasticPolicy") is not None and succeeded > 0
                ):
                    msg = f"{kind} {ns}/{name} successfully completed."
                    self.finish(job, status, n.SUCCEEDED, msg)
                elif running > 0:
                    self.mark_running(status, f"{kind} {ns}/{name} is running.")
            if failed > 0 and want > succeeded + running:
                if spec.get("restartPolicy") != n.NEVER:
                    msg = f"{kind} {name} is restarting because {failed} {rtype} replica(s) failed."
                    self.mark_restarting(job, status, msg)
                else:
                    msg = f"{kind} {name} is failed because {failed} {rtype} replica(s) failed."
                    self.finish(job, status, n.FAILED, msg)
