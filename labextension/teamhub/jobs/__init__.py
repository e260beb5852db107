"""teamhub's jobs API: distributed jobs that run in the notebook's own environment.

Notebook code (blocking, works in a running kernel)::

    from teamhub import jobs
    job = jobs.submit(source=cell, backend="pytorch", workers=4, gpus=1)
    job.status(); job.wait(); job.logs(follow=True); job.events(); job.cancel()
    jobs.list(); jobs.get("alice-pytorch-x7k2p")

Async code (the jupyter-server extension): :class:`JobsClient` and :class:`AsyncJob`.

Modules: :mod:`.spec` (JobSpec), :mod:`.environment` (what jobs inherit from the
notebook pod), :mod:`.backends` (indexed, pytorch, tf, mpi), :mod:`.code` (code
transport), :mod:`.client` / :mod:`.job` (async API), :mod:`.api` (sync facade),
:mod:`.status` / :mod:`.pods` / :mod:`.events` (reading a job back), :mod:`.logs`
(log streaming and archives), :mod:`.errors`.

Names are imported on first use, so importing a submodule (e.g. the log streamer) does
not load the rest.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "submit": "api",
    "list": "api",
    "get": "api",
    "configure": "api",
    "Job": "api",
    "Jobs": "api",
    "JobsClient": "client",
    "AsyncJob": "job",
    "JobSpec": "spec",
    "BACKEND_NAMES": "spec",
    "JobStatus": "status",
    "JobPod": "pods",
    "JobEvent": "events",
    "NotebookEnvironment": "environment",
    "Entitlements": "entitlements",
    "BACKENDS": "backends",
    "get_backend": "backends",
    "CodeBundle": "code",
    "read_code": "code",
    "JobError": "errors",
    "JobSpecError": "errors",
    "ImageNotAllowedError": "errors",
    "QuotaExceededError": "errors",
    "CodeTooLargeError": "errors",
    "BackendUnavailableError": "errors",
    "JobExistsError": "errors",
    "JobNotFoundError": "errors",
    "NotebookEnvironmentError": "errors",
    "KubeApiError": "errors",
    "SubmitError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'teamhub.jobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"teamhub.jobs.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
