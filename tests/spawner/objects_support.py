"""Shared helpers for the object-builder tests: sample config in the wire shape, strict
schema validation, a KubeSpawner-built pod, and creating manifests on kubesim."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager

import kubernetes_validate
from kubernetes import client, config

K8S_VERSION = "1.37"
USER = "alice"
NS = "teamhub-alice"
HUB_NS = "jupyterhub"


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def validate(obj: dict) -> dict:
    """Strict OpenAPI validation (kubernetes-validate 1.37); returns ``obj`` for chaining."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:  # keep the failure readable
        raise AssertionError(
            f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {e.message} at "
            f"{'/'.join(map(str, e.path))}"
        ) from None
    return obj


# ---------------------------------------------------------------- config (wire shape)
# As ``model_dump(by_alias=True)`` would hand them over: unset optional fields are None.
def source(nfs=None, csi=None, pv=None) -> dict:
    return {"nfs": nfs, "csi": csi, "persistentVolume": pv}


def nfs_volume(name="data", mount="/teams/vision/data", read_only=False, capacity="500Gi"):
    return {
        "name": name,
        "mountPath": mount,
        "readOnly": read_only,
        "capacity": capacity,
        "source": source(nfs={"server": "nfs.example.org", "path": f"/exports/{name}"}),
    }


def csi_volume(name="data", mount="/teams/vision/data", read_only=False, capacity="500Gi"):
    return {
        "name": name,
        "mountPath": mount,
        "readOnly": read_only,
        "capacity": capacity,
        "source": source(
            csi={
                "driver": "nfs.csi.k8s.io",
                "volumeHandle": "nfs.example.org#/exports/vision",
                "volumeAttributes": {"server": "nfs.example.org", "share": "/exports/vision"},
                "fsType": None,
            }
        ),
    }


def template_volume(name="models", mount="/teams/vision/models", read_only=True, **tmpl):
    spec = {
        "accessModes": ["ReadOnlyMany"],
        "nfs": {"server": "nfs.example.org", "path": "/exports/models"},
        **tmpl,
    }
    return {
        "name": name,
        "mountPath": mount,
        "readOnly": read_only,
        "capacity": None,
        "source": source(pv=spec),
    }


def global_volume(name="datasets", mount="/data/public"):
    # Global volumes have no readOnly key in the shape: they are always read-only.
    return {
        "name": name,
        "mountPath": mount,
        "capacity": "1Ti",
        "source": source(nfs={"server": "nfs.example.org", "path": "/exports/datasets"}),
    }


HOME = {"size": "10Gi", "storageClassName": None, "mountPath": "/home/jovyan"}

S3 = {
    "name": "s3",
    "secretName": "vision-s3",
    "keys": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    "mountPath": None,
    "env": {"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"},
}
WANDB = {
    "name": "wandb",
    "secretName": "vision-wandb",
    "keys": None,
    "mountPath": "/home/jovyan/.config/wandb",
    "env": None,
}
ADMIN_SECRETS = {
    "vision-s3": {
        "AWS_ACCESS_KEY_ID": b64("AKIAVISION"),
        "AWS_SECRET_ACCESS_KEY": b64("s3cr3t"),
        "UNUSED": b64("not copied"),
    },
    "vision-wandb": {"api.key": b64("wb-key"), "settings": b64("[default]\n")},
}


# ---------------------------------------------------------------- KubeSpawner's pod
def kubespawner_pod(**kwargs) -> dict:
    """A notebook pod as KubeSpawner's ``make_pod`` builds it, as a manifest dict."""
    from kubernetes_asyncio.client import ApiClient
    from kubespawner.objects import make_pod

    args = {
        "name": "jupyter-alice",
        "cmd": ["jupyterhub-singleuser"],
        "port": 8888,
        "image": "quay.io/jupyter/base-notebook:latest",
        "env": {"JUPYTERHUB_API_TOKEN": "literal-hub-token", "JPY_API_TOKEN": "literal-hub-token"},
        "labels": {"component": "singleuser-server", "hub.jupyter.org/username": "alice"},
    }
    args.update(kwargs)
    pod = make_pod(**args)

    async def serialize() -> dict:
        async with ApiClient() as api:
            return api.sanitize_for_serialization(pod)

    return asyncio.run(serialize())


# ---------------------------------------------------------------- kubesim
@contextmanager
def api_client(kubeconfig) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(str(kubeconfig))
    try:
        yield api
    finally:
        api.close()


def token_client(kubesim, token: str) -> client.ApiClient:
    cfg = client.Configuration()
    cfg.host = kubesim.url
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)


def create(api: client.ApiClient, obj: dict) -> dict:
    """POST any built manifest through the typed clients; returns the stored object."""
    kind, meta = obj["kind"], obj["metadata"]
    ns = meta.get("namespace")
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    net = client.NetworkingV1Api(api)
    calls = {
        "Namespace": lambda: core.create_namespace(obj),
        "ServiceAccount": lambda: core.create_namespaced_service_account(ns, obj),
        "Secret": lambda: core.create_namespaced_secret(ns, obj),
        "PersistentVolume": lambda: core.create_persistent_volume(obj),
        "PersistentVolumeClaim": lambda: core.create_namespaced_persistent_volume_claim(ns, obj),
        "ResourceQuota": lambda: core.create_namespaced_resource_quota(ns, obj),
        "LimitRange": lambda: core.create_namespaced_limit_range(ns, obj),
        "Pod": lambda: core.create_namespaced_pod(ns, obj),
        "Role": lambda: rbac.create_namespaced_role(ns, obj),
        "RoleBinding": lambda: rbac.create_namespaced_role_binding(ns, obj),
        "NetworkPolicy": lambda: net.create_namespaced_network_policy(ns, obj),
    }
    return api.sanitize_for_serialization(calls[kind]())


def status_body(e: client.ApiException) -> dict:
    return json.loads(e.body)
