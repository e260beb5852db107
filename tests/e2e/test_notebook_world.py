"""What a vision member finds inside their notebook server, seen through the real stack.

alice and dave are both in vision (servers started once per session, see conftest). From
inside their pods (jupyter-server's contents API, through the proxy, with their own hub
tokens) and with the pods' own ServiceAccount tokens against kubesim:

- spawn progress shows teamhub's steps before the pod's events;
- home is personal, the vision data volume is one directory shared by both, read-only
  mounts refuse writes;
- the credential files hold the admin Secret's values, the hub API token and the current
  OIDC access token, and the token file follows a refresh forced at the provider;
- the ServiceAccount can run jobs in its own namespace and nothing else.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from teamhub_hub.demo import DEMO_S3, LocalStack, hubconfig

from kubesim.kubelet.volumes import storage_dir
from tests.e2e.conftest import Servers, login
from tests.e2e.hubclient import HubClient

TOKENS = "var/run/secrets/teamhub/tokens"
S3 = "var/run/secrets/teamhub/credentials/s3"
SA_TOKEN = "var/run/secrets/kubernetes.io/serviceaccount/token"
HOME = "/home/jovyan"


def nfs_dir(stack: LocalStack, path: str) -> Path:
    """The directory kubesim backs the demo's NFS export ``path`` with."""
    return stack.state_dir / "kubesim" / "storage" / "nfs" / "nfs.teamhub.demo" / path.strip("/")


def home_dir(stack: LocalStack, user: str) -> Path:
    """The directory kubesim backs ``user``'s home volume with (through claim and PV)."""
    ns = f"teamhub-{user}"
    pod = stack.kubesim.lookup("pods", ns, f"jupyter-{user}")
    mount = next(m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["mountPath"] == HOME)
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    claim = stack.kubesim.lookup(
        "persistentvolumeclaims", ns, volume["persistentVolumeClaim"]["claimName"]
    )
    pv = stack.kubesim.lookup("persistentvolumes", "", claim["spec"]["volumeName"])
    path = storage_dir(stack.state_dir / "kubesim", pv["spec"])
    assert path is not None, pv["spec"]
    return path


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}.txt"


def wait_for(check: Any, timeout: float, what: str) -> Any:
    """Poll ``check()`` until it returns something truthy (which is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def carol(stack: LocalStack) -> HubClient:
    """The hub admin, who may read users' auth state (``admin:auth_state``)."""
    return login(stack, "carol")


def auth_state(carol: HubClient, name: str) -> dict:
    r = carol.api("GET", f"/users/{name}")
    assert r.status_code == 200, r.text
    return r.json()["auth_state"]


# ------------------------------------------------------------------ spawn
def test_spawn_progress_shows_teamhubs_steps_before_the_pod_events(servers: Servers) -> None:
    events = servers.progress["alice"]
    assert events[-1].get("ready") is True, events
    messages = [e["message"] for e in events]
    pod_events = [i for i, e in enumerate(events) if "raw_event" in e]
    assert pod_events, f"no pod events in {messages}"
    ns_step = messages.index("Preparing namespace teamhub-alice")
    objects_step = next(
        i for i, m in enumerate(messages) if m.startswith("Setting up identity (ServiceAccount")
    )
    assert "credentials" in messages[objects_step] and "3 team volume(s)" in messages[objects_step]
    assert ns_step < objects_step < pod_events[0], messages
    assert any(events[i]["raw_event"]["reason"] == "Scheduled" for i in pod_events), messages


# ------------------------------------------------------------------ volumes
def test_team_data_is_shared_by_team_members_and_home_is_personal(
    servers: Servers, stack: LocalStack
) -> None:
    alice, dave = servers["alice"], servers["dave"]
    shared = unique("from-alice")
    r = alice.write_text(f"teams/vision/data/{shared}", "weights v1")
    assert r.status_code == 201, r.text
    assert dave.read_text(f"teams/vision/data/{shared}") == "weights v1"
    # One real directory: kubesim's backing of the NFS export the team volume names.
    assert (nfs_dir(stack, "exports/vision/data") / shared).read_text() == "weights v1"
    r = dave.write_text(f"teams/vision/data/{shared}", "weights v2")
    assert r.status_code == 200, r.text
    assert alice.read_text(f"teams/vision/data/{shared}") == "weights v2"

    # Home is each user's own volume, mounted at the same path.
    mine = unique("alice-notes")
    assert alice.write_text(f"home/jovyan/{mine}", "private").status_code == 201
    assert alice.read_text(f"home/jovyan/{mine}") == "private"
    assert dave.contents("GET", f"home/jovyan/{mine}").status_code == 404
    # alice's home is the storage of the volume bound to her home claim.
    assert (home_dir(stack, "alice") / mine).read_text() == "private"
    assert not (home_dir(stack, "dave") / mine).exists()


@pytest.mark.parametrize("mount", ["teams/vision/models", "data/datasets"])
def test_read_only_mounts_refuse_writes(servers: Servers, stack: LocalStack, mount: str) -> None:
    alice = servers["alice"]
    folder = alice.contents("GET", mount)
    assert folder.status_code == 200, folder.text
    assert folder.json()["writable"] is False
    name = unique("attempt")
    r = alice.write_text(f"{mount}/{name}", "should not land")
    assert r.status_code >= 400, r.text
    assert "Read-only file system" in r.text
    assert alice.contents("GET", f"{mount}/{name}").status_code == 404
    export = "exports/vision/models" if "models" in mount else "exports/datasets"
    assert not (nfs_dir(stack, export) / name).exists()


# ------------------------------------------------------------------ credentials
def test_credential_files_hold_the_team_secret_and_the_users_tokens(
    servers: Servers, stack: LocalStack, carol: HubClient
) -> None:
    alice = servers["alice"]
    for key, value in DEMO_S3.items():
        assert alice.read_text(f"{S3}/{key}") == value
    assert alice.contents("GET", S3).json()["writable"] is False

    access_token = auth_state(carol, "alice")["access_token"]
    assert alice.read_text(f"{TOKENS}/oidc-access-token") == access_token
    # The JupyterHub API token in the file is the server's own: the hub knows it as alice's.
    api_token = alice.read_text(f"{TOKENS}/jupyterhub-api-token")
    me = requests.get(
        stack.public_url + "/hub/api/user",
        headers={"Authorization": f"token {api_token}"},
        timeout=30,
    )
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "alice"
    # ... and the pod gets it by reference, never as a literal in its spec.
    pod = stack.kubesim.lookup("pods", "teamhub-alice", "jupyter-alice")
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert "value" not in env["JUPYTERHUB_API_TOKEN"]
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == (
        "jupyterhub-api-token"
    )
    assert api_token not in str(pod)


def test_the_oidc_token_file_follows_a_refresh(
    servers: Servers, stack: LocalStack, carol: HubClient
) -> None:
    """The provider stops accepting alice's access token (a refresh-token grant rotates
    it, as an expiry would); at alice's next request the hub refreshes her (userinfo
    refuses the old token, OAuthenticator uses the refresh token), TeamAuthenticator
    writes the new token into her credential Secret, and the kubelet rewrites the file."""
    alice = servers["alice"]
    old = alice.read_text(f"{TOKENS}/oidc-access-token")
    state = auth_state(carol, "alice")
    assert state["access_token"] == old and state["refresh_token"]

    rotated = requests.post(
        stack.oidc_url + "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": state["refresh_token"]},
        auth=(hubconfig.CLIENT_ID, hubconfig.CLIENT_SECRET),
        timeout=30,
    )
    assert rotated.status_code == 200, rotated.text
    userinfo = stack.oidc_url + "/userinfo"
    refused = requests.get(userinfo, headers={"Authorization": f"Bearer {old}"}, timeout=30)
    assert 400 <= refused.status_code < 500

    def hub_token_changed() -> str | None:
        # alice's own request: the hub refreshes her auth (auth_refresh_age = 1s).
        assert alice.api("GET", "/user").status_code == 200
        new = auth_state(carol, "alice")["access_token"]
        return new if new != old else None

    new = wait_for(hub_token_changed, 20, "the hub to refresh alice's access token")
    assert new != rotated.json()["access_token"]  # the hub's own refresh
    accepted = requests.get(userinfo, headers={"Authorization": f"Bearer {new}"}, timeout=30)
    assert accepted.status_code == 200

    file_token = wait_for(
        lambda: (t := alice.read_text(f"{TOKENS}/oidc-access-token")) != old and t,
        30,
        "the kubelet to rewrite alice's token file",
    )
    assert file_token == new


# ------------------------------------------------------------------ identity
def kube(stack: LocalStack, token: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(
        method,
        stack.kubesim.url + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kw,
    )


RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def test_the_pods_service_account_runs_jobs_in_its_namespace_and_nothing_else(
    servers: Servers, stack: LocalStack
) -> None:
    token = servers["alice"].read_text(SA_TOKEN).strip()
    whoami = "system:serviceaccount:teamhub-alice:"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"e2e-{secrets.token_hex(3)}"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "train",
                            "image": "quay.io/jupyter/base-notebook:latest",
                            "command": ["true"],
                            "securityContext": RESTRICTED,
                        }
                    ],
                }
            },
        },
    }
    jobs = "/apis/batch/v1/namespaces/teamhub-alice/jobs"
    created = kube(stack, token, "POST", jobs, json=job)
    assert created.status_code == 201, created.text
    assert kube(stack, token, "GET", jobs).status_code == 200
    assert kube(stack, token, "GET", "/api/v1/namespaces/teamhub-alice/pods").status_code == 200
    name = job["metadata"]["name"]
    gone = kube(stack, token, "DELETE", f"{jobs}/{name}", json={"propagationPolicy": "Background"})
    assert gone.status_code == 200, gone.text

    forbidden = [
        ("GET", "/api/v1/namespaces/teamhub-bob/secrets"),
        ("GET", "/api/v1/namespaces/teamhub-bob/pods"),
        ("GET", "/api/v1/namespaces/teamhub-dave/pods"),
        ("GET", "/api/v1/namespaces/teamhub-alice/secrets"),  # not even her own, by API
        ("GET", "/api/v1/namespaces/teamhub-alice/secrets/teamhub-credentials"),
        ("POST", "/api/v1/namespaces/teamhub-alice/pods/jupyter-alice/exec?command=id"),
        ("GET", "/api/v1/namespaces/teamhub-alice/pods/jupyter-alice/exec?command=id"),
        ("POST", "/api/v1/namespaces/teamhub-dave/pods/jupyter-dave/exec?command=id"),
        ("POST", "/apis/batch/v1/namespaces/teamhub-dave/jobs"),
        ("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/teamhub-alice/rolebindings"),
    ]
    for method, path in forbidden:
        r = kube(stack, token, method, path, json={} if method == "POST" else None)
        assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text}"
        assert r.json()["reason"] == "Forbidden" and whoami in r.json()["message"]

    # dave's pod has its own identity, confined the same way.
    dave_token = servers["dave"].read_text(SA_TOKEN).strip()
    assert dave_token != token
    r = kube(stack, dave_token, "GET", "/api/v1/namespaces/teamhub-alice/pods")
    assert r.status_code == 403
    assert "system:serviceaccount:teamhub-dave:" in r.json()["message"]
