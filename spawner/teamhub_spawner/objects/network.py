"""The NetworkPolicy in front of the user's notebook.

Why: a notebook server accepts anyone holding a valid token, and its port is reachable
from every pod in a flat cluster network. Only the proxy (user traffic) and the hub
(activity checks, API) ever need to reach it, so ingress to notebook pods is limited to
pods labelled like z2jh's hub and proxy (``component: hub`` / ``component: proxy`` by
default) *in the hub's namespace*, on the notebook port.

Scope: the policy selects only notebook pods (``teamhub.io/component=notebook``), not the
user's job pods, whose ranks must reach each other (torchrun rendezvous, NCCL, MPI).

Egress is left unrestricted (``policyTypes: [Ingress]``): a notebook legitimately talks to
the hub API, the Kubernetes API, identity providers, object stores, package indexes and
data services whose addresses teamhub cannot know. Clusters that need egress control
should add their own policies; these compose (NetworkPolicies are additive).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.names import NETWORK_POLICY

DEFAULT_PEER_POD_LABELS: tuple[dict[str, str], ...] = (
    {"component": "hub"},
    {"component": "proxy"},
)


def notebook_network_policy(
    namespace: str,
    *,
    username: str,
    hub_namespace: str,
    port: int = 8888,
    peer_pod_labels: Iterable[Mapping[str, str]] = DEFAULT_PEER_POD_LABELS,
    name: str = NETWORK_POLICY,
) -> dict:
    """Ingress to the user's notebook pods only from the hub and proxy pods.

    ``hub_namespace`` is matched by its ``kubernetes.io/metadata.name`` label (set on every
    namespace by the API server since 1.21), and each peer is ``namespaceSelector AND
    podSelector`` (one entry with both), so a pod with ``component: hub`` in another
    namespace, e.g. the user's own, is *not* admitted.
    """
    peers = [dict(p) for p in peer_pod_labels]
    if not peers:
        raise ValueError("peer_pod_labels: at least one peer (the proxy) is needed")
    ns_labels = {"kubernetes.io/metadata.name": hub_namespace}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": L.common_labels(username, L.COMPONENT_NETWORK),
            "annotations": L.user_annotations(username),
        },
        "spec": {
            "podSelector": {"matchLabels": {L.COMPONENT: L.COMPONENT_NOTEBOOK}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": dict(ns_labels)},
                            "podSelector": {"matchLabels": p},
                        }
                        for p in peers
                    ],
                    "ports": [{"protocol": "TCP", "port": int(port)}],
                }
            ],
        },
    }
