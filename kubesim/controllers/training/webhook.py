"""The training operator's validating admission webhooks (``pkg/webhooks`` of v1.9).

The operator installs ``validator.pytorchjob.training-operator.kubeflow.org`` and
``validator.tfjob.training-operator.kubeflow.org`` (create and update; MPIJob v1 has none,
its reconciler checks the spec instead). A refusal is the API server's answer to a denying
webhook: 403 Forbidden, ``admission webhook "<name>" denied the request: <errors>``, where
the errors are a ``field.ErrorList`` aggregate (``[a, b]`` when there are several).

Checked: the name is a DNS-1035 label; ``runPolicy.managedBy`` is one the operator knows
(and, for TFJob, unchanged on update: the v1.9 PyTorchJob webhook compares the new job with
itself, so it never sees a change); replica types; every replica has containers with images
and one named ``pytorch``/``tensorflow``; PyTorch ``Master`` has exactly 1 replica, Workers at
least 1; at most one TF ``Chief``/``Master``; ``elasticPolicy`` needs a Worker and may not
combine the deprecated ``elasticPolicy.nProcPerNode`` with ``nprocPerNode``.
"""

from __future__ import annotations

from typing import Any

from kubesim import errors, naming
from kubesim.api import Request
from kubesim.controllers.training import names as n
from kubesim.errors import Cause

Obj = dict[str, Any]
MANAGERS = [n.OWN_MANAGER, n.MULTIKUEUE_MANAGER]


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _run_policy(old: Obj | None, new: Obj, compare_old: bool) -> list[Cause]:
    path = "spec.runPolicy.managedBy"
    out: list[Cause] = []
    manager = ((new.get("spec") or {}).get("runPolicy") or {}).get("managedBy")
    if compare_old and old is not None:
        before = ((old.get("spec") or {}).get("runPolicy") or {}).get("managedBy")
        if before != manager:
            out.append(naming.immutable(path, manager))
    if manager is not None and manager not in MANAGERS:
        out.append(naming.not_supported(path, manager, MANAGERS))
    return out


def _name(job: Obj) -> list[Cause]:
    name = (job.get("metadata") or {}).get("name") or ""
    errs = naming.is_dns1035_label(name)
    if not errs:
        return []
    return [naming.invalid("metadata.name", name, "should match: " + ",".join(errs))]


def _containers(specs_path: str, rtype: str, rspec: Obj | None, default: str) -> list[Cause]:
    path = _key(specs_path, rtype) + ".template.spec.containers"
    containers = (((rspec or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    out = [] if containers else [naming.required(path, "must be specified")]
    for i, c in enumerate(containers):
        if not c.get("image"):
            out.append(naming.required(f"{path}[{i}].image", "must be required"))
    if not any(c.get("name") == default for c in containers):
        out.append(naming.required(path, f"must have at least one container with name {default}"))
    return out


def pytorch_causes(old: Obj | None, job: Obj) -> list[Cause]:
    spec = job.get("spec") or {}
    out = _name(job) + _run_policy(old, job, compare_old=False)
    specs_path = "spec.pytorchReplicaSpecs"
    specs = spec.get("pytorchReplicaSpecs")
    elastic = spec.get("elasticPolicy")
    if elastic is not None:
        if "Worker" not in (specs or {}):
            out.append(
                naming.required(
                    _key(specs_path, "Worker"), "must be configured if elastic policy is used"
                )
            )
        if elastic.get("nProcPerNode") is not None and spec.get("nprocPerNode") is not None:
            out.append(
                naming.forbidden(
                    "spec.elasticPolicy.nProcPerNode", "must not be used with spec.nprocPerNode"
                )
            )
    if specs is None:
        out.append(naming.required(specs_path, "must be required"))
    for rtype in sorted(specs or {}):
        rspec = specs[rtype]
        if rtype not in ("Master", "Worker"):
            out.append(naming.not_supported(_key(specs_path, rtype), rtype, ["Master", "Worker"]))
        out += _containers(specs_path, rtype, rspec, "pytorch")
        replicas = (rspec or {}).get("replicas")
        if rtype == "Master" and replicas != 1:
            out.append(naming.forbidden(_key(specs_path, rtype) + ".replicas", "must be 1"))
        elif rtype != "Master" and replicas is not None and replicas < 1:
            out.append(
                naming.forbidden(_key(specs_path, rtype) + ".replicas", "must be at least 1")
            )
    return out


def tf_causes(old: Obj | None, job: Obj) -> list[Cause]:
    out = _name(job) + _run_policy(old, job, compare_old=True)
    specs_path = "spec.tfReplicaSpecs"
    specs = (job.get("spec") or {}).get("tfReplicaSpecs")
    if specs is None:
        out.append(naming.required(specs_path, "must be required"))
    chiefs = 0
    for rtype in sorted(specs or {}):
        out += _containers(specs_path, rtype, specs[rtype], "tensorflow")
        chiefs += rtype in ("Chief", "Master")
    if chiefs > 1:
        out.append(naming.forbidden(specs_path, "must not have more than 1 Chief or Master role"))
    return out


WEBHOOKS = {
    "pytorchjobs": ("validator.pytorchjob.training-operator.kubeflow.org", pytorch_causes),
    "tfjobs": ("validator.tfjob.training-operator.kubeflow.org", tf_causes),
}


def validate(req: Request) -> None:
    """The validating admission plugin (runs for create and update of the main resource)."""
    if req.rt.group != n.GROUP or req.obj is None or req.subresource:
        return
    hook = WEBHOOKS.get(req.rt.plural)
    if hook is None or req.operation not in ("CREATE", "UPDATE"):
        return
    name, check = hook
    causes = check(req.old if req.operation == "UPDATE" else None, req.obj)
    if not causes:
        return
    parts = [f"{c.field}: {c.message}" for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    raise errors.ApiError(
        403, "Forbidden", f'admission webhook "{name}" denied the request: {joined}'
    )
