"""Every built manifest is accepted by the API and read back unchanged.

Why: a second start must change nothing that is already right. That needs the built
manifest to be what the API stores (no field the server rewrites, e.g. ``stringData`` or
an empty ``storageClassName`` on a PV), so that "every field we build equals the stored
one" is a reliable "nothing to do" test for the spawner.
"""

from __future__ import annotations

from kubernetes import client
from teamhub_spawner import objects as O

from tests.kubesim.helpers import wait_for
from tests.spawner.objects_support import (
    ADMIN_SECRETS,
    HOME,
    HUB_NS,
    NS,
    S3,
    USER,
    WANDB,
    api_client,
    create,
    csi_volume,
    global_volume,
    nfs_volume,
    template_volume,
    validate,
)

VOLUMES = [
    ("global", global_volume()),
    ("vision", nfs_volume()),
    ("vision", csi_volume("scratch", "/teams/vision/scratch")),
    ("vision", template_volume()),
]


def all_manifests() -> list[dict]:
    objs = [
        O.user_namespace(NS, username=USER, teams=["vision"]),
        O.service_account(NS, username=USER),
        O.role(NS, username=USER),
        O.role_binding(NS, username=USER),
        O.credential_secret(
            NS,
            username=USER,
            credentials=[("vision", S3), ("vision", WANDB)],
            admin_secrets=ADMIN_SECRETS,
            oidc_access_token="at",
            jupyterhub_api_token="ht",
        ),
        O.home_pvc(NS, HOME, username=USER),
        O.notebook_network_policy(NS, username=USER, hub_namespace=HUB_NS),
        O.resource_quota(NS, {"cpu": "8", "memory": "32Gi", "gpus": 1, "pods": 20}, username=USER),
        O.limit_range(NS, {"cpu": "8", "memory": "32Gi"}, username=USER),
    ]
    for scope, vol in VOLUMES:
        objs += [
            O.team_volume_pv(NS, scope, vol, username=USER),
            O.team_volume_pvc(NS, scope, vol, username=USER),
        ]
    return objs


def missing(built, stored, path="") -> list[str]:
    """Paths where ``built`` is not contained in ``stored``."""
    if isinstance(built, dict):
        if not isinstance(stored, dict):
            return [path]
        return [p for k, v in built.items() for p in missing(v, stored.get(k), f"{path}.{k}")]
    return [] if built == stored else [f"{path}: built {built!r}, stored {stored!r}"]


def test_every_manifest_is_valid_and_stored_as_built(kubesim):
    objs = [validate(o) for o in all_manifests()]
    assert len({(o["kind"], o["metadata"]["name"]) for o in objs}) == len(objs)
    with api_client(kubesim.kubeconfig) as api:
        for obj in objs:
            stored = create(api, obj)
            assert missing(obj, stored) == [], obj["kind"]
        # After binding and the controllers' work, the built spec still matches.
        v1 = client.CoreV1Api(api)
        for obj in objs:
            if obj["kind"] == "PersistentVolumeClaim" and obj["metadata"]["name"] != "home":
                name = obj["metadata"]["name"]
                wait_for(
                    lambda n=name: (
                        v1.read_namespaced_persistent_volume_claim(n, NS).status.phase == "Bound"
                    ),
                    what=f"{name} Bound",
                )
                stored = api.sanitize_for_serialization(
                    v1.read_namespaced_persistent_volume_claim(name, NS)
                )
                assert missing(obj, stored) == [], name
            if obj["kind"] == "PersistentVolume":
                stored = api.sanitize_for_serialization(
                    v1.read_persistent_volume(obj["metadata"]["name"])
                )
                assert missing(obj, stored) == [], obj["metadata"]["name"]
