"""Volumes of the teams config: where data comes from and where it is mounted.

Every team or global volume becomes, for each user entitled to it, a PersistentVolume
pre-bound to a PersistentVolumeClaim in the user's namespace (users in a namespace that
enforces the ``restricted`` Pod Security Standard can mount claims, never inline NFS).
So a volume's ``source`` is what goes into that PersistentVolume: an NFS export, a CSI
volume, or a PersistentVolume spec template for anything else. The home volume is a
claim per user, provisioned by a StorageClass.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .base import ConfigModel, problem
from .fields import CsiDriver, DnsLabel, ExportPath, MountPath, NonBlank, Size, StorageClassName

DEFAULT_CAPACITY = "1Ti"

# The volume sources a PersistentVolumeSpec may carry (Kubernetes 1.3x API).
PV_SOURCE_KEYS = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
]

# PersistentVolume fields teamhub sets itself, and why a template must leave them out.
PV_MANAGED_KEYS = {
    "claimRef": "teamhub pre-binds each PersistentVolume to its user's claim",
    "storageClassName": "teamhub binds statically and sets no storage class",
    "capacity": "set capacity on the volume instead",
    "persistentVolumeReclaimPolicy": "teamhub always uses Retain so that shared data survives",
}


class NfsSource(ConfigModel):
    """An NFS export, mounted by the kubelet of the node running the pod."""

    doc_path: ClassVar[str] = "<volume>.source.nfs"

    server: NonBlank = Field(
        description="Host name or IP address of the NFS server.",
        examples=["nfs.example.org"],
    )
    path: ExportPath = Field(
        description="Exported directory on the server.",
        examples=["/exports/vision"],
    )


class CsiSource(ConfigModel):
    """A volume provided by a CSI driver (for example csi-driver-nfs or a cloud file store).

    A CSI driver identifies volumes by their handle, and two PersistentVolumes with the
    same handle collide on a node (kubernetes#105868), so teamhub derives a distinct handle
    for each user's PersistentVolume from the one given here (see the spawner docs).
    """

    doc_path: ClassVar[str] = "<volume>.source.csi"

    driver: CsiDriver = Field(
        description="Name of the CSI driver, as registered in the cluster.",
        examples=["nfs.csi.k8s.io"],
    )
    volume_handle: NonBlank = Field(
        description=(
            "Base volume handle understood by the driver. Each user's PersistentVolume gets "
            "a distinct handle derived from it and from the team, volume and user."
        ),
        examples=["nfs.example.org#/exports/vision"],
    )
    volume_attributes: dict[str, str] = Field(
        default_factory=dict,
        description="Driver-specific attributes passed to the driver unchanged.",
        examples=[{"server": "nfs.example.org", "share": "/exports/vision"}],
    )
    fs_type: str | None = Field(
        default=None,
        description="Filesystem type to mount, if the driver needs one; null: driver default.",
        examples=["ext4"],
    )


def _pv_source_field(key: str) -> Any:
    return Field(
        default=None,
        alias=key,
        description=f"The `{key}` volume source of the PersistentVolume, as in the Kubernetes API.",
    )


class PersistentVolumeTemplate(ConfigModel):
    """A PersistentVolume spec template, for storage that has no shorthand here.

    It holds exactly one volume source plus optional access modes, mount options, node
    affinity and volume mode, as in a Kubernetes `PersistentVolumeSpec`. teamhub fills in
    the capacity, the claim binding, the reclaim policy (`Retain`) and an empty storage
    class, so a template must not set `claimRef`, `storageClassName`, `capacity` or
    `persistentVolumeReclaimPolicy`.
    """

    doc_path: ClassVar[str] = "<volume>.source.persistentVolume"

    access_modes: (
        list[Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]] | None
    ) = Field(
        default=None,
        description=(
            "Access modes of the PersistentVolume and its claims. null: teamhub chooses "
            "ReadOnlyMany for read-only volumes and ReadWriteMany otherwise."
        ),
        examples=[["ReadOnlyMany"]],
    )
    mount_options: list[str] | None = Field(
        default=None,
        description="Mount options the kubelet passes to the mount command.",
        examples=[["nfsvers=4.1"]],
    )
    node_affinity: dict[str, Any] | None = Field(
        default=None,
        description="Nodes that can access the volume (a Kubernetes VolumeNodeAffinity).",
    )
    volume_mode: Literal["Filesystem", "Block"] | None = Field(
        default=None,
        description="Filesystem (the default) or Block.",
        examples=["Filesystem"],
    )
    volume_attributes_class_name: str | None = Field(
        default=None,
        description="VolumeAttributesClass of the volume, if the cluster uses them.",
    )

    aws_elastic_block_store: dict[str, Any] | None = _pv_source_field("awsElasticBlockStore")
    azure_disk: dict[str, Any] | None = _pv_source_field("azureDisk")
    azure_file: dict[str, Any] | None = _pv_source_field("azureFile")
    cephfs: dict[str, Any] | None = _pv_source_field("cephfs")
    cinder: dict[str, Any] | None = _pv_source_field("cinder")
    csi: dict[str, Any] | None = _pv_source_field("csi")
    fc: dict[str, Any] | None = _pv_source_field("fc")
    flex_volume: dict[str, Any] | None = _pv_source_field("flexVolume")
    flocker: dict[str, Any] | None = _pv_source_field("flocker")
    gce_persistent_disk: dict[str, Any] | None = _pv_source_field("gcePersistentDisk")
    glusterfs: dict[str, Any] | None = _pv_source_field("glusterfs")
    host_path: dict[str, Any] | None = _pv_source_field("hostPath")
    iscsi: dict[str, Any] | None = _pv_source_field("iscsi")
    local: dict[str, Any] | None = _pv_source_field("local")
    nfs: dict[str, Any] | None = _pv_source_field("nfs")
    photon_persistent_disk: dict[str, Any] | None = _pv_source_field("photonPersistentDisk")
    portworx_volume: dict[str, Any] | None = _pv_source_field("portworxVolume")
    quobyte: dict[str, Any] | None = _pv_source_field("quobyte")
    rbd: dict[str, Any] | None = _pv_source_field("rbd")
    scale_io: dict[str, Any] | None = _pv_source_field("scaleIO")
    storageos: dict[str, Any] | None = _pv_source_field("storageos")
    vsphere_volume: dict[str, Any] | None = _pv_source_field("vsphereVolume")

    @model_validator(mode="before")
    @classmethod
    def _refuse_managed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, why in PV_MANAGED_KEYS.items():
                if key in data:
                    raise problem(f"{key} must not be set: {why}")
        return data

    @model_validator(mode="after")
    def _one_source(self) -> PersistentVolumeTemplate:
        found = self.source_keys()
        if len(found) != 1:
            detail = "none" if not found else ", ".join(found)
            raise problem(
                f"must set exactly one PersistentVolume source such as nfs, csi or hostPath "
                f"(found {detail})"
            )
        return self

    def source_keys(self) -> list[str]:
        """The volume source keys this template sets (exactly one once validated)."""
        wire = self.model_dump(by_alias=True, exclude_none=True)
        return [k for k in PV_SOURCE_KEYS if k in wire]

    def spec(self) -> dict[str, Any]:
        """The template as a PersistentVolumeSpec fragment (camelCase, unset keys left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class VolumeSource(ConfigModel):
    """Where a volume's data lives: exactly one of `nfs`, `csi` or `persistentVolume`."""

    doc_path: ClassVar[str] = "<volume>.source"

    nfs: NfsSource | None = Field(default=None, description="An NFS export.")
    csi: CsiSource | None = Field(default=None, description="A volume of a CSI driver.")
    persistent_volume: PersistentVolumeTemplate | None = Field(
        default=None,
        description="A PersistentVolume spec template, for any other kind of storage.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> VolumeSource:
        found = [k for k in ("nfs", "csi", "persistentVolume") if self.as_dict().get(k)]
        if len(found) != 1:
            detail = "" if not found else f" (found {' and '.join(found)})"
            raise problem(f"must set exactly one of nfs, csi, persistentVolume{detail}")
        return self

    @property
    def kind(self) -> str:
        """``nfs``, ``csi`` or ``persistentVolume``."""
        return next(iter(self.as_dict()))

    def as_dict(self) -> dict[str, Any]:
        """The source as plain data: ``{"nfs": {"server": ..., "path": ...}}`` and so on."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def declares_read_only(self) -> bool:
        """Whether a template's own volume source says ``readOnly: true``."""
        pv = self.persistent_volume
        if pv is None:
            return False
        return any((pv.spec().get(k) or {}).get("readOnly") is True for k in pv.source_keys())


class TeamVolume(ConfigModel):
    """A volume every member of the team gets, mounted at the same path for all of them."""

    doc_path: ClassVar[str] = "teams.<name>.volumes[]"

    name: DnsLabel = Field(
        description=(
            "Name of the volume, unique within the team; part of the names of the "
            "PersistentVolume and claim teamhub creates for each member."
        ),
        examples=["data"],
    )
    mount_path: MountPath = Field(
        description=(
            "Absolute path where the volume appears in notebooks and jobs. It must not be "
            "the same as, inside or around another mount of the team, of a global volume "
            "or of the home volume."
        ),
        examples=["/teams/vision/data"],
    )
    read_only: bool = Field(
        default=False,
        description="Mount read-only: members can read the data but not change it.",
        examples=[True],
    )
    capacity: Size = Field(
        default=DEFAULT_CAPACITY,
        description=(
            "Capacity written on the PersistentVolumes (Kubernetes requires one). It limits "
            "nothing on shared storage such as NFS."
        ),
        examples=["500Gi"],
    )
    source: VolumeSource = Field(description="Where the data lives.")

    @model_validator(mode="after")
    def _source_agrees(self) -> TeamVolume:
        if not self.read_only and self.source.declares_read_only():
            raise problem(
                "readOnly is false but the persistentVolume source sets readOnly: true; "
                "set readOnly: true on the volume"
            )
        return self


class GlobalVolume(ConfigModel):
    """A volume every user gets, whatever their teams; always mounted read-only."""

    doc_path: ClassVar[str] = "globalVolumes[]"

    name: DnsLabel = Field(
        description="Name of the volume, unique among global volumes.",
        examples=["datasets"],
    )
    mount_path: MountPath = Field(
        description=(
            "Absolute path where the volume appears in every notebook and job. It must not "
            "be the same as, inside or around another global volume or the home volume."
        ),
        examples=["/data/public"],
    )
    read_only: bool = Field(
        default=True,
        description="Global volumes are always read-only; this may only be true.",
        examples=[True],
    )
    capacity: Size = Field(
        default=DEFAULT_CAPACITY,
        description="Capacity written on the PersistentVolumes (Kubernetes requires one).",
        examples=["1Ti"],
    )
    source: VolumeSource = Field(description="Where the data lives.")

    @field_validator("read_only")
    @classmethod
    def _always_read_only(cls, value: bool) -> bool:
        if not value:
            raise problem("global volumes are always read-only; remove readOnly or set it to true")
        return value


class HomeVolume(ConfigModel):
    """Each user's own home directory: a claim in the user's namespace, kept across servers."""

    doc_path: ClassVar[str] = "home"

    size: Size = Field(
        default="10Gi",
        description="Requested size of each user's home claim.",
        examples=["10Gi"],
    )
    storage_class_name: StorageClassName | None = Field(
        default=None,
        description=(
            "StorageClass that provisions home claims. null: the cluster's default "
            'StorageClass; "": no class (an admin binds volumes by hand).'
        ),
        examples=["standard"],
    )
    mount_path: MountPath = Field(
        default="/home/jovyan",
        description="Absolute path of the home directory in notebooks and jobs.",
        examples=["/home/jovyan"],
    )
