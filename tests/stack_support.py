"""The real local stack (kubesim process kubelet, oidc-provider-mock, configurable-http-proxy,
JupyterHub with TeamAuthenticator + TeamSpawner and the demo teams config), started once
per test session and shared by the end-to-end tests (tests/e2e) and the browser tests
(tests/ui). Registered for every test by tests/conftest.py.

Nothing is skipped: if a part cannot start, the session fails with that part's log. On a
failing test that used the stack, the end of every stack log is attached to the report.
To run with other hub classes or config, override ``stack_options`` (a session fixture
returning :class:`~teamhub_hub.demo.stack.LocalStack` keyword arguments: ``spawner_class``,
``authenticator_class``, ``teams_file``, ``config_files``, ``extra_config``, ``hub_env``,
``users``, ``manifests``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from teamhub_hub.demo import DEMO_USERS, LocalStack

#: Test-only hub config: refresh a user's auth (OAuthenticator asks the provider's userinfo,
#: and uses the refresh token when the access token is refused) on any of their requests
#: made more than a second after the last refresh, instead of JupyterHub's 5 minutes.
TEST_HUB_CONFIG = "c.Authenticator.auth_refresh_age = 1\n"
#: The user the browser tests log in as: a vision member the end-to-end tests never use,
#: so nothing either does (servers, jobs) meets what the other assumes.
UI_USER = "erin"
UI_USER_CLAIMS = {"name": "Erin (vision)", "email": "erin@example.org", "groups": ["vision"]}


@pytest.fixture(scope="session")
def stack_options() -> dict[str, Any]:
    """The demo stack with :data:`TEST_HUB_CONFIG`, and :data:`UI_USER` among the identity
    provider's users."""
    return {"extra_config": TEST_HUB_CONFIG, "users": {**DEMO_USERS, UI_USER: UI_USER_CLAIMS}}


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On failure, attach the end of every stack log (hub, provider, kubesim, pods)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "stack" in getattr(item, "fixturenames", ()):
        s = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
        if isinstance(s, LocalStack):
            report.sections.append(("local stack logs", s.diagnostics()))
