"""teamhub's label and annotation keys, in one place.

Why one module: the spawner creates objects with these labels and later *finds* them by
the same labels (to reconcile, to delete what a user lost, to clean up at stop), and the
jobs backend and the hub's reflectors select on them too. A key spelt two ways is a leak.

Conventions:

- Labels carry selectable, *escaped* values (label values are at most 63 characters of
  ``[A-Za-z0-9._-]``); annotations carry the raw values for humans and for exact lookups.
  Usernames are escaped with KubeSpawner's ``safe_slug`` (``is_valid_label`` flavour), the
  same rule KubeSpawner uses for its ``hub.jupyter.org/username`` label, so the value is
  the username itself when it is already a valid label value and a collision-free
  ``<stripped>---<hash>`` otherwise.
- Team membership is one label per team, ``team.teamhub.io/<team>: "true"`` (team names are
  DNS labels, so they are valid label-name parts), because a user may be in several teams
  and a label value cannot hold a list; ``teamhub.io/teams`` (annotation) holds the sorted,
  comma-separated list.
- Labels on objects the user can create (Job pods, Services, ConfigMaps in their namespace)
  are *not* a security boundary: a user may put ``team.teamhub.io/vision`` on their own job
  pods. Nothing in teamhub grants access based on labels a user can write.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from kubespawner.slugs import is_valid_label, safe_slug

DOMAIN = "teamhub.io"

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "teamhub"

#: Label (escaped username) and annotation (raw username) on everything made for a user.
USER = f"{DOMAIN}/user"
#: What an object is for; one of the ``COMPONENT_*`` values below.
COMPONENT = f"{DOMAIN}/component"
#: On team/global volume PVs and PVCs: the team name, or ``global``.
SCOPE = f"{DOMAIN}/scope"
#: On team/global volume PVs and PVCs: the volume's name within its scope.
VOLUME = f"{DOMAIN}/volume"
#: On cluster-scoped objects (PVs): the user namespace they belong to.
NAMESPACE = f"{DOMAIN}/namespace"
#: On per-server objects (the credential Secret): the escaped server name ("" = default).
SERVER = f"{DOMAIN}/server"
#: Annotation: the user's teams, sorted, comma-separated.
TEAMS = f"{DOMAIN}/teams"
#: Label-key prefix of the one-label-per-team scheme: ``team.teamhub.io/<team>: "true"``.
TEAM_PREFIX = f"team.{DOMAIN}/"

COMPONENT_NAMESPACE = "namespace"
COMPONENT_IDENTITY = "identity"
COMPONENT_CREDENTIALS = "credentials"
COMPONENT_VOLUME = "volume"
COMPONENT_HOME = "home"
COMPONENT_NETWORK = "network"
COMPONENT_QUOTA = "quota"
#: Kueue LocalQueues (one per team with a ClusterQueue).
COMPONENT_QUEUE = "queue"
#: Notebook pods only. The NetworkPolicy selects this; job pods must not carry it (a
#: job pod that did would only be cut off from its peers, never gain access).
COMPONENT_NOTEBOOK = "notebook"


@functools.lru_cache(maxsize=4096)
def escape_label_value(value: str) -> str:
    """A valid, collision-free label value for any string (KubeSpawner's ``safe_slug``).

    Cached: a start labels some fifteen objects with the same username."""
    return safe_slug(value, is_valid=is_valid_label) if value else ""


def team_label(team: str) -> str:
    """The label key marking membership of ``team``."""
    return TEAM_PREFIX + team


def common_labels(username: str, component: str) -> dict[str, str]:
    """Labels on every object teamhub makes for ``username`` (except the pod, which
    KubeSpawner labels ``managed-by: kubespawner``; see :func:`pod_labels`)."""
    return {
        MANAGED_BY: MANAGED_BY_VALUE,
        USER: escape_label_value(username),
        COMPONENT: component,
    }


def team_labels(teams: Iterable[str]) -> dict[str, str]:
    return {team_label(t): "true" for t in sorted(set(teams))}


def user_annotations(username: str, teams: Iterable[str] | None = None) -> dict[str, str]:
    """The raw username (and teams, when given) for humans and exact matching."""
    out = {USER: username}
    if teams is not None:
        out[TEAMS] = ",".join(sorted(set(teams)))
    return out


def pod_labels(username: str, teams: Iterable[str]) -> dict[str, str]:
    """What teamhub adds to the notebook pod's labels (on top of KubeSpawner's)."""
    return {
        USER: escape_label_value(username),
        COMPONENT: COMPONENT_NOTEBOOK,
        **team_labels(teams),
    }


def user_selector(username: str, component: str | None = None) -> str:
    """A label selector string for teamhub's objects of ``username`` (e.g. to list the PVs
    to keep or delete at the next start)."""
    parts = [f"{MANAGED_BY}={MANAGED_BY_VALUE}", f"{USER}={escape_label_value(username)}"]
    if component:
        parts.append(f"{COMPONENT}={component}")
    return ",".join(parts)
