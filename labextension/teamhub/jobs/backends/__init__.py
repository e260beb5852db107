"""Job backends: how a :class:`~teamhub.jobs.spec.JobSpec` becomes Kubernetes objects.

========  ==========================  ========  ===========  ====  =====  ===========
backend   creates                     operator  procs/worker GPUs  chief  max workers
========  ==========================  ========  ===========  ====  =====  ===========
indexed   batch/v1 Job (Indexed) +    no        yes          yes   no     100000
          headless Service
pytorch   kubeflow.org/v1 PyTorchJob  yes       yes          yes   no     -
tf        kubeflow.org/v1 TFJob       yes       no           yes   yes    -
mpi       kubeflow.org/v1 MPIJob      yes       yes (slots)  yes   no     -
========  ==========================  ========  ===========  ====  =====  ===========

Every backend also creates the job's code ConfigMap (:mod:`teamhub.jobs.code`). Adding a
backend (e.g. Trainer v2 ``TrainJob``) is a :class:`Backend` subclass registered here.
"""

from __future__ import annotations

from teamhub.jobs.backends.base import Backend, BuildContext, new_submission_id
from teamhub.jobs.backends.indexed import IndexedBackend
from teamhub.jobs.backends.mpi import MPIBackend
from teamhub.jobs.backends.pytorch import PyTorchBackend
from teamhub.jobs.backends.tf import TFBackend
from teamhub.jobs.errors import JobSpecError
from teamhub.jobs.spec import BACKEND_NAMES

BACKENDS: dict[str, Backend] = {
    b.name: b for b in (IndexedBackend(), PyTorchBackend(), TFBackend(), MPIBackend())
}
assert tuple(BACKENDS) == BACKEND_NAMES


def get_backend(name: str) -> Backend:
    """The backend called ``name``; a :class:`JobSpecError` naming the choices otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise JobSpecError(
            [("backend", f"{name!r} is not a backend (choose one of {', '.join(BACKENDS)})")]
        ) from None


def backend_for_kind(kind: str) -> Backend | None:
    """The backend whose workload kind is ``kind`` (``Job``, ``PyTorchJob``...)."""
    return next((b for b in BACKENDS.values() if b.workload_kind.kind == kind), None)


__all__ = [
    "BACKENDS",
    "Backend",
    "BuildContext",
    "IndexedBackend",
    "MPIBackend",
    "PyTorchBackend",
    "TFBackend",
    "backend_for_kind",
    "get_backend",
    "new_submission_id",
]
