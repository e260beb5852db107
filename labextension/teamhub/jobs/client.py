"""``JobsClient``: submit, list and get jobs — the async core of the jobs API.

It runs on the caller's event loop (the jupyter-server extension's tornado loop, a test,
or the private loop of the sync facade in :mod:`teamhub.jobs.api`) and talks to the API
as the notebook's ServiceAccount.

**Submission** (:meth:`JobsClient.submit`) creates nothing until the whole spec has been
checked and built (:meth:`JobsClient.build`: every field, the backend's capabilities, the
image allowlist, the quota, the code size). Then, in order:

1. a label query for the job name (an existing job or cancelled-job record of that name is
   a :class:`~teamhub.jobs.errors.JobExistsError`);
2. the workload (Job / PyTorchJob / TFJob / MPIJob);
3. the objects it owns — the code ConfigMap ``<job>.job``, the backend's Service — each
   with an ownerReference to the workload, set now that it has a uid.

If step 2 or 3 fails (or the caller is cancelled), everything created so far is deleted
again and the error is raised as a :class:`~teamhub.jobs.errors.SubmitError` (the
leftovers it could not remove are named in it). Pods that started in the meantime go with
the workload. Nothing is retried: a create that failed half-way is never repeated blindly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from teamhub.jobs import kube as K
from teamhub.jobs import labels as L
from teamhub.jobs.backends import BACKENDS, backend_for_kind, get_backend, new_submission_id
from teamhub.jobs.code import CodeBundle, read_code
from teamhub.jobs.environment import NotebookEnvironment, load_environment, locate_notebook
from teamhub.jobs.errors import (
    BackendUnavailableError,
    JobExistsError,
    JobNotFoundError,
    JobSpecError,
    KubeApiError,
    SubmitError,
)
from teamhub.jobs.job import AsyncJob, describe_owner, record_name
from teamhub.jobs.spec import JobSpec


class JobsClient:
    """Jobs of the notebook's user. Make one with :meth:`connect`; close it (or use
    ``async with``) when done."""

    def __init__(
        self,
        kube: K.Kube,
        environment: NotebookEnvironment,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
    ) -> None:
        self.kube = kube
        self.environment = environment
        #: How the connection was configured (for helpers that need their own client, e.g.
        #: log streams on another event loop).
        self.kubeconfig = kubeconfig
        self.context = context

    @classmethod
    async def connect(
        cls,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        namespace: str | None = None,
        pod_name: str | None = None,
        environment: NotebookEnvironment | None = None,
    ) -> JobsClient:
        """Connect as the notebook's ServiceAccount (``kubeconfig``, else ``KUBECONFIG``,
        else in-cluster) and read the notebook's environment from its pod (``namespace`` /
        ``pod_name``, else ``TEAMHUB_NAMESPACE`` / ``TEAMHUB_POD_NAME``), unless an
        ``environment`` is given."""
        api = await K.load_api_client(kubeconfig, context)
        kube = K.Kube(api)
        try:
            if environment is None:
                ns, pod = locate_notebook(namespace, pod_name)
                environment = await load_environment(kube, ns, pod)
        except BaseException:
            await kube.close()
            raise
        return cls(kube, environment, kubeconfig=kubeconfig, context=context)

    async def close(self) -> None:
        await self.kube.close()

    async def __aenter__(self) -> JobsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def namespace(self) -> str:
        return self.environment.namespace

    # ------------------------------------------------------------------ submit
    def build(
        self,
        spec: JobSpec | Mapping[str, Any] | None = None,
        /,
        *,
        submission: str | None = None,
        code: CodeBundle | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """The manifests ``submit`` would create (workload first), without creating them.
        Raises :class:`JobSpecError` for anything that would be refused."""
        spec = JobSpec.parse(spec, **kwargs)
        return get_backend(spec.backend).build(
            spec, self.environment, submission=submission, code=code
        )

    async def submit(
        self,
        spec: JobSpec | Mapping[str, Any] | None = None,
        /,
        *,
        cwd: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> AsyncJob:
        """Submit a job (a :class:`JobSpec`, a mapping of its fields, and/or its fields as
        keyword arguments); ``cwd`` is where a relative ``script`` path starts (default:
        the current directory). See the module doc for what happens on failure."""
        spec = JobSpec.parse(spec, **kwargs)
        backend = get_backend(spec.backend)
        code = read_code(spec, cwd=cwd)
        manifests = backend.build(spec, self.environment, submission=new_submission_id(), code=code)
        workload, owned = manifests[0], manifests[1:]
        name = workload["metadata"]["name"]
        existing = await self.kube.list(
            K.CONFIGMAP,
            self.namespace,
            label_selector=L.name_selector(self.environment.owner, name),
        )
        if existing.get("items"):
            cancelled = any(cm["metadata"]["name"] == record_name(name) for cm in existing["items"])
            raise JobExistsError(
                f"a job named {name!r} exists already"
                + (" (cancelled; delete it to reuse the name)" if cancelled else "")
                + "; choose another name or delete it first"
            )
        kind = backend.workload_kind
        try:
            created = await self.kube.create(kind, self.namespace, workload)
        except KubeApiError as e:
            raise self._create_error(e, backend.name, name) from None
        done: list[tuple[K.Kind, str]] = []
        try:
            for obj in owned:
                obj["metadata"]["ownerReferences"] = [describe_owner(created)]
                okind = K.kind_of(obj)
                await self.kube.create(okind, self.namespace, obj)
                done.append((okind, obj["metadata"]["name"]))
        except BaseException as e:
            leftovers = await asyncio.shield(self._rollback(kind, created, done))
            if not isinstance(e, Exception):
                raise
            what = e.api_message if isinstance(e, KubeApiError) else str(e)
            raise SubmitError(
                f"submitting job {name!r} failed while creating its "
                f"{K.kind_of(obj).kind} {obj['metadata']['name']}: {what}; "
                "removed what had been created",
                leftovers=leftovers,
            ) from e
        return AsyncJob(self, backend, workload=created)

    def _create_error(self, e: KubeApiError, backend: str, name: str) -> Exception:
        if e.status == 409:
            return JobExistsError(f"a job named {name!r} exists already; choose another name")
        if e.status == 404 and get_backend(backend).needs_operator:
            kind = get_backend(backend).workload_kind
            return BackendUnavailableError(
                f"the {backend} backend needs the Kubeflow training operator "
                f"({kind.api_version} {kind.kind}), which this cluster does not serve; "
                "use backend='indexed' or ask your admin to install it"
            )
        if e.status in (400, 422):
            return JobSpecError([("", f"the cluster refused the job: {e.api_message}")])
        return SubmitError(f"submitting job {name!r} failed: {e}")

    async def _rollback(
        self, kind: K.Kind, workload: dict[str, Any], done: list[tuple[K.Kind, str]]
    ) -> list[str]:
        """Delete what a failed submission created, newest first; what could not be."""
        leftovers = []
        todo = [*reversed(done), (kind, workload["metadata"]["name"])]
        for k, n in todo:
            try:
                uid = workload["metadata"]["uid"] if k == kind else None
                await self.kube.delete(k, self.namespace, n, uid=uid)
            except Exception:
                leftovers.append(f"{k.kind} {n}")
        return leftovers

    # ------------------------------------------------------------------ find
    async def list(self) -> list[AsyncJob]:
        """Every job of the user in the namespace, rebuilt from labels (newest first);
        cancelled jobs from their records."""
        owner = self.environment.owner
        kinds = list(dict.fromkeys(b.workload_kind for b in BACKENDS.values()))

        async def listing(kind: K.Kind, component: str) -> list[dict[str, Any]]:
            try:
                lst = await self.kube.list(
                    kind, self.namespace, label_selector=L.jobs_selector(owner, component)
                )
            except KubeApiError as e:
                if e.status == 404:  # the kind is not served (no training operator)
                    return []
                raise
            return list(lst.get("items") or [])

        results = await asyncio.gather(
            *(listing(k, L.COMPONENT_JOB) for k in kinds),
            listing(K.CONFIGMAP, L.COMPONENT_RECORD),
        )
        jobs: dict[str, AsyncJob] = {}
        for rec in results[-1]:
            job = AsyncJob.from_record(self, rec)
            jobs[job.name] = job
        for kind, items in zip(kinds, results[:-1], strict=True):
            backend = backend_for_kind(kind.kind)
            assert backend is not None
            for wl in items:
                job = AsyncJob(self, backend, workload=wl)
                jobs.setdefault(job.name, job)  # a record wins: the cancel is under way
        return sorted(jobs.values(), key=lambda j: (j.created, j.name), reverse=True)

    async def get(self, name: str) -> AsyncJob:
        """The job called ``name`` (live or cancelled); ``JobNotFoundError`` otherwise."""
        if not isinstance(name, str) or not L.is_dns1035_label(name):
            raise JobNotFoundError(f"no job named {name!r} ({name!r} is not a job name)")
        kinds = list(dict.fromkeys(b.workload_kind for b in BACKENDS.values()))

        async def fetch(kind: K.Kind, obj_name: str) -> dict[str, Any] | None:
            try:
                obj = await self.kube.get(kind, self.namespace, obj_name)
            except KubeApiError as e:
                if e.status == 404:
                    return None
                raise
            labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
            mine = (
                labels.get(L.MANAGED_BY) == L.MANAGED_BY_VALUE
                and labels.get(L.OWNER) == self.environment.owner
                and labels.get(L.JOB) == name
            )
            return obj if mine else None

        *workloads, record = await asyncio.gather(
            *(fetch(k, name) for k in kinds), fetch(K.CONFIGMAP, record_name(name))
        )
        if record is not None:
            return AsyncJob.from_record(self, record)
        for kind, wl in zip(kinds, workloads, strict=True):
            if wl is not None:
                backend = backend_for_kind(kind.kind)
                assert backend is not None
                return AsyncJob(self, backend, workload=wl)
        raise JobNotFoundError(f"no job named {name!r} in namespace {self.namespace}")
