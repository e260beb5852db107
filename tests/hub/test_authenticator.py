"""TeamAuthenticator's own logic: groups → teams, who may log in, token push on refresh.

The OIDC exchange itself is OAuthenticator's and is exercised for real (oidc-provider-mock)
by the end-to-end tests; here the auth model it produces is handed in directly.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
from teamhub_hub.authenticator import AUTH_STATE_KEY, TeamAuthenticator
from teamhub_hub.teams import TeamsConfigError
from traitlets.config import Config

from tests.hub.teams_fixtures import BASE


def make(**authenticator: Any) -> TeamAuthenticator:
    c = Config()
    c.TeamRegistry.teams = copy.deepcopy(BASE)
    for k, v in authenticator.items():
        setattr(c.TeamAuthenticator, k, v)
    c.TeamAuthenticator.client_id = "hub"
    c.TeamAuthenticator.client_secret = "secret"
    return TeamAuthenticator(config=c)


def model(name: str, groups: list[str] | None) -> dict:
    user: dict[str, Any] = {"sub": name}
    if groups is not None:
        user["groups"] = groups
    return {
        "name": name,
        "admin": None,
        "auth_state": {"access_token": "t", "oauth_user": user},
    }


async def login(auth: TeamAuthenticator, name: str, groups: list[str] | None) -> dict:
    """What OAuthenticator does after the token exchange: update, groups, admin."""
    m = await auth.update_auth_model(model(name, groups))
    return await auth._apply_managed_groups(m)


def test_defaults_keep_tokens_and_manage_groups() -> None:
    auth = make()
    assert auth.enable_auth_state is True
    assert auth.manage_groups is True
    assert auth.auth_state_groups_key == "oauth_user.groups"
    assert "offline_access" in auth.scope  # a refresh token, to keep credentials current


def test_the_teams_config_counts_as_allow_config() -> None:
    # JupyterHub warns "No allow config found" at start-up unless this is true.
    assert make().any_allow_config is True


def test_groups_claim_is_configurable() -> None:
    assert make(groups_claim="roles").auth_state_groups_key == "oauth_user.roles"


@pytest.mark.asyncio
async def test_groups_become_teams_in_auth_state() -> None:
    auth = make()
    m = await login(auth, "alice", ["cv-research", "other"])
    assert m["auth_state"][AUTH_STATE_KEY] == {
        "groups": ["cv-research", "other"],
        "teams": ["vision"],
    }
    assert m["groups"] == ["cv-research", "other"]  # JupyterHub groups follow the IdP
    assert await auth.check_allowed("alice", m) is True


@pytest.mark.asyncio
async def test_user_in_no_team_is_refused_unless_configured() -> None:
    m = await login(make(), "mallory", ["marketing"])
    assert m["auth_state"][AUTH_STATE_KEY]["teams"] == []
    assert await make().check_allowed("mallory", m) is False
    assert await make(allow_users_without_team=True).check_allowed("mallory", m) is True


@pytest.mark.asyncio
async def test_missing_groups_claim_means_no_groups() -> None:
    auth = make()
    m = await login(auth, "nogroups", None)
    assert m["auth_state"][AUTH_STATE_KEY] == {"groups": [], "teams": []}
    assert await auth.check_allowed("nogroups", m) is False


@pytest.mark.asyncio
async def test_admin_group_members_are_admins_and_may_log_in_without_a_team() -> None:
    auth = make(admin_groups={"hub-admins"})
    m = await login(auth, "carol", ["hub-admins"])
    assert m["admin"] is True
    assert await auth.check_allowed("carol", m) is True
    m = await login(auth, "alice", ["vision"])
    assert m["admin"] is False


def test_a_bad_teams_config_stops_the_authenticator() -> None:
    c = Config()
    bad = copy.deepcopy(BASE)
    bad["teams"]["vision"]["volumes"][0]["mountPath"] = "relative/path"
    c.TeamRegistry.teams = bad
    with pytest.raises(TeamsConfigError) as e:
        TeamAuthenticator(config=c)
    assert "teams.vision.volumes[0].mountPath" in str(e.value)


def test_no_teams_config_is_an_error() -> None:
    with pytest.raises(TeamsConfigError, match="no teams config"):
        TeamAuthenticator(config=Config())


class FakeSpawner:
    def __init__(self, active: bool) -> None:
        self.active = active
        self.tokens: list[str] = []

    async def update_access_token(self, token: str) -> None:
        self.tokens.append(token)


@pytest.mark.asyncio
async def test_refresh_pushes_a_new_access_token_to_running_servers(monkeypatch) -> None:
    auth = make()
    running, stopped = FakeSpawner(True), FakeSpawner(False)

    async def get_auth_state() -> dict:
        return {"access_token": "old"}

    user = SimpleNamespace(
        name="alice", get_auth_state=get_auth_state, spawners={"": running, "b": stopped}
    )

    async def refreshed(self, user, handler=None, **kw):  # what the IdP round trip returns
        return {"name": "alice", "auth_state": {"access_token": next(tokens)}}

    tokens = iter(["new", "new"])
    monkeypatch.setattr("oauthenticator.oauth2.OAuthenticator.refresh_user", refreshed)
    await auth.refresh_user(user)
    assert running.tokens == ["new"]
    assert stopped.tokens == []
    # Same token again (the old one is still valid): nothing to push.
    user.get_auth_state = lambda: _async({"access_token": "new"})
    await auth.refresh_user(user)
    assert running.tokens == ["new"]


async def _async(v: Any) -> Any:
    return v
