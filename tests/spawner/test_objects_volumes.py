"""Team/global volumes (PV pre-bound to PVC) for every source, CSI handles, home PVC, and
binding on a real API (kubesim)."""

from __future__ import annotations

import pytest
from kubernetes import client
from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects import volumes as V

from tests.kubesim.helpers import wait_for
from tests.spawner.objects_support import (
    HOME,
    NS,
    USER,
    api_client,
    create,
    csi_volume,
    global_volume,
    nfs_volume,
    template_volume,
    validate,
)


def pair(scope, vol, ns=NS):
    pv = validate(V.team_volume_pv(ns, scope, vol, username=USER))
    pvc = validate(V.team_volume_pvc(ns, scope, vol, username=USER))
    return pv, pvc


def test_nfs_volume_pv_prebound_to_its_pvc():
    pv, pvc = pair("vision", nfs_volume())
    assert pv["metadata"]["name"] == "teamhub.teamhub-alice.vision.data"
    assert pv["spec"] == {
        "nfs": {"server": "nfs.example.org", "path": "/exports/data"},
        "persistentVolumeReclaimPolicy": "Retain",
        "capacity": {"storage": "500Gi"},
        "accessModes": ["ReadWriteMany"],
        "claimRef": {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": NS,
            "name": "vision.data",
        },
    }
    assert pvc["metadata"] == {
        "name": "vision.data",
        "namespace": NS,
        "labels": {
            L.MANAGED_BY: "teamhub",
            L.USER: USER,
            L.COMPONENT: L.COMPONENT_VOLUME,
            L.SCOPE: "vision",
            L.VOLUME: "data",
        },
        "annotations": {L.USER: USER},
    }
    assert pvc["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "500Gi"}},
        "storageClassName": "",
        "volumeName": "teamhub.teamhub-alice.vision.data",
    }
    assert pv["metadata"]["labels"][L.NAMESPACE] == NS


def test_read_only_volume_is_read_only_at_the_source_and_in_the_pod():
    pv, pvc = pair("vision", nfs_volume(read_only=True))
    assert pv["spec"]["nfs"]["readOnly"] is True
    assert pv["spec"]["accessModes"] == pvc["spec"]["accessModes"] == ["ReadOnlyMany"]
    vol, mount = V.team_volume_pod_entry("vision", nfs_volume(read_only=True))
    assert vol["persistentVolumeClaim"] == {"claimName": "vision.data", "readOnly": True}
    assert mount["readOnly"] is True


def test_global_volumes_are_always_read_only():
    pv, _ = pair("global", global_volume())
    assert pv["metadata"]["name"] == "teamhub.teamhub-alice.global.datasets"
    assert pv["spec"]["nfs"]["readOnly"] is True
    assert pv["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert V.team_volume_pod_entry("global", global_volume())[1]["readOnly"] is True


def test_writable_volume_mount():
    vol, mount = V.team_volume_pod_entry("vision", nfs_volume())
    assert vol == {"name": vol["name"], "persistentVolumeClaim": {"claimName": "vision.data"}}
    assert mount == {"name": vol["name"], "mountPath": "/teams/vision/data", "readOnly": False}


def test_default_capacity():
    pv, pvc = pair("vision", {**nfs_volume(), "capacity": None})
    assert pv["spec"]["capacity"] == {"storage": "1Ti"}
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Ti"


def test_csi_volume_gets_a_unique_handle_per_user():
    pv, _ = pair("vision", csi_volume())
    csi = pv["spec"]["csi"]
    assert csi["driver"] == "nfs.csi.k8s.io"
    assert csi["volumeAttributes"] == {"server": "nfs.example.org", "share": "/exports/vision"}
    assert "fsType" not in csi  # None values are dropped
    assert csi["volumeHandle"].startswith("nfs.example.org#/exports/vision##teamhub-")
    bob, _ = pair("vision", csi_volume(), ns="teamhub-bob")
    assert bob["spec"]["csi"]["volumeHandle"] != csi["volumeHandle"]
    again, _ = pair("vision", csi_volume())
    assert again == pv  # deterministic: a second start builds the identical PV


def test_read_only_csi_volume():
    pv, _ = pair("vision", csi_volume(read_only=True))
    assert pv["spec"]["csi"]["readOnly"] is True


H = "nfs.example.org#/exports/vision"


@pytest.mark.parametrize(
    ("driver", "base", "expected"),
    [
        # csi-driver-nfs: server#share#subDir#uuid#onDelete; our id goes in the uuid slot.
        ("nfs.csi.k8s.io", H, H + "##{id}"),
        ("nfs.csi.k8s.io", H + "#sub", H + "#sub#{id}"),
        ("nfs.csi.k8s.io", H + "#sub#u1#retain", H + "#sub#u1-{id}#retain"),
        # csi-driver-smb: source#subDir#uuid#onDelete
        ("smb.csi.k8s.io", "smb.example.org/share", "smb.example.org/share##{id}"),
        ("smb.csi.k8s.io", "smb.example.org/share#sub", "smb.example.org/share#sub#{id}"),
        # any other driver: opaque handle, id appended
        ("cephfs.csi.ceph.com", "vision-static", "vision-static#{id}"),
    ],
)
def test_csi_handle_layout(driver, base, expected):
    handle = V.csi_volume_handle(base, driver=driver, namespace=NS, scope="vision", volume="data")
    ident = handle.rsplit("teamhub-", 1)[1][:20]
    assert len(ident) == 20 and all(c in "0123456789abcdef" for c in ident)
    assert handle == expected.format(id=f"teamhub-{ident}")


def test_csi_handle_distinguishes_every_input():
    base = {"driver": "nfs.csi.k8s.io", "namespace": NS, "scope": "vision", "volume": "data"}
    variants = [
        base,
        {**base, "namespace": "teamhub-bob"},
        {**base, "scope": "nlp"},
        {**base, "volume": "models"},
        {**base, "driver": "other.csi"},
    ]
    handles = {V.csi_volume_handle(H, **v).rsplit("#", 1)[-1] for v in variants}
    assert len(handles) == len(variants)
    other_base = V.csi_volume_handle(H + "2", **base)
    assert other_base.rsplit("#", 1)[-1] not in handles


def test_csi_handle_respects_the_128_byte_limit():
    ok = "s" * (128 - 3 - 28)  # + "##" padding, "#" and the 28-character id
    handle = V.csi_volume_handle(ok, driver="nfs.csi.k8s.io", namespace=NS, scope="v", volume="d")
    assert len(handle) == 128
    with pytest.raises(ValueError, match=r"too long: .* CSI allows 128; .* at most 97 bytes"):
        V.csi_volume_handle(ok + "s", driver="nfs.csi.k8s.io", namespace=NS, scope="v", volume="d")


def test_persistent_volume_template():
    pv, pvc = pair("vision", template_volume())
    spec = pv["spec"]
    assert spec["nfs"] == {"server": "nfs.example.org", "path": "/exports/models", "readOnly": True}
    assert spec["accessModes"] == ["ReadOnlyMany"]
    assert spec["capacity"] == {"storage": "1Ti"}
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["claimRef"]["name"] == "vision.models"
    assert pvc["spec"]["storageClassName"] == ""


def test_template_settings_win_where_it_sets_them():
    vol = template_volume(
        read_only=False,
        accessModes=["ReadWriteOnce"],
        capacity={"storage": "2Ti"},
        storageClassName="manual",
        mountOptions=["nfsvers=4.1"],
        volumeMode="Filesystem",
        persistentVolumeReclaimPolicy="Retain",
    )
    pv, pvc = pair("vision", vol)
    assert pv["spec"]["accessModes"] == pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pv["spec"]["capacity"] == {"storage": "2Ti"}
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Ti"
    assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"] == "manual"
    assert pv["spec"]["mountOptions"] == ["nfsvers=4.1"]
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert "readOnly" not in pv["spec"]["nfs"]


def test_template_with_csi_gets_a_unique_handle_and_read_only():
    vol = template_volume(
        nfs=None,
        csi={"driver": "nfs.csi.k8s.io", "volumeHandle": H, "volumeAttributes": {"a": "b"}},
    )
    pv, _ = pair("vision", vol)
    assert "nfs" not in pv["spec"]
    assert pv["spec"]["csi"]["volumeHandle"].startswith(H + "##teamhub-")
    assert pv["spec"]["csi"]["readOnly"] is True


@pytest.mark.parametrize(
    ("vol", "message"),
    [
        (
            template_volume(claimRef={"name": "x"}),
            r"teams\.vision\.volumes\['models'\]\.source\.persistentVolume: must not set claimRef",
        ),
        (
            template_volume(persistentVolumeReclaimPolicy="Delete"),
            r"persistentVolumeReclaimPolicy: must be Retain \(got 'Delete'\)",
        ),
        (
            {**nfs_volume(), "source": {"nfs": None, "csi": None, "persistentVolume": None}},
            r"teams\.vision\.volumes\['data'\]\.source: must set exactly one of nfs, csi, "
            r"persistentVolume \(got: none\)",
        ),
        (
            {**nfs_volume(), "source": {**csi_volume()["source"], "nfs": {"server": "s"}}},
            r"must set exactly one of .* \(got: nfs, csi\)",
        ),
        (
            {**csi_volume(), "source": {"csi": {"driver": "d", "volumeHandle": None}}},
            r"teams\.vision\.volumes\['data'\]\.source: csi\.volumeHandle is required",
        ),
    ],
)
def test_bad_volume_sources_are_named(vol, message):
    with pytest.raises(ValueError, match=message):
        V.team_volume_pv(NS, "vision", vol, username=USER)


def test_bad_mount_path_is_named():
    with pytest.raises(ValueError, match=r"globalVolumes\['datasets'\]\.mountPath: must be an abs"):
        V.team_volume_pod_entry("global", {**global_volume(), "mountPath": "data"})


def test_home_pvc():
    pvc = validate(V.home_pvc(NS, HOME, username=USER))
    assert pvc["metadata"]["name"] == "home"
    assert pvc["metadata"]["labels"][L.COMPONENT] == L.COMPONENT_HOME
    # storageClassName null: omitted, so the default StorageClass applies.
    assert pvc["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "10Gi"}},
    }
    fast = V.home_pvc(NS, {**HOME, "storageClassName": "fast"}, username=USER)
    assert fast["spec"]["storageClassName"] == "fast"
    rwx = V.home_pvc(NS, HOME, username=USER, access_modes=("ReadWriteMany",))
    assert rwx["spec"]["accessModes"] == ["ReadWriteMany"]
    vol, mount = V.home_pod_entry(HOME)
    assert vol == {"name": "home", "persistentVolumeClaim": {"claimName": "home"}}
    assert mount == {"name": "home", "mountPath": "/home/jovyan"}
    with pytest.raises(ValueError, match=r"home\.size: required"):
        V.home_pvc(NS, {**HOME, "size": None}, username=USER)


# ------------------------------------------------------------------ on the API
@pytest.fixture
def core(kubesim):
    with api_client(kubesim.kubeconfig) as api:
        create(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        yield client.CoreV1Api(api)


def _phase(core, kind, name):
    if kind == "pv":
        return core.read_persistent_volume(name).status.phase
    return core.read_namespaced_persistent_volume_claim(name, NS).status.phase


@pytest.mark.parametrize(
    ("scope", "vol"),
    [
        ("vision", nfs_volume()),
        ("vision", csi_volume(read_only=True)),
        ("vision", template_volume()),
        ("global", global_volume()),
    ],
    ids=["nfs", "csi", "persistentVolume", "global"],
)
def test_pv_and_pvc_become_bound_to_each_other(core, scope, vol):
    pv, pvc = pair(scope, vol)
    # The PVC first, as a concurrent create may well do: it waits for its PV.
    create(core.api_client, pvc)
    create(core.api_client, pv)
    name = pv["metadata"]["name"]
    wait_for(lambda: _phase(core, "pvc", pvc["metadata"]["name"]) == "Bound", what="PVC Bound")
    wait_for(lambda: _phase(core, "pv", name) == "Bound", what="PV Bound")
    stored = core.read_persistent_volume(name)
    assert stored.spec.claim_ref.name == pvc["metadata"]["name"]
    assert (
        stored.spec.claim_ref.uid
        == core.read_namespaced_persistent_volume_claim(pvc["metadata"]["name"], NS).metadata.uid
    )


def test_home_pvc_is_provisioned_by_the_default_class(core):
    create(core.api_client, V.home_pvc(NS, HOME, username=USER))
    wait_for(lambda: _phase(core, "pvc", "home") == "Bound", what="home PVC Bound")
