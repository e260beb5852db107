"""How the Zero to JupyterHub 4.4.0 hub turns chart values into JupyterHub config.

The z2jh chart is not fetched in tests, so this models the parts of its
``jupyterhub_config.py`` that bear on teamhub, in the same order: the defaults of its
``values.yaml`` that teamhub's chart overrides or relies on, the ``singleuser.*`` keys it
copies onto ``c.KubeSpawner`` (which TeamSpawner inherits), its iptables init container,
then ``hub.config`` merged per class, then every ``hub.extraConfig`` snippet executed in
key order. Keep it in step with the z2jh version in helm/teamhub/Chart.yaml.
"""

from __future__ import annotations

import copy
from typing import Any

from traitlets.config import Config

#: z2jh 4.4.0 values.yaml defaults of the keys modelled below.
Z2JH_DEFAULTS: dict[str, Any] = {
    "hub": {"config": {}, "extraConfig": {}},
    "singleuser": {
        "image": {"name": "quay.io/jupyterhub/k8s-singleuser-sample", "tag": "4.4.0"},
        "profileList": [],
        # KubeSpawner-made home claims; teamhub's chart sets type: none.
        "storage": {
            "type": "dynamic",
            "homeMountPath": "/home/jovyan",
            "dynamic": {
                "pvcNameTemplate": "claim-{user_server}",
                "volumeNameTemplate": "volume-{user_server}",
            },
        },
        "cloudMetadata": {"blockWithIptables": True, "ip": "169.254.169.254"},
        "cmd": "jupyterhub-singleuser",
        "uid": 1000,
        "fsGid": 100,
        "allowPrivilegeEscalation": False,
        "startTimeout": 300,
        "events": True,
    },
}

#: (KubeSpawner trait, singleuser key) pairs z2jh copies when the value is not None.
_SINGLEUSER_TRAITS = (
    ("start_timeout", "startTimeout"),
    ("events_enabled", "events"),
    ("uid", "uid"),
    ("fs_gid", "fsGid"),
    ("service_account", "serviceAccountName"),
    ("node_selector", "nodeSelector"),
    ("mem_limit", "memory.limit"),
    ("cpu_limit", "cpu.limit"),
    ("environment", "extraEnv"),
    ("profile_list", "profileList"),
    ("extra_pod_config", "extraPodConfig"),
)


def merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of ``override`` over ``base`` (dicts merge, the rest replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def _get(values: dict, dotted: str, default: Any = None) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def hub_config(jupyterhub_values: dict, *, pod_namespace: str = "jupyterhub") -> Config:
    """The JupyterHub ``Config`` a z2jh hub builds from the chart's ``jupyterhub`` values."""
    values = merge(Z2JH_DEFAULTS, jupyterhub_values)
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.KubeSpawner.namespace = pod_namespace
    for trait, key in _SINGLEUSER_TRAITS:
        value = _get(values, f"singleuser.{key}")
        if value is not None:
            c.KubeSpawner[trait] = copy.deepcopy(value)
    image = _get(values, "singleuser.image.name")
    if image:
        tag = _get(values, "singleuser.image.tag")
        c.KubeSpawner.image = f"{image}:{tag}" if tag else image
    c.KubeSpawner.allow_privilege_escalation = _get(values, "singleuser.allowPrivilegeEscalation")
    if _get(values, "singleuser.storage.type") == "dynamic":
        pvc = _get(values, "singleuser.storage.dynamic.pvcNameTemplate")
        name = _get(values, "singleuser.storage.dynamic.volumeNameTemplate")
        c.KubeSpawner.pvc_name_template = pvc
        c.KubeSpawner.storage_pvc_ensure = True
        c.KubeSpawner.volumes = [{"name": name, "persistentVolumeClaim": {"claimName": pvc}}]
        c.KubeSpawner.volume_mounts = [
            {"mountPath": _get(values, "singleuser.storage.homeMountPath"), "name": name}
        ]
    if "cmd" in values["singleuser"]:
        c.Spawner.cmd = values["singleuser"]["cmd"]
    if _get(values, "singleuser.cloudMetadata.blockWithIptables") is True:
        c.KubeSpawner.init_containers = [
            {
                "name": "block-cloud-metadata",
                "image": "quay.io/jupyterhub/k8s-network-tools:4.4.0",
                "securityContext": {
                    "privileged": True,
                    "runAsUser": 0,
                    "capabilities": {"add": ["NET_ADMIN"]},
                },
            }
        ]
    c.CryptKeeper.keys = ["0" * 64]  # z2jh always sets it, generated into its Secret
    for app, cfg in (_get(values, "hub.config") or {}).items():
        c[app].update(copy.deepcopy(cfg))
    for _key, code in sorted((_get(values, "hub.extraConfig") or {}).items()):
        exec(code, {"c": c, "get_config": lambda key, default=None: _get(values, key, default)})
    return c
