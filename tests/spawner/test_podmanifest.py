"""The notebook pod's way to the API server (spawner/teamhub_spawner/podmanifest.py):
a ``PodManifest`` is a ``V1Pod`` whose spec is decoded only when someone reads it, and
what is sent is the spec as given, or the typed models once someone has changed them."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from kubernetes_asyncio.client import ApiClient, V1Container, V1EnvVar, V1Pod
from teamhub_spawner.podmanifest import PodManifest

pytestmark = pytest.mark.asyncio

MANIFEST = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "jupyter-alice", "labels": {"app": "jupyterhub"}},
    "spec": {
        "containers": [
            {
                "name": "notebook",
                "image": "quay.io/jupyter/minimal-notebook",
                "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "securityContext": {"runAsNonRoot": True},
            }
        ],
        "automountServiceAccountToken": True,
    },
}


@pytest_asyncio.fixture
async def api_client() -> AsyncIterator[ApiClient]:
    async with ApiClient() as c:  # its session needs a running loop
        yield c


async def test_untouched_pod_sends_its_spec_as_given(api_client: ApiClient) -> None:
    pod = PodManifest(copy.deepcopy(MANIFEST), api_client)
    assert isinstance(pod, V1Pod)
    assert pod.metadata.name == "jupyter-alice"  # typed: KubeSpawner logs it
    assert pod.metadata.labels == {"app": "jupyterhub"}
    sent = pod.to_json()
    assert sent == MANIFEST
    assert pod._spec_json is not None  # reading metadata did not decode the spec


async def test_reading_the_spec_gives_typed_models_and_changes_are_sent(
    api_client: ApiClient,
) -> None:
    pod = PodManifest(copy.deepcopy(MANIFEST), api_client)
    container = pod.spec.containers[0]
    assert isinstance(container, V1Container)
    assert container.security_context.run_as_non_root is True
    assert container.env[0].value_from.field_ref.field_path == "metadata.name"
    # What a modify_pod_hook does: change the typed pod in place.
    container.env.append(V1EnvVar(name="B", value="2"))
    pod.metadata.labels["hooked"] = "yes"
    sent = json.loads(json.dumps(pod.to_json()))
    assert sent["spec"]["containers"][0]["env"][-1] == {"name": "B", "value": "2"}
    assert sent["metadata"]["labels"] == {"app": "jupyterhub", "hooked": "yes"}
    assert sent["spec"]["automountServiceAccountToken"] is True


async def test_a_replaced_spec_is_what_is_sent(api_client: ApiClient) -> None:
    pod = PodManifest(copy.deepcopy(MANIFEST), api_client)
    other = PodManifest(copy.deepcopy(MANIFEST), api_client).spec
    other.containers[0].image = "quay.io/jupyter/scipy-notebook"
    pod.spec = other
    assert pod.to_json()["spec"]["containers"][0]["image"] == "quay.io/jupyter/scipy-notebook"
    # Equality and to_dict work as for any V1Pod (they read the spec).
    assert pod.to_dict()["spec"]["containers"][0]["image"] == "quay.io/jupyter/scipy-notebook"
