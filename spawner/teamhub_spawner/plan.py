"""The desired state of one user's server: config + entitlements + user → manifests.

A pure function, so what a spawn will create can be tested (and printed) without a
cluster. :mod:`teamhub_spawner.provision` then makes the cluster match it.

Objects come in two groups: the Namespace, which must exist before anything else, and the
rest, which :mod:`.provision` creates concurrently. Objects of kinds that teamhub manages
but that the plan no longer contains (a team the user left, a quota that was removed) are
what :func:`stale` finds, by teamhub's labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from teamhub_spawner.objects import (
    credential_secret,
    home_pvc,
    limit_range,
    local_queue,
    notebook_network_policy,
    resource_quota,
    role,
    role_binding,
    service_account,
    team_volume_pv,
    team_volume_pvc,
    user_namespace,
)
from teamhub_spawner.objects import labels as L

#: Kinds whose objects a user may lose between two starts, with how to find them:
#: (kind, namespaced, teamhub component label).
PRUNABLE: tuple[tuple[str, bool, str], ...] = (
    ("PersistentVolumeClaim", True, L.COMPONENT_VOLUME),
    ("PersistentVolume", False, L.COMPONENT_VOLUME),
    ("ResourceQuota", True, L.COMPONENT_QUOTA),
    ("LimitRange", True, L.COMPONENT_QUOTA),
    # Listed at every start, Kueue or not: a cluster without Kueue answers 404, i.e. none.
    ("LocalQueue", True, L.COMPONENT_QUEUE),
)

#: Kinds listed (by teamhub's labels for the user) at a start in a namespace that already
#: exists, as (kind, namespaced): every kind a plan holds but the credential Secret, which
#: every stop deletes (and the hub is not allowed to list Secrets). What the listing finds
#: is compared with the plan without a request each; what it does not is created.
LISTED: tuple[tuple[str, bool], ...] = (
    ("ServiceAccount", True),
    ("Role", True),
    ("RoleBinding", True),
    ("NetworkPolicy", True),
    *((kind, namespaced) for kind, namespaced, _ in PRUNABLE),
)


@dataclass(frozen=True)
class ServerInputs:
    """Plain values a plan is made from (everything the hub knows at spawn time)."""

    username: str
    namespace: str
    teams: tuple[str, ...]
    #: ``(scope, volume wire dict)`` for every team/global volume the user gets.
    volumes: tuple[tuple[str, Mapping[str, Any]], ...]
    #: ``(team, credential wire dict)`` for every credential the user gets.
    credentials: tuple[tuple[str, Mapping[str, Any]], ...]
    #: The ``home`` config (wire dict), or None for no home volume.
    home: Mapping[str, Any] | None
    quota: Mapping[str, str]
    hub_namespace: str
    port: int
    oidc_access_token: str | None
    jupyterhub_api_token: str
    #: ``secretName`` → that admin Secret's ``data`` (read from the hub's namespace).
    admin_secrets: Mapping[str, Mapping[str, str] | None] = field(default_factory=dict)
    servername: str = ""
    credential_secret_name: str = "teamhub-credentials"
    pod_security_version: str = "latest"
    pod_security_level: str = "restricted"
    #: ``(team, ClusterQueue)`` per team of the user's with a Kueue ClusterQueue: one
    #: LocalQueue each, named after the team.
    queues: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Plan:
    namespace: dict
    objects: tuple[dict, ...]
    credential_secret: dict

    def all(self) -> list[dict]:
        return [self.namespace, *self.objects]


def plan(inputs: ServerInputs) -> Plan:
    """Every object one server needs, in the order they are listed in the docs."""
    ns, user = inputs.namespace, inputs.username
    secret = credential_secret(
        ns,
        username=user,
        credentials=inputs.credentials,
        admin_secrets=inputs.admin_secrets,
        oidc_access_token=inputs.oidc_access_token,
        jupyterhub_api_token=inputs.jupyterhub_api_token,
        name=inputs.credential_secret_name,
        servername=inputs.servername,
    )
    objects: list[dict] = [
        service_account(ns, username=user),
        role(ns, username=user),
        role_binding(ns, username=user),
        secret,
        notebook_network_policy(
            ns, username=user, hub_namespace=inputs.hub_namespace, port=inputs.port
        ),
    ]
    for scope, volume in inputs.volumes:
        objects.append(team_volume_pv(ns, scope, volume, username=user))
        objects.append(team_volume_pvc(ns, scope, volume, username=user))
    if inputs.home is not None:
        objects.append(home_pvc(ns, inputs.home, username=user))
    for build in (resource_quota, limit_range):
        obj = build(ns, inputs.quota or None, username=user)
        if obj is not None:
            objects.append(obj)
    for team, cluster_queue in inputs.queues:
        objects.append(local_queue(ns, team, cluster_queue, username=user))
    namespace = user_namespace(
        ns,
        username=user,
        teams=inputs.teams,
        pod_security_version=inputs.pod_security_version,
        pod_security_level=inputs.pod_security_level,
    )
    return Plan(namespace=namespace, objects=tuple(objects), credential_secret=secret)


def key(obj: Mapping) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of a manifest."""
    m = obj["metadata"]
    return (obj["kind"], m.get("namespace", ""), m["name"])


def stale(planned: Iterable[Mapping], existing: Iterable[Mapping]) -> list[Mapping]:
    """The ``existing`` teamhub objects (of :data:`PRUNABLE` kinds) the plan dropped."""
    wanted = {key(o) for o in planned}
    return [o for o in existing if key(o) not in wanted]
