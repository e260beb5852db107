"""Checks that need the whole config: names, references, and what would collide in a pod.

Field validators see one value at a time; these checks see the validated config and
report every problem with its exact path (``teams.vision.volumes[1].mountPath: ...``).
They run once all fields are valid.

A pod can mount only one thing at a path, and a mount inside or around another one
hides files or depends on mount order, so two mounts a user may get must never be on the
same or nested paths. A user always gets the home and global volumes, and all of a team's
mounts together, so those combinations are errors. Two *different* teams may also
collide, but only for a user in both: that is an error when the teams share a group (such
users certainly exist), and otherwise a warning here and an error when resolving the
entitlements of such a user (``entitlements.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

from .base import Loc, format_loc
from .model import CREDENTIALS_DIR, TEAMHUB_SECRETS_DIR

if TYPE_CHECKING:
    from .model import Team, TeamsConfig

Problem = tuple[Loc, str]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io"
GLOBAL_SCOPE = "global"


@dataclass(frozen=True)
class Mount:
    """One path a user's pods may get: ``owner`` is the config entry (volume/credential)."""

    owner: Loc
    path: str
    credential: bool = False

    @property
    def loc(self) -> Loc:
        return (*self.owner, "mountPath")


@dataclass(frozen=True)
class Conflict:
    """Two teams whose members would get colliding mounts or environment variables."""

    teams: tuple[str, str]
    loc: Loc
    message: str
    shared_groups: tuple[str, ...]


def _relation(path: str, other: str) -> str | None:
    if path == other:
        return "same"
    if path.startswith(other.rstrip("/") + "/"):
        return "inside"
    if other.startswith(path.rstrip("/") + "/"):
        return "around"
    return None


def _collision(m: Mount, other: Mount) -> str | None:
    rel = _relation(m.path, other.path)
    where = format_loc(other.owner)
    if rel == "same":
        return f"{m.path} is also the mount path of {where}"
    if rel == "inside":
        return f"{m.path} is inside {other.path}, the mount path of {where}"
    if rel == "around":
        return f"{m.path} contains {other.path}, the mount path of {where}"
    return None


def _reserved(m: Mount) -> str | None:
    if _relation(m.path, SERVICE_ACCOUNT_DIR):
        return (
            f"{m.path} overlaps {SERVICE_ACCOUNT_DIR}, where Kubernetes mounts the pod's "
            "ServiceAccount token"
        )
    rel = _relation(m.path, TEAMHUB_SECRETS_DIR)
    if rel and not (m.credential and _relation(m.path, CREDENTIALS_DIR) == "inside"):
        allowed = f"; credentials may use directories inside {CREDENTIALS_DIR}"
        return (
            f"{m.path} overlaps {TEAMHUB_SECRETS_DIR}, which is reserved for the hub's "
            f"secrets{allowed if m.credential else ''}"
        )
    return None


def base_mounts(config: TeamsConfig) -> list[Mount]:
    """The mounts every user gets: home, then the global volumes."""
    out = [Mount(("home",), config.home.mount_path)]
    out += [Mount(("globalVolumes", i), v.mount_path) for i, v in enumerate(config.global_volumes)]
    return out


def team_mounts(name: str, team: Team) -> list[Mount]:
    """The mounts a member of ``team`` gets from it: volumes, then credentials."""
    out = [Mount(("teams", name, "volumes", i), v.mount_path) for i, v in enumerate(team.volumes)]
    out += [
        Mount(("teams", name, "credentials", i), c.effective_mount_path, credential=True)
        for i, c in enumerate(team.credentials)
    ]
    return out


def team_env(name: str, team: Team) -> list[tuple[Loc, str]]:
    """``(location, variable)`` of every environment variable the team's credentials set."""
    return [
        (("teams", name, "credentials", i, "env", var), var)
        for i, cred in enumerate(team.credentials)
        for var in cred.env
    ]


def _mount_problems(mounts: list[Mount], earlier: list[Mount]) -> Iterator[Problem]:
    seen = list(earlier)
    for m in mounts:
        reserved = _reserved(m)
        if reserved:
            yield m.loc, reserved
        for other in seen:
            clash = _collision(m, other)
            if clash:
                yield m.loc, clash
                break
        seen.append(m)


def _duplicates(items: Iterable[tuple[Loc, str]], what: str) -> Iterator[Problem]:
    first: dict[str, Loc] = {}
    for loc, value in items:
        if value in first:
            yield loc, f"{value} is also the {what} of {format_loc(first[value])}"
        else:
            first[value] = loc[:-1]


def _profile_problems(config: TeamsConfig) -> Iterator[Problem]:
    slugs = [(("profiles", i, "slug"), p.slug) for i, p in enumerate(config.profiles)]
    yield from _duplicates(slugs, "slug")
    defaults = [i for i, p in enumerate(config.profiles) if p.default]
    for i in defaults[1:]:
        yield (
            ("profiles", i, "default"),
            f"only one profile may be the default; profiles[{defaults[0]}] already is",
        )


def _team_problems(config: TeamsConfig, name: str, team: Team) -> Iterator[Problem]:
    at: Loc = ("teams", name)
    if name == GLOBAL_SCOPE:
        yield at, '"global" is reserved for the scope of global volumes; choose another name'
    vols = [((*at, "volumes", i, "name"), v.name) for i, v in enumerate(team.volumes)]
    yield from _duplicates(vols, "name")
    creds = [((*at, "credentials", i, "name"), c.name) for i, c in enumerate(team.credentials)]
    yield from _duplicates(creds, "name")
    for i, cred in enumerate(team.credentials):
        if cred.keys is None:
            continue
        for var, key in cred.env.items():
            if key not in cred.keys:
                yield (
                    (*at, "credentials", i, "env", var),
                    f"{key} is not among keys ({', '.join(cred.keys)})",
                )
    first_env: dict[str, Loc] = {}
    for loc, var in team_env(name, team):
        if var in first_env:
            yield loc, f"{var} is also set by {format_loc(first_env[var][:-2])}"
        else:
            first_env[var] = loc
    known = [p.slug for p in config.profiles]
    for i, slug in enumerate(team.profiles or []):
        if slug not in known:
            listed = f"profiles are: {', '.join(known)}" if known else "no profiles are defined"
            yield (*at, "profiles", i), f"{slug} is not a profile; {listed}"
    yield from _mount_problems(team_mounts(name, team), base_mounts(config))


def config_problems(config: TeamsConfig) -> list[Problem]:
    """Every whole-config problem, in config order, each with its location."""
    out: list[Problem] = []
    vols = [(("globalVolumes", i, "name"), v.name) for i, v in enumerate(config.global_volumes)]
    out += _duplicates(vols, "name")
    out += _mount_problems(base_mounts(config), [])
    out += _profile_problems(config)
    for name, team in config.teams.items():
        out += _team_problems(config, name, team)
    out += [(c.loc, c.message) for c in cross_team_conflicts(config) if c.shared_groups]
    return out


def cross_team_conflicts(config: TeamsConfig, names: Iterable[str] | None = None) -> list[Conflict]:
    """Collisions between two teams (of ``names``, default all), reported on the later one."""
    chosen = sorted(config.teams if names is None else names)
    out: list[Conflict] = []
    for a, b in combinations(chosen, 2):
        ta, tb = config.teams[a], config.teams[b]
        shared = tuple(sorted(set(ta.groups) & set(tb.groups)))
        if shared:
            why = f"members of group {shared[0]} are in both teams"
        else:
            why = f"a member of both {a} and {b} could not start a server"
        for m in team_mounts(b, tb):
            for other in team_mounts(a, ta):
                clash = _collision(m, other)
                if clash:
                    out.append(Conflict((a, b), m.loc, f"{clash}, and {why}", shared))
                    break
        env_a = {var: loc for loc, var in team_env(a, ta)}
        for loc, var in team_env(b, tb):
            if var in env_a:
                msg = f"{var} is also set by {format_loc(env_a[var][:-2])}, and {why}"
                out.append(Conflict((a, b), loc, msg, shared))
    return out
