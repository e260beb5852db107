"""What TeamSpawner adds to KubeSpawner's notebook pod.

KubeSpawner builds the pod (image, command, port, resources, profile overrides);
teamhub adds the parts that carry the security model:

- the user's ServiceAccount with its token mounted (``automountServiceAccountToken: true``:
  the ServiceAccount itself opts out, see :mod:`.identity`, so only pods that ask get it);
- a security context that meets the ``restricted`` Pod Security Standard, which the user's
  namespace enforces: non-root (``runAsNonRoot``, ``runAsUser`` 1000 by default, the
  Jupyter docker-stacks ``jovyan``), ``fsGroup`` so volumes and the credential files are
  group-readable by that user, ``seccompProfile: RuntimeDefault``, and per container
  ``allowPrivilegeEscalation: false`` and ``capabilities.drop: [ALL]``;
- volumes and read-only-where-configured mounts: home, every team/global volume's PVC,
  the two token files and each team credential (see :mod:`.credentials`);
- env: the JupyterHub API token (``JUPYTERHUB_API_TOKEN``/``JPY_API_TOKEN``) and credential
  env vars as ``secretKeyRef``, replacing the literal token KubeSpawner would put there;
- labels: user, ``teamhub.io/component=notebook`` (what the NetworkPolicy selects) and one
  label per team.

Two ways to use the result, same content: :func:`pod_additions` returns values named after
KubeSpawner's ``make_pod`` keyword arguments (to set on the spawner's traits or pass
through), and :func:`apply_pod_additions` merges them into a finished pod manifest dict
(e.g. from ``modify_pod_hook``), with teamhub's security settings taking precedence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.credentials import (
    DEFAULT_CREDENTIALS_DIR,
    DEFAULT_TOKENS_DIR,
    TeamCredential,
    credential_env,
    credential_volumes,
    tokens_volume,
)
from teamhub_spawner.objects.names import HOME_PVC, SERVICE_ACCOUNT
from teamhub_spawner.objects.volumes import home_pod_entry, team_volume_pod_entry

#: KubeSpawner's name for the notebook container.
NOTEBOOK_CONTAINER = "notebook"


class PodAdditions(TypedDict):
    """What teamhub adds, keyed like KubeSpawner's ``make_pod`` arguments."""

    service_account: str
    automount_service_account_token: bool
    pod_security_context: dict
    container_security_context: dict
    volumes: list[dict]
    volume_mounts: list[dict]
    #: ``{NAME: EnvVar dict}``; KubeSpawner's ``environment``/``get_env`` accept this shape.
    env: dict[str, dict]
    labels: dict[str, str]
    annotations: dict[str, str]


def pod_security_context(
    *, uid: int = 1000, gid: int | None = 100, fs_group: int | None = 100
) -> dict:
    """The pod-level security context (``restricted``: non-root, RuntimeDefault seccomp).

    With ``fs_group``, ``fsGroupChangePolicy: OnRootMismatch``: for volume types whose
    driver asks for fsGroup ownership (e.g. csi-driver-nfs declares ``fsGroupPolicy: File``)
    the kubelet otherwise re-walks and re-chowns a whole team share at every pod start;
    this way only when the volume root does not already match.
    """
    if uid == 0:
        raise ValueError("uid: 0 (root) is not allowed by the restricted Pod Security Standard")
    psc: dict = {
        "runAsNonRoot": True,
        "runAsUser": int(uid),
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if gid is not None:
        psc["runAsGroup"] = int(gid)
    if fs_group is not None:
        psc["fsGroup"] = int(fs_group)
        psc["fsGroupChangePolicy"] = "OnRootMismatch"
    return psc


def container_security_context() -> dict:
    """The per-container security context ``restricted`` requires."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _check_unique_mounts(mounts: list[dict]) -> None:
    by_path: dict[str, str] = {}
    for m in mounts:
        path = m["mountPath"].rstrip("/") or "/"
        if path in by_path:
            raise ValueError(
                f"mount path {path} is used by both {by_path[path]!r} and {m['name']!r} "
                "(two volumes or credentials of the user's teams resolve to the same "
                "directory; give one of them another mountPath)"
            )
        by_path[path] = m["name"]


def pod_additions(
    *,
    username: str,
    teams: Iterable[str],
    credential_secret: Mapping,
    credentials: Iterable[TeamCredential] = (),
    volumes: Iterable[tuple[str, Mapping]] = (),
    home: Mapping | None = None,
    home_pvc_name: str = HOME_PVC,
    service_account_name: str = SERVICE_ACCOUNT,
    uid: int = 1000,
    gid: int | None = 100,
    fs_group: int | None = 100,
    tokens_dir: str = DEFAULT_TOKENS_DIR,
    credentials_dir: str = DEFAULT_CREDENTIALS_DIR,
) -> PodAdditions:
    """Everything teamhub adds to one user's notebook pod.

    ``credential_secret`` is the manifest from :func:`.credentials.credential_secret` (its
    name and keys decide the mounts and env refs); ``credentials`` are the same
    ``(team, credential dict)`` pairs; ``volumes`` are ``(scope, volume dict)`` pairs
    (scope = team name or ``global``); ``home`` is the ``home`` config (None: no home
    volume). Two mounts resolving to one directory are an error naming both.

    Credential files are mode 0440 when ``fs_group`` is set (readable by the notebook user
    through its group, by nobody else), 0444 otherwise.
    """
    credentials = list(credentials)
    teams = sorted(set(teams))
    mode = 0o440 if fs_group is not None else 0o444
    pod_volumes: list[dict] = []
    mounts: list[dict] = []
    if home is not None:
        v, m = home_pod_entry(home, pvc_name=home_pvc_name)
        pod_volumes.append(v)
        mounts.append(m)
    for scope, volume in volumes:
        v, m = team_volume_pod_entry(scope, volume)
        pod_volumes.append(v)
        mounts.append(m)
    secret_name = credential_secret["metadata"]["name"]
    v, m = tokens_volume(secret_name, tokens_dir=tokens_dir, default_mode=mode)
    pod_volumes.append(v)
    mounts.append(m)
    cvols, cmounts = credential_volumes(
        credential_secret, credentials, credentials_dir=credentials_dir, default_mode=mode
    )
    pod_volumes += cvols
    mounts += cmounts
    _check_unique_mounts(mounts)
    return PodAdditions(
        service_account=service_account_name,
        automount_service_account_token=True,
        pod_security_context=pod_security_context(uid=uid, gid=gid, fs_group=fs_group),
        container_security_context=container_security_context(),
        volumes=pod_volumes,
        volume_mounts=mounts,
        env=credential_env(credential_secret, credentials, tokens_dir=tokens_dir),
        labels=L.pod_labels(username, teams),
        annotations=L.user_annotations(username, teams),
    )


def _secured(container: Mapping, csc: Mapping) -> dict:
    """A copy of ``container`` with the restricted settings ``csc`` on its security
    context (capabilities merged: what it adds is kept, ``drop`` is ours)."""
    sc = {**(container.get("securityContext") or {}), **csc}
    if "capabilities" in csc:
        caps = (container.get("securityContext") or {}).get("capabilities") or {}
        sc["capabilities"] = {**caps, **csc["capabilities"]}
    return {**container, "securityContext": sc}


def apply_pod_additions(
    pod: Mapping, additions: PodAdditions, *, container_name: str = NOTEBOOK_CONTAINER
) -> dict:
    """The pod manifest dict (camelCase, as the API takes it) with ``additions``.

    teamhub's settings win where they overlap: the pod security context is merged with
    ours on top; every container and init container gets the restricted container settings
    (PSA checks them all); the notebook container's env vars of the same name are replaced
    (this is what turns KubeSpawner's literal ``JUPYTERHUB_API_TOKEN`` into a
    ``secretKeyRef``); volumes and mounts are appended, and a clash of volume name or mount
    path with what the pod already has is an error.

    Neither input is changed. The result is new in every dict and list on the way to what
    it changes, and shares the rest with its inputs (a container's resources, the volumes
    and env entries added...): copying all of it, once per start, was half this
    function's cost on a pod with a dozen volumes, mounts and env vars.
    """
    out = dict(pod)
    meta = out["metadata"] = dict(out.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), **additions["labels"]}
    meta["annotations"] = {**(meta.get("annotations") or {}), **additions["annotations"]}
    spec = out["spec"] = dict(out.get("spec") or {})
    spec["serviceAccountName"] = additions["service_account"]
    spec.pop("serviceAccount", None)  # deprecated alias; must not disagree
    spec["automountServiceAccountToken"] = additions["automount_service_account_token"]
    spec["securityContext"] = {
        **(spec.get("securityContext") or {}),
        **additions["pod_security_context"],
    }
    existing = {v["name"] for v in spec.get("volumes") or []}
    for v in additions["volumes"]:
        if v["name"] in existing:
            raise ValueError(f"pod already has a volume named {v['name']!r}")
    spec["volumes"] = [*(spec.get("volumes") or []), *additions["volumes"]]

    csc = additions["container_security_context"]
    containers = [_secured(c, csc) for c in spec.get("containers") or []]
    notebook = next((c for c in containers if c.get("name") == container_name), None)
    if notebook is None:
        raise ValueError(f"pod has no container named {container_name!r}")
    spec["containers"] = containers
    if spec.get("initContainers"):
        spec["initContainers"] = [_secured(c, csc) for c in spec["initContainers"]]

    env = [e for e in notebook.get("env") or [] if e["name"] not in additions["env"]]
    notebook["env"] = env + list(additions["env"].values())
    mounts = [*(notebook.get("volumeMounts") or []), *additions["volume_mounts"]]
    _check_unique_mounts(mounts)
    notebook["volumeMounts"] = mounts
    return out
