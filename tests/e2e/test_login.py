"""Real OIDC login through the proxy, and a notebook server on kubesim reached through it.

The whole path is real: the hub redirects to oidc-provider-mock, the provider's form is
submitted, the hub (TeamAuthenticator) exchanges the code, reads groups from userinfo and
derives teams; TeamSpawner creates alice's namespace and a pod in kubesim whose process
kubelet runs ``jupyterhub-singleuser`` on the pod's IP; the hub adds a route to
configurable-http-proxy; the single-user server authenticates its visitors with the hub's
OAuth.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse

import jupyter_server
import pytest
import requests
from teamhub_hub.demo import LocalStack

from tests.e2e.conftest import Servers
from tests.e2e.hubclient import HubClient


@pytest.fixture
def alice(servers: Servers) -> HubClient:
    """alice, logged in, with her default server running (shared by the session)."""
    return servers["alice"]


def test_login_through_oidc_takes_groups_from_the_provider(
    client: Callable[[str], HubClient],
) -> None:
    bob = client("bob")
    r = bob.api("GET", "/user")
    assert r.status_code == 200, r.text
    me = r.json()
    assert (me["name"], me["groups"], me["admin"]) == ("bob", ["nlp"], False)


def test_admin_group_makes_a_hub_admin(client: Callable[[str], HubClient]) -> None:
    me = client("carol").api("GET", "/user").json()
    assert (me["name"], me["groups"], me["admin"]) == ("carol", ["admins"], True)


def test_the_second_vision_member_is_in_vision_too(client: Callable[[str], HubClient]) -> None:
    me = client("dave").api("GET", "/user").json()
    assert (me["name"], me["groups"], me["admin"]) == ("dave", ["vision"], False)


def test_user_in_no_team_is_refused(stack: LocalStack) -> None:
    mallory = HubClient(stack.public_url)
    r = mallory.login("mallory")  # the provider knows any subject; mallory has no groups
    assert r.status_code == 403
    assert urlparse(r.url).path == "/hub/oauth_callback"
    assert mallory.name is None
    assert mallory.api("GET", "/user").status_code == 403


def test_alice_reaches_her_server_through_the_proxy(alice: HubClient, stack: LocalStack) -> None:
    r = alice.get("/user/alice/api")
    assert r.status_code == 200, r.text
    assert r.json() == {"version": jupyter_server.__version__}

    # The server runs as a kubesim pod in alice's own namespace, and the proxy routes
    # alice's prefix to its pod IP.
    assert stack.kubesim.lookup("pods", stack.namespace, "jupyter-alice") is None
    pod = stack.kubesim.lookup("pods", "teamhub-alice", "jupyter-alice")
    assert pod is not None and pod["status"]["phase"] == "Running"
    pod_ip = pod["status"]["podIP"]
    assert pod_ip.startswith("127.") and pod_ip != "127.0.0.1"
    routes = requests.get(
        stack.proxy_api_url + "/api/routes",
        headers={"Authorization": f"token {stack.proxy_auth_token}"},
        timeout=10,
    ).json()
    assert routes["/user/alice"]["target"] == f"http://{pod_ip}:8888"


def test_server_oauth_admits_its_owner_only(
    alice: HubClient, client: Callable[[str], HubClient]
) -> None:
    token = alice.new_token()
    put = requests.put(
        alice.base + "/user/alice/api/contents/home/jovyan/hello.txt",
        json={"type": "file", "format": "text", "content": "hello from alice"},
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert put.status_code == 201, put.text

    # alice's browser session: the server sends her through the hub's OAuth, then serves.
    r = alice.get("/user/alice/files/home/jovyan/hello.txt")
    assert r.status_code == 200, r.text
    assert r.text == "hello from alice"
    assert any("/hub/api/oauth2/authorize" in h.url for h in r.history)

    # bob is logged in to the hub, but the hub refuses him alice's server.
    bob = client("bob")
    r = bob.get("/user/alice/files/home/jovyan/hello.txt")
    assert r.status_code == 403
    assert "/hub/api/oauth2/authorize" in r.url
    assert "hello from alice" not in r.text
    r = requests.get(
        alice.base + "/user/alice/api/contents/home/jovyan/hello.txt",
        headers={"Authorization": f"token {bob.new_token()}"},
        timeout=30,
    )
    assert r.status_code == 403
    assert "hello from alice" not in r.text


def test_the_server_opens_jupyterlab_on_the_home_folder(alice: HubClient) -> None:
    r = alice.get("/user/alice/")
    assert r.status_code == 200, r.text
    assert urlparse(r.url).path == "/user/alice/lab/tree/home/jovyan"
    assert "JupyterLab" in r.text
    # The file browser's root is / so the team and global folders are in it.
    root = alice.contents("GET", "").json()
    assert {"home", "teams", "data"} <= {c["name"] for c in root["content"]}
