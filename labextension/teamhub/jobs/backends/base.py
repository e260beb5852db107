"""What every backend shares: capabilities, the checks a spec must pass before anything is
created, and the pod template that carries the notebook's environment.

A backend declares what it can honour (:class:`Backend` class attributes) and turns a
:class:`~teamhub.jobs.spec.JobSpec` plus the
:class:`~teamhub.jobs.environment.NotebookEnvironment` into manifests with :meth:`build`:
the workload first, then the objects it owns (the code ConfigMap, a Service). An option
the backend cannot honour is an error naming the option, never silently dropped.

Pods of every backend get: the notebook's image (or the spec's), volumes and mounts, env
(notebook env, then the backend's rank wiring, then ``TEAMHUB_JOB_*``, then the spec's
``env``), working directory, the ``restricted`` security settings, no ServiceAccount token,
and the submission labels (so each rank's pod is found by label).

The workload (not its pods) gets Kueue's ``kueue.x-k8s.io/queue-name`` label when the job
waits in a queue (:meth:`Backend.queue_name`): Kueue reads it on Jobs and Kubeflow jobs,
suspends the workload and starts it when the queue's ClusterQueue admits it.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from teamhub.jobs import labels as L
from teamhub.jobs.code import CodeBundle, code_configmap, code_volume, read_code, run_command
from teamhub.jobs.entitlements import entitlement_problems
from teamhub.jobs.environment import NotebookEnvironment
from teamhub.jobs.errors import JobSpecError
from teamhub.jobs.kube import Kind
from teamhub.jobs.spec import JobSpec

GPU_RESOURCE = "nvidia.com/gpu"
#: Set by teamhub in every job pod (the user may not override them).
TEAMHUB_ENV = ("TEAMHUB_JOB_NAME", "TEAMHUB_JOB_BACKEND", "TEAMHUB_SUBMISSION")
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_submission_id() -> str:
    """A random submission id: 12 lowercase letters/digits (a valid label value)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


@dataclass(frozen=True)
class BuildContext:
    """Everything a backend's builders need, resolved once."""

    spec: JobSpec
    env: NotebookEnvironment
    name: str
    submission: str
    code: CodeBundle
    image: str
    labels: dict[str, str]
    annotations: dict[str, str]
    #: Labels of the pod templates: the submission labels plus the spec's extra labels.
    pod_labels: dict[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.env.namespace


def _restricted_pod(psc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(psc))
    out["runAsNonRoot"] = True
    if out.get("runAsUser") == 0:
        out.pop("runAsUser")
    if (out.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        out["seccompProfile"] = {"type": "RuntimeDefault"}
    return out


def _restricted_container(csc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(csc))
    out["allowPrivilegeEscalation"] = False
    out.pop("privileged", None)
    caps = out.get("capabilities") or {}
    add = [c for c in caps.get("add") or [] if c == "NET_BIND_SERVICE"]
    out["capabilities"] = {"drop": ["ALL"], **({"add": add} if add else {})}
    if (out.get("seccompProfile") or {}).get("type") == "Unconfined":
        out.pop("seccompProfile")
    return out


def _merge_env(*groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Later groups win; a replaced variable moves to its new place."""
    out: dict[str, dict[str, Any]] = {}
    for group in groups:
        for var in group:
            out.pop(var["name"], None)
            out[var["name"]] = var
    return list(out.values())


def env_var(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


class Backend:
    """A way of running a distributed job. Subclasses set the capabilities and implement
    :meth:`workload` (and :meth:`owned` for extra objects)."""

    name: ClassVar[str]
    #: The workload kind it creates, and every kind it creates (for cleanup and docs).
    workload_kind: ClassVar[Kind]
    kinds: ClassVar[tuple[str, ...]]
    #: Whether it needs the Kubeflow training operator installed in the cluster.
    needs_operator: ClassVar[bool] = False
    supports_procs_per_worker: ClassVar[bool] = True
    supports_gpus: ClassVar[bool] = True
    supports_chief: ClassVar[bool] = False
    #: The largest number of workers it can run (None: only the API's int32 limit).
    max_workers: ClassVar[int | None] = None
    #: Env vars the backend (or its operator) sets for rank wiring; the spec may not.
    reserved_env: ClassVar[frozenset[str]] = frozenset()
    #: Env var name prefixes likewise reserved.
    reserved_env_prefixes: ClassVar[tuple[str, ...]] = ()
    #: Whether Kueue queues this backend's workload kind (its ``queue-name`` label).
    supports_queue: ClassVar[bool] = True
    container_name: ClassVar[str] = "job"

    # ------------------------------------------------------------------ capabilities
    def pod_count(self, spec: JobSpec) -> int:
        """How many pods the job runs at once (for the pods quota)."""
        return spec.workers

    def gpu_pods(self, spec: JobSpec) -> int:
        """How many of those pods get ``spec.gpus`` GPUs (and ``cpu``/``memory``)."""
        return spec.workers

    def name_suffixes(self, spec: JobSpec) -> list[str]:
        """What the cluster appends to the job name for pods' host names and Services."""
        return []

    def max_name_length(self, spec: JobSpec) -> int:
        return 63 - max((len(s) for s in self.name_suffixes(spec)), default=0)

    def uses_torchrun(self, spec: JobSpec) -> bool:
        return False

    def capability_problems(self, spec: JobSpec) -> list[tuple[str, str]]:
        """Options of ``spec`` this backend cannot honour."""
        out = []
        if spec.procs_per_worker != 1 and not self.supports_procs_per_worker:
            out.append(
                (
                    "procs_per_worker",
                    f"the {self.name} backend runs one process per worker (got "
                    f"{spec.procs_per_worker}); use more workers, or the pytorch, mpi or "
                    "indexed backend",
                )
            )
        if spec.gpus and not self.supports_gpus:
            out.append(("gpus", f"the {self.name} backend cannot give workers GPUs"))
        if spec.chief and not self.supports_chief:
            out.append(("chief", f"only the tf backend has a chief (not {self.name})"))
        if spec.queue and not self.supports_queue:
            out.append(
                (
                    "queue",
                    f"Kueue does not queue the {self.name} backend's "
                    f"{self.workload_kind.api_version} {self.workload_kind.kind}; use "
                    "another backend, or no queue",
                )
            )
        if self.max_workers is not None and spec.workers > self.max_workers:
            out.append(
                (
                    "workers",
                    f"the {self.name} backend runs at most {self.max_workers} workers "
                    f"(got {spec.workers})",
                )
            )
        if spec.name is not None and len(spec.name) > self.max_name_length(spec):
            suffix = max(self.name_suffixes(spec), key=len)
            out.append(
                (
                    "name",
                    f"{spec.name!r} is too long for this job: at most "
                    f"{self.max_name_length(spec)} characters, because its pods and "
                    f"Services are named '<name>{suffix}' (at most 63)",
                )
            )
        for key in spec.env:
            if (
                key in TEAMHUB_ENV
                or key in self.reserved_env
                or (
                    key.startswith(self.reserved_env_prefixes)
                    if self.reserved_env_prefixes
                    else False
                )
            ):
                out.append(
                    (
                        "env",
                        f"{key} is set by the {self.name} backend (rank wiring); it cannot "
                        "be overridden",
                    )
                )
        return out

    # ------------------------------------------------------------------ entitlements
    def entitlement_problems(self, spec: JobSpec, env: NotebookEnvironment) -> list[JobSpecError]:
        """Image not allowed, or more than the whole quota asked for."""
        return entitlement_problems(
            spec,
            spec.image or env.image,
            env.entitlements,
            pods=self.pod_count(spec),
            worker_pods=self.gpu_pods(spec),
        )

    def check(self, spec: JobSpec, env: NotebookEnvironment) -> None:
        """Raise the most specific :class:`JobSpecError` listing every problem."""
        problems = self.capability_problems(spec)
        typed = self.entitlement_problems(spec, env)
        if not problems and len(typed) == 1:
            raise typed[0]
        for err in typed:
            problems += err.problems
        if problems:
            raise JobSpecError(problems)

    def queue_name(self, spec: JobSpec, env: NotebookEnvironment) -> str | None:
        """The Kueue LocalQueue the job waits in: ``spec.queue`` (``""``: none), else the
        first of the user's queues when the backend is one Kueue queues; None when the job
        is not queued, or when the spec's own ``labels`` name the queue already."""
        if L.QUEUE_NAME_LABEL in spec.labels:
            return None
        if spec.queue is not None:
            return spec.queue or None
        if not self.supports_queue:
            return None
        return next(iter(env.entitlements.queues), None)

    # ------------------------------------------------------------------ building
    def job_name(self, spec: JobSpec, env: NotebookEnvironment, submission: str) -> str:
        """``spec.name``, else ``<user>-<backend>-<short id>`` (within the backend's limit)."""
        if spec.name:
            return spec.name
        short = submission[:5]
        room = self.max_name_length(spec) - len(self.name) - len(short) - 2
        user = L.name_part(env.username, max(room, 0)) or "job"
        if not user[0].isalpha():
            user = "j" + user[: max(room - 1, 0)]
        return f"{user}-{self.name}-{short}"

    def context(
        self,
        spec: JobSpec,
        env: NotebookEnvironment,
        *,
        submission: str | None = None,
        code: CodeBundle | None = None,
    ) -> BuildContext:
        self.check(spec, env)
        submission = submission or new_submission_id()
        name = self.job_name(spec, env, submission)
        if code is None:  # a script path is relative to the caller's directory
            code = read_code(spec)
        labels = L.submission_labels(
            owner=env.owner,
            teams=env.teams,
            backend=self.name,
            submission=submission,
            job=name,
        )
        annotations = {
            L.USER_ANNOTATION: env.username,
            L.TEAMS_ANNOTATION: ",".join(sorted(env.teams)),
            L.NOTEBOOK_ANNOTATION: env.pod_name,
        }
        return BuildContext(
            spec=spec,
            env=env,
            name=name,
            submission=submission,
            code=code,
            image=spec.image or env.image,
            labels=labels,
            annotations=annotations,
            pod_labels={**labels, **spec.labels},
        )

    def build(
        self,
        spec: JobSpec,
        env: NotebookEnvironment,
        *,
        submission: str | None = None,
        code: CodeBundle | None = None,
    ) -> list[dict[str, Any]]:
        """The manifests of one submission: the workload first, then what it owns (the code
        ConfigMap, backend extras), without ownerReferences (set once the workload exists).
        Raises :class:`JobSpecError` (nothing to create) for any problem."""
        ctx = self.context(spec, env, submission=submission, code=code)
        configmap = code_configmap(
            ctx.name,
            ctx.namespace,
            spec,
            ctx.code,
            labels=ctx.labels,
            annotations=ctx.annotations,
        )
        workload = self.workload(ctx)
        meta = workload["metadata"]
        meta["labels"] = {**ctx.labels, **spec.labels}
        queue = self.queue_name(spec, env)
        if queue:
            meta["labels"][L.QUEUE_NAME_LABEL] = queue
        meta["annotations"] = {
            **ctx.annotations,
            L.SPEC_ANNOTATION: json.dumps(spec.summary(), sort_keys=True),
        }
        return [workload, configmap, *self.owned(ctx)]

    def workload(self, ctx: BuildContext) -> dict[str, Any]:
        raise NotImplementedError

    def owned(self, ctx: BuildContext) -> list[dict[str, Any]]:
        """Objects besides the code ConfigMap the workload owns (e.g. a Service)."""
        return []

    def metadata(self, ctx: BuildContext) -> dict[str, Any]:
        return {"name": ctx.name, "namespace": ctx.namespace}

    def command(self, ctx: BuildContext) -> list[str]:
        """The argv each rank runs."""
        return run_command(ctx.spec, ctx.code, torchrun=self.uses_torchrun(ctx.spec))

    def resources(self, spec: JobSpec, *, gpus: bool = True) -> dict[str, Any]:
        """Per-worker requests (cpu, memory) and GPUs (limits = requests, as extended
        resources require). No cpu/memory limits: bursting into idle capacity is allowed,
        the quota counts requests."""
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        if spec.cpu:
            requests["cpu"] = spec.cpu
        if spec.memory:
            requests["memory"] = spec.memory
        if gpus and spec.gpus:
            requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(spec.gpus)
        out: dict[str, Any] = {}
        if requests:
            out["requests"] = requests
        if limits:
            out["limits"] = limits
        return out

    def pod_template(
        self,
        ctx: BuildContext,
        *,
        command: list[str],
        env: Sequence[dict[str, Any]] = (),
        resources: dict[str, Any] | None = None,
        ports: list[dict[str, Any]] | None = None,
        pod_spec: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A pod template in the notebook's environment (see the module doc)."""
        nb, spec = ctx.env, ctx.spec
        teamhub_env = [
            env_var("TEAMHUB_JOB_NAME", ctx.name),
            env_var("TEAMHUB_JOB_BACKEND", self.name),
            env_var("TEAMHUB_SUBMISSION", ctx.submission),
        ]
        user_env = [env_var(k, v) for k, v in spec.env.items()]
        container: dict[str, Any] = {
            "name": self.container_name,
            "image": ctx.image,
            "command": list(command),
            "env": _merge_env(
                json.loads(json.dumps(list(nb.env))), list(env), teamhub_env, user_env
            ),
            "securityContext": _restricted_container(nb.container_security_context),
        }
        if nb.image_pull_policy and not spec.image:
            container["imagePullPolicy"] = nb.image_pull_policy
        if nb.env_from:
            container["envFrom"] = json.loads(json.dumps(list(nb.env_from)))
        working_dir = spec.working_dir or nb.working_dir
        if working_dir:
            container["workingDir"] = working_dir
        if resources:
            container["resources"] = resources
        if ports:
            container["ports"] = ports
        volumes = json.loads(json.dumps(list(nb.volumes)))
        mounts = json.loads(json.dumps(list(nb.volume_mounts)))
        code = code_volume(ctx.name, ctx.code)
        if code is not None:
            vol, mount = code
            if any(v["name"] == vol["name"] for v in volumes) or any(
                m["mountPath"].rstrip("/") == mount["mountPath"] for m in mounts
            ):
                raise JobSpecError(
                    f"the notebook already uses the volume name {vol['name']!r} or the path "
                    f"{mount['mountPath']} that job code is mounted at"
                )
            volumes.append(vol)
            mounts.append(mount)
        if mounts:
            container["volumeMounts"] = mounts
        out_spec: dict[str, Any] = {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": _restricted_pod(nb.pod_security_context),
            "containers": [container],
        }
        if volumes:
            out_spec["volumes"] = volumes
        if nb.node_selector:
            out_spec["nodeSelector"] = dict(nb.node_selector)
        if nb.tolerations:
            out_spec["tolerations"] = json.loads(json.dumps(list(nb.tolerations)))
        if nb.image_pull_secrets:
            out_spec["imagePullSecrets"] = json.loads(json.dumps(list(nb.image_pull_secrets)))
        out_spec.update(pod_spec or {})
        return {
            "metadata": {"labels": dict(ctx.pod_labels), "annotations": dict(ctx.annotations)},
            "spec": out_spec,
        }

    # ------------------------------------------------------------------ reading back
    def replica_of(self, pod: dict[str, Any]) -> tuple[str, int]:
        """``(replica type, index)`` of one of the job's pods (lowercase type)."""
        raise NotImplementedError

    def rank_of(self, replica_type: str, index: int, workload: dict[str, Any]) -> int | None:
        """The rank of a replica of ``workload`` (None for a process that is not a rank,
        e.g. the MPI launcher)."""
        return index

    def expected_pods(self, workload: dict[str, Any]) -> int:
        """How many pods the workload runs (from the stored object)."""
        raise NotImplementedError
