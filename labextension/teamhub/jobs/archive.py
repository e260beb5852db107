"""Archiving a job's logs to files, so they outlive its pods (kubeflow/trainer#536).

Layout, under ``dest_dir`` (default ``DEFAULT_ARCHIVE_DIR``, ``~/.teamhub/job-logs``: in
a notebook pod, home is the user's own persistent volume):

``<job>/<replica>.log``
    the log of the pod's default container (the ``kubectl.kubernetes.io/default-container``
    annotation, else the first), current instance;
``<job>/<replica>.<container>.log``
    each other container's;
``<job>/<...>.previous.log``
    the previous instance of a container that restarted (the node keeps only that one);
``<job>/<replica>.<pod>.log`` (and ``.<container>``, ``.previous`` as above)
    an older pod of the same replica (a Job replaced it): the newest pod keeps the plain
    name.

Each file is streamed chunk by chunk from ``pods/log`` into a temporary file in the same
folder, then renamed over the old one: re-archiving (e.g. at each status check, and once
more when the job finishes) overwrites atomically, a reader never sees half a file, and a
failed read leaves the previous archive intact. Files are never deleted here: archiving
again after the pods are gone changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from teamhub.jobs import replicas as rp
from teamhub.jobs.logio import list_pods, open_raw
from teamhub.jobs.logread import CHUNK

DEFAULT_ARCHIVE_DIR = "~/.teamhub/job-logs"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(name: str) -> str:
    """A file name from a job/replica/container name (these are DNS names already; this
    only guards against separators and dot-names)."""
    out = _UNSAFE.sub("_", name)
    if out in ("", ".", ".."):
        raise ValueError(f"{name!r} cannot be used as a file name")
    return out


def plan(pods: list[dict], container: str | None = None) -> list[tuple[str, dict, str, bool]]:
    """(file name, pod, container, previous) for every log worth archiving, rank order."""
    pods = sorted(pods, key=rp.replica_sort_key)
    newest: dict[str, dict] = {}
    for p in pods:  # sorted oldest first within a replica: the last one wins
        newest[rp.replica_name(p)] = p
    out = []
    for p in pods:
        replica = rp.replica_name(p)
        base = safe_name(replica)
        if newest[replica] is not p:
            base += "." + safe_name(p["metadata"]["name"])
        default = rp.default_container(p)
        for c in rp.container_names(p, container):
            name = base if c == default else f"{base}.{safe_name(c)}"
            st = rp.container_status(p, c)
            if rp.current_instance(st) is not None:
                out.append((f"{name}.log", p, c, False))
            # While waiting to restart, the current log *is* the previous instance.
            waiting = "waiting" in ((st or {}).get("state") or {})
            if rp.has_previous(st) and not waiting:
                out.append((f"{name}.previous.log", p, c, True))
    return out


async def _save(
    core: Any,
    namespace: str,
    pod: dict,
    container: str,
    previous: bool,
    timestamps: bool,
    path: Path,
) -> bool:
    """Stream one log into ``path`` atomically; False if the node has no such log."""
    try:
        resp = await open_raw(
            core.read_namespaced_pod_log(
                pod["metadata"]["name"],
                namespace,
                container=container,
                previous=previous,
                timestamps=timestamps,
                _preload_content=False,
            )
        )
    except ApiException as e:
        if e.status in (400, 404):  # never started, or gone since we listed
            return False
        raise
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            while chunk := await resp.content.read(CHUNK):
                f.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        resp.release()
    return True


async def archive_logs(
    core: Any,
    namespace: str,
    selector: str | Mapping[str, str],
    dest_dir: str | Path | None = None,
    *,
    job: str | None = None,
    container: str | None = None,
    timestamps: bool = False,
    concurrency: int = 4,
) -> list[Path]:
    """Write the logs of the pods matching ``selector`` under ``<dest_dir>/<job>/`` (see the
    module docstring) and return the files written, in rank order.

    ``job`` defaults to the pods' job-name label (Kubeflow or batch), else their
    ``teamhub.io/submission``. No pods: nothing is written, existing files stay. At most
    ``concurrency`` logs are read at once, each in chunks (memory stays bounded)."""
    selector = rp.label_selector(selector)
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    pods, _ = await list_pods(core, namespace, selector)
    if not pods:
        return []
    job = job or rp.job_name(pods)
    if not job:
        raise ValueError(f"cannot tell the job name of the pods matching {selector!r}; pass job=")
    folder = Path(dest_dir if dest_dir is not None else DEFAULT_ARCHIVE_DIR).expanduser()
    folder = folder / safe_name(job)
    folder.mkdir(parents=True, exist_ok=True)
    limit = asyncio.Semaphore(concurrency)
    todo = plan(pods, container)

    async def one(name: str, pod: dict, c: str, previous: bool) -> Path | None:
        async with limit:
            ok = await _save(core, namespace, pod, c, previous, timestamps, folder / name)
        return folder / name if ok else None

    results = await asyncio.gather(*(one(*t) for t in todo), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if isinstance(r, Path)]
