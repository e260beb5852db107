"""Kueue in kubesim: its ``LocalQueue`` API, without Kueue's controllers.

``install(sim)`` (``KubeSim(kueue=True)``) makes the simulated cluster serve
``kueue.x-k8s.io/v1beta1`` LocalQueues as a cluster with Kueue installed does: discovery,
kubectl, RBAC on ``localqueues``, the ``status`` subresource, validation against the CRD's
``openAPIV3Schema``, its structural defaults (``stopPolicy: None``) and the immutability of
``spec.clusterQueue`` (:mod:`kubesim.crds.admission`), and the CRD itself readable as an
``apiextensions.k8s.io/v1`` CustomResourceDefinition.

Not modelled: ClusterQueues, ResourceFlavors and Workloads, Kueue's controllers (no
LocalQueue status is written, no job is suspended or admitted: a job labelled
``kueue.x-k8s.io/queue-name`` runs as if Kueue were absent) and its webhooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubesim import crds
from kubesim.crds.admission import CrdAdmission

if TYPE_CHECKING:
    from kubesim.sim import KubeSim


def install(sim: KubeSim) -> None:
    """Serve Kueue's LocalQueue CRD (idempotent)."""
    # The CRD type and its helpers are the training operator's, shared by every CRD kubesim
    # serves; imported here so that kubesim.crds stays importable on its own.
    from kubesim.controllers.training import CRD_TYPE, crd_object, resource_type

    if sim.registry.get(*CRD_TYPE.key) is None:
        sim.registry.register(CRD_TYPE)
    for crd in crds.kueue_crds(shared=True):  # read-only from here on
        sim.register_crd(crd, resource_type(crd))
        if sim.store.peek(CRD_TYPE, "", crd["metadata"]["name"]) is None:
            sim.store.create(CRD_TYPE, "", crd_object(crd))
    # One set of custom-resource plugins serves every CRD (the training operator's too).
    if not any(isinstance(getattr(p, "__self__", None), CrdAdmission) for p in sim.api.mutating):
        CrdAdmission(sim.registry).install(sim.api.mutating, sim.api.validating)
