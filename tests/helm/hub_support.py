"""The hub as the chart configures it: a JupyterHub config built from the chart's values the
way the z2jh hub builds it, and the parts of a JupyterHub user a spawner uses."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from jupyterhub.objects import Server
from traitlets.config import Config

from tests.helm.chart import merged_values, one, render
from tests.helm.z2jh_hub import hub_config


class FakeUser:
    """The parts of jupyterhub.user.User a spawner uses."""

    def __init__(self, name: str, groups: list[str]) -> None:
        self.name = name
        self.id = 1
        self.url = f"/user/{name}/"
        self.server = Server(base_url=self.url)
        self.groups: list[Any] = []
        self.spawners: dict[str, Any] = {}
        self.auth_state = {"access_token": "t", "teamhub": {"groups": groups}}

    async def get_auth_state(self) -> dict:
        return self.auth_state


def chart_hub_config(
    tmp_path: Path,
    values: dict,
    *,
    drop_extra_config: bool = False,
    pod_namespace: str = "jupyterhub",
) -> Config:
    """The chart's hub config, with the teams file the ConfigMap would mount placed at a
    temporary path (after checking the chart mounts it where the hub looks)."""
    jupyterhub = copy.deepcopy(merged_values(values)["jupyterhub"])
    hub = jupyterhub["hub"]
    teams_file = hub["config"]["TeamRegistry"]["teams_file"]
    configmap = one(render(values), "ConfigMap", "teamhub-teams")
    (volume,) = [
        v for v in hub["extraVolumes"] if v.get("configMap", {}).get("name") == "teamhub-teams"
    ]
    (mount,) = [m for m in hub["extraVolumeMounts"] if m["name"] == volume["name"]]
    assert os.path.join(mount["mountPath"], "teams.yaml") == teams_file
    local = tmp_path / "teams.yaml"
    local.write_text(configmap["data"]["teams.yaml"])
    hub["config"]["TeamRegistry"]["teams_file"] = str(local)
    if drop_extra_config:
        hub["extraConfig"] = {}
    return hub_config(jupyterhub, pod_namespace=pod_namespace)
