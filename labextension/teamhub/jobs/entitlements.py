"""The user's entitlements as the notebook sees them: the ``teamhub.io/entitlements``
annotation TeamSpawner puts on the notebook pod (JSON of the hub's
``teamhub_hub.teams.Entitlements.to_dict()``).

Why a copy of the hub's rules rather than an import: the notebook image carries the
``teamhub`` package without the hub side (JupyterHub, KubeSpawner), so the few rules the
jobs API needs — which images are allowed, what the quota is — are reimplemented here and
kept identical by tests that compare both on the same inputs.

These checks are a courtesy, not the boundary: they refuse a job that could never be
allowed before anything is created, with a message that says why. What binds is the
cluster (ResourceQuota, Pod Security admission; see docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from teamhub.images import image_allowed as allowed_by
from teamhub.jobs.errors import (
    ImageNotAllowedError,
    JobSpecError,
    NotebookEnvironmentError,
    QuotaExceededError,
)
from teamhub.jobs.quantity import format_quantity, parse_quantity

if TYPE_CHECKING:
    from teamhub.jobs.spec import JobSpec

#: The pod annotation TeamSpawner writes (``teamhub_spawner.spawner.ENTITLEMENTS_ANNOTATION``).
ENTITLEMENTS_ANNOTATION = "teamhub.io/entitlements"
#: Quota keys of the teams config: ``cpu``, ``memory`` (requests), ``gpus``, ``pods``.
QUOTA_KEYS = ("cpu", "memory", "gpus", "pods")


@dataclass(frozen=True)
class Entitlements:
    """What the user's teams give them (read-only; values as the hub resolved them)."""

    teams: tuple[str, ...] = ()
    #: ``{"scope", "name", "mount_path", "read_only", ...}`` per team/global volume.
    volumes: tuple[Mapping[str, Any], ...] = ()
    #: ``{"team", "name", "keys", "mount_path", "env", ...}`` (names only, no values).
    credentials: tuple[Mapping[str, Any], ...] = ()
    profiles: tuple[str, ...] = ()
    #: fnmatch patterns of allowed images; None: any image.
    images: tuple[str, ...] | None = None
    #: The config's quota keys (``cpu``, ``memory``, ``gpus``, ``pods``) as quantity strings.
    quota: Mapping[str, str] = field(default_factory=dict)
    #: Kueue LocalQueues in the user's namespace (named after their teams) -> ClusterQueue.
    queues: Mapping[str, str] = field(default_factory=dict)

    def image_allowed(self, image: str) -> bool:
        """Whether the user may run ``image``: a pattern matches it as written or fully
        qualified (``python`` is ``docker.io/library/python:latest``)."""
        return allowed_by(image, self.images)

    def quota_limit(self, key: str) -> Decimal | None:
        """The quota of ``key`` (one of :data:`QUOTA_KEYS`) as a number; None if unlimited."""
        value = self.quota.get(key)
        return None if value is None else parse_quantity(value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entitlements:
        """From the JSON shape of the hub's ``Entitlements.to_dict()``."""
        if not isinstance(data, Mapping):
            raise ValueError("entitlements: expected a JSON object")
        images = data.get("images")
        quota = data.get("quota") or {}
        if images is not None and not isinstance(images, list | tuple):
            raise ValueError("entitlements.images: expected a list or null")
        if not isinstance(quota, Mapping):
            raise ValueError("entitlements.quota: expected an object")
        queues = data.get("queues") or {}
        if not isinstance(queues, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in queues.items()
        ):
            raise ValueError("entitlements.queues: expected an object of queue names to strings")
        for key, value in quota.items():
            try:
                parse_quantity(value)
            except ValueError as e:
                raise ValueError(f"entitlements.quota.{key}: {e}") from None
        return cls(
            teams=tuple(str(t) for t in data.get("teams") or ()),
            volumes=tuple(dict(v) for v in data.get("volumes") or ()),
            credentials=tuple(dict(c) for c in data.get("credentials") or ()),
            profiles=tuple(str(p) for p in data.get("profiles") or ()),
            images=None if images is None else tuple(str(i) for i in images),
            quota={str(k): str(v) for k, v in quota.items()},
            queues=dict(queues),
        )

    @classmethod
    def from_annotation(cls, text: str | None, *, pod: str = "the notebook pod") -> Entitlements:
        """From the pod annotation; a missing or malformed one is a
        :class:`~teamhub.jobs.errors.NotebookEnvironmentError` naming the pod."""
        if text is None:
            raise NotebookEnvironmentError(
                f"{pod} has no {ENTITLEMENTS_ANNOTATION} annotation: it was not started by "
                "teamhub's TeamSpawner, so the jobs API does not know what it may use"
            )
        try:
            return cls.from_dict(json.loads(text))
        except (ValueError, TypeError) as e:
            raise NotebookEnvironmentError(
                f"{pod}: the {ENTITLEMENTS_ANNOTATION} annotation is malformed: {e}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the server extension's environment summary)."""
        return {
            "teams": list(self.teams),
            "volumes": [dict(v) for v in self.volumes],
            "credentials": [dict(c) for c in self.credentials],
            "profiles": list(self.profiles),
            "images": None if self.images is None else list(self.images),
            "quota": dict(self.quota),
            "queues": dict(self.queues),
        }


def entitlement_problems(
    spec: JobSpec, image: str, ents: Entitlements, *, pods: int, worker_pods: int
) -> list[JobSpecError]:
    """Why ``spec`` (running ``image`` in ``pods`` pods, ``worker_pods`` of which get its
    cpu/memory/GPUs) can never be allowed: a queue the user does not have, an image outside
    the teams' patterns, or more than the whole quota. The job alone is compared with the
    quota (the user's Role cannot read what the namespace already uses; the ResourceQuota
    itself refuses pods beyond that, which the job's events then explain)."""
    out: list[JobSpecError] = []
    teams = ", ".join(ents.teams) or "none"
    if spec.queue and spec.queue not in ents.queues:
        mine = ", ".join(ents.queues)
        out.append(
            JobSpecError(
                [
                    (
                        "queue",
                        f"{spec.queue!r} is not one of your queues ({mine})"
                        if mine
                        else f"there is no queue {spec.queue!r}: your teams ({teams}) have no "
                        "Kueue queues",
                    )
                ]
            )
        )
    if not ents.image_allowed(image):
        allowed = ", ".join(ents.images or ()) or "none"
        out.append(
            ImageNotAllowedError(
                [
                    (
                        "image",
                        f"{image!r} is not allowed for your teams ({teams}); allowed: {allowed}",
                    )
                ]
            )
        )
    asks = [
        ("gpus", "gpus", spec.gpus or None, "GPUs"),
        ("cpu", "cpu", spec.cpu, "CPUs"),
        ("memory", "memory", spec.memory, "of memory"),
    ]
    problems = []
    for name, key, per, unit in asks:
        limit = ents.quota_limit(key)
        if per is None or limit is None:
            continue
        total = parse_quantity(per) * worker_pods
        if total <= limit:
            continue
        binary = key == "memory"
        problems.append(
            (
                name,
                f"{format_quantity(parse_quantity(per), binary)} x {worker_pods} workers = "
                f"{format_quantity(total, binary)} {unit} exceeds your quota of "
                f"{format_quantity(limit, binary)} {unit} (teams: {teams})",
            )
        )
    limit = ents.quota_limit("pods")
    if limit is not None and pods > limit:
        problems.append(
            (
                "workers",
                f"{pods} pods exceeds your quota of {format_quantity(limit)} pods (teams: {teams})",
            )
        )
    if problems:
        out.append(QuotaExceededError(problems))
    return out
