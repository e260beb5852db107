"""NetworkPolicy, ResourceQuota and LimitRange: manifests and their effect on kubesim."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects import network, quota

from tests.kubesim.helpers import restricted_pod, wait_for
from tests.spawner.objects_support import (
    HUB_NS,
    NS,
    USER,
    api_client,
    create,
    status_body,
    validate,
)


def test_network_policy_admits_only_hub_and_proxy_on_the_notebook_port():
    np = validate(network.notebook_network_policy(NS, username=USER, hub_namespace=HUB_NS))
    spec = np["spec"]
    assert spec["podSelector"] == {"matchLabels": {L.COMPONENT: L.COMPONENT_NOTEBOOK}}
    assert spec["policyTypes"] == ["Ingress"]  # egress deliberately unrestricted
    hub_ns = {"matchLabels": {"kubernetes.io/metadata.name": HUB_NS}}
    assert spec["ingress"] == [
        {
            "from": [
                # namespaceSelector AND podSelector in one peer: only hub-namespace pods
                {"namespaceSelector": hub_ns, "podSelector": {"matchLabels": {"component": "hub"}}},
                {
                    "namespaceSelector": hub_ns,
                    "podSelector": {"matchLabels": {"component": "proxy"}},
                },
            ],
            "ports": [{"protocol": "TCP", "port": 8888}],
        }
    ]
    assert np["metadata"]["labels"][L.COMPONENT] == L.COMPONENT_NETWORK


def test_network_policy_parameters():
    peers = [{"component": "proxy", "release": "jhub"}]
    np = network.notebook_network_policy(
        NS, username=USER, hub_namespace="hub", port=9999, peer_pod_labels=peers
    )
    (rule,) = np["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9999}]
    assert [p["podSelector"]["matchLabels"] for p in rule["from"]] == peers
    with pytest.raises(ValueError, match="peer_pod_labels"):
        network.notebook_network_policy(NS, username=USER, hub_namespace="h", peer_pod_labels=[])


@pytest.mark.parametrize(
    ("config", "hard"),
    [
        (
            {"cpu": "32", "memory": "128Gi", "gpus": 4, "pods": 50},
            {
                "requests.cpu": "32",
                "requests.memory": "128Gi",
                "requests.nvidia.com/gpu": "4",
                "pods": "50",
            },
        ),
        ({"cpu": 0.5, "memory": None, "gpus": None, "pods": None}, {"requests.cpu": "500m"}),
        ({"cpu": 2.0, "gpus": 0}, {"requests.cpu": "2", "requests.nvidia.com/gpu": "0"}),
        ({"memory": "8Gi"}, {"requests.memory": "8Gi"}),
    ],
)
def test_quota_mapping(config, hard):
    q = validate(quota.resource_quota(NS, config, username=USER))
    assert q["spec"] == {"hard": hard}
    assert q["metadata"]["labels"][L.COMPONENT] == L.COMPONENT_QUOTA


def test_no_quota_means_no_objects():
    for config in (None, {}, {"cpu": None, "memory": None, "gpus": None, "pods": None}):
        assert quota.resource_quota(NS, config, username=USER) is None
        assert quota.limit_range(NS, config, username=USER) is None


def test_gpu_resource_name_is_a_parameter():
    q = quota.resource_quota(NS, {"gpus": 2}, username=USER, gpu_resource="amd.com/gpu")
    assert q["spec"]["hard"] == {"requests.amd.com/gpu": "2"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"cpus": 1}, "quota: unknown key"),
        ({"gpus": True}, "quota.gpus: True is not a quantity"),
        ({"memory": ""}, "quota.memory: '' is not a quantity"),
    ],
)
def test_bad_quota_is_named(config, message):
    with pytest.raises(ValueError, match=message):
        quota.resource_quota(NS, config, username=USER)


def test_limit_range_defaults_only_what_the_quota_forces():
    lr = validate(quota.limit_range(NS, {"cpu": "4", "gpus": 1}, username=USER))
    assert lr["spec"] == {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m"}}]}
    lr = quota.limit_range(NS, {"cpu": "4", "memory": "8Gi"}, username=USER)
    assert lr["spec"]["limits"][0]["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}
    assert quota.limit_range(NS, {"gpus": 1, "pods": 3}, username=USER) is None


# ------------------------------------------------------------------ on the API
@pytest.fixture
def core(kubesim):
    with api_client(kubesim.kubeconfig) as api:
        create(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        yield client.CoreV1Api(api)


def test_network_policy_is_accepted(core):
    np = network.notebook_network_policy(NS, username=USER, hub_namespace=HUB_NS)
    stored = create(core.api_client, np)
    assert stored["spec"]["ingress"] == np["spec"]["ingress"]


def _quota_ready(core):
    q = core.read_namespaced_resource_quota("teamhub-quota", NS)
    return q.status and q.status.hard


def test_quota_is_enforced_and_the_limit_range_lets_request_less_pods_in(core):
    config = {"cpu": "1", "memory": "1Gi", "gpus": 0, "pods": 2}
    create(core.api_client, quota.resource_quota(NS, config, username=USER))
    wait_for(lambda: _quota_ready(core), what="quota status")
    # Without the LimitRange a pod that requests nothing is refused.
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod(NS, restricted_pod("bare"))
    assert e.value.status == 403
    assert "must specify" in status_body(e.value)["message"]
    create(core.api_client, quota.limit_range(NS, config, username=USER))
    pod = core.create_namespaced_pod(NS, restricted_pod("bare"))
    assert pod.spec.containers[0].resources.requests == {"cpu": "100m", "memory": "256Mi"}
    # GPUs beyond the quota are refused.
    gpu = restricted_pod("gpu")
    gpu["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod(NS, gpu)
    assert e.value.status == 403
    assert "exceeded quota: teamhub-quota" in status_body(e.value)["message"]
