"""``LocalStack``: the whole system on this machine, for the demo and the end-to-end tests.

- **kubesim** in a thread of this process, with the *process* kubelet: notebook pods run
  as local processes, each with its own 127.x pod IP (``stack.kubesim`` is the
  :class:`~kubesim.sim.KubeSim`, ``stack.kubeconfig`` an admin kubeconfig for Python
  clients, ``stack.kubectl_config`` the same over https for kubectl). Besides kubesim's
  two plain nodes there is one with two ``nvidia.com/gpu``, so the demo's GPU profile
  schedules;
- **oidc-provider-mock** (subprocess): the identity provider, with the demo users and
  their ``groups`` claims (``DEMO_USERS``); its login form takes a subject, so a client
  logs in by POSTing ``sub=alice`` to the authorize URL it was redirected to;
- **JupyterHub** (subprocess) with a generated ``jupyterhub_config.py``
  (:mod:`teamhub_hub.demo.hubconfig`); it starts the real **configurable-http-proxy**
  (npm, ``.local/node``), the only public address (``stack.public_url``).

By default the hub runs teamhub: TeamAuthenticator (groups from the provider decide the
teams; ``admins`` makes hub admins) and TeamSpawner (a namespace per user with team
volumes, credentials and a least-privilege ServiceAccount) with the demo teams config
(``teams.yaml`` next to this file), and the team credential the config names (the Secret
``vision-s3``, ``DEMO_S3``) exists in the hub namespace. Demo users: alice and dave in
vision, bob in nlp, carol admin (``DEMO_USERS``).

Injection points, for other hub classes and tests: ``spawner_class``,
``authenticator_class`` (class or importable name), ``teams_file`` (None: none set),
``config_files`` and ``extra_config`` (appended to the generated config), ``hub_env``
(extra hub environment), ``manifests`` (objects applied to kubesim as admin before
``start()`` returns; None: the demo's admin Secret), ``users`` (the provider's
identities and claims).

Everything lives under ``state_dir`` (recreated at each start: kubesim keeps its API
objects in memory, so a hub database from an earlier run would describe servers that no
longer exist). Every child runs in its own process group and dies with its parent
(``PR_SET_PDEATHSIG``); ``stop()`` stops the hub first (notebook servers outlive the hub,
as in Zero to JupyterHub: ``cleanup_servers`` is off), then the provider, then kubesim,
which ends every pod. ``restart_hub()`` restarts only the hub (and the proxy it runs);
running servers stay, and the hub finds them again from its database.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from teamhub_hub.demo import hubconfig
from teamhub_hub.demo.procs import (
    PDEATHSIG_PREFIX,
    Service,
    free_ports,
    kill_pid_file,
    tail,
    wait_until,
)

#: Demo identities: username -> OIDC claims (besides ``sub``/``preferred_username``).
DEMO_USERS: dict[str, dict[str, Any]] = {
    "alice": {"name": "Alice (vision)", "email": "alice@example.org", "groups": ["vision"]},
    "dave": {"name": "Dave (vision)", "email": "dave@example.org", "groups": ["vision"]},
    "bob": {"name": "Bob (nlp)", "email": "bob@example.org", "groups": ["nlp"]},
    "carol": {"name": "Carol (admin)", "email": "carol@example.org", "groups": ["admins"]},
}
#: The demo's admin-managed team credential (teams.vision.credentials ``s3``): fake values.
DEMO_S3_SECRET = "vision-s3"
DEMO_S3: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "AKIATEAMHUBDEMO00001",
    "AWS_SECRET_ACCESS_KEY": "demo-only/not-a-real-secret-key",
}


def demo_manifests(hub_namespace: str) -> list[dict[str, Any]]:
    """What an admin creates in the hub namespace for the demo teams config: the Secret
    that vision's ``s3`` credential is copied from."""
    data = {k: base64.b64encode(v.encode()).decode() for k, v in DEMO_S3.items()}
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": DEMO_S3_SECRET, "namespace": hub_namespace},
            "data": data,
        }
    ]


#: Where ``./dev`` installs configurable-http-proxy (npm prefix ``.local/node``).
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CHP = REPO_ROOT / ".local" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
#: Subdirectories of ``state_dir`` owned (and wiped at start) by the stack.
_OWNED = ("hub", "kubesim", "logs", "kubeconfig", "kubeconfig-kubectl")
#: kubesim's nodes in the stack: two plain ones and one with GPUs (the demo's gpu profile).
NODES = (
    {"name": "kubesim-node-1"},
    {"name": "kubesim-node-2"},
    {"name": "kubesim-gpu-1", "gpus": 2},
)
#: Host variables that must not leak into the hub (it would think it runs in a pod, or
#: inside another hub's single-user server).
_DROP_ENV_PREFIXES = ("KUBERNETES_", "JUPYTERHUB_", "CONFIGPROXY_", "KUBECONFIG")


def find_chp(explicit: str | Path | None = None) -> Path:
    """The configurable-http-proxy executable: ``explicit`` (must exist), else
    ``$TEAMHUB_CHP``, the npm install ``./dev`` makes under ``.local/node``, or one on
    ``PATH``."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"configurable-http-proxy not found at {explicit}")
        return Path(explicit)
    for cand in (
        os.environ.get("TEAMHUB_CHP"),
        DEFAULT_CHP,
        shutil.which("configurable-http-proxy"),
    ):
        if cand and Path(cand).is_file():
            return Path(cand)
    raise FileNotFoundError(
        f"configurable-http-proxy not found (looked at $TEAMHUB_CHP, {DEFAULT_CHP} and PATH); "
        "`./dev start` or `./dev test` installs it, or run `npm install --prefix .local/node "
        "configurable-http-proxy@4.6.x`"
    )


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


class LocalStack:
    """kubesim + oidc-provider-mock + JupyterHub + configurable-http-proxy, on free ports."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        spawner_class: str | type = hubconfig.DEFAULT_SPAWNER,
        authenticator_class: str | type = hubconfig.DEFAULT_AUTHENTICATOR,
        config_files: Sequence[str | Path] = (),
        extra_config: str = "",
        teams_file: str | Path | None = hubconfig.DEMO_TEAMS_FILE,
        hub_env: Mapping[str, str] | None = None,
        manifests: Sequence[Mapping[str, Any]] | None = None,
        users: Mapping[str, Mapping[str, Any]] = DEMO_USERS,
        namespace: str = "teamhub",
        port: int = 0,
        chp: str | Path | None = None,
        log_level: str = "INFO",
        startup_timeout: float = 60.0,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.spawner_class = hubconfig.class_path(spawner_class)
        self.authenticator_class = hubconfig.class_path(authenticator_class)
        self.config_files = [Path(p).resolve() for p in config_files]
        for p in self.config_files:
            if not p.is_file():
                raise FileNotFoundError(f"config_files: {p} does not exist")
        self.extra_config = extra_config
        self.teams_file = Path(teams_file).resolve() if teams_file is not None else None
        if self.teams_file is not None and not self.teams_file.is_file():
            raise FileNotFoundError(f"teams_file: {self.teams_file} does not exist")
        self.hub_env = dict(hub_env or {})
        self.namespace = namespace
        if manifests is None:
            manifests = demo_manifests(namespace)
        self.manifests = [dict(m) for m in manifests]
        self.users = {name: dict(claims) for name, claims in users.items()}
        self.port = port
        self.chp = find_chp(chp)
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.kubesim: Any = None  # kubesim.sim.KubeSim once started
        self.services: dict[str, Service] = {}
        self.timings: dict[str, float] = {}
        self._log_handler: logging.Handler | None = None
        self.public_url = self.hub_url = self.oidc_url = self.proxy_api_url = ""
        #: Token of configurable-http-proxy's REST API (``proxy_api_url``/api/routes).
        self.proxy_auth_token = secrets.token_hex(32)
        #: The key of the hub's encrypted auth state: the same for every hub process of
        #: this stack, so a restarted hub can still read the tokens it stored.
        self._crypt_key = secrets.token_hex(32)

    # ------------------------------------------------------------ paths
    @property
    def hub_dir(self) -> Path:
        return self.state_dir / "hub"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def kubectl_config(self) -> Path:
        """An admin kubeconfig over https: kubectl sends a bearer token only over TLS."""
        return self.state_dir / "kubeconfig-kubectl"

    @property
    def config_file(self) -> Path:
        return self.hub_dir / "jupyterhub_config.py"

    @property
    def logs(self) -> dict[str, Path]:
        return {n: self.log_dir / f"{n}.log" for n in ("kubesim", "oidc", "hub")}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        # The hub and the provider start in the background while kubesim comes up here:
        # they need kubesim's address (chosen now), not kubesim itself, until a spawn.
        t0 = time.monotonic()
        self._reset_state()
        public, hub, api, oidc, kube = free_ports(5)
        public = self.port or public
        self.public_url = f"http://127.0.0.1:{public}"
        self.hub_url = f"http://127.0.0.1:{hub}"
        self.proxy_api_url = f"http://127.0.0.1:{api}"
        self.oidc_url = f"http://127.0.0.1:{oidc}"
        self._create_kubesim(kube)
        self._start_oidc(oidc)
        self._start_hub()
        self._start_kubesim()
        self.timings["kubesim"] = time.monotonic() - t0
        wait_until(
            lambda: _http_ok(self.oidc_url + "/.well-known/openid-configuration"),
            self.startup_timeout,
            self.services["oidc"],
            f"{self.oidc_url}/.well-known/openid-configuration",
        )
        self.timings["oidc"] = time.monotonic() - t0
        self._wait_for_hub()
        self.timings["hub"] = time.monotonic() - t0

    def _wait_for_hub(self) -> None:
        wait_until(
            lambda: _http_ok(self.hub_url + "/hub/api/"),
            self.startup_timeout,
            self.services["hub"],
            f"the hub's API at {self.hub_url}/hub/api/",
        )
        wait_until(
            lambda: _http_ok(self.public_url + "/hub/api/"),
            self.startup_timeout,
            self.services["hub"],
            f"the hub behind the proxy at {self.public_url}/hub/api/",
        )

    def _reset_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name in _OWNED:
            p = self.state_dir / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
        for d in (self.hub_dir, self.log_dir):
            d.mkdir(parents=True)

    def _create_kubesim(self, port: int) -> None:
        from kubesim.sim import KubeSim

        handler = logging.FileHandler(self.logs["kubesim"])
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        klog = logging.getLogger("kubesim")
        klog.addHandler(handler)
        if klog.level == logging.NOTSET:
            klog.setLevel(logging.INFO)
        self._log_handler = handler
        self.kubesim = KubeSim(
            kubelet="process",
            host="127.0.0.1",
            port=port,
            data_dir=self.state_dir / "kubesim",
            nodes=NODES,
            # Pods run on this machine: keep the hub's database, cookie secret and
            # kubeconfigs out of their sight, as a container would be kept from the node's.
            hidden_paths=(self.state_dir,),
        )
        self.kubesim.write_kubeconfig(self.kubeconfig, namespace=self.namespace)

    def _start_kubesim(self) -> None:
        self.kubesim.start()
        self.kubesim.write_kubeconfig(self.kubectl_config, namespace=self.namespace, tls=True)
        self.kubesim.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        )
        # Pods need the namespace's default ServiceAccount, made by kubesim's controller.
        wait_until(
            lambda: self.kubesim.lookup("serviceaccounts", self.namespace, "default"),
            10,
            what=f"ServiceAccount {self.namespace}/default",
        )
        for m in self.manifests:  # e.g. the admin-managed credential Secrets of the demo
            self.kubesim.apply(m)

    def _oidc_argv(self, port: int) -> list[str]:
        argv = [sys.executable, "-m", "oidc_provider_mock"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        for name, claims in self.users.items():
            full = {"sub": name, "preferred_username": name, **claims}
            argv += ["--user-claims", json.dumps(full)]
        return argv

    def _start_oidc(self, port: int) -> None:
        env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        svc = Service(
            "oidc-provider-mock", self._oidc_argv(port), log_path=self.logs["oidc"], env=env
        )
        self.services["oidc"] = svc
        svc.start()

    def _hub_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_ENV_PREFIXES)}
        bin_dir = str(Path(sys.executable).parent)
        env.update(
            PATH=f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}",
            KUBECONFIG=str(self.kubeconfig),
            JUPYTERHUB_CRYPT_KEY=self._crypt_key,
            CONFIGPROXY_AUTH_TOKEN=self.proxy_auth_token,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.hub_env)
        return env

    def hub_settings(self) -> hubconfig.HubSettings:
        return hubconfig.HubSettings(
            hub_dir=self.hub_dir,
            state_dir=self.state_dir,
            public_url=self.public_url,
            hub_url=self.hub_url,
            proxy_api_url=self.proxy_api_url,
            oidc_url=self.oidc_url,
            namespace=self.namespace,
            kubeconfig=self.kubeconfig,
            chp_command=[*PDEATHSIG_PREFIX, str(self.chp)],
            singleuser=Path(sys.executable).parent / "jupyterhub-singleuser",
            users=self.users,
            spawner_class=self.spawner_class,
            authenticator_class=self.authenticator_class,
            config_files=self.config_files,
            extra_config=self.extra_config,
            teams_file=self.teams_file,
            log_level=self.log_level,
        )

    def _start_hub(self) -> None:
        self.config_file.write_text(hubconfig.render(self.hub_settings()))
        argv = [sys.executable, "-m", "jupyterhub", "-f", str(self.config_file)]
        svc = Service(
            "jupyterhub", argv, log_path=self.logs["hub"], env=self._hub_env(), cwd=self.hub_dir
        )
        self.services["hub"] = svc
        svc.start()

    def _stop_hub(self) -> None:
        hub = self.services.pop("hub", None)
        if hub is not None:
            hub.stop(grace=20)
        kill_pid_file(self.hub_dir / "jupyterhub-proxy.pid", "configurable-http-proxy")

    def restart_hub(self) -> None:
        """Stop the hub (and the proxy it runs) and start it again with the same config,
        database and keys; returns once it answers behind the proxy. Notebook servers keep
        running meanwhile (kubesim and the provider are not touched)."""
        if "hub" not in self.services:
            raise RuntimeError("restart_hub: the stack is not running")
        self._stop_hub()
        self._start_hub()
        self._wait_for_hub()

    def stop(self) -> None:
        """Stop everything; safe to call more than once and after a failed start."""
        self._stop_hub()
        for svc in list(self.services.values()):
            svc.stop(grace=5)
        self.services.clear()
        if self.kubesim is not None:
            self.kubesim.stop()
            self.kubesim = None
        if self._log_handler is not None:
            logging.getLogger("kubesim").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    # ------------------------------------------------------------ diagnostics
    def diagnostics(self, lines: int = 40) -> str:
        """The end of every log (services and notebook pods): for failing tests."""
        out = []
        for name, path in self.logs.items():
            out.append(f"--- {name} ({path}) ---\n{tail(path, lines)}")
        pod_logs = self.state_dir / "kubesim" / "logs"
        for path in sorted(pod_logs.glob("*/*/*.log")):
            out.append(f"--- pod log {path.relative_to(pod_logs)} ---\n{tail(path, lines)}")
        return "\n".join(out)
