"""kubesim.kubelet.volumes / atomic: volume contents, storage mapping, atomic updates."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from kubesim.kubelet.atomic import atomic_write
from kubesim.kubelet.volumes import (
    MountError,
    configmap_payload,
    downward_payload,
    secret_payload,
    storage_dir,
)

SECRET = {"data": {"a": base64.b64encode(b"A").decode(), "b": base64.b64encode(b"\x00B").decode()}}
CM = {"data": {"x": "X"}, "binaryData": {"bin": base64.b64encode(b"\xff").decode()}}


def test_storage_dirs_are_shared_by_source(tmp_path: Path) -> None:
    nfs = storage_dir(tmp_path, {"nfs": {"server": "fs.example", "path": "/exports/home"}})
    assert nfs == tmp_path / "storage/nfs/fs.example/exports/home"
    csi_nfs = {
        "csi": {
            "driver": "nfs.csi.k8s.io",
            "volumeHandle": "h",
            "volumeAttributes": {"server": "fs.example", "share": "/exports/home"},
        }
    }
    assert storage_dir(tmp_path, csi_nfs) == nfs
    csi_nfs["csi"]["volumeAttributes"]["subDir"] = "alice"
    assert storage_dir(tmp_path, csi_nfs) == nfs / "alice"
    assert storage_dir(tmp_path, {"csi": {"driver": "d", "volumeHandle": "vol-1"}}) == (
        tmp_path / "storage/csi/d/vol-1"
    )
    host = storage_dir(tmp_path, {"hostPath": {"path": "/var/../data/x"}})
    assert host == tmp_path / "storage/hostpath/data/x"
    assert storage_dir(tmp_path, {"local": {"path": "/data/x"}}) == host
    assert storage_dir(tmp_path, {"emptyDir": {}}) is None
    assert storage_dir(tmp_path, {"csi": {"driver": "inline"}}) is None


def test_secret_payload_items_modes_optional() -> None:
    assert secret_payload({"secretName": "s"}, SECRET) == {
        "a": (b"A", 0o644),
        "b": (b"\x00B", 0o644),
    }
    got = secret_payload(
        {
            "secretName": "s",
            "defaultMode": 0o400,
            "items": [{"key": "a", "path": "dir/a.txt", "mode": 0o600}, {"key": "b", "path": "b"}],
        },
        SECRET,
    )
    assert got == {"dir/a.txt": (b"A", 0o600), "b": (b"\x00B", 0o400)}
    with pytest.raises(MountError, match='secret "s" not found'):
        secret_payload({"secretName": "s"}, None)
    assert secret_payload({"secretName": "s", "optional": True}, None) == {}
    with pytest.raises(MountError, match="references non-existent secret key: zz"):
        secret_payload({"secretName": "s", "items": [{"key": "zz", "path": "z"}]}, SECRET)
    with pytest.raises(MountError, match="invalid path"):
        secret_payload({"secretName": "s", "items": [{"key": "a", "path": "../a"}]}, SECRET)


def test_configmap_payload_includes_binary_data() -> None:
    assert configmap_payload({"name": "c"}, CM) == {"x": (b"X", 0o644), "bin": (b"\xff", 0o644)}
    with pytest.raises(MountError, match="configmap references non-existent config key: q"):
        configmap_payload({"name": "c", "items": [{"key": "q", "path": "q"}]}, CM)
    with pytest.raises(MountError, match='configmap "c" not found'):
        configmap_payload({"name": "c"}, None)


def test_downward_payload() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n", "labels": {"b": "2", "a": "1"}},
        "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]},
    }
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}, "mode": 0o400},
        {
            "path": "mem",
            "resourceFieldRef": {
                "containerName": "c",
                "resource": "limits.memory",
                "divisor": "1Mi",
            },
        },
    ]
    got = downward_payload(items, pod, None, pod_ips=["127.1.0.3"], host_ips=[])
    assert got == {
        "labels": (b'a="1"\nb="2"', 0o644),
        "ip": (b"127.1.0.3", 0o400),
        "mem": (b"64", 0o644),
    }


def test_atomic_write_layout_and_update(tmp_path: Path) -> None:
    d = tmp_path / "vol"
    assert atomic_write(d, {"user": (b"alice", 0o644), "sub/key": (b"k", 0o600)})
    assert os.readlink(d / "user") == "..data/user"
    first = os.readlink(d / "..data")
    assert first.startswith("..") and (d / first / "user").read_bytes() == b"alice"
    assert (d / "sub" / "key").read_bytes() == b"k"
    assert (d / "sub" / "key").stat().st_mode & 0o777 == 0o600
    assert not atomic_write(d, {"user": (b"alice", 0o644), "sub/key": (b"k", 0o600)})

    assert atomic_write(d, {"user": (b"bob", 0o644)})
    assert (d / "user").read_bytes() == b"bob"
    assert not (d / "sub").exists()  # stale entry removed
    assert not (d / first).exists()  # old generation removed
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith("..")) == ["user"]
