"""Kueue LocalQueues: one per team with a ClusterQueue, in the plan, pruned like the team's
volumes, accepted as built by an API server serving Kueue's LocalQueue CRD, kept in line by
provision (replaced when their immutable clusterQueue changes), and absent, not an error,
on a cluster without Kueue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes_asyncio.config import kube_config
from kubespawner.clients import load_config
from teamhub_spawner import objects as O
from teamhub_spawner import provision
from teamhub_spawner.objects import kueue
from teamhub_spawner.objects import labels as L
from teamhub_spawner.plan import PRUNABLE, ServerInputs, key, plan, stale

from kubesim.sim import KubeSim
from tests.conftest import running_kubesim
from tests.spawner.objects_support import HUB_NS, NS, USER, api_client, status_body

GROUP, VERSION, PLURAL = "kueue.x-k8s.io", "v1beta1", "localqueues"


def inputs(queues: tuple[tuple[str, str], ...]) -> ServerInputs:
    return ServerInputs(
        username=USER,
        namespace=NS,
        teams=tuple(t for t, _ in queues) or ("vision",),
        volumes=(),
        credentials=(),
        home=None,
        quota={},
        hub_namespace=HUB_NS,
        port=8888,
        oidc_access_token=None,
        jupyterhub_api_token="t",
        queues=queues,
    )


def test_local_queue_is_named_after_the_team_and_backed_by_its_cluster_queue():
    q = O.local_queue(NS, "vision", "teamhub-team-vision", username=USER)
    assert q["apiVersion"] == "kueue.x-k8s.io/v1beta1" and q["kind"] == "LocalQueue"
    assert q["metadata"]["name"] == "vision" and q["metadata"]["namespace"] == NS
    assert q["spec"] == {"clusterQueue": "teamhub-team-vision"}  # stopPolicy: Kueue's default
    labels = q["metadata"]["labels"]
    assert labels[L.COMPONENT] == L.COMPONENT_QUEUE
    assert labels[L.USER] == USER and labels[L.MANAGED_BY] == "teamhub"
    assert labels["team.teamhub.io/vision"] == "true"
    assert O.QUEUE_NAME_LABEL == "kueue.x-k8s.io/queue-name"


@pytest.mark.parametrize(
    ("team", "cluster_queue", "message"),
    [
        ("vision", "Team_Vision", r"teams\.vision\.clusterQueue: 'Team_Vision'"),
        ("vision", "", r"teams\.vision\.clusterQueue"),
        ("vision", "a" * 254, r"teams\.vision\.clusterQueue"),
        ("Vision", "cq", r"team name: 'Vision'"),
    ],
)
def test_bad_names_are_errors_naming_the_config_key(team, cluster_queue, message):
    with pytest.raises(ValueError, match=message):
        kueue.local_queue(NS, team, cluster_queue, username=USER)


def test_the_plan_has_one_local_queue_per_team_with_a_cluster_queue():
    p = plan(inputs((("nlp", "cq-nlp"), ("vision", "teamhub-team-vision"))))
    queues = {o["metadata"]["name"]: o["spec"] for o in p.objects if o["kind"] == "LocalQueue"}
    assert queues == {
        "nlp": {"clusterQueue": "cq-nlp"},
        "vision": {"clusterQueue": "teamhub-team-vision"},
    }
    assert [o for o in plan(inputs(())).objects if o["kind"] == "LocalQueue"] == []


def test_a_team_left_leaves_its_local_queue_stale():
    before = plan(inputs((("nlp", "cq-nlp"), ("vision", "cq-vision")))).all()
    after = plan(inputs((("vision", "cq-vision"),))).all()
    existing = [o for o in before if o["kind"] == "LocalQueue"]
    assert [key(o) for o in stale(after, existing)] == [("LocalQueue", NS, "nlp")]
    # Found by teamhub's labels, like the other per-team objects.
    assert ("LocalQueue", True, L.COMPONENT_QUEUE) in PRUNABLE
    selector = dict(kv.split("=") for kv in L.user_selector(USER, L.COMPONENT_QUEUE).split(","))
    for obj in existing:
        assert selector.items() <= obj["metadata"]["labels"].items()


# ---------------------------------------------------------------- on an API server
@pytest.fixture
def kueue_sim(tmp_path: Path) -> Iterator[KubeSim]:
    with running_kubesim(tmp_path, kueue=True) as sim:
        yield sim


def test_the_built_local_queue_is_valid_and_stored_as_built(kueue_sim):
    q = O.local_queue(NS, "vision", "teamhub-team-vision", username=USER)
    with api_client(kueue_sim.kubeconfig) as api:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": NS}})
        custom = client.CustomObjectsApi(api)
        stored = custom.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, q)
        # Everything built is what the API stores (so a second start finds nothing to do);
        # Kueue's CRD defaults stopPolicy.
        assert stored["metadata"]["labels"] == q["metadata"]["labels"]
        assert stored["metadata"]["annotations"] == q["metadata"]["annotations"]
        assert stored["spec"] == {**q["spec"], "stopPolicy": "None"}
        # clusterQueue is immutable (why provision replaces the object instead).
        stored["spec"]["clusterQueue"] = "elsewhere"
        with pytest.raises(client.ApiException) as e:
            custom.replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "vision", stored)
        assert e.value.status == 422
        assert "field is immutable" in status_body(e.value)["message"]


@pytest.fixture
def hub_client(monkeypatch: pytest.MonkeyPatch):
    """Point the hub's shared Kubernetes clients (what provision uses) at a kubesim."""

    def use(sim: KubeSim) -> None:
        monkeypatch.setenv("KUBECONFIG", str(sim.kubeconfig))
        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(sim.kubeconfig))
        load_config.cache_clear()
        load_config()

    yield use
    load_config.cache_clear()


@pytest.mark.asyncio
async def test_provision_keeps_a_local_queue_in_line_and_replaces_it_on_a_new_cluster_queue(
    kueue_sim, hub_client
) -> None:
    hub_client(kueue_sim)
    with api_client(kueue_sim.kubeconfig) as api:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": NS}})
    q = O.local_queue(NS, "vision", "teamhub-team-vision", username=USER)
    assert await provision.ensure(q) == "created"
    assert await provision.ensure(q) == "unchanged"  # the CRD's default is not a difference
    selector = L.user_selector(USER, L.COMPONENT_QUEUE)
    (found,) = await provision.list_labelled("LocalQueue", NS, selector)
    assert found["kind"] == "LocalQueue" and found["spec"]["stopPolicy"] == "None"
    uid = found["metadata"]["uid"]
    # A team moved to another ClusterQueue: delete and create (the field is immutable).
    moved = O.local_queue(NS, "vision", "gpu-pool", username=USER)
    assert await provision.ensure(moved) == "created"
    (found,) = await provision.list_labelled("LocalQueue", NS, selector)
    assert found["spec"]["clusterQueue"] == "gpu-pool" and found["metadata"]["uid"] != uid
    assert await provision.delete("LocalQueue", NS, "vision") is True
    assert await provision.list_labelled("LocalQueue", NS, selector) == []


@pytest.mark.asyncio
async def test_without_kueue_there_are_no_local_queues_and_creating_one_says_why(
    kubesim, hub_client
) -> None:
    hub_client(kubesim)  # a cluster without Kueue: kueue.x-k8s.io is not served (404)
    selector = L.user_selector(USER, L.COMPONENT_QUEUE)
    assert await provision.list_labelled("LocalQueue", NS, selector) == []
    q = O.local_queue(NS, "vision", "teamhub-team-vision", username=USER)
    with pytest.raises(
        provision.ProvisionError, match=r"creating LocalQueue teamhub-alice/vision: 404"
    ):
        await provision.ensure(q)
