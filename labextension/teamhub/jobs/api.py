"""The jobs API for notebook code: plain (blocking) functions that work in a running
Jupyter kernel.

    from teamhub import jobs
    job = jobs.submit(script="train.py", backend="pytorch", workers=4, gpus=1)
    job.status()          # JobStatus(phase='Pending', reason='Unschedulable', ...)
    for line in job.logs(follow=True):
        print(line)
    job.wait()

Calls run on a private background event loop (:mod:`teamhub.jobs.runner`) with one
:class:`~teamhub.jobs.client.JobsClient`, connected on first use as the notebook's
ServiceAccount. Servers and other async code use ``JobsClient``/``AsyncJob`` directly.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from teamhub.jobs.client import JobsClient
from teamhub.jobs.environment import NotebookEnvironment
from teamhub.jobs.events import JobEvent
from teamhub.jobs.job import AsyncJob
from teamhub.jobs.pods import JobPod
from teamhub.jobs.runner import BackgroundLoop
from teamhub.jobs.spec import JobSpec
from teamhub.jobs.status import JobStatus


class Job:
    """A job, with blocking methods (see :class:`~teamhub.jobs.job.AsyncJob` for the
    meaning of each)."""

    def __init__(self, jobs: Jobs, job: AsyncJob) -> None:
        self._jobs = jobs
        self._job = job

    @property
    def aio(self) -> AsyncJob:
        """The same job for async code (bound to the background loop)."""
        return self._job

    name = property(lambda self: self._job.name)
    namespace = property(lambda self: self._job.namespace)
    backend = property(lambda self: self._job.backend)
    kind = property(lambda self: self._job.kind)
    submission = property(lambda self: self._job.submission)
    uid = property(lambda self: self._job.uid)
    created = property(lambda self: self._job.created)
    cancelled = property(lambda self: self._job.cancelled)
    spec = property(lambda self: self._job.spec)
    selector = property(lambda self: self._job.selector)

    def _run(self, factory: Any, timeout: float | None = None) -> Any:
        return self._jobs._loop.run(factory, timeout)

    def status(self) -> JobStatus:
        return self._run(self._job.status)

    def wait(self, timeout: float | None = None) -> JobStatus:
        return self._run(lambda: self._job.wait(timeout))

    def events(self) -> list[JobEvent]:
        return self._run(self._job.events)

    def pods(self) -> list[JobPod]:
        return self._run(self._job.pods)

    def cancel(self, *, archive_logs: bool = True, dest_dir: str | Path | None = None) -> JobStatus:
        return self._run(lambda: self._job.cancel(archive_logs=archive_logs, dest_dir=dest_dir))

    def delete(self) -> None:
        self._run(self._job.delete)

    def refresh(self) -> Job:
        self._run(self._job.refresh)
        return self

    def archive_logs(self, dest_dir: str | Path | None = None) -> builtins.list[Path]:
        return self._run(lambda: self._job.archive_logs(dest_dir))

    def logs(
        self,
        replica: str | builtins.list[str] | None = None,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: Any = None,
        previous: bool = False,
        prefix: bool = True,
        container: str | None = None,
        timestamps: bool = False,
    ) -> Iterator[Any]:
        """The log lines as a plain iterator (``teamhub.jobs.logs.iter_logs``: its own
        loop and connection, a bounded queue; ``break`` stops the stream)."""
        from teamhub.jobs import kube as K
        from teamhub.jobs import logs as logs_module

        client = self._jobs._client_or_none()
        loop = self._jobs._loop.loop

        async def finished() -> bool:  # asked on the log stream's loop, answered on ours
            fut = asyncio.run_coroutine_threadsafe(self._job.finished(), loop)
            return await asyncio.wrap_future(fut)

        return logs_module.iter_logs(
            self.namespace,
            self.selector,
            api_client=lambda: K.load_api_client(
                client.kubeconfig if client else None, client.context if client else None
            ),
            replica=replica,
            follow=follow,
            tail=tail,
            since=since,
            previous=previous,
            prefix=prefix,
            container=container,
            timestamps=timestamps,
            job_finished=finished if follow else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return self._job.to_dict()

    def __repr__(self) -> str:
        return repr(self._job)


class Jobs:
    """A blocking jobs client (one per notebook is plenty: the module functions use a
    shared one). Arguments as :meth:`JobsClient.connect`; it connects on first use."""

    def __init__(
        self,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        namespace: str | None = None,
        pod_name: str | None = None,
        environment: NotebookEnvironment | None = None,
    ) -> None:
        self._options = {
            "kubeconfig": kubeconfig,
            "context": context,
            "namespace": namespace,
            "pod_name": pod_name,
            "environment": environment,
        }
        self._loop = BackgroundLoop()
        self._client: JobsClient | None = None
        self._lock = threading.Lock()

    def _client_or_none(self) -> JobsClient | None:
        return self._client

    @property
    def client(self) -> JobsClient:
        """The async client (connected on first use)."""
        with self._lock:
            if self._client is None:
                self._client = self._loop.run(lambda: JobsClient.connect(**self._options))
            return self._client

    @property
    def environment(self) -> NotebookEnvironment:
        return self.client.environment

    def build(
        self, spec: JobSpec | Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> builtins.list[dict[str, Any]]:
        """The manifests a submission would create (nothing is created)."""
        return self.client.build(spec, **kwargs)

    def submit(
        self,
        spec: JobSpec | Mapping[str, Any] | None = None,
        /,
        *,
        cwd: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Job:
        client = self.client
        job = self._loop.run(lambda: client.submit(spec, cwd=cwd, **kwargs))
        return Job(self, job)

    def list(self) -> builtins.list[Job]:
        client = self.client
        return [Job(self, j) for j in self._loop.run(client.list)]

    def get(self, name: str) -> Job:
        client = self.client
        return Job(self, self._loop.run(lambda: client.get(name)))

    def close(self) -> None:
        """Close the connection and stop the background loop."""
        if self._client is not None:
            client, self._client = self._client, None
            self._loop.run(client.close)
        self._loop.stop()

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: Jobs | None = None
_default_lock = threading.Lock()


def default_jobs() -> Jobs:
    """The shared client of the module functions (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Jobs()
        return _default


def configure(**options: Any) -> Jobs:
    """Replace the shared client, e.g. ``configure(kubeconfig=..., namespace=...,
    pod_name=...)`` outside a teamhub notebook."""
    global _default
    with _default_lock:
        old, _default = _default, Jobs(**options)
    if old is not None:
        old.close()
    return _default


def submit(
    spec: JobSpec | Mapping[str, Any] | None = None,
    /,
    *,
    cwd: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Job:
    """Submit a job: a :class:`JobSpec`, a mapping of its fields, or the fields as keyword
    arguments (``backend``, ``script``/``source``/``command``, ``workers``,
    ``procs_per_worker``, ``cpu``, ``memory``, ``gpus``, ``image``, ``env``, ``labels``,
    ``deadline``, ``name``, ``chief``, ``working_dir``)."""
    return default_jobs().submit(spec, cwd=cwd, **kwargs)


def list() -> builtins.list[Job]:
    """Every job of the user (newest first), cancelled ones included."""
    return default_jobs().list()


def get(name: str) -> Job:
    """The job called ``name``."""
    return default_jobs().get(name)
