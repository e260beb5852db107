"""Exec a command that is killed when its parent dies: ``python -I -S pdeathsig.py CMD ARGS...``.

Why a wrapper and not ``preexec_fn``: the demo starts its processes from a program that
also runs kubesim in a thread, and ``preexec_fn`` is unsafe with threads. Some processes
are also started by programs we do not control (JupyterHub starts configurable-http-proxy
in its own session, so killing the hub's process group misses it). ``PR_SET_PDEATHSIG``
survives ``execve``, so prefixing a command with this file ties its life to whoever
started it: if the demo or the hub is killed outright, nothing is left behind.

Standard library only (it runs with ``-I -S``, before any site-packages exist).
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: pdeathsig.py CMD [ARGS...]")
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        sys.exit(f"pdeathsig: prctl failed: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != parent:  # the parent died before the signal was armed
        sys.exit(1)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.exit(f"pdeathsig: cannot execute {argv[0]}: {e.strerror or e}")


if __name__ == "__main__":
    main(sys.argv[1:])
