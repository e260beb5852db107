"""bob (nlp) against vision's world, and what stopping a server leaves behind.

In definition order (they share bob's server, which the first two tests need absent):
bob's tampered choices of vision's GPU profile are refused by the form and the REST API
before anything exists in Kubernetes; his next start without options gets the default
profile; his server has no vision mount, credential or file; stopping it removes the pod
and the credential Secret and keeps his data volumes.
"""

from __future__ import annotations

import re
import secrets
import time
from html import unescape

import pytest
from teamhub_hub.demo import DEMO_S3_SECRET, LocalStack
from teamhub_spawner.objects.names import volume_pv_name

from tests.e2e.conftest import Servers, login
from tests.e2e.hubclient import HubClient

#: Requests that create or change objects. (A refused start may still try to clean up
#: after itself: DELETEs of objects that were never made, answered 404.)
WRITE_VERBS = ("create", "update", "patch")
REFUSAL = "Profile 'gpu' is not available to bob (teams: nlp; profiles: cpu)"


@pytest.fixture(scope="module")
def bob(stack: LocalStack) -> HubClient:
    return login(stack, "bob")


def writes(stack: LocalStack) -> dict:
    """kubesim's count of requests that create or change objects, by (verb, resource,
    namespace)."""
    return {k: n for k, n in stack.kubesim.counters.requests.items() if k[0] in WRITE_VERBS}


def bobs_objects(stack: LocalStack) -> list:
    """Anything of bob's in kubesim: his namespace, and PVs labelled for him."""
    found = [stack.kubesim.lookup("namespaces", "", "teamhub-bob")]
    found += [
        stack.kubesim.lookup("persistentvolumes", "", volume_pv_name("teamhub-bob", *v))
        for v in (("global", "datasets"), ("nlp", "corpora"), ("vision", "data"))
    ]
    return [o for o in found if o is not None]


def test_the_form_offers_bob_no_gpu_and_refuses_a_tampered_choice(
    bob: HubClient, stack: LocalStack
) -> None:
    form = bob.get("/hub/spawn/bob")
    assert form.status_code == 200, form.text
    offered = set(re.findall(r'name="profile"[^>]*value="([^"]+)"', form.text))
    assert offered == {"cpu"}, offered

    before = writes(stack)
    r = bob.session.post(bob.base + "/hub/spawn/bob", data={"profile": "gpu", "_xsrf": bob.xsrf})
    assert r.status_code == 400
    assert REFUSAL in unescape(r.text)  # shown above the form again
    assert writes(stack) == before
    assert bobs_objects(stack) == []
    assert bob.api("GET", "/users/bob").json()["servers"] == {}


def test_the_rest_api_refuses_bob_the_gpu_profile(bob: HubClient, stack: LocalStack) -> None:
    before = writes(stack)
    r = bob.api("POST", "/users/bob/server", json={"profile": "gpu"})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == REFUSAL
    assert writes(stack) == before
    assert bobs_objects(stack) == []
    assert bob.api("GET", "/users/bob").json()["servers"] == {}


@pytest.fixture(scope="module")
def bob_running(bob: HubClient) -> HubClient:
    """bob with his server running, started without options, as the admin panel does:
    JupyterHub reuses the options of the previous start then, and the refused gpu choice
    must not be one of them (TeamSpawner forgets refused options)."""
    bob.start_server()
    return bob


def test_bob_has_no_vision_mount_credential_or_file(
    bob_running: HubClient, servers: Servers, stack: LocalStack
) -> None:
    bob = bob_running
    secret_file = f"vision-only-{secrets.token_hex(4)}.txt"
    assert servers["alice"].write_text(f"teams/vision/data/{secret_file}", "x").status_code == 201

    pod = stack.kubesim.lookup("pods", "teamhub-bob", "jupyter-bob")
    limits = pod["spec"]["containers"][0]["resources"]["limits"]
    assert float(limits["cpu"]) == 1 and "nvidia.com/gpu" not in limits  # the default: cpu
    mounts = {m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert "/teams/nlp/corpora" in mounts and "/data/datasets" in mounts
    assert not any(m.startswith("/teams/vision") for m in mounts)
    assert not any("/credentials/" in m for m in mounts)
    vision_pv = volume_pv_name("teamhub-bob", "vision", "data")
    assert stack.kubesim.lookup("persistentvolumes", "", vision_pv) is None

    # (kubesim's process kubelet leaves other pods' mount points behind on this machine as
    # empty directories, so bob may see an empty /teams/vision/data, never its files.)
    assert bob.contents("GET", f"teams/vision/data/{secret_file}").status_code == 404
    s3 = "var/run/secrets/teamhub/credentials/s3/AWS_ACCESS_KEY_ID"
    assert bob.contents("GET", s3).status_code == 404
    secret = stack.kubesim.lookup("secrets", "teamhub-bob", "teamhub-credentials")
    assert set(secret["data"]) == {"oidc-access-token", "jupyterhub-api-token"}
    assert DEMO_S3_SECRET not in str(secret)
    # His own team folder is his to write.
    assert bob.write_text(f"teams/nlp/corpora/{secret_file}", "nlp").status_code == 201


def test_stop_removes_the_pod_and_credentials_and_keeps_data(
    bob_running: HubClient, stack: LocalStack
) -> None:
    sim, ns = stack.kubesim, "teamhub-bob"
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in sim.lookup("pods", ns, "jupyter-bob")["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert len(claims) == 3  # home, nlp corpora, global datasets
    volumes = {c: sim.lookup("persistentvolumeclaims", ns, c)["spec"]["volumeName"] for c in claims}

    bob_running.stop_server()
    deadline = time.monotonic() + 30
    while sim.lookup("pods", ns, "jupyter-bob") is not None:  # deleted, maybe still finishing
        assert time.monotonic() < deadline, "bob's pod is still there"
        time.sleep(0.2)
    assert sim.lookup("secrets", ns, "teamhub-credentials") is None
    for claim, pv in volumes.items():
        assert sim.lookup("persistentvolumeclaims", ns, claim) is not None, claim
        assert sim.lookup("persistentvolumes", "", pv) is not None, pv
    assert sim.lookup("namespaces", "", ns) is not None
    assert sim.lookup("serviceaccounts", ns, "teamhub-user") is not None
