"""RBAC authorizer: decisions, reasons and 403 messages as kube-apiserver produces them."""

from __future__ import annotations

import pytest

from kubesim import rbac
from kubesim.errors import ApiError
from kubesim.rbac import Attributes, RbacIndex, UserInfo

G = rbac.RBAC_GROUP
SA = rbac.service_account_user("team-a", "runner")


def role(name, ns, *rules, kind="Role"):
    meta = {"name": name} | ({"namespace": ns} if ns else {})
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta, "rules": list(rules)}


def binding(name, ns, role_kind, role_name, *subjects, kind="RoleBinding"):
    meta = {"name": name} | ({"namespace": ns} if ns else {})
    return {
        "apiVersion": f"{G}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": G, "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def sa(name, ns=None):
    return {"kind": "ServiceAccount", "name": name} | ({"namespace": ns} if ns else {})


def rule(groups, resources, verbs, names=None):
    r = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    return r | ({"resourceNames": names} if names else {})


def pods(verb, ns="team-a", name="", sub=""):
    return Attributes(verb, "", "pods", sub, ns, name)


@pytest.fixture
def index():
    return RbacIndex(rbac.bootstrap_policy())


def test_service_account_identity():
    assert SA.name == "system:serviceaccount:team-a:runner"
    assert SA.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:team-a",
        "system:authenticated",
    )


def test_rolebinding_grants_only_in_its_namespace(index):
    index.upsert(role("pod-reader", "team-a", rule([""], ["pods"], ["get", "list"])))
    index.upsert(binding("rb", "team-a", "Role", "pod-reader", sa("runner")))
    assert index.authorize(SA, pods("list"))[0]
    assert not index.authorize(SA, pods("list", ns="team-b"))[0]
    assert not index.authorize(SA, pods("list", ns=""))[0]  # cluster-wide list
    assert not index.authorize(SA, pods("delete", name="p"))[0]


def test_rolebinding_to_clusterrole_is_limited_to_the_namespace(index):
    index.upsert(binding("edit", "team-a", "ClusterRole", "edit", sa("runner", "team-a")))
    jobs = Attributes("create", "batch", "jobs", namespace="team-a")
    assert index.authorize(SA, jobs)[0]
    assert not index.authorize(SA, Attributes("create", "batch", "jobs", namespace="team-b"))[0]


def test_clusterrolebinding_grants_everywhere_but_needs_sa_namespace(index):
    crb = binding("view-all", "", "ClusterRole", "view", sa("runner"), kind="ClusterRoleBinding")
    index.upsert(crb)
    assert not index.authorize(SA, pods("get", ns="team-z", name="p"))[0]
    crb["subjects"] = [sa("runner", "team-a")]
    index.upsert(crb)
    assert index.authorize(SA, pods("get", ns="team-z", name="p"))[0]
    assert index.authorize(SA, pods("list", ns=""))[0]


def test_sa_subject_of_another_namespace_does_not_match(index):
    index.upsert(binding("rb", "team-a", "ClusterRole", "view", sa("runner", "team-b")))
    assert not index.authorize(SA, pods("list"))[0]


def test_group_and_user_subjects(index):
    index.upsert(
        binding(
            "g",
            "team-a",
            "ClusterRole",
            "view",
            {"kind": "Group", "name": "system:serviceaccounts:team-a"},
        )
    )
    assert index.authorize(SA, pods("list"))[0]
    alice = UserInfo("alice", ("system:authenticated",))
    assert not index.authorize(alice, pods("list"))[0]
    index.upsert(binding("u", "team-a", "ClusterRole", "view", {"kind": "User", "name": "alice"}))
    assert index.authorize(alice, pods("list"))[0]


@pytest.mark.parametrize(
    ("resources", "sub", "allowed"),
    [
        (["pods/log"], "log", True),
        (["pods"], "log", False),
        (["pods/log"], "", False),
        (["*/log"], "log", True),
        (["*/scale"], "log", False),
        (["*"], "log", True),
        # As in Kubernetes, "pods/*" is not a wildcard over subresources.
        (["pods/*"], "log", False),
    ],
)
def test_subresource_matching(resources, sub, allowed):
    r = rule([""], resources, ["get"])
    assert rbac.rule_allows(pods("get", name="p", sub=sub), r) is allowed


def test_api_group_and_verb_wildcards():
    r = rule(["*"], ["jobs"], ["*"])
    assert rbac.rule_allows(Attributes("deletecollection", "batch", "jobs", namespace="n"), r)
    assert not rbac.rule_allows(Attributes("get", "batch", "cronjobs", namespace="n"), r)
    assert not rbac.rule_allows(
        Attributes("get", "apps", "jobs"), rule(["batch"], ["jobs"], ["get"])
    )


def test_resource_names_only_match_named_requests():
    r = rule([""], ["configmaps"], ["get", "list", "create", "update"], names=["cfg"])
    cm = lambda verb, name="": Attributes(verb, "", "configmaps", namespace="n", name=name)  # noqa: E731
    assert rbac.rule_allows(cm("get", "cfg"), r)
    assert rbac.rule_allows(cm("update", "cfg"), r)
    assert not rbac.rule_allows(cm("get", "other"), r)
    assert not rbac.rule_allows(cm("list"), r)
    assert not rbac.rule_allows(cm("create"), r)


@pytest.mark.parametrize(
    ("urls", "path", "allowed"),
    [
        (["/healthz"], "/healthz", True),
        (["/healthz"], "/healthz/etcd", False),
        (["/apis/*"], "/apis/batch/v1", True),
        (["/apis/*"], "/apis", False),
        (["/open*"], "/openapi/v3", True),
        (["*"], "/anything", True),
    ],
)
def test_non_resource_urls(urls, path, allowed):
    r = {"nonResourceURLs": urls, "verbs": ["get"]}
    assert rbac.rule_allows(Attributes.non_resource("get", path), r) is allowed
    assert not rbac.rule_allows(Attributes.non_resource("post", path), r)


def test_bootstrap_discovery_and_self_reviews(index):
    for path in ("/api", "/apis", "/apis/batch/v1", "/version", "/openapi/v2", "/openapi/v3/apis"):
        assert index.authorize(SA, Attributes.non_resource("get", path))[0], path
    assert not index.authorize(SA, Attributes.non_resource("get", "/metrics"))[0]
    ssar = Attributes("create", "authorization.k8s.io", "selfsubjectaccessreviews")
    ok, reason = index.authorize(SA, ssar)
    assert ok
    assert reason == (
        'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole '
        '"system:basic-user" to Group "system:authenticated"'
    )
    anon = UserInfo("system:anonymous", ("system:unauthenticated",))
    assert index.authorize(anon, Attributes.non_resource("get", "/version"))[0]
    assert not index.authorize(anon, Attributes.non_resource("get", "/api"))[0]


def test_bootstrap_admin_edit_view(index):
    for name in ("admin", "edit", "view"):
        index.upsert(binding(name, "team-a", "ClusterRole", name, {"kind": "User", "name": name}))
    u = {n: UserInfo(n, ("system:authenticated",)) for n in ("admin", "edit", "view")}
    rolebindings = Attributes("create", G, "rolebindings", namespace="team-a")
    secrets = Attributes("get", "", "secrets", namespace="team-a", name="s")
    log = pods("get", name="p", sub="log")
    assert index.authorize(u["admin"], rolebindings)[0]
    assert not index.authorize(u["edit"], rolebindings)[0]
    assert index.authorize(u["edit"], secrets)[0]
    assert not index.authorize(u["view"], secrets)[0]
    for name in u:
        assert index.authorize(u[name], log)[0], name
    assert not index.authorize(u["view"], pods("delete", name="p"))[0]
    assert index.authorize(u["edit"], pods("delete", name="p"))[0]


def test_system_masters_and_cluster_admin(index):
    root = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
    assert index.authorize(root, Attributes("delete", "", "nodes", name="n1")) == (True, "")
    index.upsert(
        binding(
            "me",
            "",
            "ClusterRole",
            "cluster-admin",
            sa("runner", "team-a"),
            kind="ClusterRoleBinding",
        )
    )
    assert index.authorize(SA, Attributes("delete", "", "nodes", name="n1"))[0]
    assert index.authorize(SA, Attributes.non_resource("get", "/metrics"))[0]


def test_aggregation_follows_new_and_removed_clusterroles(index):
    index.upsert(binding("edit", "team-a", "ClusterRole", "edit", sa("runner")))
    crds = Attributes("list", "kubeflow.org", "pytorchjobs", namespace="team-a")
    assert not index.authorize(SA, crds)[0]
    extra = role("pytorch-view", "", rule(["kubeflow.org"], ["pytorchjobs"], ["get", "list"]))
    extra["kind"] = "ClusterRole"
    extra["metadata"]["labels"] = {f"{G}/aggregate-to-view": "true"}
    index.upsert(extra)
    assert index.authorize(SA, crds)[0]  # view -> edit aggregation is transitive
    assert extra["rules"][0] in index.cluster_role_rules("admin")
    index.remove(extra)
    assert not index.authorize(SA, crds)[0]


def test_match_expressions_in_aggregation_rule():
    agg = role("agg", "", kind="ClusterRole")
    agg["aggregationRule"] = {
        "clusterRoleSelectors": [
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}
        ]
    }
    a = role("a", "", rule([""], ["pods"], ["get"]), kind="ClusterRole")
    a["metadata"]["labels"] = {"team": "a"}
    b = role("b", "", rule([""], ["secrets"], ["get"]), kind="ClusterRole")
    b["metadata"]["labels"] = {"team": "b"}
    idx = RbacIndex([agg, a, b])
    assert idx.cluster_role_rules("agg") == a["rules"]


def test_missing_role_is_reported_in_the_denial_reason(index):
    index.upsert(binding("rb", "team-a", "Role", "nope", sa("runner")))
    index.upsert(binding("rb2", "team-a", "ClusterRole", "gone", sa("runner")))
    ok, reason = index.authorize(SA, pods("list"))
    assert not ok
    assert reason == (f'RBAC: [role.{G} "nope" not found, clusterrole.{G} "gone" not found]')
    msg = rbac.forbidden_message(SA, pods("list"), reason)
    assert msg.endswith(
        f'in the namespace "team-a": RBAC: [role.{G} "nope" not found, '
        f'clusterrole.{G} "gone" not found]'
    )


def test_allow_reason_names_the_rolebinding_and_subject(index):
    index.upsert(binding("rb", "team-a", "ClusterRole", "view", sa("runner")))
    ok, reason = index.authorize(SA, pods("list"))
    assert ok
    assert reason == (
        'RBAC: allowed by RoleBinding "rb/team-a" of ClusterRole "view" to '
        'ServiceAccount "runner/team-a"'
    )


def test_forbidden_messages():
    user = SA
    assert rbac.forbidden_message(user, pods("get", name="x", sub="log")) == (
        'pods "x" is forbidden: User "system:serviceaccount:team-a:runner" cannot get resource '
        '"pods/log" in API group "" in the namespace "team-a"'
    )
    assert rbac.forbidden_message(user, pods("list")) == (
        'pods is forbidden: User "system:serviceaccount:team-a:runner" cannot list resource '
        '"pods" in API group "" in the namespace "team-a"'
    )
    assert rbac.forbidden_message(user, Attributes("create", "batch", "jobs", namespace="ns")) == (
        'jobs.batch is forbidden: User "system:serviceaccount:team-a:runner" cannot create '
        'resource "jobs" in API group "batch" in the namespace "ns"'
    )
    assert rbac.forbidden_message(user, Attributes("list", "", "nodes")) == (
        'nodes is forbidden: User "system:serviceaccount:team-a:runner" cannot list resource '
        '"nodes" in API group "" at the cluster scope'
    )
    assert rbac.forbidden_message(user, Attributes.non_resource("get", "/metrics")) == (
        'forbidden: User "system:serviceaccount:team-a:runner" cannot get path "/metrics"'
    )


def test_forbidden_error_status_body():
    err = rbac.forbidden_error(SA, Attributes("get", "batch", "jobs", namespace="n", name="j"))
    assert isinstance(err, ApiError)
    body = err.status()
    assert body["code"] == 403 and body["reason"] == "Forbidden"
    assert body["details"] == {"name": "j", "group": "batch", "kind": "jobs"}
    assert body["message"].startswith('jobs.batch "j" is forbidden: User ')


def test_subject_access_review(index):
    spec = {"resourceAttributes": {"namespace": "team-a", "verb": "create", "resource": "pods"}}
    assert rbac.subject_access_review(index, SA, spec) == {"allowed": False}
    index.upsert(binding("rb", "team-a", "ClusterRole", "edit", sa("runner")))
    status = rbac.subject_access_review(index, SA, spec)
    assert status["allowed"] is True
    assert status["reason"].startswith('RBAC: allowed by RoleBinding "rb/team-a"')
    spec = {"nonResourceAttributes": {"path": "/version", "verb": "get"}}
    assert rbac.subject_access_review(index, SA, spec)["allowed"] is True


def test_subject_access_review_needs_exactly_one_kind(index):
    with pytest.raises(ApiError) as e:
        rbac.subject_access_review(index, SA, {})
    assert e.value.code == 422
    assert e.value.message == (
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
        'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
        "must be specified"
    )


def test_self_subject_rules_review(index):
    index.upsert(role("r", "team-a", rule([""], ["configmaps"], ["get"], names=["cfg"])))
    index.upsert(binding("rb", "team-a", "Role", "r", sa("runner")))
    status = rbac.self_subject_rules_review(index, SA, {"namespace": "team-a"})
    assert {
        "verbs": ["get"],
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["cfg"],
    } in status["resourceRules"]
    assert any("/version" in r["nonResourceURLs"] for r in status["nonResourceRules"])
    assert status["incomplete"] is False


def test_function_over_plain_collections():
    r = role("r", "ns", rule([""], ["pods"], ["get"]))
    rb = binding("rb", "ns", "Role", "r", sa("runner"))
    user = rbac.service_account_user("ns", "runner")
    del r["kind"], rb["kind"]  # the collections say the kind
    assert rbac.authorize(user, pods("get", ns="ns", name="p"), roles=[r], role_bindings=[rb])[0]
    assert not rbac.authorize(user, pods("get", ns="ns", name="p"), roles=[r])[0]


def test_cache_is_invalidated_by_changes(index):
    r = role("r", "team-a", rule([""], ["pods"], ["get"]))
    index.upsert(r)
    index.upsert(binding("rb", "team-a", "Role", "r", sa("runner")))
    assert index.authorize(SA, pods("get", name="p"))[0]
    r2 = role("r", "team-a", rule([""], ["pods"], ["list"]))
    index.upsert(r2)
    assert not index.authorize(SA, pods("get", name="p"))[0]
    assert index.authorize(SA, pods("list"))[0]
    index.remove({"kind": "RoleBinding", "metadata": {"name": "rb", "namespace": "team-a"}})
    assert not index.authorize(SA, pods("list"))[0]


def test_index_does_not_scan_every_binding(index):
    for i in range(2000):
        ns = f"ns-{i}"
        index.upsert(role("r", ns, rule([""], ["pods"], ["get"])))
        for j in range(5):
            index.upsert(binding(f"rb-{j}", ns, "Role", "r", sa(f"sa-{j}")))
    users = [rbac.service_account_user(f"ns-{i}", "sa-3") for i in range(0, 2000, 7)]
    # Counted, not timed: each decision looks only at the bindings that name the user or
    # its groups (one RoleBinding of the 10 000 here, plus the cluster's default
    # ClusterRoleBindings for system:authenticated), and a repeated one at none (cached).
    examined = []
    ref_rules = index._ref_rules

    def counting(ref: dict, ns: str) -> tuple:
        examined.append((ref.get("name"), ns))
        return ref_rules(ref, ns)

    index._ref_rules = counting
    for _ in range(2):
        for u in users:
            ns = u.name.split(":")[2]
            assert index.authorize(u, pods("get", ns=ns, name="p"))[0]
            assert not index.authorize(u, pods("get", ns="ns-1", name="p"))[0] or ns == "ns-1"
    in_namespaces = [e for e in examined if e[1]]
    assert len(in_namespaces) == len(users)  # each user's own binding, in the first round
    assert len(examined) < 10 * len(users)
