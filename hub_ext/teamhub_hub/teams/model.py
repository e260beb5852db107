"""The teams config: which identity-provider groups make up which team, and what a team gets.

This is where identity becomes teams. TeamAuthenticator turns a user's groups into
team names with :meth:`TeamsConfig.teams_for_groups`; TeamSpawner turns them into the
user's :class:`~teamhub_hub.teams.entitlements.Entitlements` (volumes, credentials,
profiles, images, quota) with :meth:`TeamsConfig.entitlements`, and then into Kubernetes
objects. A ``TeamsConfig`` instance is always valid: field checks and whole-config checks
(references, mount conflicts) both run when it is built.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .base import CONFIG_PROBLEMS, ConfigModel, format_loc, problem
from .fields import (
    Count,
    DnsLabel,
    DnsSubdomain,
    EnvName,
    ImagePattern,
    MountPath,
    NonBlank,
    Quantity,
    SecretKey,
)
from .volumes import GlobalVolume, HomeVolume, TeamVolume

if TYPE_CHECKING:
    from .entitlements import Entitlements

# Where a team credential's files appear unless it sets mountPath; the hub's own secret
# files (tokens) live elsewhere under TEAMHUB_SECRETS_DIR.
TEAMHUB_SECRETS_DIR = "/var/run/secrets/teamhub"
CREDENTIALS_DIR = f"{TEAMHUB_SECRETS_DIR}/credentials"
# The extended resource that `quota.gpus` limits.
GPU_RESOURCE = "nvidia.com/gpu"


class Credential(ConfigModel):
    """An admin-managed Secret whose keys members get as files (and optionally env vars).

    The hub copies the chosen keys of the Secret, which lives in the hub's namespace, into
    the user's own credential Secret while their server runs; env vars refer to those keys
    with `secretKeyRef`, so no value appears in the pod spec.
    """

    doc_path: ClassVar[str] = "teams.<name>.credentials[]"

    name: DnsLabel = Field(
        description=(
            "Name of the credential, unique within the team. Its files appear in "
            f"`{CREDENTIALS_DIR}/<name>` unless mountPath is set."
        ),
        examples=["s3"],
    )
    secret_name: DnsSubdomain = Field(
        description="Name of the Secret to copy, in the namespace the hub runs in.",
        examples=["vision-s3"],
    )
    keys: list[SecretKey] | None = Field(
        default=None,
        description="Keys of the Secret to copy. null: every key of the Secret.",
        examples=[["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]],
    )
    mount_path: MountPath | None = Field(
        default=None,
        description=(
            "Absolute directory where each key appears as a file. null: "
            f"`{CREDENTIALS_DIR}/<name>`."
        ),
        examples=["/secrets/vision/s3"],
    )
    env: dict[EnvName, SecretKey] = Field(
        default_factory=dict,
        description=(
            "Environment variables to set from keys of the Secret, as variable name: key. "
            "Keys must be among keys when keys is given."
        ),
        examples=[{"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"}],
    )

    @field_validator("keys")
    @classmethod
    def _keys_listed_once(cls, keys: list[str] | None) -> list[str] | None:
        if keys is not None:
            if not keys:
                raise problem("must list at least one key; leave keys out to copy every key")
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise problem(f"lists {', '.join(dupes)} more than once")
        return keys

    @property
    def effective_mount_path(self) -> str:
        """Where the files appear: ``mountPath``, or the default directory for ``name``."""
        return self.mount_path or f"{CREDENTIALS_DIR}/{self.name}"


class Profile(ConfigModel):
    """A server option users can choose, with KubeSpawner's `profile_list` semantics."""

    doc_path: ClassVar[str] = "profiles[]"

    slug: DnsLabel = Field(
        description="Identifier of the profile, unique; teams refer to profiles by slug.",
        examples=["gpu"],
    )
    display_name: NonBlank = Field(
        description="Name shown in the server options form.",
        examples=["GPU notebook"],
    )
    description: str = Field(
        default="",
        description="Text shown under the name in the form.",
        examples=["1 GPU, 8 CPUs, 32 GiB"],
    )
    default: bool = Field(
        default=False,
        description="Preselect this profile in the form; at most one profile may be default.",
        examples=[True],
    )
    kubespawner_override: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "KubeSpawner settings applied when the profile is chosen, with KubeSpawner's "
            "names (cpu_limit, mem_limit, image, extra_resource_limits, ...)."
        ),
        examples=[{"cpu_limit": 2, "mem_limit": "8G"}],
    )
    profile_options: dict[str, Any] = Field(
        default_factory=dict,
        description="KubeSpawner profile_options (choices within the profile), unchanged.",
        examples=[{}],
    )

    def to_kubespawner(self) -> dict[str, Any]:
        """This profile as an entry of KubeSpawner's ``profile_list``."""
        entry: dict[str, Any] = {
            "slug": self.slug,
            "display_name": self.display_name,
            "description": self.description,
            "default": self.default,
            "kubespawner_override": dict(self.kubespawner_override),
        }
        if self.profile_options:
            entry["profile_options"] = dict(self.profile_options)
        return entry


class Quota(ConfigModel):
    """Limits on what all of a member's pods (notebook and jobs) may request together."""

    doc_path: ClassVar[str] = "teams.<name>.quota"

    cpu: Quantity | None = Field(
        default=None,
        description="Total CPU requests (ResourceQuota requests.cpu).",
        examples=["32"],
    )
    memory: Quantity | None = Field(
        default=None,
        description="Total memory requests (ResourceQuota requests.memory).",
        examples=["128Gi"],
    )
    gpus: Count | None = Field(
        default=None,
        description=f"Total GPUs requested (ResourceQuota requests.{GPU_RESOURCE}).",
        examples=[4],
    )
    pods: Count | None = Field(
        default=None,
        description="Number of pods that are not finished (ResourceQuota pods).",
        examples=[50],
    )

    def limits(self) -> dict[str, str]:
        """The limits that are set, as strings: ``{"cpu": "32", "gpus": "4", ...}``."""
        values = {"cpu": self.cpu, "memory": self.memory, "gpus": self.gpus, "pods": self.pods}
        return {k: str(v) for k, v in values.items() if v is not None}

    def hard(self) -> dict[str, str]:
        """The set limits as ResourceQuota ``spec.hard`` entries (see ``QUOTA_RESOURCES``)."""
        return {QUOTA_RESOURCES[k]: v for k, v in self.limits().items()}


# Quota key -> ResourceQuota spec.hard key. Extended resources can only be quota'd as
# requests.<name>; cpu and memory use the same explicit form for uniformity.
QUOTA_RESOURCES = {
    "cpu": "requests.cpu",
    "memory": "requests.memory",
    "gpus": f"requests.{GPU_RESOURCE}",
    "pods": "pods",
}


class Team(ConfigModel):
    """A team: who is in it (identity-provider groups) and what its members get."""

    doc_path: ClassVar[str] = "teams.<name>"

    display_name: str | None = Field(
        default=None,
        description="Human-readable name. null: the team's key.",
        examples=["Computer vision"],
    )
    groups: list[NonBlank] = Field(
        description="Identity-provider groups whose members are members of the team.",
        examples=[["vision", "cv-research"]],
    )
    volumes: list[TeamVolume] = Field(
        default_factory=list, description="Volumes every member gets."
    )
    credentials: list[Credential] = Field(
        default_factory=list, description="Credentials every member gets."
    )
    profiles: list[DnsLabel] | None = Field(
        default=None,
        description=(
            "Slugs of the profiles members may choose. null: every profile; []: none (for a "
            "team that only grants data). A member of several teams may choose any profile "
            "one of them allows."
        ),
        examples=[["cpu", "gpu"]],
    )
    images: list[ImagePattern] | None = Field(
        default=None,
        description=(
            "Images members may run, as shell-style patterns (`*` matches anything, including "
            "`/`). null: no restriction from this team. A member may run an image that matches "
            "a pattern of any of their teams, or any image when none of them sets images."
        ),
        examples=[["quay.io/jupyter/*", "registry.example.org/vision/*"]],
    )
    quota: Quota | None = Field(
        default=None,
        description=(
            "Resource quota of each member's namespace. null: no quota from this team. A "
            "member of several teams gets, per resource, the largest value among them."
        ),
    )
    cluster_queue: DnsSubdomain | None = Field(
        default=None,
        description=(
            "Name of the Kueue ClusterQueue that admits the jobs of this team's members. "
            "The hub then creates a Kueue LocalQueue named after the team in each member's "
            "namespace, pointing at it, and jobs submitted from the notebook wait in it "
            "(label `kueue.x-k8s.io/queue-name`). null: no queue. The Helm chart sets it "
            "for the teams under `kueue.teams`; Kueue must be installed."
        ),
        examples=["teamhub-team-vision"],
    )

    @field_validator("groups")
    @classmethod
    def _some_group(cls, groups: list[str]) -> list[str]:
        if not groups:
            raise problem("must list at least one group")
        return groups

    @field_validator("images")
    @classmethod
    def _some_image(cls, images: list[str] | None) -> list[str] | None:
        if images is not None and not images:
            raise problem("must list at least one pattern; leave images out to allow any image")
        return images


#: id(config) -> (the config, {team names: Entitlements}); kept outside the model so that
#: equal configs stay equal (pydantic compares private attributes too).
_resolved_by_config: dict[int, tuple[weakref.ref, dict[tuple[str, ...], Entitlements]]] = {}


class TeamsConfig(ConfigModel):
    """The whole teams config: namespaces, home, global volumes, profiles and teams."""

    doc_path: ClassVar[str] = "top level"

    namespace_prefix: DnsLabel = Field(
        default="teamhub",
        json_schema_extra={"maxLength": 30},
        description=(
            "Each user's namespace is `<namespacePrefix>-<KubeSpawner safe username>`; at "
            "most 30 characters, so that the namespace name fits in 63."
        ),
        examples=["teamhub"],
    )
    home: HomeVolume = Field(default_factory=HomeVolume, description="The per-user home volume.")
    global_volumes: list[GlobalVolume] = Field(
        default_factory=list, description="Read-only volumes every user gets."
    )
    profiles: list[Profile] = Field(
        default_factory=list,
        description=(
            "Every server profile; teams choose among them by slug. []: no profiles (every "
            "server gets the spawner's own settings)."
        ),
    )
    teams: dict[DnsLabel, Team] = Field(
        default_factory=dict,
        description='The teams, by name (a DNS-1123 label other than "global").',
    )

    @field_validator("namespace_prefix")
    @classmethod
    def _short_prefix(cls, prefix: str) -> str:
        if len(prefix) > 30:
            raise problem("must be at most 30 characters, so that namespace names fit in 63")
        return prefix

    @model_validator(mode="after")
    def _whole_config(self) -> TeamsConfig:
        from .checks import config_problems

        problems = config_problems(self)
        if problems:
            summary = "\n".join(f"{format_loc(loc)}: {msg}" for loc, msg in problems)
            raise PydanticCustomError(
                CONFIG_PROBLEMS, "{summary}", {"summary": summary, "problems": problems}
            )
        return self

    def teams_for_groups(self, groups: Iterable[str]) -> list[str]:
        """Names of the teams with a group among ``groups``, sorted."""
        wanted = _group_set(groups)
        return sorted(name for name, team in self.teams.items() if wanted & set(team.groups))

    def entitlements(self, groups: Iterable[str]) -> Entitlements:
        """What a user with these identity-provider groups gets (see ``entitlements.py``).

        The config is frozen and Entitlements are immutable values, so each combination
        of teams is resolved once per config (at a hundred starts in a burst, resolving
        was a tenth of the hub's CPU per start).
        """
        from .entitlements import resolve_entitlements

        teams = tuple(self.teams_for_groups(groups))
        resolved = _resolved_by_config.get(id(self))
        if resolved is None or resolved[0]() is not self:
            resolved = _resolved_by_config[id(self)] = (weakref.ref(self), {})
            weakref.finalize(self, _resolved_by_config.pop, id(self), None)
        found = resolved[1].get(teams)
        if found is None:
            found = resolved[1][teams] = resolve_entitlements(self, teams)
        return found

    def profile(self, slug: str) -> Profile:
        """The profile with this slug; ``KeyError`` if there is none."""
        for p in self.profiles:
            if p.slug == slug:
                return p
        raise KeyError(slug)

    def kubespawner_profile_list(self, entitlements: Entitlements) -> list[dict[str, Any]]:
        """KubeSpawner ``profile_list`` entries of the profiles ``entitlements`` allows."""
        return [self.profile(slug).to_kubespawner() for slug in entitlements.profiles]

    def cross_team_warnings(self) -> list[str]:
        """Conflicts between teams that share no group, which a member of both would hit.

        They are not errors (no user may be in both teams), but such a user cannot start a
        server; the hub logs these at start-up.
        """
        from .checks import cross_team_conflicts

        return [c.message for c in cross_team_conflicts(self) if not c.shared_groups]


def _group_set(groups: Iterable[str]) -> set[str]:
    if isinstance(groups, str):  # iterating a str would give its characters
        raise TypeError("groups must be an iterable of group names, not a single string")
    return set(groups)
