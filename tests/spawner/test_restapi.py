"""REST paths of the kinds teamhub manages (spawner/teamhub_spawner/restapi.py): the
API's own, for namespaced and cluster-scoped kinds, with names quoted."""

from __future__ import annotations

import pytest
from teamhub_spawner import restapi


def test_paths_of_namespaced_and_cluster_scoped_kinds() -> None:
    assert restapi.path("Secret", "teamhub-alice") == "/api/v1/namespaces/teamhub-alice/secrets"
    assert (
        restapi.path("Secret", "teamhub-alice", "teamhub-credentials")
        == "/api/v1/namespaces/teamhub-alice/secrets/teamhub-credentials"
    )
    assert restapi.path("Namespace", "", "teamhub-alice") == "/api/v1/namespaces/teamhub-alice"
    assert restapi.path("PersistentVolume") == "/api/v1/persistentvolumes"
    assert (
        restapi.path("RoleBinding", "ns", "teamhub-user")
        == "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings/teamhub-user"
    )
    assert (
        restapi.path("LocalQueue", "ns") == "/apis/kueue.x-k8s.io/v1beta1/namespaces/ns/localqueues"
    )
    # Names are path segments: nothing in one can reach another path.
    assert restapi.path("Secret", "ns", "a/../b") == "/api/v1/namespaces/ns/secrets/a%2F..%2Fb"


def test_a_namespaced_kind_needs_a_namespace() -> None:
    with pytest.raises(ValueError, match="Secret is namespaced: a namespace is needed"):
        restapi.path("Secret", "", "x")


def test_the_kinds_teamhub_prunes_are_scoped_as_the_plan_says() -> None:
    """(Every kind a start creates is exercised in tests/spawner/test_team_spawner.py.)"""
    from teamhub_spawner.plan import PRUNABLE

    for kind, namespaced, _component in PRUNABLE:
        assert restapi.namespaced(kind) is namespaced
