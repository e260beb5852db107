"""The per-server credential Secret, and how the notebook pod sees it (files and env refs).

Why a Secret in the user's namespace, mounted as files: tokens in literal env vars are
readable by anyone who can ``get pod`` (kubespawner#398) and never change while the pod
runs; a mounted Secret is updated in place by the kubelet, so when the hub refreshes a
user's OIDC access token and rewrites the Secret, running notebooks and jobs read the
fresh token from the same file. The user's ServiceAccount cannot read Secrets through the
API (see :mod:`.identity`), so the files are the only way in.

Secret keys
-----------
- ``oidc-access-token``: the user's OIDC access token ("" when the hub holds none).
- ``jupyterhub-api-token``: this server's JupyterHub API token.
- ``<team>.<credential>.<KEY>``: key ``KEY`` of the admin Secret behind credential
  ``<credential>`` of team ``<team>``, copied byte for byte. Team and credential names are
  DNS labels (no dots), so the first two dots split the key unambiguously, ``KEY`` keeps
  its own dots (``tls.crt``), and the two fixed keys above (no dots) can never clash.
  A Secret key is at most 253 characters, so ``KEY`` may be at most 253 - 2 - len(team)
  - len(credential) long; a longer one is refused with an error naming it.

Files
-----
Each credential is a ``projected`` volume of this Secret whose ``items`` map
``<team>.<credential>.<KEY>`` to the file ``KEY`` (the admin's original key name), mounted
read-only at the credential's ``mountPath``, default ``/var/run/secrets/teamhub/credentials/
<credential>``. One volume per credential (not one volume plus ``subPath`` mounts) because
``subPath`` mounts of Secrets are never updated. The two tokens are the files
``oidc-access-token`` and ``jupyterhub-api-token`` in ``/var/run/secrets/teamhub/tokens``
(a sibling, not a parent, of the credentials directory: mounts nested inside a Secret
volume cannot be created on a read-only tmpfs).

Env
---
Every env var is a ``secretKeyRef``, never a literal: ``JUPYTERHUB_API_TOKEN`` and
``JPY_API_TOKEN`` -> ``jupyterhub-api-token``; each credential's ``env`` mapping
``{ENV_NAME: KEY}`` -> ``<team>.<credential>.<KEY>``. ``TEAMHUB_OIDC_TOKEN_FILE`` (a
literal, but only a path) tells clients where the access token file is.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Iterable, Mapping

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.names import (
    CREDENTIAL_SECRET,
    TOKENS_VOLUME,
    check_dns_label,
    credential_pod_volume_name,
)

OIDC_ACCESS_TOKEN_KEY = "oidc-access-token"
JUPYTERHUB_API_TOKEN_KEY = "jupyterhub-api-token"
DEFAULT_CREDENTIALS_DIR = "/var/run/secrets/teamhub/credentials"
DEFAULT_TOKENS_DIR = "/var/run/secrets/teamhub/tokens"
OIDC_TOKEN_FILE_ENV = "TEAMHUB_OIDC_TOKEN_FILE"
API_TOKEN_ENVS = ("JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")

#: A team credential as the builders take it: (team name, credential dict in the wire
#: shape ``{"name", "secretName", "keys", "mountPath", "env"}``).
TeamCredential = tuple[str, Mapping]


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _label(team: str, credential: Mapping) -> str:
    return f"teams.{team}.credentials[{credential.get('name')!r}]"


def credential_key(team: str, credential: str, key: str) -> str:
    """The credential Secret's key holding ``key`` of ``team``'s credential ``credential``."""
    check_dns_label(team, "team name")
    check_dns_label(credential, f"credential name in team {team!r}")
    out = f"{team}.{credential}.{key}"
    if len(out) > 253:
        raise ValueError(
            f"teams.{team}.credentials[{credential!r}]: key {key!r} is too long: the copied "
            f"key {team}.{credential}.<key> would be {len(out)} characters, Secret keys are "
            "at most 253"
        )
    return out


def _credential_prefix(team: str, credential: Mapping) -> str:
    return credential_key(team, credential["name"], "")


def _selected_keys(team: str, credential: Mapping, data: Mapping[str, str]) -> list[str]:
    wanted = credential.get("keys")
    if wanted is None:
        return sorted(data)
    missing = [k for k in wanted if k not in data]
    if missing:
        raise ValueError(
            f"{_label(team, credential)}: Secret {credential['secretName']!r} has no key "
            f"{', '.join(map(repr, missing))} (it has: {', '.join(sorted(data)) or 'none'})"
        )
    return list(dict.fromkeys(wanted))


def credential_secret(
    namespace: str,
    *,
    username: str,
    credentials: Iterable[TeamCredential],
    admin_secrets: Mapping[str, Mapping[str, str] | None],
    oidc_access_token: str | None,
    jupyterhub_api_token: str,
    name: str = CREDENTIAL_SECRET,
    servername: str = "",
) -> dict:
    """The credential Secret of one server (see the module doc for its keys).

    ``admin_secrets`` maps each admin Secret's name (``secretName``, in the hub's namespace)
    to its ``data`` (base64 values, as read from the API; None for a Secret without data).
    Values are copied without decoding. Everything goes into ``data`` (base64), so the
    manifest equals what the API returns and a second start can compare without diffs.
    """
    data = {
        OIDC_ACCESS_TOKEN_KEY: _b64(oidc_access_token or ""),
        JUPYTERHUB_API_TOKEN_KEY: _b64(jupyterhub_api_token),
    }
    seen: set[tuple[str, str]] = set()
    for team, cred in credentials:
        ident = (team, cred["name"])
        if ident in seen:
            raise ValueError(f"{_label(team, cred)}: listed twice")
        seen.add(ident)
        secret_name = cred["secretName"]
        if secret_name not in admin_secrets:
            raise ValueError(
                f"{_label(team, cred)}: the admin Secret {secret_name!r} was not provided"
            )
        source = admin_secrets[secret_name] or {}
        for key in _selected_keys(team, cred, source):
            data[credential_key(team, cred["name"], key)] = source[key]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                **L.common_labels(username, L.COMPONENT_CREDENTIALS),
                L.SERVER: L.escape_label_value(servername),
            },
            "annotations": L.user_annotations(username),
        },
        "data": data,
    }


def access_token_patch(oidc_access_token: str | None) -> dict:
    """A merge-patch body that rewrites only the access token (for ``refresh_user``)."""
    return {"data": {OIDC_ACCESS_TOKEN_KEY: _b64(oidc_access_token or "")}}


def credential_mount_path(
    credential: Mapping, credentials_dir: str = DEFAULT_CREDENTIALS_DIR
) -> str:
    """Where a credential's files appear: its ``mountPath``, else ``<credentials_dir>/<name>``."""
    return credential.get("mountPath") or posixpath.join(credentials_dir, credential["name"])


def _keys_of(secret: Mapping, team: str, credential: Mapping) -> list[str]:
    """The original key names of ``team``/``credential`` present in the built Secret."""
    prefix = _credential_prefix(team, credential)
    return [k[len(prefix) :] for k in secret.get("data", {}) if k.startswith(prefix)]


def tokens_volume(
    secret_name: str, *, tokens_dir: str = DEFAULT_TOKENS_DIR, default_mode: int = 0o440
) -> tuple[dict, dict]:
    """(volume, mount) of the two token files."""
    items = [{"key": k, "path": k} for k in (OIDC_ACCESS_TOKEN_KEY, JUPYTERHUB_API_TOKEN_KEY)]
    volume = {
        "name": TOKENS_VOLUME,
        "projected": {
            "defaultMode": default_mode,
            "sources": [{"secret": {"name": secret_name, "items": items}}],
        },
    }
    return volume, {"name": TOKENS_VOLUME, "mountPath": tokens_dir, "readOnly": True}


def credential_volumes(
    secret: Mapping,
    credentials: Iterable[TeamCredential],
    *,
    credentials_dir: str = DEFAULT_CREDENTIALS_DIR,
    default_mode: int = 0o440,
) -> tuple[list[dict], list[dict]]:
    """(volumes, mounts): one read-only projected volume per credential, files named by the
    admin's original keys. ``secret`` is the manifest from :func:`credential_secret`; the
    items are taken from its keys so the pod never references a key the Secret lacks.

    A credential with no keys gets an empty projected volume (``sources: []``), never a
    Secret source without ``items`` (which would project *every* key of the Secret).
    """
    volumes, mounts = [], []
    for team, cred in credentials:
        keys = _keys_of(secret, team, cred)
        sources = []
        if keys:
            items = [{"key": credential_key(team, cred["name"], k), "path": k} for k in keys]
            sources.append({"secret": {"name": secret["metadata"]["name"], "items": items}})
        vol_name = credential_pod_volume_name(team, cred["name"])
        volumes.append(
            {"name": vol_name, "projected": {"defaultMode": default_mode, "sources": sources}}
        )
        mounts.append(
            {
                "name": vol_name,
                "mountPath": credential_mount_path(cred, credentials_dir),
                "readOnly": True,
            }
        )
    return volumes, mounts


def _secret_env(env_name: str, secret_name: str, key: str) -> dict:
    return {
        "name": env_name,
        "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}},
    }


def credential_env(
    secret: Mapping,
    credentials: Iterable[TeamCredential],
    *,
    tokens_dir: str = DEFAULT_TOKENS_DIR,
) -> dict[str, dict]:
    """Env vars as ``{NAME: EnvVar dict}`` (KubeSpawner's ``environment`` accepts this
    shape, and ``.values()`` is a pod's ``env`` list). Tokens and credential keys are all
    ``secretKeyRef``; see the module doc. Two credentials setting one variable, or one
    claiming a token variable, is an error naming both."""
    secret_name = secret["metadata"]["name"]
    env: dict[str, dict] = {
        name: _secret_env(name, secret_name, JUPYTERHUB_API_TOKEN_KEY) for name in API_TOKEN_ENVS
    }
    env[OIDC_TOKEN_FILE_ENV] = {
        "name": OIDC_TOKEN_FILE_ENV,
        "value": posixpath.join(tokens_dir, OIDC_ACCESS_TOKEN_KEY),
    }
    owner = dict.fromkeys(env, "teamhub")
    for team, cred in credentials:
        present = set(_keys_of(secret, team, cred))
        for env_name, key in (cred.get("env") or {}).items():
            if key not in present:
                raise ValueError(
                    f"{_label(team, cred)}.env.{env_name}: key {key!r} is not among the "
                    f"credential's keys ({', '.join(sorted(present)) or 'none'})"
                )
            if env_name in owner:
                raise ValueError(
                    f"{_label(team, cred)}.env.{env_name}: already set by {owner[env_name]}"
                )
            owner[env_name] = _label(team, cred)
            env[env_name] = _secret_env(
                env_name, secret_name, credential_key(team, cred["name"], key)
            )
    return env
