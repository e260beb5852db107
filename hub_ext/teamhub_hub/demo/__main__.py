"""``python -m teamhub_hub.demo``: run the local stack in the foreground until Ctrl-C.

Prints the hub URL and how to log in. Ctrl-C (or SIGTERM) stops everything; the children
also die on their own if this process is killed outright (``PR_SET_PDEATHSIG``).
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
    stack = LocalStack(
        args.state_dir,
        port=args.port,
        spawner_class=args.spawner_class,
        authenticator_class=args.authenticator_class,
        config_files=args.config_files,
        log_level=args.log_level,
    )
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


def _banner(stack: LocalStack, seconds: float) -> str:
    users = "\n".join(
        f"    {name:<8} groups: {', '.join(c.get('groups', [])) or '-'}"
        for name, c in stack.users.items()
    )
    logs = "\n".join(f"    {name:<8} {path}" for name, path in stack.logs.items())
    return f"""
teamhub local demo is up ({seconds:.1f}s).

  Open {stack.public_url}/ in a browser, click "Sign in with the demo identity provider",
  type one of these users in the form and press "Authorize":
{users}
  (any other name signs in at the provider but has no groups: the hub refuses it)

  kubectl:   KUBECONFIG={stack.kubeconfig} {Path(sys.executable).parent / "kubectl"} get pods -A
  logs:
{logs}

Ctrl-C stops everything.
"""


if __name__ == "__main__":
    sys.exit(main())
