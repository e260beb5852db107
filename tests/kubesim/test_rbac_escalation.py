"""RBAC escalation prevention over the API: nobody grants permissions they do not hold."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException


def _as(kubesim, tmp_path, ns: str, sa: str):
    kc = kubesim.write_kubeconfig(tmp_path / f"{ns}-{sa}", token=kubesim.create_token(ns, sa))
    return client.RbacAuthorizationV1Api(config.new_client_from_config(str(kc)))


def _setup(kubesim, rules: list[dict]) -> tuple[client.CoreV1Api, client.RbacAuthorizationV1Api]:
    api = config.new_client_from_config(str(kubesim.kubeconfig))
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespace({"metadata": {"name": "a"}})
    core.create_namespaced_service_account("a", {"metadata": {"name": "x"}})
    rbac.create_namespaced_role("a", {"metadata": {"name": "granted"}, "rules": rules})
    rbac.create_namespaced_role_binding(
        "a",
        {
            "metadata": {"name": "granted"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "granted"},
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "a"}],
        },
    )
    return core, rbac


RBAC_WRITE = {
    "apiGroups": ["rbac.authorization.k8s.io"],
    "resources": ["roles", "rolebindings"],
    "verbs": ["create", "get"],
}
PODS_READ = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}


def test_a_role_granting_more_than_held_is_refused(kubesim, tmp_path) -> None:
    _setup(kubesim, [RBAC_WRITE, PODS_READ])
    sa = _as(kubesim, tmp_path, "a", "x")
    # Within what it holds: allowed.
    sa.create_namespaced_role("a", {"metadata": {"name": "ok"}, "rules": [PODS_READ]})
    with pytest.raises(ApiException) as e:
        sa.create_namespaced_role(
            "a",
            {
                "metadata": {"name": "everything"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
            },
        )
    assert e.value.status == 403
    message = json.loads(e.value.body)["message"]
    assert message.startswith(
        'roles.rbac.authorization.k8s.io "everything" is forbidden: user '
        '"system:serviceaccount:a:x"'
    )
    assert "is attempting to grant RBAC permissions not currently held" in message
    assert '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in message
    with pytest.raises(ApiException) as e:  # a single verb more is also refused
        sa.create_namespaced_role(
            "a",
            {
                "metadata": {"name": "secrets"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
            },
        )
    assert e.value.status == 403


def test_binding_to_a_role_not_held_is_refused_unless_bind_is_granted(kubesim, tmp_path) -> None:
    _, rbac = _setup(kubesim, [RBAC_WRITE, PODS_READ])
    rbac.create_namespaced_role(
        "a",
        {
            "metadata": {"name": "admin-ish"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        },
    )
    sa = _as(kubesim, tmp_path, "a", "x")
    binding = {
        "metadata": {"name": "self-grant"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "admin-ish"},
        "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "a"}],
    }
    with pytest.raises(ApiException) as e:
        sa.create_namespaced_role_binding("a", binding)
    assert e.value.status == 403
    # `bind` on that role lets it through, as on a real cluster.
    rbac.create_namespaced_role(
        "a",
        {
            "metadata": {"name": "binder"},
            "rules": [
                {
                    "apiGroups": ["rbac.authorization.k8s.io"],
                    "resources": ["roles"],
                    "verbs": ["bind"],
                    "resourceNames": ["admin-ish"],
                }
            ],
        },
    )
    rbac.create_namespaced_role_binding(
        "a",
        {
            "metadata": {"name": "binder"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "binder"},
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "a"}],
        },
    )
    sa.create_namespaced_role_binding("a", binding)
