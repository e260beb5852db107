"""The objects of an MPIJob v1 (``pkg/controller.v1/mpi`` of training-operator v1.9), as pure
functions of the job: the ``ValidateV1MpiJobSpec`` check, the ConfigMap data (``hostfile``,
``kubexec.sh``, ``discover_hosts.sh``) and the worker and launcher pods.
"""

from __future__ import annotations

import copy
from typing import Any

from kubesim.controllers.training import names as n
from kubesim.controllers.training.replicas import set_restart_policy

Obj = dict[str, Any]

Obj = dict[str, Any]
LAUNCHER, WORKER = "Launcher", "Worker"
CONFIG_VOLUME, CONFIG_PATH = "mpi-job-config", "/etc/mpi"
KUBECTL_VOLUME, KUBECTL_PATH = "mpi-job-kubectl", "/opt/kube"
KUBEXEC, HOSTFILE, DISCOVER = "kubexec.sh", "hostfile", "discover_hosts.sh"


def validation_error(spec: Obj) -> str:
    """``ValidateV1MpiJobSpec`` (MPIJob v1 has no webhook: the reconciler checks)."""
    specs = spec.get("mpiReplicaSpecs")
    if specs is None:
        return "MPIReplicaSpecs is not valid"
    launcher = False
    for rtype, value in specs.items():
        containers = (((value or {}).get("template") or {}).get("spec") or {}).get("containers")
        if not containers:
            return f"MPIReplicaSpecs is not valid: containers definition expected in {rtype}"
        if rtype not in (LAUNCHER, WORKER):
            return f"MPIReplicaType is {rtype} but must be one of [{LAUNCHER} {WORKER}]"
        for c in containers:
            where = f"is undefined in the container of {rtype}"
            if not c.get("image"):
                return f"MPIReplicaSpec is not valid: Image {where}"
            if not c.get("name"):
                return f"MPIReplicaSpec is not valid: ImageName {where}"
        if rtype == LAUNCHER:
            launcher = True
            if value.get("replicas") is not None and int(value["replicas"]) != 1:
                return "MPIReplicaSpec is not valid: There must be only 1 launcher replica"
    if not launcher:
        return "MPIReplicaSpec is not valid: Master ReplicaSpec must be present"
    return ""


def is_gpu_launcher(job: Obj) -> bool:
    tpl = job["spec"]["mpiReplicaSpecs"][LAUNCHER].get("template") or {}
    for c in (tpl.get("spec") or {}).get("containers") or []:
        for key in (c.get("resources") or {}).get("limits") or {}:
            if key.endswith(".com/gpu") or "gpu" in key:
                return True
    return False


def slots(job: Obj) -> int:
    value = job["spec"].get("slotsPerWorker")
    return 1 if value is None else int(value)


def config_data(job: Obj, workers: int, gpu: bool, running: list[str]) -> dict[str, str]:
    name = job["metadata"]["name"]
    kubexec = f"#!/bin/sh\nset -x\nPOD_NAME=$1\nshift\n{KUBECTL_PATH}/kubectl exec ${{POD_NAME}}"
    if job["spec"].get("mainContainer"):
        kubexec += f" --container {job['spec']['mainContainer']}"
    kubexec += ' -- /bin/sh -c "$*"'
    hosts = f"{name}-launcher slots={slots(job)}\n" if gpu else ""
    hosts += "".join(f"{name}-worker-{i} slots={slots(job)}\n" for i in range(workers))
    discover = "#!/bin/sh"
    if gpu:
        discover += f"\necho {name}-launcher:{slots(job)}\n"
    for pod in sorted(running):
        discover += f"\necho {pod}:{slots(job)}"
    return {HOSTFILE: hosts, KUBEXEC: kubexec, DISCOVER: discover}


def worker_pod(job: Obj, index: int, labels: Obj, owner: Obj) -> Obj:
    """A worker pod (``newWorker``); ``labels`` are the operator's for this replica."""
    name = job["metadata"]["name"]
    spec = job["spec"]["mpiReplicaSpecs"][WORKER]
    tpl = copy.deepcopy(spec.get("template") or {})
    tmeta, pod_spec = tpl.get("metadata") or {}, tpl.setdefault("spec", {})
    labels = {**(tmeta.get("labels") or {}), **labels}
    set_restart_policy(pod_spec, spec)
    c = pod_spec["containers"][0]
    if not c.get("command"):
        c["command"], c["args"] = ["sleep"], ["365d"]
    c["volumeMounts"] = [
        *(c.get("volumeMounts") or []),
        {"name": CONFIG_VOLUME, "mountPath": CONFIG_PATH},
    ]
    pod_spec["volumes"] = [
        *(pod_spec.get("volumes") or []),
        {
            "name": CONFIG_VOLUME,
            "configMap": {
                "name": f"{name}-config",
                "items": [{"key": KUBEXEC, "path": KUBEXEC, "mode": 0o555}],
            },
        },
    ]
    meta = {
        "name": f"{name}-worker-{index}",
        "labels": labels,
        "annotations": dict(tmeta.get("annotations") or {}),
        "ownerReferences": [owner],
    }
    return {"metadata": meta, "spec": pod_spec}


def launcher_pod(job: Obj, gpu: bool, labels: Obj, owner: Obj, kubectl_image: str) -> Obj:
    """The launcher pod (``newLauncher``); ``labels`` are the operator's for it."""
    name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
    spec = job["spec"]["mpiReplicaSpecs"][LAUNCHER]
    tpl = copy.deepcopy(spec.get("template") or {})
    tmeta, pod_spec = tpl.get("metadata") or {}, tpl.setdefault("spec", {})
    labels = {**(tmeta.get("labels") or {}), **labels}
    labels[n.JOB_ROLE_LABEL] = "master"
    if not pod_spec.get("serviceAccountName"):
        pod_spec["serviceAccountName"] = f"{name}-launcher"
    size = {"cpu": "100m", "memory": "512Mi", "ephemeral-storage": "5Gi"}
    pod_spec["initContainers"] = [
        *(pod_spec.get("initContainers") or []),
        {
            "name": "kubectl-delivery",
            "image": kubectl_image,
            "imagePullPolicy": "IfNotPresent",
            "env": [
                {"name": "TARGET_DIR", "value": KUBECTL_PATH},
                {"name": "NAMESPACE", "value": ns},
            ],
            "volumeMounts": [
                {"name": KUBECTL_VOLUME, "mountPath": KUBECTL_PATH},
                {"name": CONFIG_VOLUME, "mountPath": CONFIG_PATH},
            ],
            "resources": {"limits": dict(size), "requests": dict(size)},
        },
    ]
    c = pod_spec["containers"][0]
    env = [
        *(c.get("env") or []),
        {"name": "OMPI_MCA_plm_rsh_agent", "value": f"{CONFIG_PATH}/{KUBEXEC}"},
        {"name": "OMPI_MCA_orte_default_hostfile", "value": f"{CONFIG_PATH}/{HOSTFILE}"},
    ]
    if not gpu:
        env += [
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": ""},
            {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": ""},
        ]
    have = {e.get("name") for e in env}
    if "I_MPI_HYDRA_BOOTSTRAP" not in have:
        env.append({"name": "I_MPI_HYDRA_BOOTSTRAP", "value": "rsh"})
    if "I_MPI_HYDRA_BOOTSTRAP_EXEC" not in have:
        env.append({"name": "I_MPI_HYDRA_BOOTSTRAP_EXEC", "value": f"{CONFIG_PATH}/{KUBEXEC}"})
    c["env"] = env
    c["volumeMounts"] = [
        *(c.get("volumeMounts") or []),
        {"name": KUBECTL_VOLUME, "mountPath": KUBECTL_PATH},
        {"name": CONFIG_VOLUME, "mountPath": CONFIG_PATH},
    ]
    set_restart_policy(pod_spec, spec)
    items = [
        {"key": KUBEXEC, "path": KUBEXEC, "mode": 0o555},
        {"key": HOSTFILE, "path": HOSTFILE, "mode": 0o444},
        {"key": DISCOVER, "path": DISCOVER, "mode": 0o555},
    ]
    pod_spec["volumes"] = [
        *(pod_spec.get("volumes") or []),
        {"name": KUBECTL_VOLUME, "emptyDir": {}},
        {"name": CONFIG_VOLUME, "configMap": {"name": f"{name}-config", "items": items}},
    ]
    meta = {
        "name": f"{name}-launcher",
        "labels": labels,
        "annotations": dict(tmeta.get("annotations") or {}),
        "ownerReferences": [owner],
    }
    return {"metadata": meta, "spec": pod_spec}


# ------------------------------------------------------------- reconcile
