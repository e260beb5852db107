"""The hub's one copy of the teams config, configured like any other JupyterHub setting.

TeamAuthenticator (identity → teams) and TeamSpawner (teams → Kubernetes objects) must agree
on the same config, and a bad config must stop the hub at start-up rather than at someone's
first spawn. So the config lives in one configurable, loaded and validated once per process
the first time either of them asks for it::

    c.TeamRegistry.teams_file = "/etc/teamhub/teams.yaml"
    # or inline, e.g. from Helm values:
    c.TeamRegistry.teams = {"teams": {"vision": {"groups": ["vision"]}}}
"""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Unicode
from traitlets.config import Configurable, LoggingConfigurable

from teamhub_hub.teams import TeamsConfig, TeamsConfigError, load_teams_config


class TeamRegistry(LoggingConfigurable):
    """Loads and validates the teams config (see docs/admin/teams-config.md)."""

    teams_file = Unicode(
        "",
        config=True,
        help="""Path of a YAML file holding the teams config.

        Exactly one of `teams_file` and `teams` must be set. The file is read once, when the
        hub starts; a config that does not validate stops the hub with every problem listed
        by its key (for example `teams.vision.volumes[1].mountPath: must be an absolute
        path`).
        """,
    )

    teams = Dict(
        config=True,
        help="""The teams config inline, as a dict with the same keys as the YAML file.

        This is how the Helm chart passes it (from the chart's `teamhub` values). Exactly
        one of `teams_file` and `teams` must be set.
        """,
    )

    def load(self) -> TeamsConfig:
        """The validated config; raises TeamsConfigError naming every bad key."""
        if self.teams_file and self.teams:
            raise TeamsConfigError(
                "TeamRegistry: set either teams_file or teams, not both "
                f"(teams_file={self.teams_file!r})"
            )
        if not self.teams_file and not self.teams:
            raise TeamsConfigError(
                "TeamRegistry: no teams config: set c.TeamRegistry.teams_file to a YAML file "
                "or c.TeamRegistry.teams to a dict (see docs/admin/teams-config.md)"
            )
        source: Any = self.teams_file or self.teams
        return load_teams_config(source)


#: id(config) -> (that config, its teams config). The config object is kept so that its id
#: cannot be reused by a later config while the entry exists.
_cache: dict[int, tuple[Any, TeamsConfig]] = {}


def teams_config_for(owner: Configurable) -> TeamsConfig:
    """The teams config of the JupyterHub config ``owner`` was made with, loaded once.

    Keyed by the identity of the config object, so tests that build several hubs with
    different configs in one process each get their own.
    """
    key = id(owner.config)
    entry = _cache.get(key)
    if entry is None or entry[0] is not owner.config:
        entry = _cache[key] = (owner.config, TeamRegistry(parent=owner).load())
    return entry[1]
