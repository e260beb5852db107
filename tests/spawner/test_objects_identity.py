"""Namespace, ServiceAccount, Role and RoleBinding: the manifests, and what the
ServiceAccount's token can and cannot do on a real API (kubesim)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from teamhub_spawner.objects import identity, namespace
from teamhub_spawner.objects import labels as L

from tests.spawner.objects_support import (
    NS,
    USER,
    api_client,
    create,
    status_body,
    token_client,
    validate,
)

SA_USER = f"system:serviceaccount:{NS}:teamhub-user"


def test_namespace_enforces_restricted_and_carries_teamhub_labels():
    ns = validate(namespace.user_namespace(NS, username="Alice@Example.org", teams=["vision"]))
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels[L.MANAGED_BY] == "teamhub"
    assert labels[L.USER] == L.escape_label_value("Alice@Example.org")
    assert labels[L.COMPONENT] == L.COMPONENT_NAMESPACE
    assert labels["team.teamhub.io/vision"] == "true"
    assert ns["metadata"]["annotations"][L.USER] == "Alice@Example.org"


def test_namespace_pins_a_pod_security_version_when_asked():
    ns = namespace.user_namespace(NS, username=USER, pod_security_version="v1.37")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"] == "v1.37"


def test_an_admin_may_enforce_baseline_and_restricted_is_still_warned_and_audited():
    ns = namespace.user_namespace(NS, username=USER, pod_security_level="baseline")
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    with pytest.raises(ValueError, match="one of restricted, baseline, not 'privileged'"):
        namespace.user_namespace(NS, username=USER, pod_security_level="privileged")


def test_namespace_name_must_be_a_dns_label():
    with pytest.raises(ValueError, match="namespace: 'Teamhub_Alice'"):
        namespace.user_namespace("Teamhub_Alice", username=USER)


# The Role's rules, one by one: (apiGroups, resources, verbs). The test is the spec.
EXPECTED_RULES = [
    (["batch"], ["jobs"], ["create", "get", "list", "watch", "delete"]),
    (
        ["kubeflow.org"],
        ["pytorchjobs", "tfjobs", "mpijobs"],
        ["create", "get", "list", "watch", "delete"],
    ),
    ([""], ["pods"], ["get", "list", "watch"]),
    ([""], ["pods/log"], ["get"]),
    (["", "events.k8s.io"], ["events"], ["get", "list", "watch"]),
    ([""], ["services", "configmaps"], ["create", "get", "list", "watch", "delete"]),
]


def test_role_has_exactly_the_documented_rules():
    role = validate(identity.role(NS, username=USER))
    got = [(r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]]
    assert got == EXPECTED_RULES
    assert all(set(r) == {"apiGroups", "resources", "verbs"} for r in role["rules"])


def test_role_grants_nothing_dangerous():
    role = identity.role(NS, username=USER)
    resources = {res for r in role["rules"] for res in r["resources"]}
    verbs = {v for r in role["rules"] for v in r["verbs"]}
    groups = {g for r in role["rules"] for g in r["apiGroups"]}
    assert not resources & {"secrets", "pods/exec", "pods/attach", "pods/portforward"}
    assert not resources & {"roles", "rolebindings", "serviceaccounts", "serviceaccounts/token"}
    assert "*" not in resources | verbs | groups
    assert not verbs & {"patch", "update", "deletecollection", "escalate", "bind", "impersonate"}
    assert "rbac.authorization.k8s.io" not in groups


def test_role_manifest_is_a_copy_callers_can_mutate():
    role = identity.role(NS, username=USER)
    role["rules"][0]["verbs"].append("patch")
    assert "patch" not in identity.ROLE_RULES[0]["verbs"]


def test_service_account_and_binding():
    sa = validate(identity.service_account(NS, username=USER))
    assert sa["automountServiceAccountToken"] is False
    rb = validate(identity.role_binding(NS, username=USER))
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "teamhub-user",
    }
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "teamhub-user", "namespace": NS}]
    for obj in (sa, rb, identity.role(NS, username=USER)):
        assert obj["metadata"]["labels"][L.COMPONENT] == L.COMPONENT_IDENTITY
        assert obj["metadata"]["namespace"] == NS


# ------------------------------------------------------------------ on the API
@pytest.fixture
def sa_api(kubesim):
    """Alice's identity objects created on kubesim; yields an ApiClient with the SA token."""
    with api_client(kubesim.kubeconfig) as admin:
        for obj in (
            namespace.user_namespace(NS, username=USER),
            namespace.user_namespace("teamhub-bob", username="bob"),
            identity.service_account(NS, username=USER),
            identity.role(NS, username=USER),
            identity.role_binding(NS, username=USER),
        ):
            create(admin, obj)
        core = client.CoreV1Api(admin)
        for ns in (NS, "teamhub-bob"):
            core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "data": {}})
    api = token_client(kubesim, kubesim.create_token(NS, "teamhub-user"))
    yield api
    api.close()


def _job():
    container = {
        "name": "main",
        "image": "python:3.11",
        "command": ["python", "-c", "print(1)"],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    return {
        "metadata": {"name": "train"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                }
            }
        },
    }


def test_service_account_can_submit_and_manage_a_job(sa_api):
    batch = client.BatchV1Api(sa_api)
    created = batch.create_namespaced_job(NS, _job())
    assert created.metadata.name == "train"
    assert [j.metadata.name for j in batch.list_namespaced_job(NS).items] == ["train"]
    batch.delete_namespaced_job("train", NS)


def test_service_account_cannot_read_secrets(sa_api):
    core = client.CoreV1Api(sa_api)
    cases = [
        (
            lambda: core.read_namespaced_secret("s", NS),
            f'cannot get resource "secrets" in API group "" in the namespace "{NS}"',
        ),
        (lambda: core.list_namespaced_secret(NS), 'cannot list resource "secrets"'),
        (
            lambda: core.read_namespaced_secret("s", "teamhub-bob"),
            'cannot get resource "secrets" in API group "" in the namespace "teamhub-bob"',
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ApiException) as e:
            call()
        assert e.value.status == 403
        message = status_body(e.value)["message"]
        assert f'User "{SA_USER}"' in message and expected in message, message


def test_service_account_cannot_exec_into_pods(kubesim, sa_api):
    token = sa_api.configuration.api_key["authorization"]
    url = f"{kubesim.url}/api/v1/namespaces/{NS}/pods/anything/exec?command=sh"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(
            urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})
        )
    assert e.value.code == 403
    assert 'cannot create resource "pods/exec"' in json.loads(e.value.read())["message"]


def _allowed(api, verb, resource, group="", ns=NS, sub=""):
    attrs = {"namespace": ns, "verb": verb, "resource": resource, "group": group}
    if sub:
        attrs["subresource"] = sub
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(
        {"spec": {"resourceAttributes": attrs}}
    )
    return review.status.allowed


def test_every_rule_is_granted_in_own_namespace_only(sa_api):
    for groups, resources, verbs in EXPECTED_RULES:
        for group in groups:
            for res in resources:
                resource, _, sub = res.partition("/")
                for verb in verbs:
                    assert _allowed(sa_api, verb, resource, group, sub=sub), (verb, group, res)
                    assert not _allowed(sa_api, verb, resource, group, "teamhub-bob", sub), (
                        "granted in another user's namespace",
                        verb,
                        res,
                    )


@pytest.mark.parametrize(
    ("verb", "resource", "group", "sub"),
    [
        ("get", "secrets", "", ""),
        ("list", "secrets", "", ""),
        ("create", "pods", "", "exec"),
        ("create", "pods", "", "attach"),
        ("create", "pods", "", "portforward"),
        ("create", "pods", "", ""),
        ("delete", "pods", "", ""),
        ("patch", "jobs", "batch", ""),
        ("update", "pytorchjobs", "kubeflow.org", ""),
        ("create", "roles", "rbac.authorization.k8s.io", ""),
        ("create", "rolebindings", "rbac.authorization.k8s.io", ""),
        ("create", "serviceaccounts", "", "token"),
        ("create", "persistentvolumeclaims", "", ""),
        ("delete", "resourcequotas", "", ""),
        ("delete", "networkpolicies", "networking.k8s.io", ""),
        ("create", "deployments", "apps", ""),
    ],
)
def test_everything_else_is_denied(sa_api, verb, resource, group, sub):
    assert not _allowed(sa_api, verb, resource, group, sub=sub)
