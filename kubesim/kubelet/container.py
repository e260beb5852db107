"""One container of the ``process`` runtime as a local process: spawn options, log pumps,
graceful stop and the exit code as the kubelet reports it (see :mod:`kubesim.kubelet.process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from kubesim.kubelet.logs import LogWriter

# fmt: off
UNSHARE_ARGS = ("--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc",
                "--propagation", "private")
# fmt: on
#: How runc words a failure to start the container process (kubectl shows it verbatim).
RUNC_PREFIX = (
    "failed to create containerd task: failed to create shim task: OCI runtime create "
    "failed: runc create failed: unable to start container process: "
)

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:  # runs in the child between fork and exec
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


_isolation_cache: dict[str, str | None] = {}


def namespace_support() -> str | None:
    """Path of a working ``unshare`` for the namespace mode, or None (probed once)."""
    if "unshare" not in _isolation_cache:
        path = shutil.which("unshare")
        if path:
            try:
                ok = (
                    subprocess.run(
                        [path, *UNSHARE_ARGS, "true"], capture_output=True, timeout=10
                    ).returncode
                    == 0
                )
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            path = path if ok else None
        _isolation_cache["unshare"] = path
    return _isolation_cache["unshare"]


class ProcessContainer:
    """A running container: its process, its log pumps, how it ended."""

    #: The environment and working directory ``exec`` runs commands with (set by the runtime).
    exec_env: dict[str, str] | None = None
    exec_cwd: str = "/"

    def __init__(
        self,
        proc: asyncio.subprocess.Process | None,
        writer: LogWriter,
        error_file: Path | None = None,
        start_error: str = "",
    ) -> None:
        self.proc = proc
        self.error_file = error_file
        self.reason: str | None = "StartError" if start_error else None
        self.message = start_error
        if start_error:
            writer.write(start_error.encode() + b"\n", "stderr")
        self._pumps = (
            []
            if proc is None
            else [
                asyncio.get_running_loop().create_task(self._pump(s, n, writer))
                for s, n in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
            ]
        )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @staticmethod
    async def _pump(stream: asyncio.StreamReader | None, name: str, writer: LogWriter) -> None:
        while stream is not None:
            chunk = await stream.read(65536)
            if not chunk:
                return
            writer.write(chunk, name)

    async def wait(self) -> int:
        if self.proc is None:
            return 128
        rc = await self.proc.wait()
        if self._pumps:
            # A daemonised grandchild may hold the pipes open (no-namespace mode only).
            _, pending = await asyncio.wait(self._pumps, timeout=2)
            for t in pending:
                t.cancel()
        if self.error_file is not None and self.error_file.exists():
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(self.error_file.read_text())
                self.reason, self.message = info["reason"], info["message"]
        return 128 - rc if rc < 0 else rc

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    async def stop(self, grace: float) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), max(grace, 0))
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self.proc.wait()
