"""End-to-end fixtures over the session's real local stack (``stack``, from
tests/stack_support.py, shared with the browser tests): logged-in hub clients and the
running servers of the demo users.

Spawning a notebook server is the slow part (a jupyter-server process per pod), so the
servers of alice and dave (both in vision) are started once, concurrently, by the
session fixture ``servers`` and shared by the tests that only look at them. Tests that
stop a server or depend on one not running use their own user (bob).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from teamhub_hub.demo import LocalStack

from tests.e2e.hubclient import HubClient


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
