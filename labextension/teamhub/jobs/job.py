"""``AsyncJob``: one submitted job — its status, pods, events, logs, cancel and delete.

**Cancel without patch rights.** The user's Role has no ``patch``/``update`` (see
docs/security.md), so a job cannot be suspended (``spec.suspend``) or annotated as
cancelled. ``cancel()`` instead, within create/delete rights:

1. archives every pod's log to the user's home (:func:`teamhub.jobs.archive.archive_logs`,
   ``~/.teamhub/job-logs/<job>/``), so the output survives the pods;
2. creates the job's *record*, a ConfigMap ``<job>.record`` labelled like the job
   (component ``job-record``) holding its spec summary, its status at cancellation and the
   workload manifest — what ``list()``/``get()`` show as a ``Cancelled`` job;
3. deletes the workload (background propagation): the Job controller / operator stop, the
   garbage collector removes the pods, the code ConfigMap and the Service.

If step 3 fails the record is removed again (the job keeps running, the error is raised).
``delete()`` removes the workload, the record and every object of the submission.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from teamhub.jobs import kube as K
from teamhub.jobs import labels as L
from teamhub.jobs.backends import Backend, get_backend
from teamhub.jobs.errors import JobNotFoundError, KubeApiError
from teamhub.jobs.events import JobEvent, job_events
from teamhub.jobs.pods import JobPod, job_pods
from teamhub.jobs.status import JobStatus, compute_status, terminal_phase

if TYPE_CHECKING:
    from teamhub.jobs.client import JobsClient

log = logging.getLogger("teamhub.jobs")
#: The workload is kept in the record only up to this size (a ConfigMap holds 1 MiB).
RECORD_WORKLOAD_MAX = 256 * 1024
_TEAMHUB_LABELS = (L.MANAGED_BY, L.OWNER, L.BACKEND, L.SUBMISSION, L.JOB)


def record_name(job: str) -> str:
    return f"{job}.record"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AsyncJob:
    """A job in the user's namespace (live, or the record of a cancelled one). Get one
    from :class:`~teamhub.jobs.client.JobsClient` (``submit``/``get``/``list``)."""

    def __init__(
        self,
        client: JobsClient,
        backend: Backend,
        *,
        workload: dict[str, Any] | None = None,
        record: dict[str, Any] | None = None,
    ) -> None:
        if workload is None and record is None:
            raise ValueError("a job needs its workload or its record")
        self._client = client
        self._backend = backend
        self.workload = workload
        self.record = record
        meta = (record or workload or {}).get("metadata") or {}
        labels = meta.get("labels") or {}
        self.name: str = labels.get(L.JOB) or meta["name"]
        self.namespace: str = meta.get("namespace") or client.namespace
        self.submission: str = labels.get(L.SUBMISSION, "")
        ann = meta.get("annotations") or {}
        if record is not None:
            self.uid: str | None = ann.get(L.UID_ANNOTATION)
            self.created: str = ann.get(L.SUBMITTED_ANNOTATION, "")
        else:
            self.uid = meta.get("uid")
            self.created = meta.get("creationTimestamp", "")
        try:
            self.spec: dict[str, Any] = json.loads(ann.get(L.SPEC_ANNOTATION) or "{}")
        except ValueError:
            self.spec = {}

    @classmethod
    def from_record(cls, client: JobsClient, record: dict[str, Any]) -> AsyncJob:
        backend = get_backend((record["metadata"].get("labels") or {}).get(L.BACKEND, ""))
        return cls(client, backend, record=record)

    # ------------------------------------------------------------------ properties
    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def kind(self) -> str:
        return self._backend.workload_kind.kind

    @property
    def cancelled(self) -> bool:
        return self.record is not None

    @property
    def selector(self) -> str:
        """The label selector of every object and pod of this submission."""
        return L.submission_selector(self.submission)

    @property
    def core_api(self) -> Any:
        return self._client.kube.core_api

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "backend": self.backend,
            "kind": self.kind,
            "submission": self.submission,
            "uid": self.uid,
            "created": self.created,
            "cancelled": self.cancelled,
            "spec": dict(self.spec),
        }

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Job {self.name} ({self.backend}{state})>"

    # ------------------------------------------------------------------ reading
    @property
    def _kube(self) -> K.Kube:
        return self._client.kube

    async def refresh(self) -> AsyncJob:
        """Re-read the workload (or find the record a cancel left)."""
        if self.record is None:
            kind = self._backend.workload_kind
            wl = await self._kube.get(kind, self.namespace, self.name)
            if wl is not None and (self.uid is None or wl["metadata"].get("uid") == self.uid):
                self.workload = wl
                return self
            rec = await self._kube.get(K.CONFIGMAP, self.namespace, record_name(self.name))
            labels = (rec or {}).get("metadata", {}).get("labels") or {}
            if rec is None or labels.get(L.SUBMISSION) != self.submission:
                raise JobNotFoundError(f"job {self.name} no longer exists (it was deleted)")
            self.record, self.workload = rec, None
        return self

    async def _pods_raw(self) -> list[dict[str, Any]]:
        lst = await self._kube.list(K.POD, self.namespace, label_selector=self.selector)
        return list(lst.get("items") or [])

    async def pods(self) -> list[JobPod]:
        """The job's pods in rank order, with replica names (``worker-1``...) and ranks."""
        return job_pods(self._backend, self._workload_view(), await self._pods_raw())

    def _workload_view(self) -> dict[str, Any]:
        if self.workload is not None:
            return self.workload
        try:
            return json.loads((self.record or {}).get("data", {}).get("workload.json") or "{}")
        except ValueError:
            return {}

    async def _events(self, pods: list[JobPod]) -> list[JobEvent]:
        items = (await self._kube.list(K.EVENT, self.namespace)).get("items") or []
        return job_events(
            items,
            kind=self.kind,
            name=self.name,
            uids=[self.uid] if self.uid else [],
            pods=pods,
            owned=[
                ("ConfigMap", f"{self.name}.job"),
                ("ConfigMap", record_name(self.name)),
                ("Service", self.name),
            ],
        )

    async def events(self) -> list[JobEvent]:
        """Events about the job and its pods, oldest first, with explanations of what keeps
        it pending (unschedulable, quota exceeded, image pull errors...)."""
        return await self._events(await self.pods())

    async def status(self) -> JobStatus:
        """The job's phase (Pending/Running/Succeeded/Failed/Cancelled) with its reason,
        ready/total replicas and the workload's conditions."""
        await self.refresh()
        if self.record is not None:
            data = json.loads(self.record.get("data", {}).get("status.json") or "{}")
            return JobStatus.from_dict({"phase": "Cancelled", **data})
        assert self.workload is not None
        pods = await self.pods()
        st = compute_status(self._backend, self.workload, pods)
        missing = st.total - len({p.replica for p in pods})
        generic = st.phase == "Pending" and st.reason in ("PodsNotCreated", "ContainerCreating")
        if not st.finished and (generic or missing > 0):  # events say why pods are missing
            st = compute_status(self._backend, self.workload, pods, await self._events(pods))
        return st

    async def finished(self) -> bool:
        """Whether the job has ended (one GET; for log followers)."""
        try:
            await self.refresh()
        except JobNotFoundError:
            return True
        if self.record is not None or self.workload is None:
            return True
        return terminal_phase(self._backend, self.workload) is not None

    async def wait(self, timeout: float | None = None) -> JobStatus:
        """Wait until the job has finished (watching the workload, no polling); its final
        status. ``TimeoutError`` after ``timeout`` seconds."""
        last: list[JobStatus] = []

        async def run() -> JobStatus:
            while True:
                st = await self.status()
                last[:] = [st]
                if st.finished:
                    return st
                await self._watch_until_change()

        if timeout is None:
            return await run()
        try:
            async with asyncio.timeout(timeout):
                return await run()
        except TimeoutError:
            phase = last[0].phase if last else "unknown"
            raise TimeoutError(
                f"job {self.name} has not finished after {timeout} s (it is {phase})"
            ) from None

    async def _watch_until_change(self) -> None:
        kind = self._backend.workload_kind
        rv = ((self.workload or {}).get("metadata") or {}).get("resourceVersion")
        try:
            async for etype, obj in self._kube.watch(
                kind,
                self.namespace,
                field_selector=f"metadata.name={self.name}",
                resource_version=rv,
                timeout_seconds=300,
            ):
                if etype == "BOOKMARK":
                    continue
                if etype == "DELETED" or obj.get("metadata", {}).get("uid") != self.uid:
                    return
                self.workload = obj
                if terminal_phase(self._backend, obj) is not None:
                    return
        except KubeApiError as e:
            if e.status != 410:  # an expired resourceVersion: re-read and watch again
                raise

    # ------------------------------------------------------------------ logs
    def logs(
        self,
        replica: str | list[str] | None = None,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: Any = None,
        previous: bool = False,
        prefix: bool = True,
        container: str | None = None,
        timestamps: bool = False,
    ) -> AsyncIterator[Any]:
        """The job's log lines (``teamhub.jobs.logs.LogLine``; ``str(line)`` is
        ``[worker-1] text``): every rank merged, or ``replica`` (a replica name, a role such
        as ``worker``, or a list). ``follow`` follows new pods and restarts until the job
        ends; ``tail`` lines, ``since`` seconds/timedelta/datetime, ``previous`` instance.
        Memory stays bounded whatever the log size."""
        from teamhub.jobs import logs as logs_module

        return logs_module.stream_logs(
            self.core_api,
            self.namespace,
            self.selector,
            replica=replica,
            container=container,
            follow=follow,
            tail=tail,
            since=since,
            previous=previous,
            timestamps=timestamps,
            prefix=prefix,
            job_finished=self.finished if follow else None,
        )

    async def archive_logs(self, dest_dir: str | Path | None = None) -> list[Path]:
        """Write each pod's log under ``<dest_dir>/<job>/`` (default
        ``~/.teamhub/job-logs``); the files written."""
        from teamhub.jobs import archive

        return await archive.archive_logs(
            self.core_api, self.namespace, self.selector, dest_dir, job=self.name
        )

    # ------------------------------------------------------------------ stopping
    async def cancel(
        self, *, archive_logs: bool = True, dest_dir: str | Path | None = None
    ) -> JobStatus:
        """Stop the job's pods and keep its record and logs (see the module doc). A job that
        has already finished is left as it is; its status is returned either way."""
        st = await self.status()
        if st.finished:
            return st
        if archive_logs:
            try:
                await self.archive_logs(dest_dir)
            except Exception as e:  # the cancel matters more than the archive
                log.warning("job %s: archiving logs before cancelling failed: %s", self.name, e)
        assert self.workload is not None
        when = _now()
        cancelled = JobStatus(
            phase="Cancelled",
            reason="Cancelled",
            message=(
                f"cancelled by {self._client.environment.username} at {when} while "
                f"{st.phase} ({st.ready}/{st.total} ready)"
            ),
            ready=0,
            total=st.total,
            conditions=st.conditions,
            replicas=st.replicas,
            start_time=st.start_time,
            completion_time=when,
        )
        record = self._record(cancelled, when)
        try:
            created = await self._kube.create(K.CONFIGMAP, self.namespace, record)
        except KubeApiError as e:
            if e.status != 409:
                raise
            created = await self._kube.get(K.CONFIGMAP, self.namespace, record_name(self.name))
        try:
            await self._kube.delete(
                self._backend.workload_kind, self.namespace, self.name, uid=self.uid
            )
        except BaseException:
            await asyncio.shield(
                self._kube.delete(K.CONFIGMAP, self.namespace, record_name(self.name))
            )
            raise
        self.record, self.workload = created, None
        return cancelled

    def _record(self, status: JobStatus, when: str) -> dict[str, Any]:
        assert self.workload is not None
        meta = self.workload["metadata"]
        labels = {
            k: v
            for k, v in (meta.get("labels") or {}).items()
            if k in _TEAMHUB_LABELS or k.startswith(L.TEAM_PREFIX)
        }
        labels[L.COMPONENT] = L.COMPONENT_RECORD
        annotations = {
            k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(f"{L.DOMAIN}/")
        }
        annotations.update(
            {
                L.CANCELLED_ANNOTATION: when,
                L.KIND_ANNOTATION: self.kind,
                L.SUBMITTED_ANNOTATION: meta.get("creationTimestamp", ""),
                L.UID_ANNOTATION: meta.get("uid", ""),
            }
        )
        workload = {k: v for k, v in self.workload.items() if k != "status"}
        workload["metadata"] = {
            k: v for k, v in meta.items() if k not in ("managedFields", "resourceVersion")
        }
        data = {
            "status.json": json.dumps(status.to_dict(), sort_keys=True),
            "spec.json": json.dumps(self.spec, sort_keys=True),
        }
        text = json.dumps(workload, sort_keys=True)
        if len(text.encode()) <= RECORD_WORKLOAD_MAX:
            data["workload.json"] = text
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": record_name(self.name),
                "namespace": self.namespace,
                "labels": labels,
                "annotations": annotations,
            },
            "data": data,
        }

    async def delete(self) -> None:
        """Delete the job for good: the workload (its pods go with it), the record of a
        cancelled job, and every ConfigMap/Service of the submission."""
        if self.workload is not None or self.record is None:
            try:
                await self._kube.delete(
                    self._backend.workload_kind, self.namespace, self.name, uid=self.uid
                )
            except KubeApiError as e:
                if e.status != 409:  # 409: the name now belongs to another job
                    raise
        for kind in (K.CONFIGMAP, K.SERVICE):
            lst = await self._kube.list(kind, self.namespace, label_selector=self.selector)
            for obj in lst.get("items") or []:
                await self._kube.delete(kind, self.namespace, obj["metadata"]["name"])
        self.workload = None


def describe_owner(workload: Mapping[str, Any]) -> dict[str, Any]:
    """The ownerReference making an object belong to ``workload`` (garbage-collected with
    it). Neither ``controller`` nor ``blockOwnerDeletion``: the user may not set finalizers
    on their jobs (no update rights), which ``blockOwnerDeletion`` would need."""
    meta = workload["metadata"]
    return {
        "apiVersion": workload["apiVersion"],
        "kind": workload["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
    }
