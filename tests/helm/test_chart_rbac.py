"""The chart's ClusterRoles are exactly what the hub needs.

TeamSpawner, configured from the chart's values the way the z2jh hub configures it, runs
against kubesim (which enforces RBAC) authenticated with a token of the hub's
ServiceAccount, bound by the chart's own ClusterRoleBindings to its ClusterRoles. It goes
through everything the hub does in the Kubernetes API: first start, a hub that lost its
state restarting a running server (409 on the pod and Secret), objects someone changed
(kept in line), a token refresh, stop, a user who left their team (pruned, Kueue LocalQueue
included: the example values enable Kueue, and kubesim serves LocalQueues), and deleting
the user with their namespace. Every request must be allowed, and every (group, resource,
verb) the hub's ClusterRole grants must have been used. The delegated ClusterRole must be
exactly the users' Role, which the hub may only create while it holds those permissions.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from jupyterhub.objects import Hub
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from kubespawner.clients import load_config
from teamhub_spawner.objects.identity import ROLE_RULES
from teamhub_spawner.spawner import TeamSpawner
from traitlets.config import Config

from kubesim import rbac
from kubesim.sim import KubeSim
from tests.helm.cel_policy import Policy
from tests.helm.chart import NAMESPACE, example_values, find, one, render
from tests.helm.hub_support import FakeUser, chart_hub_config

HUB_SA = "hub"  # what z2jh names it, and what the chart's bindings name (test_chart.py)
HUB_USER = f"system:serviceaccount:{NAMESPACE}:{HUB_SA}"


def values() -> dict:
    """The example install, with a credential Secret to copy and a fast start timeout."""
    v = example_values()
    v["jupyterhub"]["hub"]["config"]["TeamSpawner"]["start_timeout"] = 30
    return v


def permissions(rules: list[dict]) -> set[tuple[str, str, str]]:
    """Every (apiGroup, resource, verb) a list of policy rules names."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


class Recorder:
    """Wraps kubesim's RBAC decision to see each request the hub makes as RBAC sees it:
    API group, resource (with subresource), verb, and whether it was allowed."""

    def __init__(self, sim: KubeSim) -> None:
        self.decisions: Counter[tuple[str, str, str, bool]] = Counter()
        self._authorize = sim.rbac.authorize
        sim.rbac.authorize = self  # type: ignore[method-assign]

    def __call__(self, user: rbac.UserInfo, attrs: rbac.Attributes) -> tuple[bool, str]:
        allowed, reason = self._authorize(user, attrs)
        if user.name == HUB_USER:
            resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
            self.decisions[(attrs.api_group, resource, attrs.verb, allowed)] += 1
        return allowed, reason

    def used(self) -> set[tuple[str, str, str]]:
        return {(g, r, v) for (g, r, v, ok) in self.decisions if ok}

    def denied(self) -> list[tuple[str, str, str]]:
        return sorted((g, r, v) for (g, r, v, ok) in self.decisions if not ok)


@pytest.fixture(scope="module")
def chart() -> list[dict]:
    return render(values())


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, chart: list[dict]) -> Iterator[KubeSim]:
    d = tmp_path_factory.mktemp("rbac")
    s = KubeSim(kubelet="instant", kueue=True, data_dir=d / "kubesim").start()
    s.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    s.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": HUB_SA, "namespace": NAMESPACE},
        }
    )
    s.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "vision-s3", "namespace": NAMESPACE},
            "stringData": {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"},
        }
    )
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        for obj in find(chart, kind):
            s.apply(obj)
    token = s.create_token(NAMESPACE, HUB_SA, expiration=3600)
    kubeconfig = s.write_kubeconfig(d / "hub-kubeconfig", token=token)
    mp = pytest.MonkeyPatch()
    mp.setenv("KUBECONFIG", str(kubeconfig))
    mp.setenv("POD_NAMESPACE", NAMESPACE)
    # kubernetes_asyncio reads $KUBECONFIG when it is imported; point it here explicitly.
    mp.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    load_config.cache_clear()  # KubeSpawner loads the client config once per process
    yield s
    mp.undo()
    load_config.cache_clear()
    s.stop()


@pytest.fixture(scope="module")
def hub_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return chart_hub_config(tmp_path_factory.mktemp("hubconfig"), values())


def spawner(config: Config, user: FakeUser, **traits: Any) -> TeamSpawner:
    sp = TeamSpawner(hub=Hub(), user=user, config=config, **traits)
    sp.api_token = f"hub-token-{user.name}-{id(sp)}"  # a new token at every start
    return sp


def _rt(sim: KubeSim, plural: str) -> Any:
    (rt,) = [rt for rt in sim.registry.types.values() if rt.plural == plural]
    return rt


def get(sim: KubeSim, plural: str, namespace: str, name: str) -> dict | None:
    """An object as stored (read as the admin, not through the API)."""
    return sim.call(lambda: sim.store.peek(_rt(sim, plural), namespace, name))


def drift(sim: KubeSim, plural: str, namespace: str, name: str, change: Any) -> None:
    """Change an object behind the hub's back, as an admin would (not through the API)."""
    rt = _rt(sim, plural)

    def do() -> None:
        obj = sim.store.peek(rt, namespace, name)
        assert obj is not None, (plural, namespace, name)
        change(obj)
        sim.api.update(rt, namespace, name, obj, user="kubesim-admin")

    sim.call(do)


def drop_label(key: str):
    return lambda obj: obj["metadata"]["labels"].pop(key)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_hub_clusterrole_is_exactly_what_teamspawner_uses(
    sim: KubeSim, chart: list[dict], hub_config: Config
) -> None:
    # Reflectors of another test module would point at another kubesim.
    with contextlib.suppress(Exception):
        await KubeSpawner._stop_all_reflectors()
    KubeSpawner.reflectors.clear()
    recorder = Recorder(sim)
    sim.counters.reset()
    try:
        ns = "teamhub-alice"
        alice = FakeUser("alice", ["vision"])

        # 1. First start: the namespace and everything in it; the admin Secret is read.
        sp = spawner(hub_config, alice)
        await sp.start()
        pod = sim.lookup("pods", ns, sp.pod_name)
        assert pod is not None and pod["spec"]["serviceAccountName"] == "teamhub-user"
        # The team's Kueue LocalQueue, backed by the ClusterQueue the chart makes for it.
        (cluster_queue,) = [
            q["metadata"]["name"]
            for q in find(chart, "ClusterQueue")
            if "team.teamhub.io/vision" in q["metadata"]["labels"]
        ]
        queue = get(sim, "localqueues", ns, "vision")
        assert queue is not None and queue["spec"]["clusterQueue"] == cluster_queue

        # The chart's admission policy admits the notebook pod TeamSpawner made.
        policy = Policy(one(chart, "ValidatingAdmissionPolicy"))
        verdict = policy.admit(pod, sim.lookup("namespaces", "", ns))
        assert verdict.matched and verdict.allowed, verdict.denials

        # 2. The hub restarted without its state and starts the running server again: the pod
        #    and the credential Secret exist (409), the Secret is brought in line, the leftover
        #    pod deleted and waited for.
        sp = spawner(hub_config, alice)
        await sp.start()

        # 3. A refreshed OIDC token reaches the running server's Secret.
        await sp.update_access_token("oidc-token-2")
        await sp.stop()

        # 4. Someone changed teamhub's objects: the next start puts them back.
        drift(sim, "namespaces", "", ns, drop_label("team.teamhub.io/vision"))
        drift(
            sim,
            "serviceaccounts",
            ns,
            "teamhub-user",
            lambda o: o.update(automountServiceAccountToken=True),
        )
        drift(sim, "roles", ns, "teamhub-user", lambda o: o["rules"].pop())
        drift(
            sim,
            "rolebindings",
            ns,
            "teamhub-user",
            lambda o: o["subjects"].append(
                {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}
            ),
        )
        drift(
            sim,
            "networkpolicies",
            ns,
            "teamhub-notebook-ingress",
            lambda o: o["spec"]["ingress"][0]["ports"][0].update(port=9999),
        )
        drift(
            sim,
            "persistentvolumes",
            "",
            f"teamhub.{ns}.vision.data",
            drop_label("teamhub.io/volume"),
        )
        drift(sim, "persistentvolumeclaims", ns, "vision.data", drop_label("teamhub.io/volume"))
        drift(
            sim,
            "resourcequotas",
            ns,
            "teamhub-quota",
            lambda o: o["spec"]["hard"].update({"pods": "1000"}),
        )
        drift(
            sim,
            "limitranges",
            ns,
            "teamhub-defaults",
            lambda o: o["metadata"]["labels"].pop("teamhub.io/component"),
        )
        drift(sim, "localqueues", ns, "vision", drop_label("team.teamhub.io/vision"))
        sp = spawner(hub_config, alice)
        await sp.start()
        assert get(sim, "roles", ns, "teamhub-user")["rules"] == ROLE_RULES
        assert len(get(sim, "rolebindings", ns, "teamhub-user")["subjects"]) == 1
        assert (
            get(sim, "namespaces", "", ns)["metadata"]["labels"]["team.teamhub.io/vision"] == "true"
        )
        queue_labels = get(sim, "localqueues", ns, "vision")["metadata"]["labels"]
        assert queue_labels["team.teamhub.io/vision"] == "true"
        await sp.stop()

        # 4b. ... and someone took teamhub's user label off its objects: the start's
        #     listing by label misses them, creating them meets 409, and they are read and
        #     labelled again.
        unlabelled = [
            ("serviceaccounts", ns, "teamhub-user"),
            ("roles", ns, "teamhub-user"),
            ("rolebindings", ns, "teamhub-user"),
            ("networkpolicies", ns, "teamhub-notebook-ingress"),
            ("persistentvolumes", "", f"teamhub.{ns}.vision.data"),
            ("persistentvolumeclaims", ns, "vision.data"),
            ("resourcequotas", ns, "teamhub-quota"),
            ("limitranges", ns, "teamhub-defaults"),
            ("localqueues", ns, "vision"),
        ]
        for plural, where, name in unlabelled:
            drift(sim, plural, where, name, drop_label("teamhub.io/user"))
        sp = spawner(hub_config, alice)
        await sp.start()
        for plural, where, name in unlabelled:
            assert get(sim, plural, where, name)["metadata"]["labels"]["teamhub.io/user"] == "alice"
        await sp.stop()

        # 5. Alice left vision: its volumes and the quota go.
        alice.auth_state["teamhub"]["groups"] = []
        sp = spawner(hub_config, alice)
        await sp.start()
        assert sim.lookup("persistentvolumeclaims", ns, "vision.data") is None
        assert sim.lookup("resourcequotas", ns, "teamhub-quota") is None
        assert get(sim, "localqueues", ns, "vision") is None
        await sp.stop()

        # 6. Alice is deleted from the hub, with her namespace and her PersistentVolumes.
        sp = spawner(hub_config, alice, delete_namespace_on_user_delete=True)
        await sp.delete_forever()
    finally:
        # Stopped even on failure, so that no later module finds reflectors of this kubesim.
        await KubeSpawner._stop_all_reflectors()

    # Every request the hub made was authorized as the hub, and allowed.
    assert sum(recorder.decisions.values()) == sim.counters.total()
    assert recorder.denied() == []
    counted = {(verb, resource) for (verb, resource, _) in sim.counters.requests}
    assert counted == {(v, r) for (_, r, v) in recorder.used()}

    # Nothing the hub's own ClusterRole grants goes unused.
    granted = permissions(one(chart, "ClusterRole", "teamhub-hub")["rules"])
    assert granted - recorder.used() == set()


def test_the_delegated_clusterrole_is_the_users_role_and_nothing_more(chart: list[dict]) -> None:
    delegated = one(chart, "ClusterRole", "teamhub-hub-delegated")
    assert permissions(delegated["rules"]) == permissions(ROLE_RULES)


def test_the_hub_holds_every_permission_of_the_role_it_creates(chart: list[dict]) -> None:
    # Kubernetes' RBAC escalation check: creating a Role, or binding it, needs every
    # permission in it, in that namespace (a real API server refuses otherwise; kubesim
    # does not enforce this check, so it is asserted here).
    hub = rbac.service_account_user(NAMESPACE, HUB_SA)
    cluster_roles = find(chart, "ClusterRole")
    bindings = find(chart, "ClusterRoleBinding")
    for group, resource, verb in sorted(permissions(ROLE_RULES)):
        res, _, sub = resource.partition("/")
        attrs = rbac.Attributes(verb, group, res, sub, "teamhub-alice")
        allowed, _ = rbac.authorize(
            hub, attrs, cluster_roles=cluster_roles, cluster_role_bindings=bindings
        )
        assert allowed, (group, resource, verb)
    without = [b for b in bindings if not b["metadata"]["name"].endswith("-delegated")]
    attrs = rbac.Attributes("create", "batch", "jobs", "", "teamhub-alice")
    assert not rbac.authorize(
        hub, attrs, cluster_roles=cluster_roles, cluster_role_bindings=without
    )[0]


def test_no_rbac_objects_when_rbac_create_is_off() -> None:
    v = values()
    v["rbac"] = {"create": False}
    kinds = {m["kind"] for m in render(v)}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
