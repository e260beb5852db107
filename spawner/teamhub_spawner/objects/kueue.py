"""The Kueue LocalQueues of a user's namespace: one per team that has a ClusterQueue.

Why per namespace: Kueue admits a job only through a ``LocalQueue`` in the job's own
namespace, named by the job's ``kueue.x-k8s.io/queue-name`` label; the LocalQueue points at
a cluster-wide ``ClusterQueue``, which holds the quota. Every user has a namespace of their
own, so each member of a team with a ClusterQueue (``teams.<team>.clusterQueue``; the Helm
chart makes one per team under ``kueue.teams``) gets a LocalQueue named after the team. A
member of two such teams has two queues and picks one per job (``queue=`` in the jobs API).

The ClusterQueue admits workloads only from namespaces labelled as the team's (the hub
labels each member's namespace ``team.teamhub.io/<team>: "true"``), so a queue in the
namespace of someone who left the team admits nothing; the hub deletes it at their next
start anyway, like the team's volumes (:data:`teamhub_spawner.plan.PRUNABLE`).

``spec.clusterQueue`` is immutable in Kueue's CRD: when an admin moves a team to another
ClusterQueue, :mod:`teamhub_spawner.provision` replaces the LocalQueue (delete, create).
Workloads waiting in it are not lost: Kueue keeps them, inadmissible, until a LocalQueue of
that name exists again.
"""

from __future__ import annotations

import re

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.names import check_dns_label

#: The Kueue API teamhub writes (served by Kueue v0.9 and later, and by the chart's CRDs).
API_VERSION = "kueue.x-k8s.io/v1beta1"
KIND = "LocalQueue"
#: The label that puts a workload (Job, PyTorchJob, ...) in a LocalQueue of its namespace.
QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"

# A DNS-1123 subdomain: what Kueue's CRD allows for spec.clusterQueue.
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_cluster_queue(team: str, cluster_queue: object) -> str:
    """``cluster_queue`` if it is a valid ClusterQueue name, else a ValueError naming the
    config key (``teams.<team>.clusterQueue``)."""
    if (
        not isinstance(cluster_queue, str)
        or len(cluster_queue) > 253
        or not _SUBDOMAIN.match(cluster_queue)
    ):
        raise ValueError(
            f"teams.{team}.clusterQueue: {cluster_queue!r} is not a ClusterQueue name (a "
            "DNS-1123 subdomain: lowercase letters, digits, '-' and '.')"
        )
    return cluster_queue


def local_queue(namespace: str, team: str, cluster_queue: str, *, username: str) -> dict:
    """The LocalQueue ``<team>`` in the user's namespace, backed by ``cluster_queue``.

    Only ``spec.clusterQueue`` is set: ``stopPolicy`` keeps Kueue's default (``None``,
    admitting), so an admin may hold a user's queue (``stopPolicy: Hold``) without the hub
    undoing it at the next start.
    """
    check_dns_label(team, "team name")
    check_cluster_queue(team, cluster_queue)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": team,
            "namespace": namespace,
            "labels": {
                **L.common_labels(username, L.COMPONENT_QUEUE),
                **L.team_labels([team]),
            },
            "annotations": L.user_annotations(username),
        },
        "spec": {"clusterQueue": cluster_queue},
    }
