"""Only the server's own user is served.

With jupyter-server's token auth: no token or a wrong one is refused on every endpoint.
With JupyterHub's single-user auth (``JupyterHubIdentityProvider``/``JupyterHubAuthorizer``,
the real classes, asking a stand-in Hub API which user a token belongs to): alice's token
is served, another user's token is refused on every endpoint and creates nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio
import tornado.httpserver
import tornado.testing
import tornado.web
from jupyter_server.auth.authorizer import Authorizer

from tests.jobs.jobs_support import job_objects
from tests.server.server_support import call

pytestmark = pytest.mark.asyncio

#: Every endpoint: (method, path, body).
ENDPOINTS = [
    ("GET", ("jobs",), None),
    ("POST", ("jobs",), {"source": "print(1)", "name": "sneaky"}),
    ("GET", ("jobs", "x"), None),
    ("DELETE", ("jobs", "x"), None),
    ("POST", ("jobs", "x", "cancel"), None),
    ("GET", ("jobs", "x", "events"), None),
    ("GET", ("jobs", "x", "logs"), None),
    ("GET", ("environment",), None),
    ("GET", ("capabilities",), None),
]


async def refused(jp_fetch: Any, headers: dict[str, str]) -> None:
    for method, path, body in ENDPOINTS:
        r = await call(jp_fetch, method, *path, body=body, headers=headers)
        assert r.code == 403, (method, path, r.code, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json["message"], r.json


class TestTokenAuth:
    async def test_without_the_servers_token_nothing_is_served(self, jp_fetch, kubesim):
        await refused(jp_fetch, {"Authorization": ""})
        await refused(jp_fetch, {"Authorization": "token not-the-token"})
        assert job_objects(kubesim) == []
        assert (await call(jp_fetch, "GET", "jobs")).code == 200  # with it, it is


class ReadOnlyTeamhub(Authorizer):
    """Lets the user read teamhub's API but change nothing (e.g. a server shared with a
    colleague through a read-only JupyterHub scope); everything else is allowed."""

    def is_authorized(self, handler, user, action, resource):  # type: ignore[no-untyped-def]
        return resource != "teamhub" or action == "read"


class TestAuthorizer:
    """Every endpoint asks jupyter-server's authorizer, with resource ``teamhub``."""

    @pytest.fixture
    def jp_server_config(self, teamhub_config):
        return {
            "ServerApp": {
                "jpserver_extensions": {"teamhub": True},
                "authorizer_class": ReadOnlyTeamhub,
            },
            "TeamhubExtension": teamhub_config,
        }

    async def test_reads_pass_and_writes_are_refused(self, jp_fetch, kubesim):
        for method, path, body in ENDPOINTS:
            r = await call(jp_fetch, method, *path, body=body)
            if method == "GET":
                assert r.code in (200, 404), (path, r.text)
            else:
                assert r.code == 403, (method, path, r.text)
                assert "not authorized to write on resource: teamhub" in r.json["message"]
        assert job_objects(kubesim) == []


# ------------------------------------------------------------------ JupyterHub
USERS = {
    "alice-token": {"kind": "user", "name": "alice", "scopes": ["access:servers!server=alice/"]},
    "bob-token": {"kind": "user", "name": "bob", "scopes": ["access:servers!server=bob/"]},
}


class FakeHubUser(tornado.web.RequestHandler):
    """``GET /hub/api/user``: the owner of the token (as the Hub answers the single-user
    server's ``HubAuth``), 403 for an unknown token."""

    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").partition(" ")[2]
        model = USERS.get(token)
        if model is None:
            self.set_status(403)
            self.finish(json.dumps({"status": 403, "message": "bad token"}))
            return
        self.finish(json.dumps({**model, "admin": False, "groups": [], "session_id": None}))


@pytest_asyncio.fixture
async def fake_hub(monkeypatch):
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(
        tornado.web.Application([(r"/hub/api/user", FakeHubUser)])
    )
    server.add_sockets([sock])
    env = {
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{port}/hub/api",
        "JUPYTERHUB_API_TOKEN": "server-api-token",
        "JUPYTERHUB_USER": "alice",
        "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
        "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
        "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps(
            ["access:servers!server=alice/", "access:servers!user=alice"]
        ),
        "JUPYTERHUB_OAUTH_CALLBACK_URL": "/user/alice/oauth_callback",
        "JUPYTERHUB_HOST": "",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield port
    server.stop()
    await server.close_all_connections()


@pytest.fixture
def restore_xsrf_patch():
    """JupyterHub's ``HubOAuth`` patches jupyter-server's ``JupyterHandler`` class (its
    XSRF check) on the first request it sees; undo that for the tests that follow."""
    from jupyter_server.base.handlers import JupyterHandler

    names = ("check_xsrf_cookie", "xsrf_token", "_xsrf_token_id")
    saved = {n: JupyterHandler.__dict__[n] for n in names if n in JupyterHandler.__dict__}
    yield
    for n in names:
        if n in saved:
            setattr(JupyterHandler, n, saved[n])
        elif n in JupyterHandler.__dict__:
            delattr(JupyterHandler, n)


class TestJupyterHubAuth:
    @pytest.fixture
    def jp_server_config(self, fake_hub, teamhub_config, restore_xsrf_patch):
        from jupyterhub.singleuser.extension import (
            JupyterHubAuthorizer,
            JupyterHubIdentityProvider,
        )

        return {
            "ServerApp": {
                "jpserver_extensions": {"teamhub": True},
                "identity_provider_class": JupyterHubIdentityProvider,
                "authorizer_class": JupyterHubAuthorizer,
                # as jupyterhub.singleuser.extension sets it: tornado's XSRF check runs
                # before the user is known; jupyter-server checks again after.
                "tornado_settings": {"xsrf_cookies": False},
            },
            "TeamhubExtension": teamhub_config,
        }

    async def test_the_owner_is_served(self, jp_fetch, jp_serverapp):
        assert type(jp_serverapp.identity_provider).__name__ == "JupyterHubIdentityProvider"
        alice = {"Authorization": "token alice-token"}
        r = await call(jp_fetch, "GET", "environment", headers=alice)
        assert r.code == 200 and r.json["username"] == "alice"
        r = await call(
            jp_fetch, "POST", "jobs", body={"source": "1", "name": "mine"}, headers=alice
        )
        assert r.code == 201, r.text
        r = await call(jp_fetch, "GET", "jobs", headers=alice)
        assert [j["name"] for j in r.json["jobs"]] == ["mine"]

    async def test_another_users_token_is_refused(self, jp_fetch, kubesim):
        await refused(jp_fetch, {"Authorization": "token bob-token"})
        await refused(jp_fetch, {"Authorization": "token unknown-token"})
        assert job_objects(kubesim) == []
