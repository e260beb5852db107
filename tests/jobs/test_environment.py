"""What a job inherits from the notebook pod TeamSpawner made: exactly its data,
credentials, image, working directory and env — never the ServiceAccount token, never the
notebook server's own JupyterHub variables."""

from __future__ import annotations

import copy
import json

import pytest
from teamhub.jobs import kube as K
from teamhub.jobs.entitlements import Entitlements
from teamhub.jobs.environment import NotebookEnvironment, inherited_env, load_environment
from teamhub.jobs.errors import NotebookEnvironmentError
from teamhub_hub.teams import Entitlements as HubEntitlements

from tests.jobs.jobs_support import IMAGE, NS, POD, USER, notebook, provision


def test_environment_of_a_teamspawner_pod():
    nb = notebook()
    env = nb.environment
    assert (env.namespace, env.pod_name, env.username, env.owner) == (NS, POD, USER, USER)
    assert env.image == IMAGE and env.working_dir == "/home/jovyan"
    assert env.teams == ("vision",)
    container = next(c for c in nb.pod["spec"]["containers"] if c["name"] == "notebook")
    # every mount of the notebook, same path, same readOnly
    assert [(m["name"], m["mountPath"], m.get("readOnly")) for m in env.volume_mounts] == [
        (m["name"], m["mountPath"], m.get("readOnly")) for m in container["volumeMounts"]
    ]
    paths = {m["mountPath"]: m.get("readOnly") for m in env.volume_mounts}
    assert paths["/home/jovyan"] is None
    assert paths["/teams/vision/data"] is False and paths["/teams/vision/models"] is True
    assert paths["/data/public"] is True
    assert paths["/var/run/secrets/teamhub/tokens"] is True
    assert paths["/var/run/secrets/teamhub/credentials/s3"] is True
    kinds = {v["name"]: next(k for k in v if k != "name") for v in env.volumes}
    assert kinds["home"] == "persistentVolumeClaim" and kinds["teamhub-tokens"] == "projected"
    assert sum(1 for k in kinds.values() if k == "persistentVolumeClaim") == 4
    # the restricted security context of the notebook
    assert env.pod_security_context["runAsNonRoot"] is True
    assert env.container_security_context["capabilities"] == {"drop": ["ALL"]}
    # entitlements from the annotation: the hub's own values
    assert env.entitlements.to_dict()["quota"] == nb.entitlements.to_dict()["quota"]
    assert env.entitlements.images == tuple(nb.entitlements.images)


def test_env_drops_the_notebook_servers_own_variables():
    env = notebook().environment
    names = [e["name"] for e in env.env]
    assert "MY_SETTING" in names and "AWS_ACCESS_KEY_ID" in names
    assert "TEAMHUB_OIDC_TOKEN_FILE" in names
    for dropped in (
        "JUPYTERHUB_API_TOKEN",
        "JPY_API_TOKEN",
        "JUPYTERHUB_USER",
        "JUPYTERHUB_SERVICE_PREFIX",
        "TEAMHUB_POD_NAME",
        "TEAMHUB_NAMESPACE",
        "MEM_GUARANTEE",
        "CPU_GUARANTEE",
        "JUPYTER_IMAGE_SPEC",
    ):
        assert dropped not in names
    aws = next(e for e in env.env if e["name"] == "AWS_ACCESS_KEY_ID")
    assert aws["valueFrom"]["secretKeyRef"] == {
        "name": "teamhub-credentials",
        "key": "vision.s3.AWS_ACCESS_KEY_ID",
    }
    assert "hub-token" not in json.dumps(env.env)


def test_inherited_env_rules():
    ref = {"secretKeyRef": {"name": "teamhub-credentials", "key": "jupyterhub-api-token"}}
    env = inherited_env(
        [
            {"name": "HUB_TOKEN_ALIAS", "valueFrom": ref},
            {"name": "JPY_SOMETHING", "value": "x"},
            {
                "name": "MEM",
                "valueFrom": {
                    "resourceFieldRef": {"containerName": "notebook", "resource": "limits.memory"}
                },
            },
            {"name": "KEEP", "value": "1"},
        ]
    )
    assert env == [
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        {"name": "KEEP", "value": "1"},
    ]


def test_service_account_token_is_never_inherited():
    pod = copy.deepcopy(notebook().pod)
    pod["spec"]["volumes"].append(
        {
            "name": "kube-api-access-abcde",
            "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
        }
    )
    pod["spec"]["containers"][0]["volumeMounts"].append(
        {
            "name": "kube-api-access-abcde",
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            "readOnly": True,
        }
    )
    pod["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "host", "mountPath": "/host"})
    env = NotebookEnvironment.from_pod(pod)
    names = {v["name"] for v in env.volumes}
    assert "kube-api-access-abcde" not in names and "host" not in names
    assert all("kubernetes.io/serviceaccount" not in m["mountPath"] for m in env.volume_mounts)


def test_not_a_teamhub_pod():
    pod = copy.deepcopy(notebook().pod)
    del pod["metadata"]["annotations"]["teamhub.io/entitlements"]
    with pytest.raises(NotebookEnvironmentError, match=r"no teamhub\.io/entitlements annotation"):
        NotebookEnvironment.from_pod(pod)
    pod["metadata"]["annotations"]["teamhub.io/entitlements"] = "{not json"
    with pytest.raises(NotebookEnvironmentError, match="annotation is malformed"):
        NotebookEnvironment.from_pod(pod)
    pod = copy.deepcopy(notebook().pod)
    pod["spec"]["containers"][0]["name"] = "lab"
    with pytest.raises(NotebookEnvironmentError, match="no container named 'notebook'"):
        NotebookEnvironment.from_pod(pod)
    pod = copy.deepcopy(notebook().pod)
    del pod["metadata"]["annotations"]["teamhub.io/user"]
    del pod["metadata"]["annotations"]["hub.jupyter.org/username"]
    with pytest.raises(NotebookEnvironmentError, match="not a teamhub notebook pod"):
        NotebookEnvironment.from_pod(pod)


PATTERNS = ["quay.io/jupyter/*", "python:3.1?", "docker.io/library/ubuntu:*", "localhost/x*"]
IMAGES = [
    "quay.io/jupyter/scipy-notebook",
    "quay.io/jupyter/scipy-notebook:2025-01-01",
    "quay.io/other/x",
    "python:3.11",
    "python",
    "docker.io/python:3.12",
    "ubuntu",
    "library/ubuntu:24.04",
    "docker.io/ubuntu@sha256:abc",
    "localhost/xyz:1",
    "localhost:5000/x",
    "",
    "a b",
    "registry.example.org:5000/team/img@sha256:00",
]


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("patterns", [PATTERNS, None, []])
def test_image_rules_match_the_hubs(image, patterns):
    hub = HubEntitlements(
        teams=("vision",),
        volumes=(),
        credentials=(),
        profiles=(),
        images=None if patterns is None else tuple(patterns),
        quota={},
    )
    mine = Entitlements.from_dict(hub.to_dict())
    assert mine.image_allowed(image) == hub.image_allowed(image)


def test_entitlements_from_dict_checks_shapes():
    with pytest.raises(ValueError, match=r"entitlements\.quota\.cpu"):
        Entitlements.from_dict({"quota": {"cpu": "lots"}})
    with pytest.raises(ValueError, match=r"entitlements\.images"):
        Entitlements.from_dict({"images": "quay.io/*"})
    assert Entitlements.from_dict({}).images is None


@pytest.fixture
def kubeconfig(kubesim, tmp_path):
    return provision(kubesim, notebook(), tmp_path)


@pytest.mark.asyncio
async def test_load_environment_with_the_notebooks_own_service_account(kubesim, kubeconfig):
    kube = K.Kube(await K.load_api_client(kubeconfig))
    try:
        env = await load_environment(kube, NS, POD)
        # the stored pod has the ServiceAccount token volume the API added; jobs don't get it
        stored = kubesim.lookup("pods", NS, POD)
        assert any(v["name"].startswith("kube-api-access") for v in stored["spec"]["volumes"])
        assert not any(v["name"].startswith("kube-api-access") for v in env.volumes)
        assert env == NotebookEnvironment.from_pod(stored)
        with pytest.raises(NotebookEnvironmentError, match="does not exist"):
            await load_environment(kube, NS, "jupyter-nobody")
        with pytest.raises(NotebookEnvironmentError, match="cannot read the notebook pod"):
            await load_environment(kube, "kube-system", "anything")  # 403: not its namespace
    finally:
        await kube.close()
