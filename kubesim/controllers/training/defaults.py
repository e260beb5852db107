"""The operator's ``Scheme.Default`` for each kind (``*_defaults.go`` of training-operator v1.9).

The operator applies these to its in-memory copy at every reconcile and never writes the
spec back (it only updates ``status``), so a client reading the job sees its spec as it
sent it; the pods and services built from it see the defaults (replica count 1, restart
policy, the framework's port on its container, ``cleanPodPolicy: None``).
"""

from __future__ import annotations

from typing import Any

from kubesim.controllers.training import names as n

Obj = dict[str, Any]


def _camel_case(specs: Obj, types: tuple[str, ...]) -> None:
    """``setTypeNameToCamelCase``: ``worker`` / ``WORKER`` -> ``Worker``."""
    for t in types:
        for key in list(specs):
            if key.lower() == t.lower() and key != t:
                specs[t] = specs.pop(key)
                break


def _replica(spec: Obj | None, replicas: int, restart: str) -> None:
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = replicas
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = restart


def _default_port(spec: Obj | None, container: str, port_name: str, port: int) -> None:
    pod = ((spec or {}).get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    if not containers:
        return
    index = next((i for i, c in enumerate(containers) if c.get("name") == container), 0)
    ports = containers[index].setdefault("ports", [])
    if not any(p.get("name") == port_name for p in ports):
        ports.append({"name": port_name, "containerPort": port})


def _clean_pod_policy(spec: Obj) -> None:
    run_policy = spec.setdefault("runPolicy", {})
    if run_policy.get("cleanPodPolicy") is None:
        run_policy["cleanPodPolicy"] = n.CLEAN_NONE


def pytorch(job: Obj) -> Obj:
    spec = job.setdefault("spec", {})
    _clean_pod_policy(spec)
    specs = spec.setdefault("pytorchReplicaSpecs", {}) or {}
    _camel_case(specs, ("Master", "Worker"))
    for rs in specs.values():
        _replica(rs, 1, n.ON_FAILURE)
        _default_port(rs, "pytorch", "pytorchjob-port", 23456)
    elastic = spec.get("elasticPolicy")
    if elastic is not None:
        lo, hi = elastic.get("minReplicas"), elastic.get("maxReplicas")
        if lo is None and hi is None:
            workers = (specs.get("Worker") or {}).get("replicas")
            elastic["minReplicas"] = elastic["maxReplicas"] = workers
        elif lo is None:
            elastic["minReplicas"] = hi
        elif hi is None:
            elastic["maxReplicas"] = lo
    if (elastic is None or elastic.get("nProcPerNode") is None) and spec.get(
        "nprocPerNode"
    ) is None:
        spec["nprocPerNode"] = "auto"
    return job


TF_TYPES = ("PS", "Worker", "Chief", "Master", "Evaluator")


def tensorflow(job: Obj) -> Obj:
    spec = job.setdefault("spec", {})
    _clean_pod_policy(spec)
    if spec.get("successPolicy") is None:
        spec["successPolicy"] = ""
    specs = spec.setdefault("tfReplicaSpecs", {}) or {}
    _camel_case(specs, TF_TYPES)
    for rs in specs.values():
        _replica(rs, 1, n.NEVER)
        _default_port(rs, "tensorflow", "tfjob-port", 2222)
    return job


def mpi(job: Obj) -> Obj:
    spec = job.setdefault("spec", {})
    run_policy = spec.setdefault("runPolicy", {})
    if spec.get("cleanPodPolicy") is None and run_policy.get("cleanPodPolicy") is None:
        spec["cleanPodPolicy"] = run_policy["cleanPodPolicy"] = n.CLEAN_NONE
    specs = spec.setdefault("mpiReplicaSpecs", {}) or {}
    _replica(specs.get("Launcher"), 1, n.NEVER)
    _replica(specs.get("Worker"), 0, n.NEVER)
    # The reconciler then syncs the deprecated spec.cleanPodPolicy with runPolicy's.
    policy = run_policy.get("cleanPodPolicy") or spec.get("cleanPodPolicy")
    spec["cleanPodPolicy"] = run_policy["cleanPodPolicy"] = policy
    return job
