"""End-to-end fixtures: the real local stack (kubesim process kubelet, oidc-provider-mock,
configurable-http-proxy, JupyterHub), started once per test session.

Nothing is skipped: if a part cannot start, the session fails with that part's log.
To run the suite with other hub classes or config, override ``stack_options`` (a
session fixture returning :class:`~teamhub_hub.demo.stack.LocalStack` keyword arguments:
``spawner_class``, ``authenticator_class``, ``config_files``, ``extra_config``,
``hub_env``, ``users``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from teamhub_hub.demo import LocalStack

from tests.e2e.hubclient import HubClient


@pytest.fixture(scope="session")
def stack_options() -> dict[str, Any]:
    """Keyword arguments for the session's LocalStack (plain KubeSpawner and
    GenericOAuthenticator by default)."""
    return {}


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


@pytest.fixture
def client(stack: LocalStack) -> Callable[[str], HubClient]:
    """``client("alice")``: a fresh browser session logged in through the real OIDC flow."""

    def login(sub: str) -> HubClient:
        c = HubClient(stack.public_url)
        c.login(sub)
        return c

    return login


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On failure, attach the end of every stack log (hub, provider, kubesim, pods)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "stack" in getattr(item, "fixturenames", ()):
        s = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
        if isinstance(s, LocalStack):
            report.sections.append(("local stack logs", s.diagnostics()))
