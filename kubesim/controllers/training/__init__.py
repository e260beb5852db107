"""Kubeflow's training operator v1.9 in kubesim: ``kubeflow.org/v1`` PyTorchJob, TFJob, MPIJob.

``install(sim, config)`` makes the simulated cluster look like one where the operator was
deployed with its standalone manifests:

- the three CRDs are served (discovery, kubectl, RBAC on ``pytorchjobs``..., the ``status``
  subresource, validation against each CRD's own ``openAPIV3Schema``, structural defaults and
  the ``queue`` immutability rule — see :mod:`kubesim.crds.admission`), and are readable as
  ``apiextensions.k8s.io/v1`` CustomResourceDefinitions;
- the operator's validating webhooks refuse bad PyTorchJobs/TFJobs (:mod:`.webhook`);
- one controller per kind reconciles jobs into pods, Services and status
  (:mod:`.common`, :mod:`.replicas`, :mod:`.pytorch`, :mod:`.tf`, :mod:`.mpi`).

Not modelled: the ``scale`` subresource, elastic PyTorchJob HPAs, gang scheduling (Volcano /
scheduler-plugins PodGroups) and ``lastReconcileTime`` (only written by gang scheduling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubesim import crds
from kubesim.controllers import Controller
from kubesim.controllers.training.mpi import MPIJobController
from kubesim.controllers.training.pytorch import (
    INIT_CONTAINER_TEMPLATE,
    RESTRICTED_INIT_CONTAINER_TEMPLATE,
    PyTorchJobController,
)
from kubesim.controllers.training.tf import TFJobController
from kubesim.controllers.training.webhook import validate as webhook_validate
from kubesim.crds.admission import CrdAdmission
from kubesim.resources import ResourceType
from kubesim.store import now_rfc3339

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

__all__ = [
    "INIT_CONTAINER_TEMPLATE",
    "RESTRICTED_INIT_CONTAINER_TEMPLATE",
    "TrainingOperatorConfig",
    "install",
]

CRD_TYPE = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    False,
    ("crd", "crds"),
    ("status",),
    ("get", "list", "watch"),
    categories=("api-extensions",),
)


@dataclass(frozen=True)
class TrainingOperatorConfig:
    """The operator's command-line flags that change what users see.

    ``pytorch_init_container_template`` is the ``init-pytorch`` container added to PyTorch
    Workers when there is a Master; the default is the operator's own (no securityContext:
    refused under ``restricted`` Pod Security), ``RESTRICTED_INIT_CONTAINER_TEMPLATE`` the one
    Kubeflow's platform manifests configure.
    """

    pytorch_init_container_image: str = "alpine:3.10"
    pytorch_init_container_template: str = INIT_CONTAINER_TEMPLATE
    pytorch_init_container_max_tries: int = 100
    mpi_kubectl_delivery_image: str = "kubeflow/kubectl-delivery:latest"


def resource_type(crd: dict) -> ResourceType:
    """The ResourceType a CRD describes (its storage version)."""
    spec, names = crd["spec"], crd["spec"]["names"]
    version = next(v for v in spec["versions"] if v.get("storage", True))
    subresources = tuple(s for s in (version.get("subresources") or {}) if s == "status")
    return ResourceType(
        spec["group"],
        version["name"],
        names["kind"],
        names["plural"],
        spec.get("scope", "Namespaced") == "Namespaced",
        tuple(names.get("shortNames") or ()),
        subresources,
        categories=tuple(names.get("categories") or ()),
    )


def crd_object(crd: dict) -> dict:
    """The CRD as the API serves it, with the status an established CRD has."""
    obj = {**crd}  # the store copies it
    now = now_rfc3339()
    names = obj["spec"]["names"]
    obj["status"] = {
        "acceptedNames": {k: v for k, v in names.items()},
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": [v["name"] for v in obj["spec"]["versions"] if v.get("storage")],
    }
    return obj


def install(sim: KubeSim, config: TrainingOperatorConfig | None = None) -> list[Controller]:
    """Serve the CRDs, add the webhooks, and return the controllers to run."""
    config = config or TrainingOperatorConfig()
    if sim.registry.get(*CRD_TYPE.key) is None:
        sim.registry.register(CRD_TYPE)
    for crd in crds.training_operator_crds(shared=True):  # read-only from here on
        sim.register_crd(crd, resource_type(crd))
        if sim.store.peek(CRD_TYPE, "", crd["metadata"]["name"]) is None:
            sim.store.create(CRD_TYPE, "", crd_object(crd))
    CrdAdmission(sim.registry).install(sim.api.mutating, sim.api.validating)
    if webhook_validate not in sim.api.validating:
        # Webhooks run after the built-in validating plugins, before quota is charged.
        sim.api.validating.insert(max(len(sim.api.validating) - 1, 0), webhook_validate)
    return [
        PyTorchJobController(
            sim,
            config.pytorch_init_container_template,
            config.pytorch_init_container_image,
            config.pytorch_init_container_max_tries,
        ),
        TFJobController(sim),
        MPIJobController(sim, config.mpi_kubectl_delivery_image),
    ]
