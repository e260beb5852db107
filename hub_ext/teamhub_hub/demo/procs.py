"""Child processes of the local stack: started in their own process group, tied to the
demo's life with ``PR_SET_PDEATHSIG`` (see :mod:`teamhub_hub.demo.pdeathsig`), logging to
a file, stopped with SIGTERM then SIGKILL to the whole group.

Own process group, because Ctrl-C in the terminal must reach only the demo, which then
stops its children in order (hub first, so it can stop the notebook servers while
kubesim still runs); the whole group, because a child's own children must go too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from teamhub_hub.demo import pdeathsig

#: Prefix that makes a command die with the process that starts it.
PDEATHSIG_PREFIX = (sys.executable, "-I", "-S", pdeathsig.__file__)


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports that were free a moment ago (for programs that need a port
    number on their command line rather than binding port 0 themselves)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file ('' if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * lines))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


class Service:
    """One child process of the stack, logging stdout+stderr to ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else dict(os.environ)
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*PDEATHSIG_PREFIX, *self.argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def failure(self, what: str) -> RuntimeError:
        """An error naming this service, its exit status and the end of its log."""
        status = ""
        if self.proc is not None and self.proc.poll() is not None:
            status = f" (exited with {self.proc.returncode})"
        return RuntimeError(
            f"{self.name}{status}: {what}\n--- last lines of {self.log_path} ---\n"
            f"{tail(self.log_path)}"
        )

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL to it after ``grace`` seconds."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group id is the leader's pid
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        # Whatever is left in the group (the leader, or children it left behind).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


def kill_pid_file(path: Path, must_contain: str) -> None:
    """Kill the process named in a pid file if it is still alive and its command line
    contains ``must_contain`` (the proxy JupyterHub started, should the hub have died
    without stopping it; the check keeps a stale file from naming a reused pid)."""
    try:
        pid = int(path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    except (OSError, ValueError):
        return
    if must_contain not in cmdline:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        path.unlink()


def wait_until(check, timeout: float, service: Service | None = None, what: str = "") -> None:
    """Poll ``check()`` until it is true; fail with the service's log on timeout or exit."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if service is not None and not service.running():
            raise service.failure(f"exited while waiting for {what}")
        if time.monotonic() > deadline:
            if service is not None:
                raise service.failure(f"not ready after {timeout:.0f}s: {what}")
            raise RuntimeError(f"not ready after {timeout:.0f}s: {what}")
        time.sleep(0.1)
