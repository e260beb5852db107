"""Pod volumes made real as host directories, for the ``process`` runtime.

Every volume of a pod becomes a directory that the runtime bind-mounts at each
``mountPath`` (see :mod:`kubesim.kubelet.process`):

- ``emptyDir`` (and inline ``csi`` without a handle): a fresh
  ``<data_dir>/pods/<uid>/volumes/<name>``, removed with the pod.
- ``persistentVolumeClaim``: the bound PV's *storage* directory, derived from the PV's
  source so that different PVs (or inline volumes) naming the same storage share files:
  ``nfs`` -> ``<data_dir>/storage/nfs/<server>/<path>``; ``csi`` with ``server`` and ``share``
  attributes (csi-driver-nfs) -> the same nfs directory (plus ``subDir``), other ``csi`` ->
  ``storage/csi/<driver>/<volumeHandle>``; ``hostPath`` and ``local`` ->
  ``storage/hostpath/<path>`` (never the real host path). Storage outlives pods.
- ``secret``, ``configMap``, ``downwardAPI``, ``projected``: files written the way the
  kubelet's AtomicWriter writes them (a timestamped ``..<ts>`` directory, a ``..data``
  symlink swapped atomically, and one ``<name> -> ..data/<name>`` symlink per top-level
  entry), rewritten when the Secret/ConfigMap (or the pod's labels/annotations) change and
  when a projected ServiceAccount token reaches 80% of its lifetime. Mounted read-only.

Mount failures raise :class:`MountError` with the kubelet's FailedMount message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesim.kubelet.atomic import Payload, atomic_write
from kubesim.kubelet.env import ContainerConfigError, field_ref_value, resource_field_value
from kubesim.store import Event

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

Obj = dict[str, Any]
FILE_SOURCES = ("secret", "configMap", "downwardAPI", "projected")


class MountError(Exception):
    """A volume cannot be set up; the message is the FailedMount event's."""


# ------------------------------------------------------------------ storage
def _clean(path: str) -> str:
    return os.path.normpath("/" + (path or "")).lstrip("/")


def storage_dir(data_dir: Path, source: Obj) -> Path | None:
    """Where the storage named by a PV spec or inline volume lives, or None (not shared)."""
    root = data_dir / "storage"
    if source.get("nfs"):
        nfs = source["nfs"]
        return root / "nfs" / _clean(nfs.get("server", "")) / _clean(nfs.get("path", ""))
    if source.get("csi"):
        csi = source["csi"]
        attrs = csi.get("volumeAttributes") or {}
        if attrs.get("server") and attrs.get("share"):
            d = root / "nfs" / _clean(attrs["server"]) / _clean(attrs["share"])
            return d / _clean(attrs["subDir"]) if attrs.get("subDir") else d
        if csi.get("volumeHandle"):
            return root / "csi" / _clean(csi.get("driver", "")) / _clean(csi["volumeHandle"])
        return None
    for kind in ("hostPath", "local"):
        if source.get(kind):
            return root / "hostpath" / _clean(source[kind].get("path", ""))
    return None


# ------------------------------------------------------------------ payloads
def _mode(item: Obj, default: int | None) -> int:
    m = item.get("mode")
    return m if m is not None else (default if default is not None else 0o644)


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or parts[0].startswith(".."):
        raise MountError(f"invalid path {path!r}")


def secret_payload(src: Obj, secret: Obj | None, default_mode: int | None = None) -> Payload:
    """Files of a ``secret`` volume (or projected source) from the Secret (None: missing)."""
    name = src.get("secretName") or src.get("name") or ""
    mode = src.get("defaultMode", default_mode)
    if secret is None:
        if src.get("optional"):
            return {}
        raise MountError(f'secret "{name}" not found')
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    return _items(data, src, mode, "references non-existent secret key: {}")


def configmap_payload(src: Obj, cm: Obj | None, default_mode: int | None = None) -> Payload:
    name = src.get("name") or ""
    mode = src.get("defaultMode", default_mode)
    if cm is None:
        if src.get("optional"):
            return {}
        raise MountError(f'configmap "{name}" not found')
    data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return _items(data, src, mode, "configmap references non-existent config key: {}")


def _items(data: dict[str, bytes], src: Obj, mode: int | None, missing: str) -> Payload:
    items = src.get("items")
    if not items:
        return {k: (v, _mode({}, mode)) for k, v in data.items()}
    out: Payload = {}
    for it in items:
        if it["key"] not in data:
            if src.get("optional"):
                continue
            raise MountError(missing.format(it["key"]))
        _check_path(it["path"])
        out[it["path"]] = (data[it["key"]], _mode(it, mode))
    return out


def downward_payload(
    items: list[Obj],
    pod: Obj,
    default_mode: int | None,
    *,
    pod_ips: list[str],
    host_ips: list[str],
    allocatable: dict[str, Any] | None = None,
) -> Payload:
    out: Payload = {}
    for it in items:
        _check_path(it["path"])
        try:
            if it.get("fieldRef"):
                value = field_ref_value(
                    pod, it["fieldRef"].get("fieldPath", ""), pod_ips=pod_ips, host_ips=host_ips
                )
            else:
                ref = it.get("resourceFieldRef") or {}
                c = next(
                    (c for c in pod["spec"]["containers"] if c["name"] == ref.get("containerName")),
                    None,
                )
                if c is None:
                    raise MountError(f"container {ref.get('containerName', '')} not found")
                value = resource_field_value(
                    c, ref.get("resource", ""), ref.get("divisor"), allocatable
                )
        except ContainerConfigError as e:
            raise MountError(str(e)) from e
        out[it["path"]] = (value.encode(), _mode(it, default_mode))
    return out


# ------------------------------------------------------------------ per-pod manager
class PodVolumes:
    """The volumes of one pod: their host directories, kept up to date."""

    def __init__(
        self,
        sim: KubeSim,
        pod: Obj,
        pod_dir: Path,
        pod_view: Callable[[], Obj],
        pod_ips: Callable[[], list[str]],
        host_ips: Callable[[], list[str]],
    ) -> None:
        self.sim = sim
        self.pod = pod
        self.ns = pod["metadata"]["namespace"]
        self.pod_dir = pod_dir
        self.pod_view = pod_view
        self.pod_ips = pod_ips
        self.host_ips = host_ips
        self.paths: dict[str, Path] = {}
        self.read_only: set[str] = set()
        self._tokens: dict[tuple[str, int], tuple[str, float]] = {}
        self._refresh_task: asyncio.Task[None] | None = None

    # --------------------------------------------------------- setup
    def setup(self) -> None:
        """Create every volume's directory; raises MountError (FailedMount) on failure."""
        for vol in self.pod["spec"].get("volumes") or []:
            self.paths[vol["name"]] = self._setup_one(vol)
        if self._tokens and self._refresh_task is None:
            self._refresh_task = asyncio.get_running_loop().create_task(self._refresh_loop())

    def _setup_one(self, vol: Obj) -> Path:
        name = vol["name"]
        if any(k in vol for k in FILE_SOURCES):
            self.read_only.add(name)
            d = self.pod_dir / "volumes" / name
            try:
                atomic_write(d, self._payload(vol))
            except MountError as e:
                raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {e}') from None
            return d
        if "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]
            if claim.get("readOnly"):
                self.read_only.add(name)
            return self._claim_dir(name, claim.get("claimName", ""))
        shared = storage_dir(self.sim.data_dir, vol)
        if shared is not None:
            if (vol.get("hostPath") or {}).get("type") in ("File", "FileOrCreate"):
                shared.parent.mkdir(parents=True, exist_ok=True)
                shared.touch()
            else:
                shared.mkdir(parents=True, exist_ok=True)
            return shared
        d = self.pod_dir / "volumes" / name  # emptyDir, inline csi, anything else
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _claim_dir(self, vol: str, claim: str) -> Path:
        def fail(why: str) -> MountError:
            return MountError(
                f"Unable to attach or mount volumes: unmounted volumes=[{vol}], unattached "
                f"volumes=[], failed to process volumes=[{vol}]: error processing PVC "
                f"{self.ns}/{claim}: {why}"
            )

        pvc = self.sim.store.peek(self.sim.api.rt("", "persistentvolumeclaims"), self.ns, claim)
        if pvc is None:
            raise fail(
                f'failed to fetch PVC from API server: persistentvolumeclaims "{claim}" not found'
            )
        if pvc["metadata"].get("deletionTimestamp"):
            raise fail(f"can't start pod because PVC {self.ns}/{claim} is being deleted")
        pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
        if (pvc.get("status") or {}).get("phase") != "Bound":
            raise fail("PVC is not bound")
        if not pv_name:
            raise fail("PVC has empty pvc.Spec.VolumeName")
        pv = self.sim.store.peek(self.sim.api.rt("", "persistentvolumes"), "", pv_name)
        if pv is None:
            raise fail(
                f"failed to fetch PV {pv_name} from API server: persistentvolumes "
                f'"{pv_name}" not found'
            )
        d = storage_dir(self.sim.data_dir, pv.get("spec") or {})
        if d is None:
            d = self.sim.data_dir / "storage" / "pv" / pv_name
        d.mkdir(parents=True, exist_ok=True)
        return d

    # --------------------------------------------------------- content
    def _lookup(self, plural: str, name: str) -> Obj | None:
        return self.sim.store.peek(self.sim.api.rt("", plural), self.ns, name)

    def _payload(self, vol: Obj) -> Payload:
        pod = self.pod_view()
        kw = {
            "pod_ips": self.pod_ips(),
            "host_ips": self.host_ips(),
            "allocatable": self.allocatable(),
        }
        if "secret" in vol:
            src = vol["secret"]
            return secret_payload(src, self._lookup("secrets", src.get("secretName", "")))
        if "configMap" in vol:
            src = vol["configMap"]
            return configmap_payload(src, self._lookup("configmaps", src.get("name", "")))
        if "downwardAPI" in vol:
            src = vol["downwardAPI"]
            return downward_payload(src.get("items") or [], pod, src.get("defaultMode"), **kw)
        src = vol["projected"]
        mode = src.get("defaultMode")
        out: Payload = {}
        for i, s in enumerate(src.get("sources") or []):
            if "secret" in s:
                out.update(
                    secret_payload(
                        s["secret"], self._lookup("secrets", s["secret"].get("name", "")), mode
                    )
                )
            elif "configMap" in s:
                out.update(
                    configmap_payload(
                        s["configMap"],
                        self._lookup("configmaps", s["configMap"].get("name", "")),
                        mode,
                    )
                )
            elif "downwardAPI" in s:
                out.update(downward_payload(s["downwardAPI"].get("items") or [], pod, mode, **kw))
            elif "serviceAccountToken" in s:
                t = s["serviceAccountToken"]
                _check_path(t.get("path", ""))
                out[t["path"]] = (self._token(vol["name"], i, t).encode(), _mode({}, mode))
        return out

    def allocatable(self) -> dict[str, Any]:
        node = self.sim.store.peek(
            self.sim.api.rt("", "nodes"), "", self.pod["spec"].get("nodeName", "")
        )
        return ((node or {}).get("status") or {}).get("allocatable") or {}

    def _token(self, vol: str, idx: int, src: Obj) -> str:
        cached = self._tokens.get((vol, idx))
        if cached and time.monotonic() < cached[1]:
            return cached[0]
        sa_name = self.pod["spec"].get("serviceAccountName") or "default"
        sa = self._lookup("serviceaccounts", sa_name)
        if sa is None:
            raise MountError(f'failed to fetch token: serviceaccounts "{sa_name}" not found')
        m = self.pod["metadata"]
        aud = [src["audience"]] if src.get("audience") else None
        token, exp = self.sim.auth.issue_sa_token(
            self.ns,
            sa_name,
            sa["metadata"]["uid"],
            expiration=src.get("expirationSeconds", 3600),
            audiences=aud,
            pod=(m["name"], m["uid"]),
        )
        lifetime = exp - self.sim.auth.now()
        self._tokens[(vol, idx)] = (token, time.monotonic() + 0.8 * lifetime)
        return token

    def token_path(self) -> Path | None:
        """Host path of the pod's API token (the volume mounted where in-cluster clients look)."""
        for vol in self.pod["spec"].get("volumes") or []:
            for s in (vol.get("projected") or {}).get("sources") or []:
                t = s.get("serviceAccountToken")
                if t and not t.get("audience") and vol["name"] in self.paths:
                    return self.paths[vol["name"]] / t["path"]
        return None

    # --------------------------------------------------------- updates
    def _rewrite(self, pick: Callable[[Obj], bool]) -> None:
        for vol in self.pod["spec"].get("volumes") or []:
            if vol["name"] in self.paths and pick(vol):
                # The kubelet keeps the last good content when an update fails.
                with contextlib.suppress(MountError, OSError):
                    atomic_write(self.paths[vol["name"]], self._payload(vol))

    def on_event(self, ev: Event) -> None:
        key, meta = ev.rt.key, ev.obj["metadata"]
        if key == ("", "pods"):
            if meta.get("uid") != self.pod["metadata"]["uid"] or ev.old is None:
                return
            if all(meta.get(k) == ev.old["metadata"].get(k) for k in ("labels", "annotations")):
                return
            self._rewrite(
                lambda v: (
                    "downwardAPI" in v
                    or any(
                        "downwardAPI" in s for s in (v.get("projected") or {}).get("sources") or []
                    )
                )
            )
            return
        if key not in (("", "secrets"), ("", "configmaps")) or meta.get("namespace") != self.ns:
            return
        kind = "secret" if key[1] == "secrets" else "configMap"
        name = meta["name"]

        def refers(v: Obj) -> bool:
            if kind in v:
                return (v[kind].get("secretName") or v[kind].get("name")) == name
            return any(
                kind in s and s[kind].get("name") == name
                for s in (v.get("projected") or {}).get("sources") or []
            )

        self._rewrite(refers)

    async def _refresh_loop(self) -> None:
        while True:
            due = min(t[1] for t in self._tokens.values()) - time.monotonic()
            # A failed refresh (ServiceAccount gone) leaves the old token: retry calmly.
            await asyncio.sleep(due if due > 0 else 1.0)
            self._rewrite(
                lambda v: any(
                    "serviceAccountToken" in s
                    for s in (v.get("projected") or {}).get("sources") or []
                )
            )

    def close(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            self._refresh_task = None
