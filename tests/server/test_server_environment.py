"""``GET environment`` and ``GET capabilities``: what the UI renders the submit dialog
from — the user's teams, volumes, credential *names*, allowed images and quota, and the
backends with what each can honour and whether the cluster serves it. And a server that
is not a teamhub notebook (or whose cluster lacks the training operator) says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesim.sim import KubeSim
from tests.jobs.jobs_support import IMAGE, NS, POD, job_objects, notebook, provision
from tests.kubesim.helpers import wait_for
from tests.server.server_support import call, until

pytestmark = pytest.mark.asyncio


async def test_environment_summarises_what_jobs_inherit(jp_fetch):
    r = await call(jp_fetch, "GET", "environment")
    assert r.code == 200, r.text
    env = r.json
    assert (env["username"], env["namespace"], env["pod"]) == ("alice", NS, POD)
    assert env["image"] == IMAGE and env["workingDir"] == "/home/jovyan"
    assert env["teams"] == ["vision"]
    assert env["profiles"] == ["cpu", "gpu"]
    assert env["images"] == ["quay.io/jupyter/*", "registry.example.org/vision/*"]
    assert env["quota"] == {"cpu": "32", "memory": "128Gi", "gpus": "4", "pods": "50"}
    vols = {(v["scope"], v["name"]): (v["mountPath"], v["readOnly"]) for v in env["volumes"]}
    assert vols == {
        ("global", "datasets"): ("/data/public", True),
        ("vision", "data"): ("/teams/vision/data", False),
        ("vision", "models"): ("/teams/vision/models", True),
    }
    mounts = {m["mountPath"]: m["readOnly"] for m in env["mounts"]}
    assert mounts["/home/jovyan"] is False and mounts["/teams/vision/models"] is True
    assert env["credentials"] == [
        {
            "name": "s3",
            "team": "vision",
            "mountPath": "/var/run/secrets/teamhub/credentials/s3",
            "keys": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            "env": ["AWS_ACCESS_KEY_ID"],
        }
    ]
    assert "AWS_ACCESS_KEY_ID" in env["env"] and "MY_SETTING" in env["env"]
    assert not any(e.startswith(("JUPYTERHUB_", "JPY_")) for e in env["env"])


async def test_no_secret_value_is_ever_shown(jp_fetch):
    """Names of credentials, never values: neither the team credentials' nor the tokens
    the notebook pod carries."""
    text = (await call(jp_fetch, "GET", "environment")).text
    text += (await call(jp_fetch, "GET", "capabilities")).text
    for value in ("AKIAVISION", "s3cr3t", "literal-hub-token", '"hub-token"', '"oidc-at"', "kept"):
        assert value not in text, value


async def test_capabilities_declare_each_backend(jp_fetch):
    r = await call(jp_fetch, "GET", "capabilities")
    assert r.code == 200, r.text
    caps = r.json
    by_name = {b["name"]: b for b in caps["backends"]}
    assert list(by_name) == ["indexed", "pytorch", "tf", "mpi"]
    assert all(b["available"] is True for b in caps["backends"])  # kubesim runs the operator
    indexed, pytorch, tf = by_name["indexed"], by_name["pytorch"], by_name["tf"]
    assert (indexed["apiVersion"], indexed["kind"], indexed["needsOperator"]) == (
        "batch/v1",
        "Job",
        False,
    )
    assert indexed["maxWorkers"] == 100000 and "v1 Service" in indexed["creates"]
    assert (pytorch["kind"], pytorch["needsOperator"], pytorch["procsPerWorker"]) == (
        "PyTorchJob",
        True,
        True,
    )
    assert "MASTER_ADDR" in pytorch["reservedEnv"] and pytorch["reservedEnvPrefixes"] == ["PET_"]
    assert tf["chief"] is True and tf["procsPerWorker"] is False
    assert not any(b["chief"] for b in caps["backends"] if b["name"] != "tf")
    assert caps["defaults"] == {"backend": "indexed", "image": IMAGE, "workingDir": "/home/jovyan"}
    schema = caps["specSchema"]
    assert schema["additionalProperties"] is False
    assert {"backend", "source", "workers", "gpus", "env", "labels"} <= set(schema["properties"])


class TestWithoutTheTrainingOperator:
    @pytest.fixture
    def kubesim(self, tmp_path: Path):
        sim = KubeSim(data_dir=tmp_path / "sim", training_operator=False).start()
        yield sim
        sim.stop()

    async def test_capabilities_say_which_backends_are_served(self, jp_fetch):
        caps = (await call(jp_fetch, "GET", "capabilities")).json
        assert {b["name"]: b["available"] for b in caps["backends"]} == {
            "indexed": True,
            "pytorch": False,
            "tf": False,
            "mpi": False,
        }

    async def test_submitting_to_a_missing_backend_is_refused(self, jp_fetch, kubesim):
        r = await call(jp_fetch, "POST", "jobs", body={"backend": "pytorch", "source": "1"})
        assert r.code == 422 and r.json["reason"] == "BackendUnavailable"
        assert "needs the Kubeflow training operator" in r.json["message"]
        assert (await call(jp_fetch, "GET", "jobs")).json == {"jobs": []}
        assert job_objects(kubesim) == []


class TestNotATeamhubNotebook:
    @pytest.fixture
    def teamhub_config(self, kubesim, tmp_path):
        """The pod named is not there (e.g. a server started outside a teamhub pod)."""
        return {
            "kubeconfig": str(provision(kubesim, notebook(), tmp_path)),
            "namespace": NS,
            "pod_name": "jupyter-nobody",
        }

    async def test_every_endpoint_answers_503_with_the_reason(self, jp_fetch):
        for method, path in [
            ("GET", ("jobs",)),
            ("POST", ("jobs",)),
            ("GET", ("environment",)),
            ("GET", ("capabilities",)),
            ("GET", ("jobs", "x", "logs")),
        ]:
            body = {"source": "1"} if method == "POST" else None
            r = await call(jp_fetch, method, *path, body=body)
            assert r.code == 503, (path, r.text)
            assert r.json["reason"] == "NotebookEnvironment"
            assert r.json["message"] == (
                f"this server cannot run jobs: the notebook pod {NS}/jupyter-nobody does not exist"
            )

    async def test_the_server_itself_still_works(self, jp_fetch):
        r = await jp_fetch("api", "status")
        assert r.code == 200


async def test_quota_in_use_matches_what_the_quota_counts(jp_fetch, kubesim):
    """``quotaUsed`` is computed from the namespace's pods (the notebook may not read
    ResourceQuotas); kubesim's quota controller, counting the same pods, is the oracle."""
    from teamhub.jobs.quantity import parse_quantity
    from teamhub_spawner.objects.quota import RESOURCE_QUOTA

    body = {"source": "1", "workers": 2, "cpu": "1500m", "memory": "1Gi", "name": "busy"}
    assert (await call(jp_fetch, "POST", "jobs", body=body)).code == 201

    async def both_running():
        return (await call(jp_fetch, "GET", "jobs", "busy")).json["status"]["ready"] == 2

    await until(both_running, what="both ranks running")
    keys = {"cpu": "requests.cpu", "memory": "requests.memory", "pods": "pods"}

    async def agreed():
        used = (await call(jp_fetch, "GET", "environment")).json["quotaUsed"]
        quota = kubesim.lookup("resourcequotas", NS, RESOURCE_QUOTA)
        counted = (quota.get("status") or {}).get("used") or {}
        same = all(
            parse_quantity(used[k]) == parse_quantity(counted.get(q, "0")) for k, q in keys.items()
        )
        return used if same and used["pods"] == "3" else None

    used = await until(agreed, what="quotaUsed to agree with the ResourceQuota's status")
    assert used["gpus"] == "0"
    assert parse_quantity(used["cpu"]) >= 3 and parse_quantity(used["memory"]) >= 2 * 2**30
    assert (await call(jp_fetch, "DELETE", "jobs", "busy")).code == 204
    wait_for(lambda: job_objects(kubesim) == [], what="the job's objects gone")
