"""Names of the objects teamhub makes, and the checks that keep them valid.

Why one module: names are how a second start finds (and leaves alone) what the first
created, so each is derived here, deterministically, from the user and the config.

Namespaced objects live in the user's own namespace, so most have fixed names. The
exceptions:

- the credential Secret is per *server* (each server has its own JupyterHub API token, and
  stopping one named server must not delete another's credentials);
- team/global volume PVCs are ``<scope>.<volume>``: both parts are DNS labels, which never
  contain a dot, so the dot makes the pair unambiguous (PVC names are DNS subdomains);
- PersistentVolumes are cluster-scoped: ``teamhub.<namespace>.<scope>.<volume>``, again
  dot-joined DNS labels, at most 8 + 3 * 63 + 2 = 199 characters, within the 253 allowed,
  so no truncation or hash is ever needed and distinct (namespace, scope, volume) triples
  always give distinct names.
"""

from __future__ import annotations

import re

from kubespawner.slugs import multi_slug, safe_slug

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: KubeSpawner's slug length for ``{username}`` in its templates.
_USERNAME_SLUG_MAX = 48

GLOBAL_SCOPE = "global"

SERVICE_ACCOUNT = "teamhub-user"
ROLE = "teamhub-user"
ROLE_BINDING = "teamhub-user"
CREDENTIAL_SECRET = "teamhub-credentials"
HOME_PVC = "home"
NETWORK_POLICY = "teamhub-notebook-ingress"
RESOURCE_QUOTA = "teamhub-quota"
LIMIT_RANGE = "teamhub-defaults"

# Pod volume names (DNS labels, unique within the pod).
HOME_VOLUME = "home"
TOKENS_VOLUME = "teamhub-tokens"


def check_dns_label(value: object, what: str) -> str:
    """``value`` if it is a DNS-1123 label (what names in the teams config are), else a
    ValueError naming ``what``."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{what}: {value!r} is not a DNS-1123 label (at most 63 lowercase letters, digits "
            "and '-', starting and ending with a letter or digit)"
        )
    return value


def namespace_name(prefix: str, username: str) -> str:
    """``<prefix>-<safe username>``: the user's namespace.

    The username part is KubeSpawner's ``safe_slug`` (the ``{username}`` of its templates,
    max 48 characters), so with a short prefix the namespace is exactly KubeSpawner's
    ``{prefix}-{username}``. A prefix longer than 14 characters shortens the slug so the
    result stays a 63-character DNS label (the slug is then hashed for long names; still
    deterministic and collision-free).
    """
    check_dns_label(prefix, "namespacePrefix")
    max_slug = min(_USERNAME_SLUG_MAX, 63 - len(prefix) - 1)
    if max_slug < 12:  # strip_and_hash needs room for '<x>---<8 hex>'
        raise ValueError(
            f"namespacePrefix: {prefix!r} is too long ({len(prefix)} characters); "
            "at most 50 leave room for the username in a 63-character namespace name"
        )
    return f"{prefix}-{safe_slug(username, max_length=max_slug)}"


def credential_secret_name(servername: str = "") -> str:
    """The credential Secret of one server: ``teamhub-credentials`` for the default server,
    ``teamhub-credentials--<safe server name>`` for a named one."""
    if not servername:
        return CREDENTIAL_SECRET
    return f"{CREDENTIAL_SECRET}--{safe_slug(servername, max_length=48)}"


def volume_pvc_name(scope: str, volume: str) -> str:
    """The PVC of a team/global volume in the user's namespace: ``<scope>.<volume>``."""
    check_dns_label(scope, "volume scope (team name or 'global')")
    check_dns_label(volume, f"volume name in {scope!r}")
    return f"{scope}.{volume}"


def volume_pv_name(namespace: str, scope: str, volume: str) -> str:
    """The cluster-scoped PV of one user's team/global volume:
    ``teamhub.<namespace>.<scope>.<volume>`` (always <= 199 characters, see module doc)."""
    check_dns_label(namespace, "namespace")
    return f"teamhub.{namespace}.{volume_pvc_name(scope, volume)}"


def volume_pod_volume_name(scope: str, volume: str) -> str:
    """The pod-level volume name (a DNS label) for a team/global volume's PVC.

    KubeSpawner's ``multi_slug``: ``vol--<scope>--<volume>---<hash>``, unique even when
    hyphens make ``<scope>-<volume>`` ambiguous, and never equal to the fixed names.
    """
    return multi_slug(["vol", scope, volume], max_length=63)


def credential_pod_volume_name(team: str, credential: str) -> str:
    """The pod-level volume name of one team credential's projected volume."""
    return multi_slug(["cred", team, credential], max_length=63)
