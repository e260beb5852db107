"""``exec`` into a running container: what the kubelet and the container runtime do for
``kubectl exec`` once the API server has checked the request (see :mod:`kubesim.execstream`).

:func:`running_container` is the kubelet's lookup: only a container that is running now can
be entered, otherwise ``container not found ("name")`` as the kubelet answers (a waiting,
terminated or restarting container, a pod it does not run). :func:`start` is the runtime's
part, by runtime:

- ``process``: the command runs in the container's context — its environment (as resolved
  when the container started), working directory and user (kubesim's own, like the
  container's). In *namespace* isolation it also joins the container's mount, UTS and PID
  namespaces through :mod:`kubesim.kubelet.execinit`, so it sees the container's volumes at
  their ``mountPath``, its ``/etc/hosts`` and hostname, and is killed with the container;
  without isolation it runs directly, in the container's working directory. ``tty`` gives it a
  pseudo-terminal (stdout and stderr both go there; ``resize`` sets its size).
- ``instant``: containers have no filesystem, so nothing can be executed: every exec fails as
  in an image without that executable (``exec: "ls": executable file not found in $PATH``).

A command that cannot be started raises :class:`ExecFailed` with the runtime's message
(containerd's ``failed to exec in container: failed to start exec "<id>": OCI runtime exec
failed: ...``); one that ran reports its exit code (128+N when killed by signal N).
A client going away does not stop the command (it runs on, as under containerd, until it
exits or the container stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import struct
import subprocess
import sys
import termios
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubesim.kubelet import execinit
from kubesim.kubelet.container import die_with_parent
from kubesim.kubelet.podinit import exec_error

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

STDOUT, STDERR = 1, 2
_CHUNK = 32 * 1024


class ContainerNotFound(Exception):
    """The kubelet runs no such container right now."""

    def __init__(self, container: str) -> None:
        super().__init__(f'container not found ("{container}")')


class ExecFailed(Exception):
    """The runtime could not start the command; the message is containerd's."""


@dataclass(frozen=True)
class ExecOptions:
    command: list[str]
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False


def running_container(sim: KubeSim, pod: dict, container: str) -> Any:
    """The runtime's handle of ``container`` of ``pod`` if it is running, else
    :class:`ContainerNotFound` (the kubelet's ``findContainer``)."""
    cr = sim.kubelet.container(pod["metadata"]["uid"], container)
    if cr is None or cr.handle is None or "running" not in cr.state:
        raise ContainerNotFound(container)
    return cr.handle


def _failed(why: str) -> ExecFailed:
    exec_id = secrets.token_hex(32)
    return ExecFailed(
        f'failed to exec in container: failed to start exec "{exec_id}": OCI runtime exec '
        f"failed: exec failed: unable to start container process: {why}: unknown"
    )


def _start_error(argv0: str, cwd: str, stage: str, err: OSError) -> ExecFailed:
    if stage == "chdir":
        return _failed(f'chdir to cwd ("{cwd}") set in config.json failed: {err.strerror.lower()}')
    if stage == "exec":
        return _failed(f'exec: "{argv0}": {exec_error(argv0, err)}')
    return _failed(f"{stage}: {err.strerror}")


class ExecProcess:
    """A command running in a container: its stdin, its output, its terminal, its end."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self.proc = proc
        self._master = master
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(maxsize=64)
        self._readers = 0
        loop = asyncio.get_running_loop()
        self._pumps: list[asyncio.Task[None]] = []
        if master is not None:
            os.set_blocking(master, False)
            self._readers = 1
            loop.add_reader(master, self._tty_readable)
        for fd, stream in ((STDOUT, proc.stdout), (STDERR, proc.stderr)):
            if stream is not None:
                self._readers += 1
                self._pumps.append(loop.create_task(self._pump(fd, stream)))
        if not self._readers:
            self._queue.put_nowait(None)

    async def _pump(self, fd: int, stream: asyncio.StreamReader) -> None:
        try:
            while chunk := await stream.read(_CHUNK):
                await self._queue.put((fd, chunk))
        finally:
            await self._reader_done()

    async def _reader_done(self) -> None:
        self._readers -= 1
        if self._readers == 0:
            await self._queue.put(None)

    def _tty_readable(self) -> None:
        assert self._master is not None
        try:
            chunk = os.read(self._master, _CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: every holder of the terminal's other side is gone
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self._master)
            self._pumps.append(asyncio.get_running_loop().create_task(self._reader_done()))
            return
        try:
            self._queue.put_nowait((STDOUT, chunk))
        except asyncio.QueueFull:  # back-pressure: stop reading until the queue drains
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._master)
            self._pumps.append(loop.create_task(self._requeue(chunk)))

    async def _requeue(self, chunk: bytes) -> None:
        await self._queue.put((STDOUT, chunk))
        if self._master is not None:
            asyncio.get_running_loop().add_reader(self._master, self._tty_readable)

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """``(1|2, bytes)`` chunks of stdout/stderr until both end, or until the command has
        ended and its output stayed quiet for 2 s (a daemonised child may hold it open)."""
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            while True:
                get = asyncio.ensure_future(self._queue.get())
                if exited.done():
                    try:
                        item = await asyncio.wait_for(get, 2)
                    except TimeoutError:
                        return
                else:
                    await asyncio.wait({get, exited}, return_when=asyncio.FIRST_COMPLETED)
                    if not get.done():
                        get.cancel()
                        continue
                    item = get.result()
                if item is None:
                    return
                yield item
        finally:
            exited.cancel()

    async def write(self, data: bytes) -> None:
        if self._master is not None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(self._master, view) :]
                except BlockingIOError:
                    await asyncio.sleep(0.01)
            return
        if self.proc.stdin is None or self.proc.stdin.is_closing():
            return
        self.proc.stdin.write(data)
        with contextlib.suppress(ConnectionError):
            await self.proc.stdin.drain()

    def close_stdin(self) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.write(self._master, b"\x04")  # ^D: end of input on a terminal
        elif self.proc.stdin is not None:
            self.proc.stdin.close()

    def resize(self, width: int, height: int) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                size = struct.pack("HHHH", height, width, 0, 0)
                fcntl.ioctl(self._master, termios.TIOCSWINSZ, size)

    async def wait(self) -> int:
        rc = await self.proc.wait()
        return 128 - rc if rc < 0 else rc

    def close(self) -> None:
        for t in self._pumps:
            t.cancel()
        if self._master is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._master)
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None


async def start(sim: KubeSim, handle: Any, opts: ExecOptions) -> ExecProcess:
    """Start ``opts.command`` in the running container ``handle`` (from
    :func:`running_container`); :class:`ExecFailed` if it cannot be started."""
    argv = list(opts.command)
    env = getattr(handle, "exec_env", None)
    proc = getattr(handle, "proc", None)
    if env is None or proc is None:  # the instant runtime: nothing to execute
        raise _start_error(argv[0] if argv else "", "", "exec", FileNotFoundError(2, ""))
    cwd: str = handle.exec_cwd
    master = slave = None
    if opts.tty:
        master, slave = os.openpty()
    stdio: dict[str, Any] = {
        "stdin": slave if opts.tty else (subprocess.PIPE if opts.stdin else subprocess.DEVNULL),
        "stdout": slave if opts.tty else (subprocess.PIPE if opts.stdout else subprocess.DEVNULL),
        "stderr": slave if opts.tty else (subprocess.PIPE if opts.stderr else subprocess.DEVNULL),
    }
    try:
        if getattr(sim.kubelet.runtime, "unshare", None):
            child = await _start_in_namespaces(proc.pid, argv, env, cwd, opts.tty, stdio)
        else:
            child = await _start_direct(argv, env, cwd, opts.tty, stdio)
    except BaseException:
        if master is not None:
            os.close(master)
        raise
    finally:
        if slave is not None:
            os.close(slave)
    return ExecProcess(child, master)


async def _start_in_namespaces(
    pid: int, argv: list[str], env: dict[str, str], cwd: str, tty: bool, stdio: dict[str, Any]
) -> asyncio.subprocess.Process:
    r, w = os.pipe()
    spec = {"pid": pid, "argv": argv, "cwd": cwd, "tty": tty, "status_fd": w}
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            execinit.__file__,
            json.dumps(spec),
            env=env,
            pass_fds=(w,),
            start_new_session=True,
            preexec_fn=die_with_parent,
            **stdio,
        )
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    report = await asyncio.to_thread(_read_all, r)
    if report:
        await child.wait()
        info = json.loads(report)
        err = OSError(info["errno"], info["strerror"])
        raise _start_error(argv[0] if argv else "", cwd, info["stage"], err)
    return child


def _read_all(fd: int) -> bytes:
    out = b""
    try:
        while chunk := os.read(fd, 4096):
            out += chunk
    finally:
        os.close(fd)
    return out


async def _start_direct(
    argv: list[str], env: dict[str, str], cwd: str, tty: bool, stdio: dict[str, Any]
) -> asyncio.subprocess.Process:
    def preexec() -> None:
        die_with_parent()
        if tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    if not argv:
        raise _start_error("", cwd, "exec", FileNotFoundError(2, "No such file or directory"))
    try:
        return await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=cwd, start_new_session=True, preexec_fn=preexec, **stdio
        )
    except OSError as e:
        stage = "chdir" if e.filename == cwd and not os.path.isdir(cwd) else "exec"
        raise _start_error(argv[0], cwd, stage, e) from None
