"""For the jobs benchmarks (``logs.py``, ``submit.py``): alice's notebook in kubesim and a
real ``jupyter server`` process with the teamhub extension, acting as her notebook's
ServiceAccount, as it runs in her pod.

The server is a separate process (``python -m jupyter_server``, with whatever extensions
the environment enables, JupyterLab included) so that its memory and CPU are its own and
the benchmark's clients do not share its interpreter.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kubesim.sim import KubeSim  # noqa: E402
from tests.jobs.jobs_support import NS, POD  # noqa: E402

BASE_URL = "/user/alice/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotebookServer:
    """``jupyter server`` serving ``/user/alice/`` with the teamhub extension enabled."""

    def __init__(self, kubeconfig: Path, workdir: Path, profile: Path | None = None) -> None:
        """``profile``: run the server under cProfile, stats written there when it stops."""
        self.kubeconfig = kubeconfig
        self.profile = profile
        self.workdir = workdir
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_URL}"

    @property
    def api(self) -> str:
        return f"{self.url}teamhub/api"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def start(self, timeout: float = 60.0) -> NotebookServer:
        root = self.workdir / "root"
        root.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jupyter_server_config.py"
        config.write_text(
            "\n".join(
                [
                    "c.ServerApp.ip = '127.0.0.1'",
                    f"c.ServerApp.port = {self.port}",
                    "c.ServerApp.port_retries = 0",
                    f"c.ServerApp.base_url = {BASE_URL!r}",
                    "c.ServerApp.open_browser = False",
                    "c.ServerApp.allow_root = True",
                    f"c.ServerApp.root_dir = {str(root)!r}",
                    f"c.IdentityProvider.token = {self.token!r}",
                    "c.ServerApp.jpserver_extensions = {'teamhub': True}",
                    "c.ServerApp.log_level = 'WARN'",
                    f"c.TeamhubExtension.kubeconfig = {str(self.kubeconfig)!r}",
                    f"c.TeamhubExtension.namespace = {NS!r}",
                    f"c.TeamhubExtension.pod_name = {POD!r}",
                ]
            )
            + "\n"
        )
        env = {
            **os.environ,
            "HOME": str(self.workdir / "home"),
            "JUPYTER_CONFIG_DIR": str(self.workdir / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.workdir / "runtime"),
        }
        self.log = open(self.workdir / "server.log", "wb")  # noqa: SIM115
        prof = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        self.proc = subprocess.Popen(
            [sys.executable, *prof, "-m", "jupyter_server", f"--config={config}"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited; see {self.workdir / 'server.log'}")
            try:
                req = urllib.request.Request(f"{self.url}api/status", headers=self.headers)
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyter server did not start; see {self.workdir}/server.log")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def kubesim_api(sim: KubeSim) -> tuple[str, dict[str, str]]:
    """kubesim's URL and headers acting as alice's notebook ServiceAccount."""
    token = sim.create_token(NS, "teamhub-user")
    return sim.url, {"Authorization": f"Bearer {token}"}
