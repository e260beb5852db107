"""The REST API's request and response models, validated at the edge.

Why pydantic models rather than passing dicts through: the handlers check every request
(query strings included) against these before anything reaches the jobs API, every
response is built through them (so what the server sends is what the OpenAPI document,
generated from the same models by :mod:`teamhub.server.openapi`, says it sends), and the
UI gets one vocabulary. Keys are camelCase, as in the Kubernetes API; the body of a
submission is :class:`teamhub.jobs.spec.JobSpec`'s fields as they are (``procs_per_worker``,
``working_dir``), the same names as the Python API and the ``%%job`` magic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

Phase = Literal["Pending", "Running", "Succeeded", "Failed", "Cancelled"]


class Model(BaseModel):
    """Response models: camelCase on the wire, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# ------------------------------------------------------------------ errors
class FieldError(Model):
    """One problem with one field of a request (``field`` is ``""`` for the whole)."""

    field: str
    message: str


class ErrorBody(Model):
    """Every error response: ``message`` for people, ``reason`` (CamelCase) for programs;
    the other fields are there when they apply."""

    message: str
    reason: str | None = None
    errors: list[FieldError] | None = None
    """Per-field problems of a job spec or a query (400)."""
    leftovers: list[str] | None = None
    """Objects a failed submission created and could not remove (502)."""
    kube_status: int | None = None
    """The Kubernetes API's status code and reason, when it refused a request (502)."""
    kube_reason: str | None = None


# ------------------------------------------------------------------ jobs
class JobStatusModel(Model):
    """A job's phase with its reason (``teamhub.jobs.status.JobStatus``)."""

    phase: Phase
    reason: str | None = None
    message: str | None = None
    ready: int = 0
    """Pods running and ready / pods the job runs."""
    total: int = 0
    conditions: list[dict[str, Any]] = []
    """The workload's conditions, as the Kubernetes API reports them."""
    replicas: dict[str, dict[str, int]] = {}
    """Per replica type (lowercase): counts such as ``active``, ``succeeded``, ``failed``."""
    start_time: str | None = None
    completion_time: str | None = None
    finished: bool = False


class JobPodModel(Model):
    """One pod of a job (``teamhub.jobs.pods.JobPod``), in rank order."""

    name: str
    replica: str
    """``worker-1``, ``master-0``, ``launcher``, ``rank-3``: the log prefix."""
    role: str
    index: int
    rank: int | None = None
    phase: str
    ready: bool
    restarts: int
    node: str | None = None
    created: str
    reason: str | None = None
    """Why the pod is not running (``Unschedulable``, ``ErrImagePull``...)."""
    message: str | None = None


class JobModel(Model):
    """A job. ``status`` and ``pods`` are there when the endpoint says so."""

    name: str
    namespace: str
    backend: str
    kind: str
    submission: str
    uid: str | None = None
    created: str
    cancelled: bool
    spec: dict[str, Any]
    """The spec summary the job was submitted with (no code text, env names only)."""
    status: JobStatusModel | None = None
    pods: list[JobPodModel] | None = None


class JobList(Model):
    """Every job of the user, newest first."""

    jobs: list[JobModel]


class DryRun(Model):
    """What a submission would create (``POST jobs?dryRun=true``); nothing was created."""

    manifests: list[dict[str, Any]]


class JobEventModel(Model):
    """An event about a job or one of its pods, with a plain-language explanation of
    what keeps the job pending (unschedulable, quota, image pull...)."""

    time: str
    type: str
    reason: str
    message: str
    object: str
    """``Kind/name`` of the object it is about."""
    replica: str | None = None
    """The pod's replica name for pod events."""
    count: int = 1
    explanation: str | None = None


class EventList(Model):
    events: list[JobEventModel]


# ------------------------------------------------------------------ environment
class VolumeModel(Model):
    """A team or global volume the user's teams give them."""

    name: str
    scope: str
    """The team, or ``global``."""
    mount_path: str
    read_only: bool
    capacity: str | None = None


class MountModel(Model):
    """A volume mount of the notebook that jobs inherit (home, team volumes, credential
    files), at the same path."""

    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str | None = None


class CredentialModel(Model):
    """A team credential the user is entitled to: names only, never values."""

    name: str
    team: str
    mount_path: str
    keys: list[str] | None = None
    """The file names (Secret keys) under ``mountPath``; None: every key of the Secret."""
    env: list[str] = []
    """Environment variables set from it (names)."""


class QuotaModel(Model):
    """The user's quota (Kubernetes quantities); null: no limit."""

    cpu: str | None = None
    memory: str | None = None
    gpus: str | None = None
    pods: str | None = None


class QueueModel(Model):
    """A Kueue LocalQueue in the user's namespace, one per team with a ClusterQueue."""

    name: str
    cluster_queue: str
    """The Kueue ClusterQueue behind it (the team's quota)."""


class EnvironmentModel(Model):
    """What jobs inherit from this notebook and what the user's teams allow."""

    username: str
    namespace: str
    pod: str
    image: str
    """The notebook's image: a job's image unless it names another."""
    working_dir: str | None = None
    teams: list[str]
    volumes: list[VolumeModel]
    mounts: list[MountModel]
    credentials: list[CredentialModel]
    env: list[str]
    """Names of the environment variables jobs inherit (values are not shown)."""
    profiles: list[str]
    images: list[str] | None = None
    """Patterns of the images the user may run (fnmatch); null: any image."""
    quota: QuotaModel
    quota_used: QuotaModel | None = None
    """What the namespace's running and pending pods take of each quota'd resource now
    (notebook included), as the quota counts it."""
    queues: list[QueueModel] = []
    """Kueue queues jobs may wait in; a job without ``queue`` waits in the first."""


# ------------------------------------------------------------------ capabilities
class BackendModel(Model):
    """A backend and what it can honour: an option it cannot is refused, never ignored."""

    name: str
    api_version: str
    kind: str
    creates: list[str]
    """Every kind a submission creates."""
    needs_operator: bool
    available: bool | None = None
    """Whether the cluster serves its kind (null: could not tell)."""
    procs_per_worker: bool
    gpus: bool
    chief: bool
    queue: bool = True
    """Whether Kueue queues its workloads (the spec's ``queue``)."""
    max_workers: int | None = None
    reserved_env: list[str]
    """Environment variables the backend sets (rank wiring); a spec may not."""
    reserved_env_prefixes: list[str]


class SpecDefaults(Model):
    backend: str
    image: str
    working_dir: str | None = None


class CapabilitiesModel(Model):
    """What the submit dialog is rendered from."""

    backends: list[BackendModel]
    defaults: SpecDefaults
    spec_schema: dict[str, Any]
    """The JSON Schema of the submission body (``JobSpec``)."""


# ------------------------------------------------------------------ queries
def is_cache_buster(key: str, values: list[bytes]) -> bool:
    """Whether a query parameter is JupyterLab's cache-buster: ``ServerConnection``
    appends ``?<milliseconds since 1970>`` (a bare number, no value) to every request made
    with its default ``cache: 'no-store'``, e.g. ``jobs?1712345678901`` or
    ``jobs/x/logs?follow=true&1712345678901``. It is not a parameter of the API."""
    return key.isascii() and key.isdigit() and all(v == b"" for v in values)


class Query(BaseModel):
    """Query-string models: parsed from tornado's ``query_arguments``, unknown parameters
    refused (except the server's own, e.g. ``token``, and JupyterLab's cache-buster, see
    :func:`is_cache_buster`): a misspelt option is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)

    lists: ClassVar[frozenset[str]] = frozenset()
    """Parameters taking several values (``?replica=a&replica=b`` or ``?replica=a,b``)."""
    ignored: ClassVar[frozenset[str]] = frozenset({"token", "_xsrf", "no_track_activity"})
    """Parameters jupyter-server itself reads."""

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, list[bytes]]) -> Any:
        """Validate a query string; ``QueryError`` with per-parameter problems."""
        data: dict[str, Any] = {}
        for key, raw in arguments.items():
            if key in cls.ignored or is_cache_buster(key, raw):
                continue
            values = [v.decode("utf-8", "replace") for v in raw]
            if key in cls.lists:
                data[key] = [p for v in values for p in v.split(",") if p]
            else:
                data[key] = values[-1]
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise QueryError(
                [
                    (
                        ".".join(str(p) for p in err["loc"][:1]),
                        "unknown parameter" if err["type"] == "extra_forbidden" else _message(err),
                    )
                    for err in e.errors()
                ]
            ) from None


class QueryError(ValueError):
    """A bad query string: ``problems`` as ``(parameter, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "value_error":
        return str(err["ctx"]["error"])
    return f"{err['msg']} (got {err.get('input')!r})"


def _flag(v: object) -> object:
    """``?follow`` (no value) means true."""
    return True if v == "" else v


class ListQuery(Query):
    """``GET jobs``: ``status`` (default true) adds each job's status."""

    status: bool = True
    """Add each job's status (one to three API calls per job)."""

    @field_validator("status", mode="before")
    @classmethod
    def _flags(cls, v: object) -> object:
        return _flag(v)


class SubmitQuery(Query):
    """``POST jobs``: ``dryRun`` returns the manifests without creating anything."""

    dry_run: bool = Field(False, alias="dryRun")
    """Check the spec and return the manifests; create nothing."""

    @field_validator("dry_run", mode="before")
    @classmethod
    def _flags(cls, v: object) -> object:
        return _flag(v)


class CancelQuery(Query):
    """``POST jobs/{name}/cancel``: ``archiveLogs`` (default true) writes each pod's log
    to ``~/.teamhub/job-logs/<job>/`` first."""

    archive_logs: bool = Field(True, alias="archiveLogs")
    """Archive each pod's log to the user's home before stopping the pods."""

    @field_validator("archive_logs", mode="before")
    @classmethod
    def _flags(cls, v: object) -> object:
        return _flag(v)


class LogsQuery(Query):
    """``GET jobs/{name}/logs``: which logs, from where, and how they are rendered."""

    lists: ClassVar[frozenset[str]] = frozenset({"replica"})

    replica: list[str] | None = None
    """Replica names (``worker-1``), roles (``worker``) or pod names; default every rank."""
    container: str | None = None
    """One container; default every container of each pod."""
    follow: bool = False
    """Follow new output, new pods and restarts until the job has finished."""
    tail: int | None = Field(None, ge=0)
    """The last N lines of each container."""
    since: float | datetime | None = None
    """Lines of the last N seconds, or since an RFC 3339 time."""
    previous: bool = False
    """Each restarted container's previous instance (not with ``follow``)."""
    timestamps: bool = False
    """Keep the kubelet's RFC 3339 timestamps (after the prefix)."""
    prefix: bool = True
    """Start each line with ``[replica] ``."""

    @field_validator("follow", "previous", "timestamps", "prefix", mode="before")
    @classmethod
    def _flags(cls, v: object) -> object:
        return _flag(v)

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, v: object) -> float | datetime | None:
        if v is None or isinstance(v, int | float | datetime):
            return v  # type: ignore[return-value]
        text = str(v).strip()
        try:
            seconds = float(text)
        except ValueError:
            pass
        else:
            if not math.isfinite(seconds) or seconds <= 0:
                raise ValueError(f"must be a positive number of seconds (got {text!r})")
            return seconds
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"must be seconds (e.g. 300) or an RFC 3339 time (e.g. "
                f"2025-01-01T12:00:00Z), got {text!r}"
            ) from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    @field_validator("replica")
    @classmethod
    def _replicas(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("name at least one replica, or leave the parameter out")
        return v
