"""Manifests teamhub really writes, and helpers, shared by the ``test_validation_*`` modules.

Kept apart so each test module (schema/decoding, create rules, update rules) stays small
while all of them check the same realistic objects.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kubesim.errors import ApiError, Cause
from kubesim.validation import SchemaValidator

CRDS = Path("/work/shared/crds")


def pytorch_validator() -> SchemaValidator:
    """The 1.37 schemas plus Kubeflow's PyTorchJob CRD."""
    v = SchemaValidator()
    v.add_crd(json.loads((CRDS / "kubeflow.org_pytorchjobs.json").read_text()))
    return v


def notebook_pod() -> dict[str, Any]:
    """What KubeSpawner creates for a user server (with teamhub's volumes and secrets)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "jupyter-alice",
            "namespace": "teamhub-alice",
            "labels": {
                "app": "jupyterhub",
                "component": "singleuser-server",
                "heritage": "jupyterhub",
                "hub.jupyter.org/servername": "",
                "hub.jupyter.org/username": "alice",
            },
            "annotations": {"hub.jupyter.org/username": "alice", "teamhub.io/teams": "ml,nlp"},
        },
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "serviceAccountName": "notebook",
            "restartPolicy": "OnFailure",
            "schedulerName": "default-scheduler",
            "nodeSelector": {"node-role.kubernetes.io/user": "true"},
            "securityContext": {
                "fsGroup": 100,
                "runAsUser": 1000,
                "runAsGroup": 100,
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [
                {
                    "name": "block-cloud-metadata",
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", "true"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
            "containers": [
                {
                    "name": "notebook",
                    "image": "quay.io/jupyter/scipy-notebook:2024-05-27",
                    "args": ["jupyterhub-singleuser", "--ip=0.0.0.0", "--port=8888"],
                    "imagePullPolicy": "IfNotPresent",
                    "workingDir": "/home/jovyan",
                    "ports": [{"name": "notebook-port", "containerPort": 8888, "protocol": "TCP"}],
                    "env": [
                        {
                            "name": "JUPYTERHUB_API_TOKEN",
                            "valueFrom": {
                                "secretKeyRef": {"name": "creds-alice", "key": "hub-token"}
                            },
                        },
                        {"name": "OIDC_TOKEN_FILE", "value": "/var/run/teamhub/access-token"},
                        {"name": "MEM_GUARANTEE", "value": "1073741824"},
                        {
                            "name": "POD_NAME",
                            "valueFrom": {
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}
                            },
                        },
                        {"name": "team.config-path", "value": "/etc/team"},
                    ],
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
                    },
                    "volumeMounts": [
                        {"name": "home", "mountPath": "/home/jovyan"},
                        {"name": "team-data", "mountPath": "/data/team", "readOnly": True},
                        {"name": "creds", "mountPath": "/var/run/teamhub", "readOnly": True},
                        {"name": "home", "mountPath": "/opt/conf", "subPath": "conf"},
                    ],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True,
                    },
                    "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "true"]}}},
                    "readinessProbe": {
                        "httpGet": {"path": "/user/alice/api", "port": "notebook-port"},
                        "periodSeconds": 10,
                    },
                }
            ],
            "volumes": [
                {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}},
                {
                    "name": "team-data",
                    "persistentVolumeClaim": {"claimName": "team-ml-data", "readOnly": True},
                },
                {"name": "creds", "secret": {"secretName": "creds-alice", "defaultMode": 0o400}},
            ],
            "tolerations": [
                {
                    "key": "hub.jupyter.org/dedicated",
                    "operator": "Equal",
                    "value": "user",
                    "effect": "NoSchedule",
                },
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            ],
            "affinity": {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "preference": {
                                "matchExpressions": [
                                    {
                                        "key": "hub.jupyter.org/node-purpose",
                                        "operator": "In",
                                        "values": ["user"],
                                    }
                                ]
                            },
                        }
                    ]
                }
            },
        },
    }


def batch_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "train-3f9a",
            "namespace": "teamhub-alice",
            "labels": {"teamhub.io/owner": "alice", "teamhub.io/backend": "job"},
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": 2,
            "parallelism": 2,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {"teamhub.io/submission": "3f9a"}},
                "spec": {
                    "restartPolicy": "Never",
                    "subdomain": "train-3f9a",
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "quay.io/jupyter/pytorch-notebook:cuda12",
                            "command": ["torchrun", "train.py"],
                            "env": [{"name": "MASTER_ADDR", "value": "train-3f9a-0.train-3f9a"}],
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                            "volumeMounts": [{"name": "home", "mountPath": "/home/jovyan"}],
                        }
                    ],
                    "volumes": [
                        {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}}
                    ],
                },
            },
        },
    }


ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "teamhub:notebook", "namespace": "teamhub-alice"},
    "rules": [
        {
            "apiGroups": ["batch"],
            "resources": ["jobs"],
            "verbs": ["create", "get", "list", "watch", "delete"],
        },
        {
            "apiGroups": [""],
            "resources": ["pods", "pods/log", "events"],
            "verbs": ["get", "list", "watch"],
        },
        {"apiGroups": ["kubeflow.org"], "resources": ["pytorchjobs"], "verbs": ["*"]},
    ],
}
ROLE_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "notebook", "namespace": "teamhub-alice"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "teamhub:notebook",
    },
    "subjects": [{"kind": "ServiceAccount", "name": "notebook", "namespace": "teamhub-alice"}],
}
PVC = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "team-ml-data", "namespace": "teamhub-alice"},
    "spec": {
        "accessModes": ["ReadOnlyMany"],
        "resources": {"requests": {"storage": "100Gi"}},
        "storageClassName": "",
        "volumeName": "teamhub-ml-data-alice",
    },
}
NETPOL = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "notebook-ingress", "namespace": "teamhub-alice"},
    "spec": {
        "podSelector": {"matchLabels": {"component": "singleuser-server"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "teamhub"}
                        },
                        "podSelector": {
                            "matchExpressions": [
                                {"key": "component", "operator": "In", "values": ["proxy", "hub"]}
                            ]
                        },
                    }
                ],
                "ports": [{"port": 8888, "protocol": "TCP"}],
            }
        ],
    },
}


def pytorch_job() -> dict[str, Any]:
    replica = {
        "replicas": 1,
        "restartPolicy": "OnFailure",
        "template": {
            "metadata": {"labels": {"teamhub.io/submission": "77"}},
            "spec": {
                "containers": [
                    {
                        "name": "pytorch",
                        "image": "quay.io/jupyter/pytorch-notebook:cuda12",
                        "command": ["python", "train.py"],
                        "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "8Gi"}},
                    }
                ]
            },
        },
    }
    worker = copy.deepcopy(replica)
    worker["replicas"] = 3
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "ddp-77", "namespace": "teamhub-alice"},
        "spec": {
            "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": 2},
            "nprocPerNode": "auto",
            "pytorchReplicaSpecs": {"Master": replica, "Worker": worker},
        },
    }


def fields(causes: list[Cause]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in causes]


def raises(fn: Any, *args: Any, **kw: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kw)
    return info.value


def edited(obj: dict[str, Any], fn: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` changed by ``fn`` (which edits in place)."""
    new = copy.deepcopy(obj)
    fn(new)
    return new
