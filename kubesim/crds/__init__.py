"""CustomResourceDefinitions shipped with kubesim (package data; see README.md here).

kubesim registers them at start (``KubeSim(training_operator=True)``, the default) so that a
simulated cluster answers like one with Kubeflow's training operator v1.9 installed; with
``KubeSim(kueue=True)`` it also serves Kueue's LocalQueue (:mod:`kubesim.crds.kueue`).
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

#: The training operator's CRDs, by file name.
TRAINING_OPERATOR = (
    "kubeflow.org_pytorchjobs.json",
    "kubeflow.org_tfjobs.json",
    "kubeflow.org_mpijobs.json",
)
#: Kueue's CRDs kubesim serves (LocalQueue only: what teamhub creates in user namespaces).
KUEUE = ("kueue.x-k8s.io_localqueues.json",)


@functools.cache
def _parsed(name: str) -> dict[str, Any]:
    if name not in TRAINING_OPERATOR + KUEUE:
        shipped = list(TRAINING_OPERATOR + KUEUE)
        raise ValueError(f"kubesim ships no CRD file {name!r}; it has {shipped}")
    return json.loads((resources.files(__package__) / name).read_text(encoding="utf-8"))


def load(name: str) -> dict[str, Any]:
    """A fresh copy of the CRD manifest in file ``name`` (callers may modify it)."""
    return copy.deepcopy(_parsed(name))


def training_operator_crds(shared: bool = False) -> list[dict[str, Any]]:
    """PyTorchJob, TFJob and MPIJob CRDs of the training operator v1.9.

    ``shared=True`` returns the parsed manifests themselves (parsed once per process; 600 kB
    of schema is worth not copying for every simulator): the caller must not modify them.
    """
    return [_parsed(n) if shared else load(n) for n in TRAINING_OPERATOR]


def kueue_crds(shared: bool = False) -> list[dict[str, Any]]:
    """Kueue's LocalQueue CRD (``kueue.x-k8s.io/v1beta1``); ``shared`` as above."""
    return [_parsed(n) if shared else load(n) for n in KUEUE]
