"""The chart's ValidatingAdmissionPolicy, evaluated like kube-apiserver would: pods in a
teamhub user namespace may only use images their teams allow (the same decision as
TeamSpawner's, for any image spelling) and nothing the teamhub model forbids; other
namespaces and other releases' user namespaces are left alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from teamhub_hub.teams import load_teams_config
from teamhub_spawner.objects import user_namespace

from tests.helm.cel_policy import Policy
from tests.helm.chart import example_values, one, render

NOTEBOOK_IMAGE = "teamhub/singleuser:0.1.0.dev0"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy(one(render(example_values()), "ValidatingAdmissionPolicy"))


def namespace(user: str, teams: list[str], prefix: str = "teamhub") -> dict:
    return user_namespace(f"{prefix}-{user}", username=user, teams=teams)


def pod(image: str = NOTEBOOK_IMAGE, **spec: Any) -> dict:
    """A pod as the `restricted` Pod Security Standard wants it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
            **spec,
        },
    }


VISION = namespace("alice", ["vision"])


def test_a_notebook_like_pod_with_an_allowed_image_is_admitted(policy: Policy) -> None:
    p = pod(
        volumes=[
            {"name": "home", "persistentVolumeClaim": {"claimName": "home"}},
            {"name": "tokens", "projected": {"sources": [{"secret": {"name": "c"}}]}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "info", "downwardAPI": {"items": []}},
        ]
    )
    verdict = policy.admit(p, VISION)
    assert verdict.matched and verdict.allowed, verdict.denials


def test_an_image_outside_the_teams_allowlist_is_refused_naming_image_and_team(
    policy: Policy,
) -> None:
    p = pod("docker.io/evil/miner:latest")
    p["spec"]["initContainers"] = [{"name": "init", "image": "quay.io/jupyter/base-notebook"}]
    verdict = policy.admit(p, VISION)
    assert verdict.denials == [
        "teamhub: image docker.io/evil/miner:latest is not allowed for teams vision "
        "(teamsConfig.teams.<team>.images)"
    ]


@pytest.mark.parametrize("where", ["initContainers", "ephemeralContainers"])
def test_every_kind_of_container_is_checked(policy: Policy, where: str) -> None:
    p = pod()
    p["spec"][where] = [{"name": "x", "image": "busybox"}]
    verdict = policy.admit(p, VISION)
    assert len(verdict.denials) == 1 and "image busybox is not allowed" in verdict.denials[0]


def test_a_team_without_an_allowlist_and_no_team_mean_any_image(policy: Policy) -> None:
    assert policy.admit(pod("busybox"), namespace("bob", ["nlp"])).allowed
    assert policy.admit(pod("busybox"), namespace("carol", [])).allowed


def test_a_member_of_a_restricting_and_an_open_team_is_restricted(policy: Policy) -> None:
    # As TeamSpawner decides: patterns of any team that sets images, else anything.
    both = namespace("dave", ["nlp", "vision"])
    assert not policy.admit(pod("busybox"), both).allowed
    assert policy.admit(pod("quay.io/jupyter/scipy-notebook:2025-11-24"), both).allowed


def test_only_namespaces_of_teamhub_users_of_this_release_are_checked(policy: Policy) -> None:
    other_release = namespace("alice", ["vision"], prefix="otherhub")
    assert not policy.admit(pod("busybox"), other_release).matched
    plain = {
        "metadata": {"name": "teamhub-not-a-user", "labels": {"team.teamhub.io/vision": "true"}}
    }
    assert not policy.admit(pod("busybox"), plain).matched
    assert not policy.admit(pod("busybox"), VISION, operation="DELETE").matched
    assert policy.admit(pod("busybox"), VISION, operation="UPDATE").matched
    assert policy.admit(pod("busybox"), VISION, resource="pods/ephemeralcontainers").matched


IMAGES = [
    "busybox",
    "python",
    "python:3.12",
    "docker.io/python:3.12",
    "docker.io/library/python",
    "library/python@sha256:" + "a" * 64,
    "quay.io/jupyter/minimal-notebook:2025-11-24",
    "quay.io/jupyter/minimal-notebook@sha256:" + "b" * 64,
    "quay.io/jupyterx/minimal-notebook",
    "quay.io:443/jupyter/x",
    "registry.example.org/vision/deep/model:1",
    "registry.example.org/nlp/model:1",
    "teamhub/singleuser:0.1.0.dev0",
    "docker.io/teamhub/singleuser:0.1.0.dev0",
    "teamhub/singleuser",
    "localhost/x",
    "localhost:5000/x:1",
]
PATTERNS = [
    "quay.io/jupyter/*",
    "registry.example.org/vision/*",
    "teamhub/singleuser:*",
    "docker.io/library/python:3.1?",
    "docker.io/library/python:latest",
    "localhost:5000/*",
]


@pytest.mark.parametrize("image", IMAGES)
def test_the_policy_decides_images_as_teamhub_does(image: str) -> None:
    values = example_values()
    values["teamsConfig"]["teams"]["vision"]["images"] = PATTERNS
    policy = Policy(one(render(values), "ValidatingAdmissionPolicy"))
    config = load_teams_config(copy.deepcopy(values["teamsConfig"]))
    for groups in (["vision"], ["nlp"], ["vision", "nlp"]):
        ents = config.entitlements(groups)
        verdict = policy.admit(pod(image), namespace("u", list(ents.teams)))
        assert verdict.allowed == ents.image_allowed(image), (image, groups, verdict.denials)


@pytest.mark.parametrize(
    ("volume", "named"),
    [
        ({"name": "host", "hostPath": {"path": "/"}}, "volume host"),
        (
            {"name": "share", "nfs": {"server": "nfs.example.org", "path": "/exports/vision"}},
            "volume share",
        ),
        (
            {
                "name": "inline",
                "csi": {"driver": "nfs.csi.k8s.io", "volumeAttributes": {"share": "/x"}},
            },
            "volume inline",
        ),
    ],
)
def test_volume_types_outside_the_model_are_refused(
    policy: Policy, volume: dict, named: str
) -> None:
    verdict = policy.admit(pod(volumes=[{"name": "ok", "emptyDir": {}}, volume]), VISION)
    (denial,) = verdict.denials
    assert denial.startswith(f"teamhub: {named} has a type user pods may not use")


def test_an_ephemeral_volume_may_not_claim_a_named_persistent_volume(policy: Policy) -> None:
    template = {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }
    ok = {"name": "e", "ephemeral": {"volumeClaimTemplate": template}}
    assert policy.admit(pod(volumes=[ok]), VISION).allowed
    stolen = copy.deepcopy(ok)
    stolen["ephemeral"]["volumeClaimTemplate"]["spec"]["volumeName"] = (
        "teamhub.teamhub-bob.nlp.corpora"
    )
    assert policy.admit(pod(volumes=[stolen]), VISION).denials == [
        "teamhub: an ephemeral volume may not name a PersistentVolume "
        "(volumeClaimTemplate.spec.volumeName)"
    ]


def with_container(change: dict, *, where: str = "containers") -> dict:
    p = pod()
    container = p["spec"]["containers"][0]
    if where != "containers":
        p["spec"][where] = [container := {"name": "x", "image": NOTEBOOK_IMAGE}]
    for key, value in change.items():
        container.setdefault("securityContext", {})[key] = value
    return p


@pytest.mark.parametrize(
    ("p", "message"),
    [
        (pod(hostNetwork=True), "teamhub: hostNetwork, hostPID and hostIPC are not allowed"),
        (pod(hostPID=True), "teamhub: hostNetwork, hostPID and hostIPC are not allowed"),
        (pod(hostIPC=True), "teamhub: hostNetwork, hostPID and hostIPC are not allowed"),
        (
            with_container({"privileged": True}),
            "teamhub: privileged containers and privilege escalation are not allowed",
        ),
        (
            with_container({"privileged": True}, where="initContainers"),
            "teamhub: privileged containers and privilege escalation are not allowed",
        ),
        (
            with_container({"allowPrivilegeEscalation": True}, where="ephemeralContainers"),
            "teamhub: privileged containers and privilege escalation are not allowed",
        ),
        (
            with_container({"capabilities": {"add": ["NET_ADMIN"]}}),
            "teamhub: containers may add no capability but NET_BIND_SERVICE",
        ),
        (with_container({"runAsUser": 0}), "teamhub: containers may not run as root (runAsUser 0)"),
        (
            pod(securityContext={"runAsUser": 0}),
            "teamhub: containers may not run as root (runAsUser 0)",
        ),
    ],
)
def test_pod_specs_the_model_forbids_are_refused(policy: Policy, p: dict, message: str) -> None:
    assert policy.admit(p, VISION).denials == [message]


def test_host_ports_are_refused_and_container_ports_are_not(policy: Policy) -> None:
    p = pod()
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 8888}]
    assert policy.admit(p, VISION).allowed
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 8888, "hostPort": 8888}]
    assert policy.admit(p, VISION).denials == ["teamhub: hostPort is not allowed"]


def test_net_bind_service_may_be_added(policy: Policy) -> None:
    assert policy.admit(
        with_container({"capabilities": {"add": ["NET_BIND_SERVICE"]}}), VISION
    ).allowed


def test_warn_mode_and_policy_off() -> None:
    values = example_values()
    values["admissionPolicy"]["validationActions"] = ["Warn", "Audit"]
    binding = one(render(values), "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["validationActions"] == ["Warn", "Audit"]
    assert binding["spec"]["policyName"] == "teamhub-user-pods"
    values["admissionPolicy"]["enabled"] = False
    kinds = {m["kind"] for m in render(values)}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def test_no_team_restricting_images_means_no_image_rules() -> None:
    policy = Policy(one(render({}), "ValidatingAdmissionPolicy"))
    assert policy.admit(pod("anything/at:all"), VISION).allowed
    assert not policy.admit(pod("anything/at:all", hostNetwork=True), VISION).allowed
