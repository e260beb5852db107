"""The bad teams configs of tests/hub/test_teams_config_errors.py, each with the exact
problems it must be refused with (key and message), and the shared message texts."""

from __future__ import annotations

from typing import Any

from tests.hub.teams_fixtures import APPEND, BASE, DELETE, changed

LABEL = (
    "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
    "starting and ending with a letter or digit"
)
SUBDOMAIN = (
    "must be a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit"
)
QUANTITY = "must be a Kubernetes quantity such as 10Gi, 500m or 2"
ENV = (
    "must be a valid environment variable name: letters, digits and '_', not starting with a digit"
)
V = ("teams", "vision")
VOL0 = (*V, "volumes", 0)
VOL1 = (*V, "volumes", 1)
CRED0 = (*V, "credentials", 0)


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    # unknown and missing keys, wrong types
    (
        "unknown team key",
        changed(((*V, "volumz"), [])),
        ["teams.vision.volumz: unknown key"],
    ),
    ("unknown top-level key", changed((("team",), {})), ["team: unknown key"]),
    (
        "unknown key in a source",
        changed(((*VOL0, "source", "csi", "handle"), "x")),
        ["teams.vision.volumes[0].source.csi.handle: unknown key"],
    ),
    (
        "unknown key in a PersistentVolume template",
        changed(((*VOL1, "source", "persistentVolume", "nsf"), {})),
        ["teams.vision.volumes[1].source.persistentVolume.nsf: unknown key"],
    ),
    (
        "missing groups",
        changed(((*V, "groups"), DELETE)),
        ["teams.vision.groups: missing required key"],
    ),
    (
        "missing nfs path",
        changed((("globalVolumes", 0, "source", "nfs", "path"), DELETE)),
        ["globalVolumes[0].source.nfs.path: missing required key"],
    ),
    (
        "groups not a list",
        changed(((*V, "groups"), "vision")),
        ["teams.vision.groups: must be a list"],
    ),
    ("teams not a mapping", changed((("teams",), [])), ["teams: must be a mapping"]),
    (
        "readOnly not a boolean",
        changed(((*VOL0, "readOnly"), "maybe")),
        ["teams.vision.volumes[0].readOnly: must be true or false"],
    ),
    (
        "displayName not a string",
        changed((("profiles", 0, "displayName"), 3)),
        ["profiles[0].displayName: must be a string"],
    ),
    (
        "blank displayName",
        changed((("profiles", 0, "displayName"), "  ")),
        ["profiles[0].displayName: must not be empty"],
    ),
    (
        "kubespawnerOverride not a mapping",
        changed((("profiles", 1, "kubespawnerOverride"), ["cpu_limit"])),
        ["profiles[1].kubespawnerOverride: must be a mapping"],
    ),
    (
        "volumeMode not one of the choices",
        changed(((*VOL1, "source", "persistentVolume", "volumeMode"), "Fast")),
        [
            "teams.vision.volumes[1].source.persistentVolume.volumeMode: "
            "must be 'Filesystem' or 'Block'"
        ],
    ),
    # names
    ("team name", changed((("teams", "Vision"), BASE["teams"]["nlp"])), [f"teams.Vision: {LABEL}"]),
    (
        "team named global",
        changed((("teams", "global"), BASE["teams"]["nlp"] | {"volumes": []})),
        ['teams.global: "global" is reserved for the scope of global volumes; choose another name'],
    ),
    (
        "volume name",
        changed(((*VOL0, "name"), "Data_1")),
        [f"teams.vision.volumes[0].name: {LABEL}"],
    ),
    (
        "name of 64 characters",
        changed(((*CRED0, "name"), "a" * 64)),
        [f"teams.vision.credentials[0].name: {LABEL}"],
    ),
    (
        "profile slug",
        changed((("profiles", 0, "slug"), "-cpu")),
        [f"profiles[0].slug: {LABEL}"],
    ),
    ("namespacePrefix", changed((("namespacePrefix",), "Team")), [f"namespacePrefix: {LABEL}"]),
    (
        "namespacePrefix too long",
        changed((("namespacePrefix",), "a" * 31)),
        ["namespacePrefix: must be at most 30 characters, so that namespace names fit in 63"],
    ),
    (
        "secretName",
        changed(((*CRED0, "secretName"), "Vision_S3")),
        [f"teams.vision.credentials[0].secretName: {SUBDOMAIN}"],
    ),
    (
        "storageClassName",
        changed((("home", "storageClassName"), "fast_ssd")),
        [f"home.storageClassName: {SUBDOMAIN}"],
    ),
    (
        "CSI driver name",
        changed(((*VOL0, "source", "csi", "driver"), "nfs csi")),
        [
            "teams.vision.volumes[0].source.csi.driver: must be a CSI driver name: at most 63 "
            "letters, digits, '-' and '.', starting and ending with a letter or digit"
        ],
    ),
    # paths
    (
        "relative mountPath",
        changed(((*VOL1, "mountPath"), "teams/vision/models")),
        ["teams.vision.volumes[1].mountPath: must be an absolute path"],
    ),
    (
        "mountPath with ..",
        changed(((*VOL1, "mountPath"), "/teams/vision/../nlp")),
        ["teams.vision.volumes[1].mountPath: must not contain '..'"],
    ),
    (
        "mountPath at the root",
        changed((("home", "mountPath"), "//")),
        ["home.mountPath: must not be the root directory /"],
    ),
    (
        "mountPath with a newline",
        changed(((*CRED0, "mountPath"), "/secrets/s3\n")),
        ["teams.vision.credentials[0].mountPath: must not contain control characters"],
    ),
    (
        "relative NFS export",
        changed((("globalVolumes", 0, "source", "nfs", "path"), "exports")),
        ["globalVolumes[0].source.nfs.path: must be an absolute path"],
    ),
    # quantities
    ("quota cpu", changed(((*V, "quota", "cpu"), "10GB")), [f"teams.vision.quota.cpu: {QUANTITY}"]),
    (
        "quota cpu as a boolean",
        changed(((*V, "quota", "cpu"), True)),
        [f"teams.vision.quota.cpu: {QUANTITY}"],
    ),
    (
        "negative quota memory",
        changed(((*V, "quota", "memory"), "-1Gi")),
        ["teams.vision.quota.memory: must not be negative"],
    ),
    (
        "fractional gpus",
        changed(((*V, "quota", "gpus"), 1.5)),
        ["teams.vision.quota.gpus: must be a whole number"],
    ),
    (
        "gpus as a boolean",
        changed(((*V, "quota", "gpus"), True)),
        ["teams.vision.quota.gpus: must be a whole number"],
    ),
    (
        "negative pods",
        changed(((*V, "quota", "pods"), -1)),
        ["teams.vision.quota.pods: must not be negative"],
    ),
    (
        "unknown quota key",
        changed(((*V, "quota", "gpu"), 1)),
        ["teams.vision.quota.gpu: unknown key"],
    ),
    ("zero home size", changed((("home", "size"), "0")), ["home.size: must be greater than zero"]),
    (
        "capacity",
        changed(((*VOL0, "capacity"), "lots")),
        [f"teams.vision.volumes[0].capacity: {QUANTITY}"],
    ),
    # volume sources
    (
        "two sources",
        changed(((*VOL0, "source", "nfs"), {"server": "s", "path": "/x"})),
        [
            "teams.vision.volumes[0].source: must set exactly one of nfs, csi, persistentVolume "
            "(found nfs and csi)"
        ],
    ),
    (
        "no source",
        changed((("globalVolumes", 0, "source"), {})),
        ["globalVolumes[0].source: must set exactly one of nfs, csi, persistentVolume"],
    ),
    (
        "template with claimRef",
        changed(((*VOL1, "source", "persistentVolume", "claimRef"), {"name": "x"})),
        [
            "teams.vision.volumes[1].source.persistentVolume: claimRef must not be set: "
            "teamhub pre-binds each PersistentVolume to its user's claim"
        ],
    ),
    (
        "template with storageClassName",
        changed(((*VOL1, "source", "persistentVolume", "storageClassName"), "nfs")),
        [
            "teams.vision.volumes[1].source.persistentVolume: storageClassName must not be set: "
            "teamhub binds statically and sets no storage class"
        ],
    ),
    (
        "template with a reclaim policy",
        changed(((*VOL1, "source", "persistentVolume", "persistentVolumeReclaimPolicy"), "Delete")),
        [
            "teams.vision.volumes[1].source.persistentVolume: persistentVolumeReclaimPolicy must "
            "not be set: teamhub always uses Retain so that shared data survives"
        ],
    ),
    (
        "template without a source",
        changed(((*VOL1, "source", "persistentVolume"), {"accessModes": ["ReadOnlyMany"]})),
        [
            "teams.vision.volumes[1].source.persistentVolume: must set exactly one "
            "PersistentVolume source such as nfs, csi or hostPath (found none)"
        ],
    ),
    (
        "template with two sources",
        changed(((*VOL1, "source", "persistentVolume", "hostPath"), {"path": "/x"})),
        [
            "teams.vision.volumes[1].source.persistentVolume: must set exactly one "
            "PersistentVolume source such as nfs, csi or hostPath (found hostPath, nfs)"
        ],
    ),
    (
        "template read-only but volume writable",
        changed(
            ((*VOL1, "readOnly"), False),
            ((*VOL1, "source", "persistentVolume", "nfs", "readOnly"), True),
        ),
        [
            "teams.vision.volumes[1]: readOnly is false but the persistentVolume source sets "
            "readOnly: true; set readOnly: true on the volume"
        ],
    ),
    (
        "writable global volume",
        changed((("globalVolumes", 0, "readOnly"), False)),
        [
            "globalVolumes[0].readOnly: global volumes are always read-only; "
            "remove readOnly or set it to true"
        ],
    ),
    # credentials
    (
        "env maps to a key not copied",
        changed(((*CRED0, "env", "AWS_REGION"), "AWS_REGION")),
        [
            "teams.vision.credentials[0].env.AWS_REGION: AWS_REGION is not among keys "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
        ],
    ),
    (
        "env name",
        changed(((*CRED0, "env", "1AWS"), "AWS_ACCESS_KEY_ID")),
        [f"teams.vision.credentials[0].env.1AWS: {ENV}"],
    ),
    (
        "reserved env name",
        changed(((*CRED0, "env", "JUPYTERHUB_API_TOKEN"), "AWS_ACCESS_KEY_ID")),
        [
            "teams.vision.credentials[0].env.JUPYTERHUB_API_TOKEN: is reserved: names starting "
            "with JUPYTERHUB_ or TEAMHUB_ are set by the hub"
        ],
    ),
    (
        "Secret key",
        changed(((*CRED0, "keys"), ["AWS_ACCESS_KEY_ID", "aws/secret"])),
        [
            "teams.vision.credentials[0].keys[1]: must be a valid Secret key: letters, digits, "
            "'-', '_' and '.'"
        ],
    ),
    (
        "empty keys",
        changed(((*CRED0, "keys"), []), ((*CRED0, "env"), {})),
        [
            "teams.vision.credentials[0].keys: must list at least one key; "
            "leave keys out to copy every key"
        ],
    ),
    (
        "key listed twice",
        changed(((*CRED0, "keys"), ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"])),
        ["teams.vision.credentials[0].keys: lists AWS_ACCESS_KEY_ID more than once"],
    ),
    (
        "env var set by two credentials of a team",
        changed(
            (
                (*V, "credentials", APPEND),
                {"name": "s3-backup", "secretName": "s3b", "env": {"AWS_ACCESS_KEY_ID": "id"}},
            )
        ),
        [
            "teams.vision.credentials[1].env.AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY_ID is also set "
            "by teams.vision.credentials[0]"
        ],
    ),
    # teams: groups, profiles, images
    (
        "no groups",
        changed(((*V, "groups"), [])),
        ["teams.vision.groups: must list at least one group"],
    ),
    (
        "blank group",
        changed(((*V, "groups", 1), "")),
        ["teams.vision.groups[1]: must not be empty"],
    ),
    (
        "unknown profile",
        changed(((*V, "profiles", 1), "tpu")),
        ["teams.vision.profiles[1]: tpu is not a profile; profiles are: cpu, gpu"],
    ),
    (
        "profile when none are defined",
        changed((("profiles",), []), (("teams", "nlp", "profiles"), DELETE)),
        [
            "teams.vision.profiles[0]: cpu is not a profile; no profiles are defined",
            "teams.vision.profiles[1]: gpu is not a profile; no profiles are defined",
        ],
    ),
    (
        "empty images",
        changed(((*V, "images"), [])),
        [
            "teams.vision.images: must list at least one pattern; "
            "leave images out to allow any image"
        ],
    ),
    (
        "blank image pattern",
        changed(((*V, "images", 0), "quay.io/jupyter/* ")),
        ["teams.vision.images[0]: must be a non-empty image pattern without spaces"],
    ),
    # duplicates
    (
        "two volumes of a team with one name",
        changed(((*VOL1, "name"), "data")),
        ["teams.vision.volumes[1].name: data is also the name of teams.vision.volumes[0]"],
    ),
    (
        "two global volumes with one name",
        changed(
            (
                ("globalVolumes", APPEND),
                BASE["globalVolumes"][0] | {"mountPath": "/data/other"},
            )
        ),
        ["globalVolumes[1].name: datasets is also the name of globalVolumes[0]"],
    ),
    (
        "two credentials of a team with one name",
        changed(
            ((*V, "credentials", APPEND), {"name": "s3", "secretName": "b", "mountPath": "/s3"})
        ),
        ["teams.vision.credentials[1].name: s3 is also the name of teams.vision.credentials[0]"],
    ),
    (
        "two profiles with one slug",
        changed((("profiles", APPEND), {"slug": "cpu", "displayName": "Again"})),
        ["profiles[2].slug: cpu is also the slug of profiles[0]"],
    ),
    (
        "two default profiles",
        changed((("profiles", 1, "default"), True)),
        ["profiles[1].default: only one profile may be the default; profiles[0] already is"],
    ),
    # mount paths of one user
    (
        "team volume on a global volume",
        changed(((*VOL0, "mountPath"), "/data/public")),
        [
            "teams.vision.volumes[0].mountPath: /data/public is also the mount path of "
            "globalVolumes[0]"
        ],
    ),
    (
        "team volume inside home",
        changed(((*VOL0, "mountPath"), "/home/jovyan/data")),
        [
            "teams.vision.volumes[0].mountPath: /home/jovyan/data is inside /home/jovyan, "
            "the mount path of home"
        ],
    ),
    (
        "team volume around a global volume",
        changed(((*VOL1, "mountPath"), "/data")),
        [
            "teams.vision.volumes[1].mountPath: /data contains /data/public, the mount path of "
            "globalVolumes[0]"
        ],
    ),
    (
        "two volumes of a team nested",
        changed(((*VOL1, "mountPath"), "/teams/vision/data/models")),
        [
            "teams.vision.volumes[1].mountPath: /teams/vision/data/models is inside "
            "/teams/vision/data, the mount path of teams.vision.volumes[0]"
        ],
    ),
    (
        "credential inside a team volume",
        changed(((*CRED0, "mountPath"), "/teams/vision/data/keys")),
        [
            "teams.vision.credentials[0].mountPath: /teams/vision/data/keys is inside "
            "/teams/vision/data, the mount path of teams.vision.volumes[0]"
        ],
    ),
    (
        "credential at its default path taken by a volume",
        changed(((*VOL0, "mountPath"), "/var/run/secrets/teamhub/credentials/s3")),
        [
            "teams.vision.volumes[0].mountPath: /var/run/secrets/teamhub/credentials/s3 "
            "overlaps /var/run/secrets/teamhub, which is reserved for the hub's secrets",
            "teams.vision.credentials[0].mountPath: /var/run/secrets/teamhub/credentials/s3 "
            "is also the mount path of teams.vision.volumes[0]",
        ],
    ),
    (
        "global volume inside home",
        changed((("globalVolumes", 0, "mountPath"), "/home/jovyan/datasets")),
        [
            "globalVolumes[0].mountPath: /home/jovyan/datasets is inside /home/jovyan, "
            "the mount path of home"
        ],
    ),
    (
        "credential on the ServiceAccount token",
        changed(((*CRED0, "mountPath"), "/var/run/secrets/kubernetes.io/serviceaccount")),
        [
            "teams.vision.credentials[0].mountPath: /var/run/secrets/kubernetes.io/"
            "serviceaccount overlaps /var/run/secrets/kubernetes.io, where Kubernetes mounts "
            "the pod's ServiceAccount token"
        ],
    ),
    (
        "credential among the hub's own secrets",
        changed(((*CRED0, "mountPath"), "/var/run/secrets/teamhub/token")),
        [
            "teams.vision.credentials[0].mountPath: /var/run/secrets/teamhub/token overlaps "
            "/var/run/secrets/teamhub, which is reserved for the hub's secrets; credentials may "
            "use directories inside /var/run/secrets/teamhub/credentials"
        ],
    ),
    # two teams that share a group: their members certainly get both teams' mounts
    (
        "teams sharing a group mount at one path",
        changed(
            (("teams", "nlp", "groups", APPEND), "cv-research"),
            (("teams", "nlp", "volumes", 0, "mountPath"), "/teams/vision/data"),
        ),
        [
            "teams.vision.volumes[0].mountPath: /teams/vision/data is also the mount path of "
            "teams.nlp.volumes[0], and members of group cv-research are in both teams"
        ],
    ),
    (
        "teams sharing a group set one env var",
        changed(
            (("teams", "nlp", "groups", APPEND), "vision"),
            (
                ("teams", "nlp", "credentials"),
                [
                    {
                        "name": "s3",
                        "secretName": "nlp-s3",
                        "mountPath": "/secrets/nlp/s3",
                        "env": {"AWS_ACCESS_KEY_ID": "id"},
                    }
                ],
            ),
        ),
        [
            "teams.vision.credentials[0].env.AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY_ID is also set "
            "by teams.nlp.credentials[0], and members of group vision are in both teams"
        ],
    ),
]
