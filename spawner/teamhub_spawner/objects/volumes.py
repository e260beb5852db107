"""Team/global volumes (a PV pre-bound to a PVC per user), the home PVC, and their pod
volumes and mounts.

Why a PV per user and volume: under the ``restricted`` Pod Security Standard a pod can
only mount PVCs (no inline NFS), so a user reaches team data only through a PVC in their
namespace, and only the hub can make one that reaches a team's storage: it creates a PV
pre-bound (``claimRef``) to exactly that PVC, and the PVC names the PV (``volumeName``)
with ``storageClassName: ""`` so no default class or dynamic provisioner interferes.
Membership is therefore enforced by which PVCs exist; leaving a team means losing the
PV/PVC pair at the next start.

Other choices:

- ``persistentVolumeReclaimPolicy: Retain`` always: deleting a user's PVC must never
  delete team data (a CSI driver would act on ``Delete``). A template asking for another
  policy is refused.
- Access modes ``ReadWriteMany`` (``ReadOnlyMany`` when read-only) unless a
  ``persistentVolume`` template sets its own.
- Read-only (configured ``readOnly``, and always for the ``global`` scope) is enforced at
  the *source*, not only in the pod: access modes are not enforced as mount options, and
  a user can create Jobs whose pods mount their PVC read-write. So the PV source itself
  carries ``readOnly: true`` (``nfs``, ``csi`` and every template source type that has
  the field), the pod's PVC reference and mount are read-only too.
- The PV's capacity is the volume's ``capacity`` (default 1Ti); a ``persistentVolume``
  template's own ``capacity`` wins. The PVC requests exactly that.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping

from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.names import (
    GLOBAL_SCOPE,
    HOME_PVC,
    HOME_VOLUME,
    check_dns_label,
    volume_pod_volume_name,
    volume_pv_name,
    volume_pvc_name,
)

DEFAULT_CAPACITY = "1Ti"
SOURCE_KINDS = ("nfs", "csi", "persistentVolume")
#: PersistentVolume source types with a ``readOnly`` field (set for read-only volumes).
_READ_ONLY_SOURCES = (
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc",
    "flexVolume", "gcePersistentDisk", "glusterfs", "iscsi", "nfs", "portworxVolume",
    "quobyte", "rbd", "scaleIO", "storageos",
)  # fmt: skip
#: CSI spec: string fields (volume IDs included) are at most 128 bytes.
CSI_ID_MAX_BYTES = 128
#: Drivers whose handle is ``#``-separated with a unique-id slot: the index of that slot.
#: csi-driver-nfs: ``server#baseDir#subDir#uuid#onDelete``; csi-driver-smb:
#: ``source#subDir#uuid#onDelete``. Their node plugins mount from ``volumeAttributes``,
#: the handle is only an identity, so putting teamhub's id in the uuid slot changes
#: nothing else.
CSI_HANDLE_ID_SLOT = {"nfs.csi.k8s.io": 3, "smb.csi.k8s.io": 2}

Volume = Mapping  # the wire shape: {"name","mountPath","readOnly","capacity","source":{...}}


def _prune(value):
    """Drop None values (``model_dump`` keeps unset optional fields as None)."""
    if isinstance(value, Mapping):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _where(scope: str, volume: Volume) -> str:
    if scope == GLOBAL_SCOPE:
        return f"globalVolumes[{volume.get('name')!r}]"
    return f"teams.{scope}.volumes[{volume.get('name')!r}]"


def source_kind(scope: str, volume: Volume) -> str:
    """``nfs``, ``csi`` or ``persistentVolume``: the one source the volume sets."""
    source = volume.get("source") or {}
    kinds = [k for k in source if source[k] is not None]
    if len(kinds) != 1 or kinds[0] not in SOURCE_KINDS:
        raise ValueError(
            f"{_where(scope, volume)}.source: must set exactly one of "
            f"{', '.join(SOURCE_KINDS)} (got: {', '.join(kinds) or 'none'})"
        )
    return kinds[0]


def is_read_only(scope: str, volume: Volume) -> bool:
    """Global volumes are always read-only; team volumes when ``readOnly`` is set."""
    return scope == GLOBAL_SCOPE or bool(volume.get("readOnly"))


def csi_volume_handle(base: str, *, driver: str, namespace: str, scope: str, volume: str) -> str:
    """A CSI ``volumeHandle`` unique to one user's PV of one team/global volume.

    Kubelet identifies a CSI volume on a node by driver + handle, so two PVs sharing a
    handle collide when their pods land on one node: the second mount finds the first's
    global mount path gone or resolves to the wrong PV (kubernetes#105868,
    csi-driver-nfs#369). Every per-user PV therefore gets its own handle:

    - ``id = "teamhub-" + sha256(driver, base, namespace, scope, volume)[:20 hex]``:
      deterministic (a second start produces the same PV, whose spec is immutable),
      unique per PV (80 bits), 28 characters whatever the names' lengths;
    - for drivers with a known ``#``-separated layout (:data:`CSI_HANDLE_ID_SLOT`) the id
      goes into their unique-id slot, padding empty segments before it and keeping any
      after it, e.g. csi-driver-nfs ``nfs.example.org#/exports/vision`` ->
      ``nfs.example.org#/exports/vision##teamhub-<20 hex>`` (server, share, subDir "",
      uuid), and an existing uuid becomes ``<uuid>-teamhub-<hex>``;
    - for any other driver the handle is treated as opaque: ``<base>#teamhub-<hex>``.
      Drivers that parse handles in another syntax (e.g. EFS ``fs-id::fsap-id``) need a
      ``persistentVolume`` template per user instead; teamhub cannot know their format.

    The CSI spec limits IDs to 128 bytes; a base handle leaving no room is refused with
    the limit in the message.
    """
    digest = hashlib.sha256(
        b"\xff".join(s.encode() for s in (driver, base, namespace, scope, volume))
    ).hexdigest()[:20]
    ident = f"teamhub-{digest}"
    slot = CSI_HANDLE_ID_SLOT.get(driver)
    if slot is None:
        handle = f"{base}#{ident}"
    else:
        segments = base.split("#")
        segments += [""] * (slot + 1 - len(segments))
        segments[slot] = f"{segments[slot]}-{ident}" if segments[slot] else ident
        handle = "#".join(segments)
    if len(handle.encode()) > CSI_ID_MAX_BYTES:
        room = CSI_ID_MAX_BYTES - (len(handle.encode()) - len(base.encode()))
        raise ValueError(
            f"csi volumeHandle {base!r} is too long: teamhub makes it unique per user as "
            f"{handle!r} ({len(handle.encode())} bytes) and CSI allows 128; shorten the "
            f"base handle to at most {room} bytes"
        )
    return handle


def _set_read_only(spec: dict) -> None:
    for kind in _READ_ONLY_SOURCES:
        if isinstance(spec.get(kind), dict):
            spec[kind]["readOnly"] = True


def _pv_spec(namespace: str, scope: str, volume: Volume) -> dict:
    """The PV spec without ``claimRef``: source, capacity, access modes, class, policy."""
    kind = source_kind(scope, volume)
    where = _where(scope, volume)
    src = _prune(dict(volume["source"][kind]))
    ro = is_read_only(scope, volume)
    if kind == "persistentVolume":
        spec = copy.deepcopy(src)
        if "claimRef" in spec:
            raise ValueError(f"{where}.source.persistentVolume: must not set claimRef")
        policy = spec.get("persistentVolumeReclaimPolicy", "Retain")
        if policy != "Retain":
            raise ValueError(
                f"{where}.source.persistentVolume.persistentVolumeReclaimPolicy: must be "
                f"Retain (got {policy!r}): deleting a user's claim must never delete data"
            )
    else:
        spec = {kind: src}
    if isinstance(spec.get("csi"), dict):
        csi = spec["csi"]
        for field in ("driver", "volumeHandle"):
            if not csi.get(field):
                raise ValueError(f"{where}.source: csi.{field} is required")
        csi["volumeHandle"] = csi_volume_handle(
            csi["volumeHandle"],
            driver=csi["driver"],
            namespace=namespace,
            scope=scope,
            volume=volume["name"],
        )
    if ro:
        _set_read_only(spec)
    spec["persistentVolumeReclaimPolicy"] = "Retain"
    spec.setdefault("capacity", {})
    spec["capacity"].setdefault("storage", str(volume.get("capacity") or DEFAULT_CAPACITY))
    spec.setdefault("accessModes", ["ReadOnlyMany" if ro else "ReadWriteMany"])
    if not spec.get("storageClassName"):
        spec.pop("storageClassName", None)  # "" (no class) is how the API returns it
    return spec


def _volume_labels(username: str, scope: str, volume: Volume) -> dict[str, str]:
    return {
        **L.common_labels(username, L.COMPONENT_VOLUME),
        L.SCOPE: scope,
        L.VOLUME: volume["name"],
    }


def team_volume_pv(namespace: str, scope: str, volume: Volume, *, username: str) -> dict:
    """The PersistentVolume of ``username``'s copy of a team (``scope`` = team name) or
    global (``scope`` = ``global``) volume, pre-bound to :func:`team_volume_pvc`."""
    check_dns_label(namespace, "namespace")
    name = volume_pv_name(namespace, scope, volume["name"])
    spec = _pv_spec(namespace, scope, volume)
    spec["claimRef"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": namespace,
        "name": volume_pvc_name(scope, volume["name"]),
    }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {**_volume_labels(username, scope, volume), L.NAMESPACE: namespace},
            "annotations": L.user_annotations(username),
        },
        "spec": spec,
    }


def team_volume_pvc(namespace: str, scope: str, volume: Volume, *, username: str) -> dict:
    """The PVC in the user's namespace naming its pre-bound PV (``volumeName``), with
    ``storageClassName`` set explicitly ("" unless the template has a class) so the
    default StorageClass admission never assigns one."""
    pv_spec = _pv_spec(namespace, scope, volume)
    spec = {
        "accessModes": list(pv_spec["accessModes"]),
        "resources": {"requests": {"storage": pv_spec["capacity"]["storage"]}},
        "storageClassName": pv_spec.get("storageClassName", ""),
        "volumeName": volume_pv_name(namespace, scope, volume["name"]),
    }
    if "volumeMode" in pv_spec:
        spec["volumeMode"] = pv_spec["volumeMode"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": volume_pvc_name(scope, volume["name"]),
            "namespace": namespace,
            "labels": _volume_labels(username, scope, volume),
            "annotations": L.user_annotations(username),
        },
        "spec": spec,
    }


def home_pvc(
    namespace: str,
    home: Mapping,
    *,
    username: str,
    name: str = HOME_PVC,
    access_modes: tuple[str, ...] = ("ReadWriteOnce",),
) -> dict:
    """The user's home PVC from the ``home`` config ``{"size", "storageClassName",
    "mountPath"}``: dynamically provisioned; ``storageClassName`` null/absent omits the
    field so the cluster's default StorageClass applies. ``ReadWriteOnce`` by default (what
    every provisioner offers); pass ``ReadWriteMany`` if job pods on other nodes should
    mount home too."""
    if not home.get("size"):
        raise ValueError("home.size: required for the home volume")
    spec: dict = {
        "accessModes": list(access_modes),
        "resources": {"requests": {"storage": str(home["size"])}},
    }
    if home.get("storageClassName") is not None:
        spec["storageClassName"] = home["storageClassName"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": L.common_labels(username, L.COMPONENT_HOME),
            "annotations": L.user_annotations(username),
        },
        "spec": spec,
    }


def team_volume_pod_entry(scope: str, volume: Volume) -> tuple[dict, dict]:
    """(pod volume, container mount) for a team/global volume's PVC; read-only where
    configured (and always for global volumes)."""
    check_dns_label(volume.get("name"), f"{_where(scope, volume)}.name")
    mount_path = volume.get("mountPath")
    if not mount_path or not str(mount_path).startswith("/"):
        raise ValueError(f"{_where(scope, volume)}.mountPath: must be an absolute path")
    ro = is_read_only(scope, volume)
    name = volume_pod_volume_name(scope, volume["name"])
    claim: dict = {"claimName": volume_pvc_name(scope, volume["name"])}
    if ro:
        claim["readOnly"] = True
    return (
        {"name": name, "persistentVolumeClaim": claim},
        {"name": name, "mountPath": mount_path, "readOnly": ro},
    )


def home_pod_entry(home: Mapping, *, pvc_name: str = HOME_PVC) -> tuple[dict, dict]:
    """(pod volume, container mount) for the home PVC at ``home.mountPath``."""
    mount_path = home.get("mountPath")
    if not mount_path or not str(mount_path).startswith("/"):
        raise ValueError("home.mountPath: must be an absolute path")
    return (
        {"name": HOME_VOLUME, "persistentVolumeClaim": {"claimName": pvc_name}},
        {"name": HOME_VOLUME, "mountPath": mount_path},
    )
