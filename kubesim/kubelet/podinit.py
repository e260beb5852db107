"""PID 1 of a container run by the ``process`` runtime in *namespace* mode.

Run as ``python -I -S podinit.py <spec.json>`` under ``unshare --mount --uts --pid --fork
...`` (see :mod:`kubesim.kubelet.process`), so it must need nothing but the standard
library. It plays the part of runc plus a container init:

1. bind-mounts each volume directory on its mount path (creating the mount point),
   then remounts the read-only ones ``ro``; hides the host paths a container must not see
   (``spec["hide"]``: kubesim's data directory, where every pod's volumes, secrets and
   logs live) under an empty read-only tmpfs, keeping only the pod's own directory
   (``spec["keep"]``, its working directory) at its path; sets the hostname;
2. forks the command into its own process group and execs it; an exec failure is reported
   as runc reports it (``exec: "x": executable file not found in $PATH``), exit code 128;
3. forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the command's group (a PID 1
   without handlers would ignore them), reaps orphans, and exits with the command's exit
   code (128+N when killed by signal N). Its exit makes the kernel kill every process left
   in the PID namespace.

Start errors are also written to ``spec["error_file"]`` so the kubelet can report
``StartError`` with the message.
"""

import contextlib
import ctypes
import json
import os
import signal
import socket
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def report(spec, msg):
    try:
        with open(spec["error_file"], "w") as f:
            json.dump({"reason": "StartError", "message": msg}, f)
    except OSError:
        pass
    os.write(2, (msg + "\n").encode())


def setup(spec):
    """Mounts and hostname; returns an error message or None."""
    libc = ctypes.CDLL(None, use_errno=True)
    prefix = spec["prefix"]

    def mount(src, dst, flags, fstype=None, data=None):
        fs, opts = fstype and fstype.encode(), data and data.encode()
        if libc.mount(src.encode(), dst.encode(), fs, flags, opts) != 0:
            err = os.strerror(ctypes.get_errno())
            raise OSError(f"error mounting {src!r} to rootfs at {dst!r}: {err}")

    try:
        for m in spec["mounts"]:
            dst = m["dst"]
            if m["dir"]:
                os.makedirs(dst, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                if not os.path.exists(dst):
                    open(dst, "a").close()
            mount(m["src"], dst, MS_BIND | MS_REC)
        for m in spec["mounts"]:
            if m["ro"]:
                mount("none", m["dst"], MS_REMOUNT | MS_BIND | MS_RDONLY)
        hide(spec.get("hide") or [], spec.get("keep") or [], mount)
        socket.sethostname(spec["hostname"])
        os.makedirs(spec["cwd"], exist_ok=True)
    except OSError as e:
        return f"{prefix}{e}: unknown"
    return None


def hide(paths, keep, mount):
    """Cover each of ``paths`` with an empty read-only tmpfs, then put each of ``keep``
    (inside one of them) back at its path: bound from a descriptor opened before the
    cover, the only way left to reach it. Mounts already made from the covered paths
    (the volumes) stay: a mount does not depend on its source's path."""
    kept = [(os.open(k, os.O_PATH | os.O_DIRECTORY), k) for k in keep]
    try:
        for p in paths:
            mount("tmpfs", p, MS_NOSUID | MS_NODEV, "tmpfs", "mode=0755,size=64k")
        for fd, k in kept:
            os.makedirs(k, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", k, MS_BIND | MS_REC)
        for p in paths:
            mount("none", p, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "tmpfs")
    finally:
        for fd, _ in kept:
            os.close(fd)


def exec_error(argv0, e):
    if isinstance(e, FileNotFoundError) and "/" not in argv0:
        return "executable file not found in $PATH"
    if isinstance(e, FileNotFoundError):
        return f"stat {argv0}: no such file or directory"
    return e.strerror or str(e)


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    err = setup(spec)
    if err:
        report(spec, err)
        os._exit(128)
    state = {"child": 0, "pending": []}

    def forward(sig, _frame):
        if not state["child"]:
            state["pending"].append(sig)
            return
        with contextlib.suppress(OSError):
            os.killpg(state["child"], sig)

    for s in SIGNALS:
        signal.signal(s, forward)
    r, w = os.pipe()  # close-on-exec: EOF means exec succeeded
    pid = os.fork()
    if pid == 0:
        argv = spec["argv"]
        try:
            os.setpgid(0, 0)
            for s in SIGNALS:
                signal.signal(s, signal.SIG_DFL)
            os.chdir(spec["cwd"])
            os.execvpe(argv[0], argv, os.environ)
        except OSError as e:
            msg = f'{spec["prefix"]}exec: "{argv[0]}": {exec_error(argv[0], e)}: unknown'
            os.write(w, msg.encode())
        os._exit(128)
    os.close(w)
    state["child"] = pid
    for s in state["pending"]:
        forward(s, None)
    failure = b""
    while chunk := os.read(r, 65536):
        failure += chunk
    if failure:
        report(spec, failure.decode())
    while True:
        wpid, status = os.wait()
        if wpid == pid:
            break
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
