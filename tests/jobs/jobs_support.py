"""Helpers for the jobs-API tests: a user's namespace and notebook pod exactly as
TeamSpawner makes them (teams config -> entitlements -> plan -> KubeSpawner pod + teamhub's
additions + the self-description annotation), the NotebookEnvironment of that pod, and
strict validation of built manifests (kubernetes-validate for core kinds, the CRDs'
openAPIV3Schema for Kubeflow kinds)."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from teamhub.jobs.environment import NotebookEnvironment
from teamhub_hub.teams import load_teams_config
from teamhub_spawner.objects import apply_pod_additions, pod_additions
from teamhub_spawner.plan import ServerInputs, plan
from teamhub_spawner.spawner import _describe_self

from kubesim.sim import KubeSim
from tests.hub.teams_fixtures import base
from tests.spawner.objects_support import ADMIN_SECRETS, kubespawner_pod

K8S_VERSION = "1.37"
USER = "alice"
NS = "teamhub-alice"
POD = "jupyter-alice"
IMAGE = "quay.io/jupyter/scipy-notebook:2025-01-01"
CRD_DIR = Path("/work/shared/crds")
CRD_FILES = {
    "PyTorchJob": "kubeflow.org_pytorchjobs.json",
    "TFJob": "kubeflow.org_tfjobs.json",
    "MPIJob": "kubeflow.org_mpijobs.json",
}


def teams_config(data: dict[str, Any] | None = None) -> Any:
    return load_teams_config(data or base())


@dataclass
class Notebook:
    """What TeamSpawner created for one user's server."""

    objects: list[dict[str, Any]]
    pod: dict[str, Any]
    entitlements: Any

    @property
    def environment(self) -> NotebookEnvironment:
        return NotebookEnvironment.from_pod(self.pod)


def notebook(
    groups: tuple[str, ...] = ("vision",),
    *,
    config: dict[str, Any] | None = None,
    image: str = IMAGE,
    tokens_dir: str | None = None,
    credentials_dir: str | None = None,
    **make_pod_args: Any,
) -> Notebook:
    """The namespace objects and the notebook pod TeamSpawner would make for ``alice``."""
    cfg = teams_config(config)
    ents = cfg.entitlements(list(groups))
    inputs = ServerInputs(
        username=USER,
        namespace=NS,
        teams=tuple(ents.teams),
        volumes=tuple((v.scope, v.to_wire()) for v in ents.volumes),
        credentials=tuple((c.team, c.to_wire()) for c in ents.credentials),
        home=cfg.home.to_wire(),
        quota=dict(ents.quota),
        hub_namespace="jupyterhub",
        port=8888,
        oidc_access_token="oidc-at",
        jupyterhub_api_token="hub-token",
        admin_secrets=ADMIN_SECRETS,
    )
    p = plan(inputs)
    additions = pod_additions(
        username=USER,
        teams=ents.teams,
        credential_secret=p.credential_secret,
        credentials=[(c.team, c.to_wire()) for c in ents.credentials],
        volumes=[(v.scope, v.to_wire()) for v in ents.volumes],
        home=cfg.home.to_wire(),
        **({"tokens_dir": tokens_dir} if tokens_dir else {}),
        **({"credentials_dir": credentials_dir} if credentials_dir else {}),
    )
    args = {
        "image": image,
        "cpu_guarantee": 0.5,
        "mem_guarantee": "1Gi",
        "env": {
            "JUPYTERHUB_API_TOKEN": "literal-hub-token",
            "JPY_API_TOKEN": "literal-hub-token",
            "JUPYTERHUB_USER": USER,
            "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
            "MEM_GUARANTEE": "1073741824",
            "CPU_GUARANTEE": "0.5",
            "JUPYTER_IMAGE_SPEC": image,
            "MY_SETTING": "kept",
        },
        "working_dir": "/home/jovyan",
        **make_pod_args,
    }
    pod = apply_pod_additions(_kubespawner_pod(args), additions)
    pod["metadata"]["namespace"] = NS
    pod["metadata"].setdefault("annotations", {})["hub.jupyter.org/username"] = USER
    _describe_self(pod, ents)
    return Notebook(objects=p.all(), pod=pod, entitlements=ents)


def _kubespawner_pod(args: dict[str, Any]) -> dict[str, Any]:
    """KubeSpawner's pod (its serializer runs an event loop: use a thread inside one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return kubespawner_pod(**args)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(kubespawner_pod, **args).result()


def environment(**kwargs: Any) -> NotebookEnvironment:
    return notebook(**kwargs).environment


def provision(sim: KubeSim, nb: Notebook, tmp_path: Path) -> Path:
    """Create the user's objects and notebook pod in ``sim``; a kubeconfig that acts as the
    notebook's ServiceAccount (``teamhub-user``) in its namespace."""
    for obj in nb.objects:
        sim.apply(obj)
    sim.apply(nb.pod)
    token = sim.create_token(NS, "teamhub-user")
    return sim.write_kubeconfig(tmp_path / "notebook-kubeconfig", token=token, namespace=NS)


# ------------------------------------------------------------------ validation
@cache
def _core_validator(kind: str, api_version: str) -> Any:
    """kubernetes-validate's strict 1.37 schema for a kind, loaded once (its ``validate``
    re-reads the schema files on every call, too slow for property tests)."""
    from kubernetes_validate.utils import schema_contents
    from referencing import Registry, Resource

    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{K8S_VERSION}.0-local-strict"
    schema = schema_contents(f"{folder}/{kind.lower()}-{group}.json", K8S_VERSION)
    defs = schema_contents(f"{folder}/_definitions.json", K8S_VERSION)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_core(obj: dict[str, Any]) -> dict[str, Any]:
    """Strict OpenAPI validation of a core manifest (kubernetes-validate's 1.37 schemas)."""
    errors = list(_core_validator(obj["kind"], obj["apiVersion"]).iter_errors(obj))
    if errors:
        e = errors[0]
        raise AssertionError(
            f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}: {e.message} at "
            f"{'/'.join(map(str, e.path))}"
        )
    return obj


def validate_core_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """The same through ``kubernetes_validate.validate`` itself (slow; checks the cache)."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        raise AssertionError(f"{obj.get('kind')}: {e.message}") from None
    return obj


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists properties (the API
    prunes them silently; a field we write that the CRD lacks is a bug)."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    crd = json.loads((CRD_DIR / CRD_FILES[kind]).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    # ObjectMeta at the top is only {"type": "object"} in a CRD; the API checks it itself.
    return schema


@cache
def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(crd_schema(kind))


def validate_crd(obj: dict[str, Any]) -> dict[str, Any]:
    """Validate a Kubeflow manifest against its CRD's openAPIV3Schema (strict), and each
    replica's pod template against the core PodTemplateSpec (kubernetes-validate)."""
    errors = sorted(crd_validator(obj["kind"]).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise AssertionError(
            f"{obj['kind']} {obj['metadata']['name']}: {e.message} at {'/'.join(map(str, e.path))}"
        )
    key = next(k for k in obj["spec"] if k.endswith("ReplicaSpecs"))
    for rtype, replica in obj["spec"][key].items():
        validate_core(
            {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": f"{obj['metadata']['name']}-{rtype.lower()}"},
                "template": replica["template"],
            }
        )
    return obj


def validate(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["apiVersion"].startswith("kubeflow.org/"):
        return validate_crd(obj)
    return validate_core(obj)


def serves(sim: KubeSim, group: str, plural: str) -> bool:
    return sim.registry.get(group, plural) is not None


def objects_labelled(sim: KubeSim, labels: dict[str, str], namespace: str = NS) -> list[str]:
    """``Kind/name`` of every object in ``namespace`` carrying all of ``labels``."""

    def scan() -> list[str]:
        out = []
        for rt in list(sim.registry.types.values()):
            if not rt.namespaced or rt.virtual:
                continue
            for obj in sim.store.iter(rt, namespace):
                have = obj["metadata"].get("labels") or {}
                if all(have.get(k) == v for k, v in labels.items()):
                    out.append(f"{rt.kind}/{obj['metadata']['name']}")
        return sorted(out)

    return sim.call(scan)


def job_objects(sim: KubeSim, namespace: str = NS) -> list[str]:
    """Every object of any job (workloads, their ConfigMaps, Services, pods, records)."""
    return sorted(
        objects_labelled(sim, {"teamhub.io/component": "job"}, namespace)
        + objects_labelled(sim, {"teamhub.io/component": "job-record"}, namespace)
    )
