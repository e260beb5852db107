"""The ``jupyterhub_config.py`` of the local stack, generated from plain values.

A pure function (settings in, config text out) so it can be read and tested without
starting anything. The generated file sets, in this order:

1. the hub, the proxy and where state lives (ports, sqlite db, cookie secret, the
   configurable-http-proxy command wrapped so it dies with the hub). Servers outlive the
   hub (``cleanup_servers = False``, as in Zero to JupyterHub): a restarted hub finds them
   in its database and routes to them again (:meth:`LocalStack.restart_hub`);
2. the identity provider, on ``c.GenericOAuthenticator`` (so any subclass, e.g.
   TeamAuthenticator, inherits it): oidc-provider-mock's endpoints, groups from the
   ``groups`` claim, admins from the ``admins`` group, auth state on. A plain
   GenericOAuthenticator admits the demo groups (``allowed_groups``); TeamAuthenticator
   admits whoever the teams config puts in a team (and admins), so it gets no
   ``allowed_groups``;
3. the spawner, on ``c.KubeSpawner`` (inherited by TeamSpawner): what running a notebook
   under kubesim's *process* kubelet takes (see below); then TeamSpawner's own settings on
   ``c.TeamSpawner`` (the hub namespace holding the admin Secrets, JupyterLab, home);
4. the teams config: ``c.TeamRegistry.teams_file`` (the demo's ``teams.yaml`` by default);
5. the injected parts: ``spawner_class``, ``authenticator_class``, then each of
   ``config_files`` (``load_subconfig``), then ``extra_config`` (Python source). Injected
   config sees ``c`` and ``demo`` (a dict of the stack's URLs, paths and users).

Notebooks under the process kubelet: the pod's command runs on this machine, so ``cmd`` is
this virtualenv's ``jupyterhub-singleuser`` (the image is ignored). Pods share the host's
network (each has its own 127.x address but no network namespace), so the server must
listen on its pod IP rather than ``0.0.0.0:8888``, which the second pod could not bind:
``POD_IP`` comes from the downward API and ``--ServerApp.ip=$(POD_IP)`` is expanded by the
kubelet, as Kubernetes does. The kubelet runs processes as the current user and does not
apply ``runAsUser``; as root, jupyter-server needs ``--allow-root``.

JupyterLab and the file browser (TeamSpawner): a user's files are not under one
directory. Home is ``/home/jovyan`` (``HOME``, the working directory), team volumes are
``/teams/<team>/<volume>``, global ones ``/data/<name>``, credentials
``/var/run/secrets/teamhub``. JupyterLab's file browser cannot leave its root directory,
so the root is ``/`` (``notebook_dir``, i.e. ``--ServerApp.root_dir=/``) and the server
opens on the home folder (``default_url = /lab/tree/home/jovyan``): the pattern Zero to
JupyterHub documents for volumes mounted outside home. The alternatives are worse: a root
of ``/home/jovyan`` with symlinks to the team folders would need a start-up step writing
teamhub's links into the user's persistent home (and leave them dangling after leaving a
team), and mounting team volumes inside home would nest shared data in personal storage.
A root of ``/`` shows nothing a terminal in the same pod could not; under kubesim (no
container image) that is this machine's filesystem as seen from the pod's mount
namespace, so keep the demo on a machine you own.
"""

from __future__ import annotations

import pprint
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SPAWNER = "teamhub_spawner.spawner.TeamSpawner"
DEFAULT_AUTHENTICATOR = "teamhub_hub.authenticator.TeamAuthenticator"
#: The demo's teams config (``c.TeamRegistry.teams_file``).
DEMO_TEAMS_FILE = Path(__file__).resolve().parent / "teams.yaml"
#: Where notebooks keep the user's home (the ``home.mountPath`` of the demo teams config).
NOTEBOOK_HOME = "/home/jovyan"
#: OAuth client of the hub at the provider (oidc-provider-mock accepts any client).
CLIENT_ID = "teamhub-demo"
CLIENT_SECRET = "teamhub-demo-secret"
#: The provider's group that makes someone a hub admin.
ADMIN_GROUP = "admins"


def class_path(cls: str | type) -> str:
    """An importable name JupyterHub accepts for ``spawner_class``/``authenticator_class``:
    a class becomes ``module.QualName``; a string (import path or entry point name such
    as ``"teamhub"``) is kept."""
    if isinstance(cls, str):
        if not cls:
            raise ValueError("a spawner/authenticator class name must not be empty")
        return cls
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class HubSettings:
    """Everything the generated config needs; all paths absolute."""

    hub_dir: Path
    public_url: str
    hub_url: str
    proxy_api_url: str
    oidc_url: str
    namespace: str
    kubeconfig: Path
    chp_command: Sequence[str]
    singleuser: Path
    users: Mapping[str, Mapping[str, Any]]
    spawner_class: str = DEFAULT_SPAWNER
    authenticator_class: str = DEFAULT_AUTHENTICATOR
    config_files: Sequence[Path] = ()
    extra_config: str = ""
    #: ``c.TeamRegistry.teams_file``; None leaves the teams config to injected config.
    teams_file: Path | None = DEMO_TEAMS_FILE
    log_level: str = "INFO"
    state_dir: Path | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """The ``demo`` dict injected config can read."""
        return {
            "public_url": self.public_url,
            "hub_url": self.hub_url,
            "oidc_url": self.oidc_url,
            "namespace": self.namespace,
            "kubeconfig": str(self.kubeconfig),
            "hub_dir": str(self.hub_dir),
            "state_dir": str(self.state_dir or self.hub_dir.parent),
            "singleuser": str(self.singleuser),
            "teams_file": str(self.teams_file) if self.teams_file else None,
            "users": {k: dict(v) for k, v in self.users.items()},
            **dict(self.extras),
        }


def _lit(value: Any) -> str:
    return pprint.pformat(value, width=90, sort_dicts=False)


def render(s: HubSettings) -> str:
    """The config file's text."""
    groups = sorted({g for claims in s.users.values() for g in claims.get("groups", [])})
    hub = s.hub_dir
    lines = [
        '"""JupyterHub config of the teamhub local stack, generated by',
        "teamhub_hub.demo.hubconfig at every start: do not edit; inject config through",
        'LocalStack(config_files=..., extra_config=...) instead."""',
        "# ruff: noqa",
        "c = get_config()  # type: ignore[name-defined]",
        f"demo = {_lit(s.facts())}",
        "",
        "# --- hub, proxy, state",
        'c.JupyterHub.bind_url = demo["public_url"]',
        'c.JupyterHub.hub_bind_url = demo["hub_url"]',
        'c.JupyterHub.hub_connect_url = demo["hub_url"]',
        f"c.JupyterHub.db_url = {_lit('sqlite:///' + str(hub / 'jupyterhub.sqlite'))}",
        f"c.JupyterHub.cookie_secret_file = {_lit(str(hub / 'jupyterhub_cookie_secret'))}",
        f"c.JupyterHub.log_level = {_lit(s.log_level)}",
        "c.ConfigurableHTTPProxy.should_start = True",
        f"c.ConfigurableHTTPProxy.command = {_lit(list(s.chp_command))}",
        f"c.ConfigurableHTTPProxy.api_url = {_lit(s.proxy_api_url)}",
        f"c.ConfigurableHTTPProxy.pid_file = {_lit(str(hub / 'jupyterhub-proxy.pid'))}",
        "c.JupyterHub.cleanup_servers = False  # servers outlive a hub restart",
        "",
        "# --- identity: oidc-provider-mock",
        "c.Authenticator.enable_auth_state = True  # key: JUPYTERHUB_CRYPT_KEY in the env",
        'c.GenericOAuthenticator.login_service = "the demo identity provider"',
        f"c.GenericOAuthenticator.client_id = {_lit(CLIENT_ID)}",
        f"c.GenericOAuthenticator.client_secret = {_lit(CLIENT_SECRET)}",
        'c.GenericOAuthenticator.authorize_url = demo["oidc_url"] + "/oauth2/authorize"',
        'c.GenericOAuthenticator.token_url = demo["oidc_url"] + "/oauth2/token"',
        "# client_secret_basic: the provider takes only that for refresh-token grants",
        "c.GenericOAuthenticator.basic_auth = True",
        'c.GenericOAuthenticator.userdata_url = demo["oidc_url"] + "/userinfo"',
        'c.GenericOAuthenticator.oauth_callback_url = demo["public_url"] + "/hub/oauth_callback"',
        'c.GenericOAuthenticator.scope = ["openid", "profile", "email"]',
        'c.GenericOAuthenticator.username_claim = "sub"',
        "c.GenericOAuthenticator.manage_groups = True",
        'c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"',
        f"c.GenericOAuthenticator.allowed_groups = set({_lit(groups)})",
        f"c.GenericOAuthenticator.admin_groups = {{{_lit(ADMIN_GROUP)}}}",
        "c.TeamAuthenticator.allowed_groups = set()  # teams (and admin_groups) decide",
        "",
        "# --- notebooks: pods on kubesim's process kubelet",
        'c.KubeSpawner.namespace = demo["namespace"]',
        'c.KubeSpawner.image = "quay.io/jupyter/base-notebook:latest"  # not run by kubesim',
        'c.KubeSpawner.cmd = [demo["singleuser"]]',
        'c.KubeSpawner.args = ["--ServerApp.ip=$(POD_IP)", "--allow-root"]',
        "c.KubeSpawner.environment = {",
        '    "POD_IP": {"valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},',
        "}",
        "# generous: a busy machine can take long to import jupyter-server and JupyterLab",
        "c.KubeSpawner.start_timeout = 120",
        "c.KubeSpawner.http_timeout = 120",
        "",
        "# --- TeamSpawner: admin Secrets in the hub namespace; JupyterLab on / opening home",
        'c.TeamSpawner.hub_namespace = demo["namespace"]',
        "c.TeamSpawner.environment = {",
        '    "POD_IP": {"valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},',
        f'    "HOME": {_lit(NOTEBOOK_HOME)},',
        "}",
        f"c.TeamSpawner.working_dir = {_lit(NOTEBOOK_HOME)}",
        'c.TeamSpawner.notebook_dir = "/"',
        f"c.TeamSpawner.default_url = {_lit('/lab/tree' + NOTEBOOK_HOME)}",
        "",
        "# --- the teams config",
        *(
            [f"c.TeamRegistry.teams_file = {_lit(str(s.teams_file))}"]
            if s.teams_file is not None
            else ["# (none: set c.TeamRegistry.teams_file or .teams in injected config)"]
        ),
        "",
        "# --- injected",
        f"c.JupyterHub.spawner_class = {_lit(s.spawner_class)}",
        f"c.JupyterHub.authenticator_class = {_lit(s.authenticator_class)}",
    ]
    lines += [
        f"load_subconfig({_lit(str(p))})  # type: ignore[name-defined]" for p in s.config_files
    ]
    if s.extra_config.strip():
        lines += ["", "# --- extra_config", s.extra_config.rstrip()]
    return "\n".join(lines) + "\n"
