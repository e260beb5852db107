"""Enters a running container of the ``process`` runtime (*namespace* mode) and execs a
command there: what ``runc exec`` does for ``kubectl exec``.

Run as ``python -I -S execinit.py <spec.json>`` by :mod:`kubesim.kubelet.exec`, with the
container's environment, so it needs nothing but the standard library. The spec names the
container's ``unshare`` process (``pid``), the command (``argv``), its working directory
(``cwd``), whether it gets a terminal (``tty``) and the descriptor (``status_fd``) on which a
failure to start is reported.

1. joins the container's UTS and mount namespaces and, for its children, its PID namespace
   (``setns`` on ``/proc/<pid>/ns/uts``, ``mnt`` and ``pid_for_children``): the command sees
   the container's mounts (its volumes at their ``mountPath``, its ``/etc/hosts``), hostname
   and processes, and dies with the container, as an exec'd process does;
2. forks (a PID namespace applies to children only); the child becomes a session leader
   (with the terminal as its controlling one when ``tty``), changes to ``cwd`` and execs the
   command, looked up on the container's ``PATH``. A failure to do so is written to
   ``status_fd`` as JSON (``errno``, ``strerror``, ``stage``), which the kubelet turns into
   runc's words; the descriptor is close-on-exec, so EOF without data means the exec worked;
3. forwards the usual signals to the child and exits with its exit code (128+N when killed
   by signal N).
"""

import contextlib
import ctypes
import json
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWPID = 0x00020000, 0x04000000, 0x20000000
TIOCSCTTY = 0x540E
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)


def fail(fd, stage, err):
    with contextlib.suppress(OSError):
        report = {"stage": stage, "errno": err.errno, "strerror": err.strerror}
        os.write(fd, json.dumps(report).encode())
    os._exit(127)


def enter(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    namespaces = (("uts", CLONE_NEWUTS), ("pid_for_children", CLONE_NEWPID), ("mnt", CLONE_NEWNS))
    for name, flag in namespaces:
        fd = os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY)
        try:
            if libc.setns(fd, flag) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, os.strerror(errno))
        finally:
            os.close(fd)


def main():
    spec = json.loads(sys.argv[1])
    status = spec["status_fd"]
    os.set_inheritable(status, False)
    try:
        enter(spec["pid"])
    except OSError as e:
        fail(status, "setns", e)
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            if spec["tty"]:
                import fcntl

                fcntl.ioctl(0, TIOCSCTTY, 0)
        except OSError as e:
            fail(status, "tty", e)
        try:
            os.chdir(spec["cwd"])
        except OSError as e:
            fail(status, "chdir", e)
        argv = spec["argv"]
        try:
            os.execvpe(argv[0], argv, os.environ)
        except OSError as e:
            fail(status, "exec", e)
    os.close(status)

    def forward(sig, _frame):
        with contextlib.suppress(OSError):
            os.kill(child, sig)

    for s in SIGNALS:
        signal.signal(s, forward)
    _, code = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(code)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
