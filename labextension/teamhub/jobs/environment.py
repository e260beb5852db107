"""The notebook's environment, read from its own pod, that every job inherits.

Why from the pod rather than from configuration: the pod *is* what the hub gave this user
(TeamSpawner computed the volumes, credentials and image from their teams at start), so a
job built from it sees exactly the notebook's data and credentials — and nothing the hub
did not give. The notebook reads its pod through the API with its own ServiceAccount
(``get pods`` is in the user's Role); ``TEAMHUB_POD_NAME``/``TEAMHUB_NAMESPACE`` (downward
API) say which pod that is.

What a job gets from the notebook container:

- the image (the default when the spec names none), its pull policy and pull secrets;
- every volume the container mounts, at the same paths with the same ``readOnly`` and
  ``subPath``: home and team/global volumes (PVCs), the credential Secret's projected
  volumes and the token volume — except the ServiceAccount token (job pods run with
  ``automountServiceAccountToken: false`` and no ServiceAccount: a job has no API rights);
- the working directory;
- the env, minus the notebook server's own variables (:data:`DROPPED_ENV_PREFIXES`,
  :data:`DROPPED_ENV`, and any reference to the JupyterHub API token), keeping credential
  ``secretKeyRef`` variables; ``envFrom`` as is;
- the pod and container security contexts (the namespace enforces ``restricted``), node
  selector, tolerations;
- the user's entitlements from the ``teamhub.io/entitlements`` annotation.

Volumes of kinds a ``restricted`` namespace does not admit are never copied. A ReadWriteOnce
home volume (the hub's default) can only be mounted on the notebook's node: jobs on other
nodes wait in ``ContainerCreating`` (Multi-Attach); admins who want jobs everywhere give
home ``ReadWriteMany``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teamhub.jobs.entitlements import ENTITLEMENTS_ANNOTATION, Entitlements
from teamhub.jobs.errors import NotebookEnvironmentError
from teamhub.jobs.labels import USER_ANNOTATION, label_value_problem, name_part

#: KubeSpawner's name for the notebook container.
NOTEBOOK_CONTAINER = "notebook"
#: Env var name prefixes of the notebook server itself (JupyterHub's and its API token).
DROPPED_ENV_PREFIXES = ("JUPYTERHUB_", "JPY_")
#: Other notebook-only variables: where the notebook pod is (a job pod is not it),
#: KubeSpawner's description of the notebook's own resources and image.
DROPPED_ENV = frozenset(
    {
        "TEAMHUB_POD_NAME",
        "TEAMHUB_NAMESPACE",
        "MEM_LIMIT",
        "MEM_GUARANTEE",
        "CPU_LIMIT",
        "CPU_GUARANTEE",
        "JUPYTER_IMAGE",
        "JUPYTER_IMAGE_SPEC",
    }
)
#: The credential Secret key of the JupyterHub API token (never given to jobs).
API_TOKEN_KEY = "jupyterhub-api-token"
#: Volume kinds the ``restricted`` Pod Security Standard admits (and jobs may inherit).
ALLOWED_VOLUME_KINDS = (
    "persistentVolumeClaim",
    "projected",
    "secret",
    "configMap",
    "emptyDir",
    "downwardAPI",
    "csi",
    "ephemeral",
)
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
_MOUNT_KEYS = ("name", "mountPath", "readOnly", "subPath", "subPathExpr", "mountPropagation")
_SA_NAMESPACE_FILE = Path(SERVICE_ACCOUNT_MOUNT) / "namespace"


def _volume_kind(volume: Mapping[str, Any]) -> str | None:
    return next((k for k in volume if k != "name"), None)


def _is_service_account_token(volume: Mapping[str, Any]) -> bool:
    projected = volume.get("projected") or {}
    return any("serviceAccountToken" in s for s in projected.get("sources") or [])


def _is_api_token_ref(var: Mapping[str, Any]) -> bool:
    ref = ((var.get("valueFrom") or {}).get("secretKeyRef")) or {}
    return ref.get("key") == API_TOKEN_KEY


def inherited_env(env: list[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The notebook container's env as a job gets it (see the module doc)."""
    out = []
    for var in env or []:
        name = var.get("name", "")
        if name.startswith(DROPPED_ENV_PREFIXES) or name in DROPPED_ENV:
            continue
        if _is_api_token_ref(var):
            continue
        var = copy.deepcopy(dict(var))
        res = (var.get("valueFrom") or {}).get("resourceFieldRef")
        if res is not None:
            res.pop("containerName", None)  # the job's own container
        out.append(var)
    return out


@dataclass(frozen=True)
class NotebookEnvironment:
    """What a job inherits from the notebook (see the module doc). Build it with
    :meth:`from_pod` (pure) or :func:`load_environment` (reads the pod)."""

    namespace: str
    pod_name: str
    #: The raw username and its escaped label value (``teamhub.io/owner`` on job objects).
    username: str
    owner: str
    image: str
    entitlements: Entitlements
    image_pull_policy: str | None = None
    volumes: tuple[dict[str, Any], ...] = ()
    volume_mounts: tuple[dict[str, Any], ...] = ()
    env: tuple[dict[str, Any], ...] = ()
    env_from: tuple[dict[str, Any], ...] = ()
    working_dir: str | None = None
    pod_security_context: dict[str, Any] = field(default_factory=dict)
    container_security_context: dict[str, Any] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    image_pull_secrets: tuple[dict[str, Any], ...] = ()

    @property
    def teams(self) -> tuple[str, ...]:
        return self.entitlements.teams

    @classmethod
    def from_pod(
        cls, pod: Mapping[str, Any], *, container: str = NOTEBOOK_CONTAINER
    ) -> NotebookEnvironment:
        """The environment of a notebook pod manifest (as the API returns it, camelCase)."""
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        where = f"pod {meta.get('namespace', '?')}/{meta.get('name', '?')}"
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        containers = spec.get("containers") or []
        c = next((x for x in containers if x.get("name") == container), None)
        if c is None:
            raise NotebookEnvironmentError(f"{where} has no container named {container!r}")
        username = annotations.get(USER_ANNOTATION) or annotations.get("hub.jupyter.org/username")
        if not username:
            raise NotebookEnvironmentError(
                f"{where} has no {USER_ANNOTATION} annotation: not a teamhub notebook pod"
            )
        owner = labels.get(USER_ANNOTATION) or labels.get("hub.jupyter.org/username")
        if not owner or label_value_problem(owner):
            owner = name_part(username, 63) or "user"
        entitlements = Entitlements.from_annotation(
            annotations.get(ENTITLEMENTS_ANNOTATION), pod=where
        )

        by_name = {v.get("name"): v for v in spec.get("volumes") or []}
        volumes: list[dict[str, Any]] = []
        mounts: list[dict[str, Any]] = []
        for m in c.get("volumeMounts") or []:
            vol = by_name.get(m.get("name"))
            if vol is None or _volume_kind(vol) not in ALLOWED_VOLUME_KINDS:
                continue
            if _is_service_account_token(vol) or m.get("mountPath", "").rstrip("/") == (
                SERVICE_ACCOUNT_MOUNT
            ):
                continue
            if all(v["name"] != vol["name"] for v in volumes):
                volumes.append(copy.deepcopy(dict(vol)))
            mounts.append({k: copy.deepcopy(m[k]) for k in _MOUNT_KEYS if k in m})

        image = c.get("image")
        if not image:
            raise NotebookEnvironmentError(f"{where}: container {container!r} has no image")
        return cls(
            namespace=meta.get("namespace", ""),
            pod_name=meta.get("name", ""),
            username=username,
            owner=owner,
            image=image,
            entitlements=entitlements,
            image_pull_policy=c.get("imagePullPolicy"),
            volumes=tuple(volumes),
            volume_mounts=tuple(mounts),
            env=tuple(inherited_env(c.get("env"))),
            env_from=tuple(copy.deepcopy(list(c.get("envFrom") or []))),
            working_dir=c.get("workingDir"),
            pod_security_context=copy.deepcopy(dict(spec.get("securityContext") or {})),
            container_security_context=copy.deepcopy(dict(c.get("securityContext") or {})),
            node_selector=dict(spec.get("nodeSelector") or {}),
            tolerations=tuple(copy.deepcopy(list(spec.get("tolerations") or []))),
            image_pull_secrets=tuple(copy.deepcopy(list(spec.get("imagePullSecrets") or []))),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for the server extension's environment endpoint): no env
        values, only names."""
        return {
            "namespace": self.namespace,
            "pod": self.pod_name,
            "username": self.username,
            "image": self.image,
            "workingDir": self.working_dir,
            "volumeMounts": [dict(m) for m in self.volume_mounts],
            "env": [e["name"] for e in self.env],
            "entitlements": self.entitlements.to_dict(),
        }


def locate_notebook(namespace: str | None = None, pod_name: str | None = None) -> tuple[str, str]:
    """``(namespace, pod name)`` of the running notebook: the arguments, else
    ``TEAMHUB_NAMESPACE``/``TEAMHUB_POD_NAME`` (set by TeamSpawner), else the in-cluster
    namespace file and ``HOSTNAME``."""
    ns = namespace or os.environ.get("TEAMHUB_NAMESPACE")
    if not ns and _SA_NAMESPACE_FILE.is_file():
        ns = _SA_NAMESPACE_FILE.read_text().strip()
    name = pod_name or os.environ.get("TEAMHUB_POD_NAME") or os.environ.get("HOSTNAME")
    if not ns or not name:
        raise NotebookEnvironmentError(
            "cannot tell which pod this notebook runs in: TEAMHUB_NAMESPACE and "
            "TEAMHUB_POD_NAME are not set (is this a teamhub notebook server?)"
        )
    return ns, name


async def load_environment(kube: Any, namespace: str, pod_name: str) -> NotebookEnvironment:
    """Read the notebook pod through the API (``kube``: :class:`teamhub.jobs.kube.Kube`)."""
    from teamhub.jobs import kube as K
    from teamhub.jobs.errors import KubeApiError

    try:
        pod = await kube.get(K.POD, namespace, pod_name)
    except KubeApiError as e:
        raise NotebookEnvironmentError(
            f"cannot read the notebook pod {namespace}/{pod_name}: {e.api_message}"
        ) from e
    if pod is None:
        raise NotebookEnvironmentError(f"the notebook pod {namespace}/{pod_name} does not exist")
    return NotebookEnvironment.from_pod(pod)
