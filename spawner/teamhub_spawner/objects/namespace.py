"""The user's Namespace: the isolation boundary of the default (one namespace per user) mode.

Why the Pod Security labels: a user can create Jobs, and so pods, with any pod spec in
their namespace. Enforcing the ``restricted`` Pod Security Standard there is what stops
them from mounting inline NFS/hostPath (bypassing the per-team PVs), running as root or
privileged. ``warn`` and ``audit`` at the same level make a Job whose pod template would
be refused produce a warning at *Job* creation: enforcement itself only applies to pods,
which the Job controller creates later, out of the user's sight.
"""

from __future__ import annotations

from collections.abc import Iterable

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.names import check_dns_label

PSA_PREFIX = "pod-security.kubernetes.io/"
PSA_LEVEL = "restricted"
#: The levels an admin may choose. ``baseline`` still forbids host namespaces, hostPath,
#: privileged containers and added capabilities; it lets containers run without
#: ``allowPrivilegeEscalation: false``/dropped capabilities/non-root, which some operators'
#: injected containers need (the training operator v1's MPI launcher).
PSA_LEVELS = ("restricted", "baseline")


def pod_security_labels(version: str = "latest", level: str = PSA_LEVEL) -> dict[str, str]:
    """``enforce``/``warn``/``audit`` = ``level`` (``restricted`` by default), each pinned
    to ``version``; ``warn`` and ``audit`` stay at ``restricted`` so that what ``baseline``
    lets through is still reported.

    ``latest`` follows the cluster's own version of the standard; pin a ``v1.N`` if a
    cluster upgrade must not tighten what user pods may do.
    """
    if level not in PSA_LEVELS:
        levels = ", ".join(PSA_LEVELS)
        raise ValueError(f"pod security level must be one of {levels}, not {level!r}")
    out = {}
    for mode in ("enforce", "warn", "audit"):
        out[f"{PSA_PREFIX}{mode}"] = level if mode == "enforce" else PSA_LEVEL
        out[f"{PSA_PREFIX}{mode}-version"] = version
    return out


def user_namespace(
    name: str,
    *,
    username: str,
    teams: Iterable[str] = (),
    pod_security_version: str = "latest",
    pod_security_level: str = PSA_LEVEL,
) -> dict:
    """The user's Namespace, labelled for Pod Security (``restricted`` unless the admin
    chose ``baseline``) and with teamhub's
    user/team labels (team labels let cluster admins write their own policies per team)."""
    check_dns_label(name, "namespace")
    teams = list(teams)
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                **L.common_labels(username, L.COMPONENT_NAMESPACE),
                **L.team_labels(teams),
                **pod_security_labels(pod_security_version, pod_security_level),
            },
            "annotations": L.user_annotations(username, teams),
        },
    }
