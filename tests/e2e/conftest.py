"""End-to-end fixtures: the real local stack (kubesim process kubelet, oidc-provider-mock,
configurable-http-proxy, JupyterHub with TeamAuthenticator + TeamSpawner and the demo
teams config), started once per test session.

Nothing is skipped: if a part cannot start, the session fails with that part's log.
To run the suite with other hub classes or config, override ``stack_options`` (a
session fixture returning :class:`~teamhub_hub.demo.stack.LocalStack` keyword arguments:
``spawner_class``, ``authenticator_class``, ``teams_file``, ``config_files``,
``extra_config``, ``hub_env``, ``users``, ``manifests``).

Spawning a notebook server is the slow part (a jupyter-server process per pod), so the
servers of alice and dave (both in vision) are started once, concurrently, by the
session fixture ``servers`` and shared by the tests that only look at them. Tests that
stop a server or depend on one not running use their own user (bob).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from teamhub_hub.demo import LocalStack

from tests.e2e.hubclient import HubClient

#: Test-only hub config: refresh a user's auth (OAuthenticator asks the provider's userinfo,
#: and uses the refresh token when the access token is refused) on any of their requests
#: made more than a second after the last refresh, instead of JupyterHub's 5 minutes.
TEST_HUB_CONFIG = "c.Authenticator.auth_refresh_age = 1\n"


@pytest.fixture(scope="session")
def stack_options() -> dict[str, Any]:
    """Keyword arguments for the session's LocalStack (teamhub's demo defaults plus
    :data:`TEST_HUB_CONFIG`)."""
    return {"extra_config": TEST_HUB_CONFIG}


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, stack_options: dict[str, Any]
) -> Iterator[LocalStack]:
    s = LocalStack(tmp_path_factory.mktemp("stack"), **stack_options)
    s.start()  # raises with the failing part's log tail
    try:
        yield s
    finally:
        s.stop()


def login(stack: LocalStack, sub: str) -> HubClient:
    """A fresh browser session of ``sub``, logged in through the real OIDC flow."""
    c = HubClient(stack.public_url)
    c.login(sub)
    assert c.name == sub, f"{sub} could not log in"
    return c


@pytest.fixture
def client(stack: LocalStack) -> Callable[[str], HubClient]:
    """``client("alice")``: a fresh browser session logged in through the real OIDC flow."""

    def make(sub: str) -> HubClient:
        c = HubClient(stack.public_url)
        c.login(sub)
        return c

    return make


@dataclass
class Servers:
    """Logged-in users with running servers, and what their spawns reported."""

    users: dict[str, HubClient]
    #: Spawn progress events of each user, as the hub streamed them during the spawn.
    progress: dict[str, list[dict]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> HubClient:
        return self.users[name]


@pytest.fixture(scope="session")
def servers(stack: LocalStack) -> Servers:
    """alice and dave (vision), logged in, with their default servers running.

    Both spawns run at once (each POST waits in its own thread), while this thread reads
    alice's progress stream. Not stopped at the end: stopping the stack ends the pods.
    """
    users = {name: login(stack, name) for name in ("alice", "dave")}
    with ThreadPoolExecutor(len(users)) as pool:
        posts = {
            name: pool.submit(c.api, "POST", f"/users/{name}/server") for name, c in users.items()
        }
        progress = {"alice": users["alice"].progress()}
        for name, post in posts.items():
            r = post.result()
            assert r.status_code in (201, 202), (
                f"starting {name}'s server: {r.status_code} {r.text}"
            )
    for c in users.values():
        c.wait_ready()
    return Servers(users, progress)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On failure, attach the end of every stack log (hub, provider, kubesim, pods)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "stack" in getattr(item, "fixturenames", ()):
        s = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
        if isinstance(s, LocalStack):
            report.sections.append(("local stack logs", s.diagnostics()))
