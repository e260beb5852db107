"""PID 1 of a container run by the ``process`` runtime in *namespace* mode.

Run as ``python -I -S podinit.py <spec.json>`` under ``unshare --mount --uts --pid --fork
...`` (see :mod:`kubesim.kubelet.process`), so it must need nothing but the standard
library. It plays the part of runc plus a container init:

1. builds the container's root (``spec["rootfs"]``, a directory of the pod's to mount it
   on): a tmpfs holding the host's top-level entries, each bound back from the host
   (live, with what is mounted below it: ``/proc``, ``/dev`` ...). A volume's mount point
   that does not exist is made in a layer of the container's own: the nearest existing
   directory on its way is turned into a tmpfs holding that directory's entries bound
   back the same way (:func:`layer`). So nothing is created on the host for a container,
   no container sees another's mount points, and everything else is the host's as it is;
2. bind-mounts each volume directory on its mount path,
   then remounts the read-only ones ``ro``; hides the host paths a container must not see
   (``spec["hide"]``: kubesim's data directory, where every pod's volumes, secrets and
   logs live) under an empty read-only tmpfs, keeping only the pod's own directory
   (``spec["keep"]``, its working directory) at its path, bound from the host; switches
   to the new root (``pivot_root``) and detaches the old one; sets the hostname;
3. forks the command into its own process group and execs it; an exec failure is reported
   as runc reports it (``exec: "x": executable file not found in $PATH``), exit code 128;
4. forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the command's group (a PID 1
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

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
MS_BIND, MS_MOVE, MS_REC = 4096, 8192, 16384
MNT_DETACH = 2
#: pivot_root(2) has no C library wrapper: its system call number, by machine.
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
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

    root = ""  # where the container's "/" is being built ("": the host's own)
    layers = set()  # directories of the root turned into the container's own layers

    def mount(src, dst, flags, fstype=None, data=None):
        """Mount on ``dst`` as the container names it."""
        _mount(libc, src, in_root(root, dst), flags, fstype, data, shown=dst)

    try:
        if spec.get("rootfs"):
            root = spec["rootfs"]
            os.makedirs(root, exist_ok=True)
            layer(root, libc, source="/")
            layers.add(root)
        for m in spec["mounts"]:
            mount_point(root, layers, m["dst"], m["dir"], libc)
            mount(m["src"], m["dst"], MS_BIND | MS_REC)
        for m in spec["mounts"]:
            if m["ro"]:
                mount("none", m["dst"], MS_REMOUNT | MS_BIND | MS_RDONLY)
        hide(spec.get("hide") or [], spec.get("keep") or [], mount, root)
        if root:
            enter(root, libc)
        socket.sethostname(spec["hostname"])
        os.makedirs(spec["cwd"], exist_ok=True)
    except OSError as e:
        return f"{prefix}{e}: unknown"
    return None


def in_root(root, path):
    """Where ``path``, as the container names it, is in ``root`` (the container's root
    being built; "" for the host's own tree): symlinks on the way are followed as the
    container will follow them, an absolute target starting again at ``root``, so that
    a mount point never lands outside it (``/var/run`` -> ``/run``). What runc's
    securejoin does."""
    if not root:
        return path
    parts = [p for p in path.split("/") if p not in ("", ".")]
    inside, links = "", 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            inside = inside.rsplit("/", 1)[0]
            continue
        step = f"{inside}/{part}"
        if os.path.islink(root + step):
            links += 1
            if links > 40:
                raise OSError(f"too many levels of symbolic links in {path!r}")
            target = os.readlink(root + step)
            if target.startswith("/"):
                inside = ""
            parts[:0] = [p for p in target.split("/") if p not in ("", ".")]
            continue
        inside = step
    return root + (inside or "/")


def layer(path, libc, source=None):
    """Turn directory ``path`` into a layer of the container's own: a tmpfs in which each
    entry of ``source`` (by default ``path`` as it was) is bound back from the host, live
    and with whatever is mounted below it, symlinks copied as symlinks. New entries made in
    the layer (mount points) are the container's alone; the host's entries are the host's
    (what is written in them reaches it). An entry the host adds later does not appear."""
    fd = os.open(source or path, os.O_PATH | os.O_DIRECTORY)
    try:
        here = f"/proc/self/fd/{fd}"
        names = os.listdir(here)
        _mount(libc, "tmpfs", path, MS_NOSUID | MS_NODEV, "tmpfs", "mode=0755")
        os.chmod(path, os.stat(here).st_mode & 0o7777)
        for name in names:
            src, dst = f"{here}/{name}", os.path.join(path, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
                continue
            if os.path.isdir(src):
                os.mkdir(dst)
            else:
                open(dst, "a").close()
            _mount(libc, src, dst, MS_BIND | MS_REC)
    finally:
        os.close(fd)


def _mount(libc, src, dst, flags, fstype=None, data=None, shown=None):
    """mount(2); a failure is worded as runc words it, naming ``shown`` (the path as the
    container names it) if given."""
    fs, opts = fstype and fstype.encode(), data and data.encode()
    if libc.mount(src.encode(), dst.encode(), fs, flags, opts) != 0:
        err = os.strerror(ctypes.get_errno())
        raise OSError(f"error mounting {src!r} to rootfs at {shown or dst!r}: {err}")


def mount_point(root, layers, path, is_dir, libc):
    """Make ``path`` (in ``root``, resolved by :func:`in_root`) exist for a volume to be
    mounted on. A missing one is made in a layer of the container's own (:func:`layer`):
    the nearest existing directory on its way becomes one, unless it is one already
    (``layers``; the root is)."""
    real = in_root(root, path)
    if os.path.lexists(real):
        return
    if root:
        parent = os.path.dirname(real)
        while not os.path.lexists(parent):
            parent = os.path.dirname(parent)
        if parent not in layers:
            layer(parent, libc)
            layers.add(parent)
    if is_dir:
        os.makedirs(real, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(real), exist_ok=True)
        open(real, "a").close()


def enter(root, libc):
    """Make ``root`` this mount namespace's ``/`` and let go of the host's: what runc does
    with a container's root filesystem. ``pivot_root`` where its system call number is
    known, else the old root stays underneath, shadowed (switch_root's way)."""
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is not None:
        os.mkdir(".kubesim-old-root")
        if libc.syscall(number, b".", b".kubesim-old-root") != 0:
            err = os.strerror(ctypes.get_errno())
            raise OSError(f"pivot_root to {root!r}: {err}")
        os.chdir("/")
        if libc.umount2(b"/.kubesim-old-root", MNT_DETACH) != 0:
            raise OSError(f"detaching the host's root: {os.strerror(ctypes.get_errno())}")
        os.rmdir("/.kubesim-old-root")
        return
    if libc.mount(b".", b"/", None, MS_MOVE, None) != 0:
        raise OSError(f"moving {root!r} to /: {os.strerror(ctypes.get_errno())}")
    os.chroot(".")
    os.chdir("/")


def hide(paths, keep, mount, root=""):
    """Cover each of ``paths`` with an empty read-only tmpfs, then put each of ``keep``
    (inside one of them) back at its path: bound from a descriptor opened before the
    cover, the only way left to reach it. Mounts already made from the covered paths
    (the volumes) stay: a mount does not depend on its source's path. ``mount`` mounts
    in the container's root (``root``, "" for the host's); ``keep`` is opened on the host,
    so that the container writes to the pod's directory itself."""
    kept = [(os.open(k, os.O_PATH | os.O_DIRECTORY), k) for k in keep]
    try:
        for p in paths:
            mount("tmpfs", p, MS_NOSUID | MS_NODEV, "tmpfs", "mode=0755,size=64k")
        for fd, k in kept:
            os.makedirs(in_root(root, k), exist_ok=True)
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
