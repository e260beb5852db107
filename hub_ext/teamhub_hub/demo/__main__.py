"""``python -m teamhub_hub.demo``: run the local stack in the foreground until Ctrl-C.

The hub runs teamhub (TeamAuthenticator + TeamSpawner) with the demo teams config. It
prints the hub URL, the demo users and how to log in: the demo identity provider's login
page takes any subject (user name) without a password; its groups come from the demo's
claims. Logging in as alice and starting a server opens JupyterLab on her home; the file
browser starts at ``/`` so her team folders (``/teams/vision/...``), the global datasets
(``/data/datasets``) and her credential files (``/var/run/secrets/teamhub``) are a click
away (why ``/``: see :mod:`teamhub_hub.demo.hubconfig`).

Ctrl-C (or SIGTERM) stops everything; the children also die on their own if this process
is killed outright (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from teamhub_hub.demo import hubconfig
from teamhub_hub.demo.stack import REPO_ROOT, LocalStack


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m teamhub_hub.demo", description=__doc__)
    p.add_argument(
        "--state-dir",
        type=Path,
        default=REPO_ROOT / ".local" / "demo",
        help="where the hub database, kubesim's volumes and the logs live (wiped at start)",
    )
    p.add_argument("--port", type=int, default=8000, help="public port (0: any free port)")
    p.add_argument("--spawner-class", default=hubconfig.DEFAULT_SPAWNER)
    p.add_argument("--authenticator-class", default=hubconfig.DEFAULT_AUTHENTICATOR)
    p.add_argument(
        "--teams-file",
        type=Path,
        default=hubconfig.DEMO_TEAMS_FILE,
        help="the teams config (c.TeamRegistry.teams_file; default: the demo's)",
    )
    p.add_argument(
        "--config",
        dest="config_files",
        action="append",
        type=Path,
        default=[],
        help="extra jupyterhub_config.py loaded after the generated one (repeatable)",
    )
    p.add_argument("--log-level", default="INFO")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        stack = LocalStack(
            args.state_dir,
            port=args.port,
            spawner_class=args.spawner_class,
            authenticator_class=args.authenticator_class,
            teams_file=args.teams_file,
            config_files=args.config_files,
            log_level=args.log_level,
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"python -m teamhub_hub.demo: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"starting the local stack (state in {stack.state_dir}) ...", flush=True)
    t0 = time.monotonic()
    try:
        stack.start()
    except Exception as e:
        print(f"the local stack failed to start: {e}", file=sys.stderr)
        return 1
    try:
        print(_banner(stack, time.monotonic() - t0), flush=True)
        while not stop.wait(1):
            for svc in stack.services.values():
                if not svc.running():
                    print(svc.failure("stopped unexpectedly"), file=sys.stderr)
                    return 1
        return 0
    finally:
        print("stopping (hub, notebook servers, proxy, identity provider, kubesim) ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


def _role(groups: list[str]) -> str:
    if hubconfig.ADMIN_GROUP in groups:
        return "hub admin"
    return "team member" if groups else "no team"


def _banner(stack: LocalStack, seconds: float) -> str:
    users = "\n".join(
        f"    {name:<8} groups: {', '.join(c.get('groups', [])) or '-':<10} "
        f"({_role(list(c.get('groups', [])))})"
        for name, c in stack.users.items()
    )
    logs = "\n".join(f"    {name:<8} {path}" for name, path in stack.logs.items())
    return f"""
teamhub local demo is up ({seconds:.1f}s).
  teams config: {stack.teams_file or "(from injected config)"}

  Open {stack.public_url}/ in a browser and click "Sign in with the demo identity
  provider". Its login page takes any user name (the "sub"), no password: type one of
  these and press "Authorize":
{users}
  (any other name signs in at the provider but belongs to no team: the hub refuses it)
  Then start a server: JupyterLab opens on your home (/home/jovyan); your team folders
  are under /teams, shared datasets under /data, credentials under /var/run/secrets/teamhub.

  kubectl:   KUBECONFIG={stack.kubectl_config} {Path(sys.executable).parent / "kubectl"} get pods -A
  logs:
{logs}

Ctrl-C stops everything.
"""


if __name__ == "__main__":
    sys.exit(main())
