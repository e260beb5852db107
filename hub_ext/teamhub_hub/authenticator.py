"""TeamAuthenticator: where identity becomes teams.

OIDC itself is OAuthenticator's `GenericOAuthenticator` (login, token exchange, refresh,
encrypted auth state); this class only adds what teamhub needs on top of it:

- the user's groups come from a claim of the userinfo/ID token (`auth_state_groups_key`),
  JupyterHub groups are kept in sync with them (`manage_groups`), and admins are the
  members of `admin_groups`;
- the user's teams are derived from those groups by the teams config, recorded in the auth
  state (``auth_state["teamhub"]``) where TeamSpawner reads them;
- a user in no team is refused at login, unless `allow_users_without_team` says otherwise;
- when the hub refreshes a user and the identity provider hands out a new access token,
  the token is written into the user's running credential Secret, so notebooks and jobs
  read a current token from the mounted file instead of one that expired.
"""

from __future__ import annotations

from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from traitlets import Bool, Unicode, default

from teamhub_hub.registry import teams_config_for

#: The auth_state key under which teamhub keeps what it derived at login.
AUTH_STATE_KEY = "teamhub"


class TeamAuthenticator(GenericOAuthenticator):
    """OIDC login whose groups decide the user's teams (see docs/admin/teams-config.md)."""

    allow_users_without_team = Bool(
        False,
        config=True,
        help="""Let users who belong to no team log in.

        By default a user whose identity-provider groups match no team is refused at login
        with a 403, since there is nothing teamhub could give them. Admins (members of
        `admin_groups` or listed in `admin_users`) can always log in.
        """,
    )

    groups_claim = Unicode(
        "groups",
        config=True,
        help="""The userinfo / ID-token claim that lists the user's groups.

        A shortcut for `auth_state_groups_key`: `groups` reads
        `auth_state["oauth_user"]["groups"]`. Set `auth_state_groups_key` directly (for
        example to a callable) for anything more involved.
        """,
    )

    @default("auth_state_groups_key")
    def _auth_state_groups_key_default(self) -> str:
        return f"{self.user_auth_state_key}.{self.groups_claim}"

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return True

    @default("any_allow_config")
    def _any_allow_config_default(self) -> bool:
        # The teams config is the allow config: team members (and admins) may log in. Without
        # this JupyterHub warns at start-up that nobody may log in when no `allowed_*` is set.
        return True

    @default("enable_auth_state")
    def _enable_auth_state_default(self) -> bool:
        # The access and refresh tokens are what the credential Secret is made from; they
        # are kept encrypted with JUPYTERHUB_CRYPT_KEY.
        return True

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "profile", "email", "offline_access"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Validate the teams config now, so a bad one stops the hub at start-up.
        self.teams_config = teams_config_for(self)

    async def update_auth_model(self, auth_model: dict) -> dict:
        """Record the user's groups and the teams they make, for check_allowed and spawning."""
        auth_state = auth_model.get("auth_state") or {}
        groups = sorted(await self.get_user_groups(auth_state)) if auth_state else []
        teams = self.teams_config.teams_for_groups(groups)
        auth_state[AUTH_STATE_KEY] = {"groups": groups, "teams": teams}
        auth_model["auth_state"] = auth_state
        return auth_model

    async def get_user_groups(self, auth_state: dict) -> set[str]:
        """Groups from the claim; a missing claim means no groups, not a failed login."""
        try:
            return set(await super().get_user_groups(auth_state))
        except ValueError:
            self.log.warning(
                "No %r in the user's claims: treating them as a member of no group",
                self.auth_state_groups_key,
            )
            return set()

    async def check_allowed(self, username: str, auth_model: dict | None) -> bool:
        if auth_model is None:
            return True
        teams = (auth_model.get("auth_state") or {}).get(AUTH_STATE_KEY, {}).get("teams", [])
        if teams or self.allow_users_without_team:
            return True
        allowed = await super().check_allowed(username, auth_model)
        if not allowed:
            self.log.warning(
                "Refusing %s: their groups %s match no team",
                username,
                auth_model["auth_state"][AUTH_STATE_KEY]["groups"],
            )
        return allowed

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """OAuthenticator's refresh, then push a changed access token to running servers."""
        old_state = await user.get_auth_state() if self.enable_auth_state else None
        refreshed = await super().refresh_user(user, handler, **kwargs)
        if not isinstance(refreshed, dict):
            return refreshed
        new_token = (refreshed.get("auth_state") or {}).get("access_token")
        old_token = (old_state or {}).get("access_token")
        if new_token and new_token != old_token:
            for spawner in user.spawners.values():
                update = getattr(spawner, "update_access_token", None)
                if update is not None and spawner.active:
                    await update(new_token)
        return refreshed
