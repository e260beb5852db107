"""What TeamSpawner adds to KubeSpawner's pod: content, merging into a KubeSpawner pod,
admission under the restricted Pod Security Standard, and the files/env a running pod
really sees (kubesim's process kubelet)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from teamhub_spawner.objects import (
    apply_pod_additions,
    credential_secret,
    home_pvc,
    identity,
    pod_additions,
    team_volume_pv,
    team_volume_pvc,
    user_namespace,
)
from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.pod import container_security_context, pod_security_context

from kubesim.sim import KubeSim
from tests.kubesim.helpers import wait_for
from tests.spawner.objects_support import (
    ADMIN_SECRETS,
    HOME,
    NS,
    S3,
    USER,
    WANDB,
    api_client,
    create,
    csi_volume,
    global_volume,
    kubespawner_pod,
    nfs_volume,
    status_body,
    validate,
)

CREDS = [("vision", S3), ("vision", WANDB)]
VOLUMES = [
    ("global", global_volume()),
    ("vision", csi_volume()),
    ("vision", nfs_volume("models", "/teams/vision/models", read_only=True)),
]


def built_secret(**kw):
    return credential_secret(
        NS,
        username=USER,
        credentials=kw.pop("credentials", CREDS),
        admin_secrets=ADMIN_SECRETS,
        oidc_access_token="oidc-at",
        jupyterhub_api_token="hub-token",
        **kw,
    )


def additions(**kw):
    args = {
        "username": USER,
        "teams": ["vision"],
        "credential_secret": built_secret(),
        "credentials": CREDS,
        "volumes": VOLUMES,
        "home": HOME,
    }
    args.update(kw)
    return pod_additions(**args)


def notebook(pod):
    return next(c for c in pod["spec"]["containers"] if c["name"] == "notebook")


def test_security_contexts_meet_restricted():
    assert pod_security_context() == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 100,
        "fsGroup": 100,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod_security_context(uid=1234, gid=None, fs_group=None) == {
        "runAsNonRoot": True,
        "runAsUser": 1234,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container_security_context() == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    with pytest.raises(ValueError, match="uid: 0"):
        pod_security_context(uid=0)


def test_additions_content():
    a = additions()
    assert a["service_account"] == "teamhub-user"
    assert a["automount_service_account_token"] is True
    assert a["labels"] == {
        L.USER: USER,
        L.COMPONENT: L.COMPONENT_NOTEBOOK,
        "team.teamhub.io/vision": "true",
    }
    assert a["annotations"] == {L.USER: USER, L.TEAMS: "vision"}
    mounts = {m["mountPath"]: m for m in a["volume_mounts"]}
    assert list(mounts) == [
        "/home/jovyan",
        "/data/public",
        "/teams/vision/data",
        "/teams/vision/models",
        "/var/run/secrets/teamhub/tokens",
        "/var/run/secrets/teamhub/credentials/s3",
        "/home/jovyan/.config/wandb",
    ]
    read_only = [p for p, m in mounts.items() if m.get("readOnly")]
    assert "/home/jovyan" not in read_only and "/teams/vision/data" not in read_only
    assert {"/data/public", "/teams/vision/models"} <= set(read_only)
    assert all(mounts[p]["readOnly"] for p in mounts if "secrets" in p or "wandb" in p)
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in a["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["home", "global.datasets", "vision.data", "vision.models"]
    assert {v["name"] for v in a["volumes"]} == {m["name"] for m in a["volume_mounts"]}
    assert not any(k in v for v in a["volumes"] for k in ("nfs", "csi", "hostPath"))
    assert a["env"]["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "teamhub-credentials",
        "key": "jupyterhub-api-token",
    }


def test_credential_files_are_group_readable_only_with_fs_group():
    a = additions()
    modes = {v["projected"]["defaultMode"] for v in a["volumes"] if "projected" in v}
    assert modes == {0o440}
    a = additions(fs_group=None)
    modes = {v["projected"]["defaultMode"] for v in a["volumes"] if "projected" in v}
    assert modes == {0o444}


def test_no_home_and_no_credentials():
    a = additions(
        home=None, credentials=[], credential_secret=built_secret(credentials=[]), volumes=[]
    )
    assert [m["mountPath"] for m in a["volume_mounts"]] == ["/var/run/secrets/teamhub/tokens"]


def test_two_things_on_one_directory_is_an_error_naming_both():
    clash = nfs_volume("other", "/home/jovyan/")
    with pytest.raises(
        ValueError, match=r"mount path /home/jovyan is used by both 'home' and 'vol--vision--other"
    ):
        additions(volumes=[("vision", clash)])
    # The same credential name in two teams, both on the default directory.
    nlp_s3 = {**S3, "env": None}
    creds = [("vision", S3), ("nlp", nlp_s3)]
    with pytest.raises(
        ValueError, match=r"/var/run/secrets/teamhub/credentials/s3 is used by both"
    ):
        additions(credentials=creds, credential_secret=built_secret(credentials=creds))


def test_additions_through_kubespawner_make_pod():
    """The additions as KubeSpawner traits/make_pod arguments give a valid pod."""
    a = additions()
    env = {"JUPYTERHUB_API_TOKEN": "literal-hub-token", "JPY_API_TOKEN": "literal-hub-token"}
    env.update(a["env"])  # what TeamSpawner.get_env does
    pod = validate(
        kubespawner_pod(
            env=env,
            service_account=a["service_account"],
            automount_service_account_token=a["automount_service_account_token"],
            pod_security_context=a["pod_security_context"],
            container_security_context=a["container_security_context"],
            volumes=a["volumes"],
            volume_mounts=a["volume_mounts"],
            labels={"component": "singleuser-server", **a["labels"]},
        )
    )
    assert "literal-hub-token" not in str(pod)
    assert notebook(pod)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["spec"]["serviceAccountName"] == "teamhub-user"
    assert pod["spec"]["automountServiceAccountToken"] is True


def test_apply_to_a_kubespawner_pod():
    base = kubespawner_pod(
        init_containers=[{"name": "init", "image": "busybox", "command": ["true"]}],
        container_security_context={"capabilities": {"add": ["NET_BIND_SERVICE"]}},
        pod_security_context={"runAsNonRoot": False, "supplementalGroups": [5]},
    )
    before, added = copy.deepcopy(base), additions()
    added_before = copy.deepcopy(added)
    pod = validate(apply_pod_additions(base, added))
    assert "literal-hub-token" not in str(pod)
    env = {e["name"]: e for e in notebook(pod)["env"]}
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "jupyterhub-api-token"
    assert (
        env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["key"]
        == "vision.s3.AWS_ACCESS_KEY_ID"
    )
    # teamhub's settings win; unrelated ones are kept
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["supplementalGroups"] == [5]
    assert notebook(pod)["securityContext"]["capabilities"] == {
        "add": ["NET_BIND_SERVICE"],
        "drop": ["ALL"],
    }
    assert pod["spec"]["initContainers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    # labels: KubeSpawner's kept, teamhub's added
    assert pod["metadata"]["labels"]["component"] == "singleuser-server"
    assert pod["metadata"]["labels"][L.COMPONENT] == L.COMPONENT_NOTEBOOK
    assert base == before and added == added_before  # neither input is changed


def test_apply_refuses_clashes():
    a = additions()
    base = kubespawner_pod(volumes=[{"name": "home", "emptyDir": {}}])
    with pytest.raises(ValueError, match="pod already has a volume named 'home'"):
        apply_pod_additions(base, a)
    base = kubespawner_pod(
        volumes=[{"name": "x", "emptyDir": {}}],
        volume_mounts=[{"name": "x", "mountPath": "/home/jovyan"}],
    )
    with pytest.raises(ValueError, match="mount path /home/jovyan is used by both 'x' and 'home'"):
        apply_pod_additions(base, a)
    with pytest.raises(ValueError, match="no container named 'lab'"):
        apply_pod_additions(kubespawner_pod(), a, container_name="lab")


# ------------------------------------------------------------------ on the API
def user_objects(a_volumes=VOLUMES, creds=CREDS, ns=NS):
    """Everything the pod depends on, as TeamSpawner would create it."""
    objs = [
        user_namespace(ns, username=USER, teams=["vision"]),
        identity.service_account(ns, username=USER),
        identity.role(ns, username=USER),
        identity.role_binding(ns, username=USER),
        home_pvc(ns, HOME, username=USER),
    ]
    for scope, vol in a_volumes:
        objs += [
            team_volume_pv(ns, scope, vol, username=USER),
            team_volume_pvc(ns, scope, vol, username=USER),
        ]
    return [validate(o) for o in objs]


def test_pod_is_admitted_by_restricted_namespace_and_runs(kubesim):
    with api_client(kubesim.kubeconfig) as api:
        core = client.CoreV1Api(api)
        for obj in user_objects():
            create(api, obj)
        secret = built_secret()
        create(api, secret)
        pod = validate(apply_pod_additions(kubespawner_pod(), additions(credential_secret=secret)))
        pod["metadata"]["namespace"] = NS
        # Control: KubeSpawner's pod as is violates the namespace's policy.
        bare = kubespawner_pod()
        with pytest.raises(ApiException) as e:
            core.create_namespaced_pod(NS, bare)
        assert e.value.status == 403
        assert 'violates PodSecurity "restricted:latest"' in status_body(e.value)["message"]

        create(api, pod)
        running = wait_for(
            lambda: core.read_namespaced_pod("jupyter-alice", NS).status.phase == "Running",
            what="notebook pod Running",
        )
        assert running
        stored = core.read_namespaced_pod("jupyter-alice", NS)
        assert stored.spec.service_account_name == "teamhub-user"
        # the ServiceAccount token is mounted (projected kube-api-access volume)
        assert any(v.name.startswith("kube-api-access-") for v in stored.spec.volumes)


def test_running_pod_sees_credential_files_and_env_refs(tmp_path: Path):
    """kubesim's process kubelet runs the pod: the files and env are what the docs say."""
    sim = KubeSim(kubelet="process", data_dir=tmp_path / "sim").start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        root = tmp_path / "mnt"
        home = {**HOME, "mountPath": str(root / "home")}
        wandb = {**WANDB, "mountPath": str(root / "wandb")}
        creds = [("vision", S3), ("vision", wandb)]
        vols = [("vision", nfs_volume("data", str(root / "data")))]
        with api_client(kubeconfig) as api:
            core = client.CoreV1Api(api)
            for obj in user_objects(vols):
                if obj["kind"] == "PersistentVolumeClaim" and obj["metadata"]["name"] == "home":
                    obj = home_pvc(NS, home, username=USER)
                create(api, obj)
            secret = built_secret(credentials=creds)
            create(api, secret)
            a = additions(
                credential_secret=secret,
                credentials=creds,
                volumes=vols,
                home=home,
                tokens_dir=str(root / "tokens"),
                credentials_dir=str(root / "creds"),
            )
            files = [
                "tokens/oidc-access-token",
                "tokens/jupyterhub-api-token",
                "creds/s3/AWS_ACCESS_KEY_ID",
                "creds/s3/AWS_SECRET_ACCESS_KEY",
                "wandb/api.key",
            ]
            script = "; ".join(
                [
                    f"cd {root}",
                    f'for f in {" ".join(files)}; do echo "$f=$(cat $f)"; done',
                    "ls creds/s3",
                    'echo "env=$JUPYTERHUB_API_TOKEN,$JPY_API_TOKEN,$AWS_ACCESS_KEY_ID"',
                    'echo "file=$TEAMHUB_OIDC_TOKEN_FILE"',
                    "echo written > home/f && cat home/f",
                ]
            )
            base = kubespawner_pod()
            c = base["spec"]["containers"][0]
            c["command"] = ["sh", "-c", script]
            del c["args"]
            base["spec"]["restartPolicy"] = "Never"
            pod = apply_pod_additions(base, a)
            pod["metadata"]["namespace"] = NS
            create(api, pod)
            wait_for(
                lambda: (
                    core.read_namespaced_pod("jupyter-alice", NS).status.phase
                    in ("Succeeded", "Failed")
                ),
                timeout=30,
                what="pod to finish",
            )
            log = core.read_namespaced_pod_log("jupyter-alice", NS)
            assert core.read_namespaced_pod("jupyter-alice", NS).status.phase == "Succeeded", log
            lines = log.splitlines()
            assert lines[:5] == [
                "tokens/oidc-access-token=oidc-at",
                "tokens/jupyterhub-api-token=hub-token",
                "creds/s3/AWS_ACCESS_KEY_ID=AKIAVISION",
                "creds/s3/AWS_SECRET_ACCESS_KEY=s3cr3t",
                "wandb/api.key=wb-key",
            ]
            assert lines[5:7] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
            assert lines[7:] == [
                "env=hub-token,hub-token,AKIAVISION",
                f"file={root}/tokens/oidc-access-token",
                "written",
            ]
    finally:
        sim.stop()
