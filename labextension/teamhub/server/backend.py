"""What the REST handlers call: the :class:`JobsBackend` interface, and
:class:`KubeJobsBackend`, its implementation over :class:`teamhub.jobs.JobsClient`.

Why an interface between the handlers and the jobs API: the handlers only parse requests
and write responses; everything that knows about Kubernetes (and every decision about
which calls to make) is here, behind methods that take validated models and return
response models. Another backend (a remote jobs service, a fake for UI development) is
another class with the same methods.

One ``JobsClient`` per server, created on the first request (the notebook pod is read
then, as the notebook's ServiceAccount) and closed when the server stops. Log streams use
a second connection pool of their own (``log_connections`` connections): every followed
container holds one HTTP connection to the API for as long as it is followed, and a few
browser tabs following 16-rank jobs must not leave the rest of the API (listing,
submitting) waiting for a free connection.

The jobs API (and with it ``kubernetes_asyncio``, about a second to import) is imported on
first use, not when jupyter-server loads the extension: every notebook server starts with
it enabled, and most never submit a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
from collections.abc import AsyncIterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from teamhub.jobs.errors import JobNotFoundError, JobSpecError, KubeApiError
from teamhub.server.errors import ReplicaNotFoundError
from teamhub.server.models import (
    BackendModel,
    CapabilitiesModel,
    CredentialModel,
    DryRun,
    EnvironmentModel,
    EventList,
    JobEventModel,
    JobList,
    JobModel,
    JobPodModel,
    JobStatusModel,
    LogsQuery,
    MountModel,
    QueryError,
    QueueModel,
    QuotaModel,
    SpecDefaults,
    VolumeModel,
)

if TYPE_CHECKING:  # imported when first used: kubernetes_asyncio takes ~1 s to import
    from teamhub.jobs.backends import Backend
    from teamhub.jobs.client import JobsClient
    from teamhub.jobs.environment import NotebookEnvironment
    from teamhub.jobs.job import AsyncJob


class JobsBackend(Protocol):
    """The operations of the REST API. Errors are :mod:`teamhub.jobs.errors` (and
    :class:`~teamhub.server.models.QueryError`, :class:`ReplicaNotFoundError`), which
    :mod:`teamhub.server.errors` turns into responses."""

    async def list_jobs(self, *, status: bool = True) -> JobList: ...

    async def submit(self, body: Any, *, dry_run: bool = False) -> JobModel | DryRun: ...

    async def get_job(self, name: str) -> JobModel: ...

    async def cancel_job(self, name: str, *, archive_logs: bool = True) -> JobModel: ...

    async def delete_job(self, name: str) -> None: ...

    async def job_events(self, name: str) -> EventList: ...

    async def open_logs(self, name: str, query: LogsQuery) -> AsyncIterator[bytes]:
        """Check the request (job, options) and return the log as chunks of whole lines;
        errors found before any output are raised here or by the first ``anext``."""
        ...

    async def environment(self) -> EnvironmentModel: ...

    async def capabilities(self) -> CapabilitiesModel: ...

    async def close(self) -> None: ...


class KubeJobsBackend:
    """:class:`JobsBackend` over the Kubernetes API, as the notebook's ServiceAccount.

    ``kubeconfig``/``context``/``namespace``/``pod_name`` as
    :meth:`JobsClient.connect` (None: its defaults — ``KUBECONFIG`` or in-cluster, and
    ``TEAMHUB_NAMESPACE``/``TEAMHUB_POD_NAME``). ``root_dir``: where a relative ``script``
    path of a submission starts (the server's root directory, as the file browser shows
    paths). ``status_concurrency``: job statuses computed at once when listing."""

    def __init__(
        self,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        namespace: str | None = None,
        pod_name: str | None = None,
        environment: NotebookEnvironment | None = None,
        root_dir: str | os.PathLike[str] | None = None,
        log_connections: int = 512,
        log_queue_batches: int = 16,
        status_concurrency: int = 8,
    ) -> None:
        self._connect_args: dict[str, Any] = {
            "kubeconfig": kubeconfig,
            "context": context,
            "namespace": namespace,
            "pod_name": pod_name,
            "environment": environment,
        }
        self.root_dir = os.fspath(root_dir) if root_dir is not None else None
        self.log_connections = log_connections
        self.log_queue_batches = log_queue_batches
        self.status_concurrency = status_concurrency
        self._client: JobsClient | None = None
        self._log_api: Any = None
        self._lock: asyncio.Lock | None = None
        self._closed = False

    # ------------------------------------------------------------------ connection
    async def client(self) -> JobsClient:
        """The server's ``JobsClient``, connected on first use. A failed connection (the
        pod cannot be read, not a teamhub notebook) is raised and tried again next time."""
        if self._client is not None:
            return self._client
        from teamhub.jobs.client import JobsClient

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._closed:
                raise RuntimeError("the jobs backend has been closed (the server is stopping)")
            if self._client is None:
                self._client = await JobsClient.connect(**self._connect_args)
            return self._client

    async def _log_core(self) -> Any:
        """A ``CoreV1Api`` on the log streams' own connection pool (same credentials)."""
        from kubernetes_asyncio import client as k8s

        if self._log_api is None:
            jobs = await self.client()
            if self._log_api is None:  # checked again after the await: one pool, never two
                cfg = copy.deepcopy(jobs.kube.api_client.configuration)
                cfg.connection_pool_maxsize = self.log_connections
                self._log_api = k8s.ApiClient(cfg)
        return k8s.CoreV1Api(self._log_api)

    async def close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        log_api, self._log_api = self._log_api, None
        if log_api is not None:
            await log_api.close()
        if client is not None:
            await client.close()

    # ------------------------------------------------------------------ jobs
    async def _job(self, name: str) -> AsyncJob:
        return await (await self.client()).get(name)

    async def list_jobs(self, *, status: bool = True) -> JobList:
        jobs = await (await self.client()).list()
        if not status:
            return JobList(jobs=[job_model(j) for j in jobs])
        limit = asyncio.Semaphore(self.status_concurrency)

        async def one(job: AsyncJob) -> JobModel | None:
            async with limit:
                try:
                    st = await job.status()
                except JobNotFoundError:  # deleted since the list was read
                    return None
            return job_model(job, status=st)

        found = await asyncio.gather(*(one(j) for j in jobs))
        return JobList(jobs=[j for j in found if j is not None])

    async def submit(self, body: Any, *, dry_run: bool = False) -> JobModel | DryRun:
        from teamhub.jobs.code import read_code
        from teamhub.jobs.spec import JobSpec

        if not isinstance(body, Mapping):
            raise JobSpecError(
                [("", f"the request body must be a JSON object of job spec fields, got {body!r}")]
            )
        client = await self.client()
        spec = JobSpec.parse(body)
        if dry_run:
            code = read_code(spec, cwd=self.root_dir)
            return DryRun(manifests=client.build(spec, code=code))
        job = await client.submit(spec, cwd=self.root_dir)
        return job_model(job)

    async def get_job(self, name: str) -> JobModel:
        job = await self._job(name)
        st = await job.status()
        return job_model(job, status=st, pods=await job.pods())

    async def cancel_job(self, name: str, *, archive_logs: bool = True) -> JobModel:
        job = await self._job(name)
        st = await job.cancel(archive_logs=archive_logs)
        return job_model(job, status=st)

    async def delete_job(self, name: str) -> None:
        await (await self._job(name)).delete()

    async def job_events(self, name: str) -> EventList:
        events = await (await self._job(name)).events()
        return EventList(events=[JobEventModel.model_validate(e.to_dict()) for e in events])

    async def open_logs(self, name: str, query: LogsQuery) -> AsyncIterator[bytes]:
        from teamhub.jobs.logs import stream_log_text

        job = await self._job(name)
        core = await self._log_core()
        try:
            chunks = stream_log_text(
                core,
                job.namespace,
                job.selector,
                replica=query.replica,
                container=query.container,
                follow=query.follow,
                tail=query.tail,
                since=query.since,
                previous=query.previous,
                timestamps=query.timestamps,
                prefix=query.prefix,
                job_finished=job.finished if query.follow else None,
                queue_batches=self.log_queue_batches,
            )
        except ValueError as e:  # options that contradict each other
            raise QueryError([("", str(e))]) from None
        return _replica_errors(chunks)

    # ------------------------------------------------------------------ environment
    async def environment(self) -> EnvironmentModel:
        """The environment summary, with the quota in use now (from the namespace's pods:
        see :mod:`teamhub.jobs.quotausage`)."""
        from teamhub.jobs.quotausage import quota_used_strings

        client = await self.client()
        pods = await client.kube.request(
            "GET", f"/api/v1/namespaces/{client.namespace}/pods", what="listing your pods"
        )
        used = quota_used_strings(pods.get("items") or [])
        return environment_model(client.environment, used=used)

    async def capabilities(self) -> CapabilitiesModel:
        from teamhub.jobs.backends import BACKENDS
        from teamhub.jobs.spec import JobSpec

        client = await self.client()
        backends = list(BACKENDS.values())
        served = await asyncio.gather(*(_serves(client, b) for b in backends))
        env = client.environment
        return CapabilitiesModel(
            backends=[backend_model(b, ok) for b, ok in zip(backends, served, strict=True)],
            defaults=SpecDefaults(
                backend=JobSpec.model_fields["backend"].default,
                image=env.image,
                working_dir=env.working_dir,
            ),
            spec_schema=spec_schema(),
        )


async def _replica_errors(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The streamer's "no pod of that replica" (a plain ``LookupError``) as a 404."""
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        try:
            async for chunk in chunks:
                yield chunk
        except LookupError as e:
            if type(e) is not LookupError:
                raise
            raise ReplicaNotFoundError(str(e)) from None


async def _serves(client: JobsClient, backend: Backend) -> bool | None:
    """Whether the cluster serves the backend's kind: a list of at most one object
    (None when the answer is neither yes nor "not served")."""
    kind = backend.workload_kind
    try:
        await client.kube.request(
            "GET", kind.path(client.namespace), query=[("limit", 1)], what=f"listing {kind.plural}"
        )
    except KubeApiError as e:
        return False if e.status == 404 else None
    return True


# ------------------------------------------------------------------ model builders
def job_model(job: AsyncJob, *, status: Any = None, pods: list[Any] | None = None) -> JobModel:
    data: dict[str, Any] = job.to_dict()
    if status is not None:
        data["status"] = JobStatusModel.model_validate(status.to_dict())
    if pods is not None:
        data["pods"] = [JobPodModel.model_validate(p.to_dict()) for p in pods]
    return JobModel.model_validate(data)


def environment_model(
    env: NotebookEnvironment, used: dict[str, str] | None = None
) -> EnvironmentModel:
    ents = env.entitlements
    return EnvironmentModel(
        username=env.username,
        namespace=env.namespace,
        pod=env.pod_name,
        image=env.image,
        working_dir=env.working_dir,
        teams=list(ents.teams),
        volumes=[
            VolumeModel(
                name=v["name"],
                scope=v.get("scope", ""),
                mount_path=v["mount_path"],
                read_only=bool(v.get("read_only")),
                capacity=v.get("capacity"),
            )
            for v in ents.volumes
        ],
        mounts=[
            MountModel(
                name=m["name"],
                mount_path=m["mountPath"],
                read_only=bool(m.get("readOnly")),
                sub_path=m.get("subPath"),
            )
            for m in env.volume_mounts
        ],
        credentials=[
            CredentialModel(
                name=c["name"],
                team=c.get("team", ""),
                mount_path=c["mount_path"],
                keys=list(c["keys"]) if c.get("keys") is not None else None,
                env=sorted(c.get("env") or {}),
            )
            for c in ents.credentials
        ],
        env=[e["name"] for e in env.env],
        profiles=list(ents.profiles),
        images=list(ents.images) if ents.images is not None else None,
        quota=QuotaModel(**{k: v for k, v in ents.quota.items() if k in QuotaModel.model_fields}),
        quota_used=QuotaModel(**used) if used is not None else None,
        queues=[QueueModel(name=n, cluster_queue=cq) for n, cq in ents.queues.items()],
    )


def backend_model(backend: Backend, available: bool | None) -> BackendModel:
    from teamhub.jobs.backends.base import TEAMHUB_ENV

    kind = backend.workload_kind
    return BackendModel(
        name=backend.name,
        api_version=kind.api_version,
        kind=kind.kind,
        creates=list(backend.kinds),
        needs_operator=backend.needs_operator,
        available=available,
        procs_per_worker=backend.supports_procs_per_worker,
        gpus=backend.supports_gpus,
        chief=backend.supports_chief,
        queue=backend.supports_queue,
        max_workers=backend.max_workers,
        reserved_env=sorted(backend.reserved_env | set(TEAMHUB_ENV)),
        reserved_env_prefixes=list(backend.reserved_env_prefixes),
    )


@cache
def spec_schema() -> dict[str, Any]:
    """The JSON Schema of a submission body (``JobSpec``)."""
    from teamhub.jobs.spec import JobSpec

    return JobSpec.model_json_schema()
