"""A valid teams config to start tests from, and a helper to change one key of it."""

from __future__ import annotations

import copy
from typing import Any

DELETE = object()
APPEND = "+"  # as the last part of a path: append the value to the list

BASE: dict[str, Any] = {
    "namespacePrefix": "teamhub",
    "home": {"size": "10Gi", "mountPath": "/home/jovyan"},
    "globalVolumes": [
        {
            "name": "datasets",
            "mountPath": "/data/public",
            "source": {"nfs": {"server": "nfs.example.org", "path": "/exports/datasets"}},
        }
    ],
    "profiles": [
        {"slug": "cpu", "displayName": "CPU notebook", "default": True},
        {
            "slug": "gpu",
            "displayName": "GPU notebook",
            "kubespawnerOverride": {"extra_resource_limits": {"nvidia.com/gpu": "1"}},
        },
    ],
    "teams": {
        "vision": {
            "displayName": "Computer vision",
            "groups": ["vision", "cv-research"],
            "volumes": [
                {
                    "name": "data",
                    "mountPath": "/teams/vision/data",
                    "readOnly": False,
                    "capacity": "500Gi",
                    "source": {
                        "csi": {
                            "driver": "nfs.csi.k8s.io",
                            "volumeHandle": "nfs.example.org#/exports/vision",
                            "volumeAttributes": {
                                "server": "nfs.example.org",
                                "share": "/exports/vision",
                            },
                        }
                    },
                },
                {
                    "name": "models",
                    "mountPath": "/teams/vision/models",
                    "readOnly": True,
                    "source": {
                        "persistentVolume": {
                            "accessModes": ["ReadOnlyMany"],
                            "nfs": {"server": "nfs.example.org", "path": "/exports/models"},
                        }
                    },
                },
            ],
            "credentials": [
                {
                    "name": "s3",
                    "secretName": "vision-s3",
                    "keys": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
                    "env": {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"},
                }
            ],
            "profiles": ["cpu", "gpu"],
            "images": ["quay.io/jupyter/*", "registry.example.org/vision/*"],
            "quota": {"cpu": "32", "memory": "128Gi", "gpus": 4, "pods": 50},
        },
        "nlp": {
            "groups": ["nlp"],
            "volumes": [
                {
                    "name": "corpora",
                    "mountPath": "/teams/nlp/corpora",
                    "source": {"nfs": {"server": "nfs.example.org", "path": "/exports/nlp"}},
                }
            ],
            "profiles": ["cpu"],
            "quota": {"cpu": 8, "memory": "256Gi"},
        },
    },
}


def base() -> dict[str, Any]:
    """A deep copy of ``BASE``, free to modify."""
    return copy.deepcopy(BASE)


def changed(*changes: tuple[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """``BASE`` with each ``(path, value)`` applied (``DELETE`` removes the key)."""
    data = base()
    for path, value in changes:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        if path[-1] == APPEND:
            node.append(value)
        elif value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return data
