"""Generate ``helm/teamhub/values.schema.json``: the schema of teamhub's own chart values.

Why generated: ``teamsConfig`` is the teams config, whose schema is already generated from
the pydantic model (:func:`teamhub_hub.teams.teams_config_schema`); the chart's schema embeds
that one instead of describing the config a second time. The few chart-only keys (RBAC,
admission policy, Kueue) are described here. Helm validates values against the result at
``install``, ``upgrade``, ``template`` and ``lint`` and names the offending key; every
object is closed (``additionalProperties: false``), so a misspelt key is an error too.
``jupyterhub`` is left open here: the Zero to JupyterHub chart validates it with its own
schema. A test fails when the committed file is stale. Usage::

    python helm/generate_schema.py --write     # or --check (exit 1 if stale), --print
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from teamhub_hub.teams import teams_config_schema
from teamhub_hub.teams.fields import LABEL_PATTERN
from teamhub_hub.teams.quantity import QUANTITY_PATTERN

SCHEMA_FILE = Path(__file__).resolve().parent / "teamhub" / "values.schema.json"
#: Validation actions of a ValidatingAdmissionPolicyBinding.
VALIDATION_ACTIONS = ["Deny", "Warn", "Audit"]
#: Volume sources of a pod that the admission policy can allow (core/v1 Volume fields).
POD_VOLUME_TYPES = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
]
#: A Kubernetes resource name as ResourceQuota/Kueue use them: cpu, memory, nvidia.com/gpu.
RESOURCE_NAME_PATTERN = (
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


def _obj(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
        **extra,
    }


QUANTITY = {
    "description": "A Kubernetes quantity: 64, 500m, 256Gi.",
    "anyOf": [
        {"type": "string", "pattern": QUANTITY_PATTERN},
        {"type": "number", "minimum": 0},
    ],
}

CHART_DEFS: dict[str, Any] = {
    "Rbac": _obj(
        "Cluster-wide RBAC for the hub ServiceAccount.",
        {
            "create": {
                "type": "boolean",
                "description": "Create the hub's ClusterRoles and ClusterRoleBindings "
                "(templates/rbac/). Off only if you provide equivalent RBAC yourself.",
            }
        },
    ),
    "AdmissionPolicy": _obj(
        "The ValidatingAdmissionPolicy on pods in teamhub's user namespaces.",
        {
            "enabled": {
                "type": "boolean",
                "description": "Create the policy and its binding (Kubernetes >= 1.30).",
            },
            "validationActions": {
                "type": "array",
                "description": "What a violation does: Deny, or Warn and/or Audit to try the "
                "policy before enforcing it.",
                "items": {"enum": VALIDATION_ACTIONS},
                "minItems": 1,
                "uniqueItems": True,
            },
            "allowedVolumeTypes": {
                "type": "array",
                "description": "Volume types pods in user namespaces may use.",
                "items": {"enum": POD_VOLUME_TYPES},
                "uniqueItems": True,
            },
        },
    ),
    "KueueFlavor": _obj(
        "A Kueue ResourceFlavor: a kind of node the team queues give quota on.",
        {
            "name": {
                "type": "string",
                "pattern": LABEL_PATTERN,
                "description": "Name of the ResourceFlavor.",
            },
            "nodeLabels": {
                "type": "object",
                "description": "Labels of the nodes of this flavor (ResourceFlavor spec).",
                "additionalProperties": {"type": "string"},
            },
            "nodeTaints": {
                "type": "array",
                "description": "Taints of the nodes of this flavor (ResourceFlavor spec).",
                "items": {"type": "object"},
            },
            "tolerations": {
                "type": "array",
                "description": "Tolerations Kueue adds to admitted pods (ResourceFlavor spec).",
                "items": {"type": "object"},
            },
            "topologyName": {
                "type": "string",
                "description": "Kueue Topology of this flavor (ResourceFlavor spec).",
            },
        },
        required=["name"],
    ),
    "KueueTeam": _obj(
        "The ClusterQueue of one team (a key of teamsConfig.teams).",
        {
            "cohort": {
                "type": ["string", "null"],
                "description": "Cohort of the queue: queues of a cohort borrow each "
                "other's unused quota. null: none.",
            },
            "flavors": {
                "type": "object",
                "description": "Per ResourceFlavor (a name in kueue.resourceFlavors), the "
                "team's nominal quota of each resource; a resource missing under one "
                "flavor gets 0 there.",
                "minProperties": 1,
                "additionalProperties": False,
                "patternProperties": {
                    LABEL_PATTERN: {
                        "type": "object",
                        "additionalProperties": False,
                        "patternProperties": {RESOURCE_NAME_PATTERN: QUANTITY},
                    }
                },
            },
        },
        required=["flavors"],
    ),
    "Kueue": _obj(
        "Kueue objects for team-wide quotas (Kueue must be installed).",
        {
            "enabled": {
                "type": "boolean",
                "description": "Create the ResourceFlavors and the team ClusterQueues, and "
                "set each team's clusterQueue in the teams config (the hub then creates a "
                "LocalQueue per team in each member's namespace).",
            },
            "queueingStrategy": {
                "enum": ["BestEffortFIFO", "StrictFIFO"],
                "description": "queueingStrategy of every team ClusterQueue.",
            },
            "resourceFlavors": {
                "type": "array",
                "description": "The ResourceFlavors to create.",
                "items": {"$ref": "#/$defs/KueueFlavor"},
            },
            "teams": {
                "type": "object",
                "description": "One ClusterQueue per team listed here.",
                "additionalProperties": False,
                "patternProperties": {LABEL_PATTERN: {"$ref": "#/$defs/KueueTeam"}},
            },
        },
    ),
}


def values_schema() -> dict[str, Any]:
    """The chart's values schema (draft 2020-12), with the teams config's from the model."""
    teams = teams_config_schema()
    teams_defs = teams.pop("$defs")
    clash = set(teams_defs) & (set(CHART_DEFS) | {"TeamsConfig"})
    if clash:  # pragma: no cover - a model rename would have to cause this
        raise ValueError(f"definition names used twice: {sorted(clash)}")
    teams_root = {k: v for k, v in teams.items() if k not in ("$schema", "title")}
    return {
        "$schema": teams["$schema"],
        "title": "teamhub Helm chart values",
        "description": "Generated by helm/generate_schema.py from the teams-config model; "
        "do not edit.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "teamsConfig": {
                "$ref": "#/$defs/TeamsConfig",
                "description": "The teams config (docs/admin/teams-config.md), passed to "
                "the hub as a file.",
            },
            "rbac": {"$ref": "#/$defs/Rbac"},
            "admissionPolicy": {"$ref": "#/$defs/AdmissionPolicy"},
            "kueue": {"$ref": "#/$defs/Kueue"},
            "jupyterhub": {
                "type": "object",
                "description": "Values of the Zero to JupyterHub chart 4.4.0, validated by "
                "that chart's own schema.",
            },
            "global": {"type": "object", "description": "Helm's values shared with subcharts."},
        },
        "$defs": {"TeamsConfig": teams_root, **CHART_DEFS, **teams_defs},
    }


def schema_text() -> str:
    return json.dumps(values_schema(), indent=2, ensure_ascii=False) + "\n"


def is_current(path: Path = SCHEMA_FILE) -> bool:
    return path.exists() and path.read_text(encoding="utf-8") == schema_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python helm/generate_schema.py",
        description="Generate helm/teamhub/values.schema.json from the teams-config model.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write the file")
    action.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    action.add_argument("--print", action="store_true", help="print the schema")
    args = parser.parse_args(argv)
    if args.print:
        sys.stdout.write(schema_text())
        return 0
    if args.write:
        if not is_current():
            SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
            print(f"wrote {SCHEMA_FILE}")
        return 0
    if is_current():
        return 0
    print(f"stale: {SCHEMA_FILE} (run python helm/generate_schema.py --write)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
