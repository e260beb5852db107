"""What one user gets from their teams: the input of every per-user object the spawner builds.

``Entitlements`` are plain, frozen values with a JSON form (``to_dict``/``from_dict``), so
the spawner can keep the entitlements a server was started with in its state and compare
them with fresh ones: a user who left a team loses that team's volumes and credentials
at the next start.

Resolution rules (``docs/dev/teams-config-shape.md``): the user's teams are the teams
with a group among the user's groups, sorted by name. Volumes are the global volumes
followed by each team's volumes, identified by ``(scope, name)`` where scope is the team
name or ``global``; credentials are identified by ``(team, name)``. Profiles are the union
of the teams' allowed profiles, in the order of the config's ``profiles``. Images are the
union of the teams' patterns; when none of the teams sets patterns, any image is allowed.
Quota takes, per resource, the largest value among the teams that set it. Queues are the
Kueue LocalQueues of the teams that set ``clusterQueue``, one per team, named after it.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from teamhub.images import image_allowed as allowed_by

from .base import format_loc
from .checks import GLOBAL_SCOPE, cross_team_conflicts
from .model import QUOTA_RESOURCES
from .quantity import parse_quantity

if TYPE_CHECKING:
    from .model import TeamsConfig


class EntitlementsConflictError(ValueError):
    """The user's teams give them two mounts on colliding paths, or one env var twice.

    Only possible for a user in two teams that share no group (the config refuses the
    rest); an admin must change one of the teams. ``conflicts`` has one line per problem.
    """

    def __init__(self, teams: Iterable[str], conflicts: Iterable[str]) -> None:
        self.teams = tuple(teams)
        self.conflicts = tuple(conflicts)
        lines = "\n".join(f"  {c}" for c in self.conflicts)
        super().__init__(
            f"the teams config gives a member of {', '.join(self.teams)} "
            f"conflicting mounts or environment variables:\n{lines}"
        )


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntitledVolume(_Value):
    """A team or global volume the user gets (one PersistentVolume + claim each)."""

    scope: str  # the team name, or "global"
    name: str
    mount_path: str
    read_only: bool
    capacity: str  # a Kubernetes quantity, e.g. "1Ti"
    source: dict[str, Any]  # {"nfs": {...}} | {"csi": {...}} | {"persistentVolume": {...}}

    @property
    def key(self) -> tuple[str, str]:
        """``(scope, name)``: what identifies the volume among the user's volumes."""
        return (self.scope, self.name)

    @property
    def source_kind(self) -> str:
        """``nfs``, ``csi`` or ``persistentVolume``."""
        return next(iter(self.source))

    def to_wire(self) -> dict[str, Any]:
        """The volume in the config's wire shape (what the spawner's object builders take)."""
        return {
            "name": self.name,
            "mountPath": self.mount_path,
            "readOnly": self.read_only,
            "capacity": self.capacity,
            "source": copy.deepcopy(self.source),
        }


class EntitledCredential(_Value):
    """A team credential the user gets: keys of an admin Secret, as files and env vars."""

    team: str
    name: str
    secret_name: str  # in the hub's namespace
    keys: tuple[str, ...] | None  # None: every key of the Secret
    mount_path: str  # effective: mountPath or the default directory
    env: dict[str, str]  # environment variable -> key

    @property
    def key(self) -> tuple[str, str]:
        """``(team, name)``: what identifies the credential among the user's credentials."""
        return (self.team, self.name)

    def to_wire(self) -> dict[str, Any]:
        """The credential in the config's wire shape, with its effective ``mountPath``."""
        return {
            "name": self.name,
            "secretName": self.secret_name,
            "keys": list(self.keys) if self.keys is not None else None,
            "mountPath": self.mount_path,
            "env": dict(self.env),
        }


class Entitlements(_Value):
    """Everything a user gets from their teams; equal values mean equal per-user objects."""

    teams: tuple[str, ...]
    volumes: tuple[EntitledVolume, ...]
    credentials: tuple[EntitledCredential, ...]
    profiles: tuple[str, ...]
    images: tuple[str, ...] | None  # None: any image
    quota: dict[str, str]  # the config's quota keys: {"cpu": "32", "gpus": "4", ...}
    #: Kueue queues: LocalQueue name (the team's name) -> the team's ClusterQueue, for the
    #: user's teams that set ``clusterQueue``, in team order.
    queues: dict[str, str] = {}

    def image_allowed(self, image: str) -> bool:
        """Whether the user may run ``image`` (matched as written and fully qualified)."""
        return allowed_by(image, self.images)

    def quota_hard(self) -> dict[str, str]:
        """The quota as ResourceQuota ``spec.hard`` (``{"requests.cpu": "32", ...}``)."""
        return {QUOTA_RESOURCES[k]: v for k, v in self.quota.items()}

    def profile_allowed(self, slug: str) -> bool:
        """Whether the user may choose the profile ``slug``."""
        return slug in self.profiles

    def volume(self, scope: str, name: str) -> EntitledVolume:
        """The volume ``(scope, name)``; ``KeyError`` if the user doesn't get it."""
        for v in self.volumes:
            if v.key == (scope, name):
                return v
        raise KeyError((scope, name))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (lists, dicts, strings); ``from_dict`` gives an equal value."""
        return self.model_dump(mode="json")

    @functools.cached_property
    def annotation_json(self) -> str:
        """``to_dict`` as compact JSON with sorted keys (the notebook pod's entitlements
        annotation); made once per value, which all members of the same teams share."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entitlements:
        """The value ``to_dict`` produced (for example from a spawner's stored state)."""
        return cls.model_validate(data)


def resolve_entitlements(config: TeamsConfig, team_names: Iterable[str]) -> Entitlements:
    """The entitlements of a member of exactly ``team_names`` (each a key of ``config.teams``).

    Raises ``EntitlementsConflictError`` if two of the teams collide (see ``checks.py``),
    ``KeyError`` for an unknown team name.
    """
    names = sorted(set(team_names))
    teams = [(n, config.teams[n]) for n in names]
    conflicts = cross_team_conflicts(config, names)
    if conflicts:
        raise EntitlementsConflictError(
            names, [f"{format_loc(c.loc)}: {c.message}" for c in conflicts]
        )

    volumes = [
        EntitledVolume(
            scope=GLOBAL_SCOPE,
            name=v.name,
            mount_path=v.mount_path,
            read_only=True,
            capacity=v.capacity,
            source=v.source.as_dict(),
        )
        for v in config.global_volumes
    ]
    volumes += [
        EntitledVolume(
            scope=n,
            name=v.name,
            mount_path=v.mount_path,
            read_only=v.read_only,
            capacity=v.capacity,
            source=v.source.as_dict(),
        )
        for n, t in teams
        for v in t.volumes
    ]
    credentials = [
        EntitledCredential(
            team=n,
            name=c.name,
            secret_name=c.secret_name,
            keys=tuple(c.keys) if c.keys is not None else None,
            mount_path=c.effective_mount_path,
            env=dict(c.env),
        )
        for n, t in teams
        for c in t.credentials
    ]

    every_profile = any(t.profiles is None for _, t in teams)
    allowed = {slug for _, t in teams for slug in (t.profiles or [])}
    profiles = tuple(p.slug for p in config.profiles if every_profile or p.slug in allowed)

    patterns = [p for _, t in teams if t.images is not None for p in t.images]
    images = tuple(dict.fromkeys(patterns)) if patterns else None

    quota: dict[str, str] = {}
    quotas = [t.quota.limits() for _, t in teams if t.quota is not None]
    for key in QUOTA_RESOURCES:
        values = [q[key] for q in quotas if key in q]
        if values:
            quota[key] = max(values, key=parse_quantity)

    queues = {n: t.cluster_queue for n, t in teams if t.cluster_queue is not None}

    return Entitlements(
        teams=tuple(names),
        volumes=tuple(volumes),
        credentials=tuple(credentials),
        profiles=profiles,
        images=images,
        quota=quota,
        queues=queues,
    )
