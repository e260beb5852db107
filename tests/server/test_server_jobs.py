"""The jobs REST API (``/user/alice/teamhub/api/jobs...``) driven through a real
jupyter-server (pytest-jupyter) against kubesim (instant kubelet: pods run at once and
forever), as alice's notebook ServiceAccount: submit, list, get, cancel, delete, events,
and the errors — JSON with a message, per-field problems, and nothing created."""

from __future__ import annotations

import pytest

from tests.jobs.jobs_support import NS, job_objects
from tests.kubesim.helpers import wait_for
from tests.server.server_support import call, until

pytestmark = pytest.mark.asyncio


async def test_submit_list_get_delete(jp_fetch, kubesim):
    r = await call(jp_fetch, "POST", "jobs", body={"source": "print(1)", "workers": 2, "cpu": "1"})
    assert r.code == 201, r.text
    job = r.json
    name = job["name"]
    assert name.startswith("alice-indexed-")
    assert r.headers["Location"] == f"/user/alice/teamhub/api/jobs/{name}"
    assert (job["backend"], job["kind"], job["namespace"], job["cancelled"]) == (
        "indexed",
        "Job",
        NS,
        False,
    )
    assert job["spec"]["workers"] == 2 and job["spec"]["source"] == "<8 bytes>"
    assert kubesim.lookup("configmaps", NS, f"{name}.job")["data"]["main.py"] == "print(1)"

    async def running():
        r = await call(jp_fetch, "GET", "jobs", name)
        return r.json if r.json["status"]["ready"] == 2 else None

    got = await until(running, what="both ranks running")
    assert got["status"]["phase"] == "Running" and got["status"]["total"] == 2
    assert got["status"]["finished"] is False
    assert [(p["replica"], p["rank"], p["phase"]) for p in got["pods"]] == [
        ("rank-0", 0, "Running"),
        ("rank-1", 1, "Running"),
    ]
    assert got["uid"] == job["uid"] and got["submission"] == job["submission"]

    listed = (await call(jp_fetch, "GET", "jobs")).json["jobs"]
    assert [(j["name"], j["status"]["phase"]) for j in listed] == [(name, "Running")]
    bare = (await call(jp_fetch, "GET", "jobs", params={"status": "false"})).json["jobs"]
    assert [(j["name"], j["status"]) for j in bare] == [(name, None)]

    r = await call(jp_fetch, "DELETE", "jobs", name)
    assert (r.code, r.body) == (204, b"")
    r = await call(jp_fetch, "GET", "jobs", name)
    assert r.code == 404 and r.json["reason"] == "JobNotFound"
    assert f"no job named '{name}'" in r.json["message"]
    assert (await call(jp_fetch, "GET", "jobs")).json["jobs"] == []
    wait_for(lambda: job_objects(kubesim) == [], what="every object of the job gone")


@pytest.mark.parametrize(
    ("backend", "kind", "pods"),
    [("pytorch", "PyTorchJob", 2), ("tf", "TFJob", 2), ("mpi", "MPIJob", 3)],  # + launcher
)
async def test_operator_backends(jp_fetch, kubesim, backend, kind, pods):
    r = await call(
        jp_fetch, "POST", "jobs", body={"backend": backend, "command": ["true"], "workers": 2}
    )
    assert r.code == 201, r.text
    assert (r.json["backend"], r.json["kind"]) == (backend, kind)
    got = (await call(jp_fetch, "GET", "jobs", r.json["name"])).json
    assert got["kind"] == kind and got["status"]["total"] == pods


async def test_dry_run_returns_the_manifests_and_creates_nothing(jp_fetch, kubesim):
    r = await call(
        jp_fetch,
        "POST",
        "jobs",
        params={"dryRun": "true"},
        body={"source": "print(1)", "workers": 3, "name": "plan"},
    )
    assert r.code == 200, r.text
    kinds = [(m["kind"], m["metadata"]["name"]) for m in r.json["manifests"]]
    assert kinds == [("Job", "plan"), ("ConfigMap", "plan.job"), ("Service", "plan")]
    assert r.json["manifests"][0]["spec"]["completions"] == 3
    assert job_objects(kubesim) == []


async def test_a_script_path_is_relative_to_the_server_root(jp_fetch, jp_root_dir, kubesim):
    (jp_root_dir / "train").mkdir()
    (jp_root_dir / "train" / "main.py").write_text("print('from a file')\n")
    r = await call(jp_fetch, "POST", "jobs", body={"script": "train/main.py", "name": "file"})
    assert r.code == 201, r.text
    cm = kubesim.lookup("configmaps", NS, "file.job")
    assert "print('from a file')\n" in cm["data"].values()


# ------------------------------------------------------------------ refused, nothing created
@pytest.mark.parametrize(
    ("body", "status", "reason", "fields", "words"),
    [
        (
            {"source": "1", "workers": 0, "env": {"BAD-NAME": "x"}, "gpu": 1},
            400,
            "InvalidJobSpec",
            ["workers", "env", "gpu"],
            "did you mean 'gpus'?",
        ),
        ({"workers": 2}, 400, "InvalidJobSpec", [""], "give exactly one of script"),
        ({"source": "1", "backend": "horovod"}, 400, "InvalidJobSpec", ["backend"], "horovod"),
        (
            {"source": "1", "image": "docker.io/evil/miner"},
            403,
            "ImageNotAllowed",
            ["image"],
            "is not allowed for your teams (vision)",
        ),
        (
            {"source": "1", "gpus": 3, "workers": 2},
            422,
            "QuotaExceeded",
            ["gpus"],
            "6 GPUs exceeds your quota of 4 GPUs",
        ),
        (
            {"source": "1", "backend": "tf", "procs_per_worker": 2},
            400,
            "InvalidJobSpec",
            ["procs_per_worker"],
            "one process per worker",
        ),
        ({"source": "#" * (1 << 20)}, 400, "CodeTooLarge", ["source"], "at most 1 MiB"),
        ({"script": "missing.py"}, 400, "InvalidJobSpec", ["script"], "no such file"),
        ([1, 2], 400, "InvalidJobSpec", [""], "must be a JSON object"),
    ],
)
async def test_bad_specs_are_refused_with_their_fields(
    jp_fetch, kubesim, body, status, reason, fields, words
):
    kubesim.counters.reset()
    r = await call(jp_fetch, "POST", "jobs", body=body)
    assert r.code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    err = r.json
    assert err["reason"] == reason
    assert [e["field"] for e in err["errors"]] == fields, err
    assert words in err["message"], err["message"]
    assert all(e["message"] for e in err["errors"])
    assert kubesim.counters.total(verb="create") == 0
    assert job_objects(kubesim) == []


async def test_malformed_json_and_unknown_parameters(jp_fetch, kubesim):
    r = await call(jp_fetch, "POST", "jobs", body="{not json")
    assert r.code == 400 and r.json["reason"] == "InvalidJSON"
    assert r.json["message"].startswith("the request body is not valid JSON: Expecting")
    r = await call(jp_fetch, "POST", "jobs", params={"dryrun": "1"}, body={"source": "1"})
    assert r.code == 400 and r.json["reason"] == "InvalidQuery"
    assert r.json["errors"] == [{"field": "dryrun", "message": "unknown parameter"}]
    r = await call(jp_fetch, "GET", "jobs", params={"status": "perhaps"})
    assert r.code == 400 and r.json["errors"][0]["field"] == "status"
    assert job_objects(kubesim) == []


async def test_a_name_in_use_is_a_conflict(jp_fetch, kubesim):
    assert (await call(jp_fetch, "POST", "jobs", body={"source": "1", "name": "t"})).code == 201
    r = await call(jp_fetch, "POST", "jobs", body={"command": "true", "name": "t"})
    assert r.code == 409 and r.json["reason"] == "JobExists"
    assert "a job named 't' exists already" in r.json["message"]
    assert len((await call(jp_fetch, "GET", "jobs")).json["jobs"]) == 1


@pytest.mark.parametrize("path", [("nope",), ("Not_A_Name",), ("nope", "events"), ("nope", "logs")])
async def test_unknown_jobs_are_json_404s(jp_fetch, path):
    r = await call(jp_fetch, "GET", "jobs", *path)
    assert r.code == 404 and r.headers["Content-Type"].startswith("application/json")
    assert r.json["reason"] == "JobNotFound" and "no job named" in r.json["message"]
    for method in ("DELETE", "POST"):
        sub = path[:1] if method == "DELETE" else (path[0], "cancel")
        r = await call(jp_fetch, method, "jobs", *sub)
        assert r.code == 404 and r.json["reason"] == "JobNotFound"


# ------------------------------------------------------------------ cancel, events
async def test_cancel_keeps_the_record_and_archives_the_logs(jp_fetch, kubesim, jp_home_dir):
    r = await call(jp_fetch, "POST", "jobs", body={"source": "1", "workers": 2, "name": "doomed"})
    assert r.code == 201

    async def running():
        return (await call(jp_fetch, "GET", "jobs", "doomed")).json["status"]["ready"] == 2

    await until(running, what="running")
    r = await call(jp_fetch, "POST", "jobs", "doomed", "cancel")
    assert r.code == 200, r.text
    st = r.json["status"]
    assert (st["phase"], st["reason"], st["finished"]) == ("Cancelled", "Cancelled", True)
    assert "cancelled by alice" in st["message"] and r.json["cancelled"] is True
    archive = jp_home_dir / ".teamhub" / "job-logs" / "doomed"
    assert sorted(p.name for p in archive.iterdir()) == ["rank-0.log", "rank-1.log"]
    got = (await call(jp_fetch, "GET", "jobs", "doomed")).json
    assert got["cancelled"] and got["status"]["phase"] == "Cancelled"
    listed = (await call(jp_fetch, "GET", "jobs")).json["jobs"]
    assert [(j["name"], j["cancelled"], j["status"]["phase"]) for j in listed] == [
        ("doomed", True, "Cancelled")
    ]
    r = await call(jp_fetch, "POST", "jobs", body={"source": "1", "name": "doomed"})
    assert r.code == 409 and "cancelled; delete it" in r.json["message"]
    assert (await call(jp_fetch, "DELETE", "jobs", "doomed")).code == 204
    wait_for(lambda: job_objects(kubesim) == [], what="record and objects gone")


async def test_cancel_without_archiving(jp_fetch, kubesim, jp_home_dir):
    assert (await call(jp_fetch, "POST", "jobs", body={"source": "1", "name": "quick"})).code == 201
    r = await call(jp_fetch, "POST", "jobs", "quick", "cancel", params={"archiveLogs": "false"})
    assert r.code == 200 and r.json["status"]["phase"] == "Cancelled"
    assert not (jp_home_dir / ".teamhub").exists()


async def test_events_explain_why_a_job_is_pending(jp_fetch, kubesim):
    """Within quota (2 GPUs of 4) but no node has a GPU."""
    r = await call(jp_fetch, "POST", "jobs", body={"source": "1", "workers": 2, "gpus": 1})
    assert r.code == 201
    name = r.json["name"]

    async def unschedulable():
        st = (await call(jp_fetch, "GET", "jobs", name)).json["status"]
        return st if st["reason"] == "Unschedulable" else None

    st = await until(unschedulable, what="unschedulable")
    assert st["phase"] == "Pending" and "Insufficient nvidia.com/gpu" in st["message"]
    events = (await call(jp_fetch, "GET", "jobs", name, "events")).json["events"]
    sched = [e for e in events if e["reason"] == "FailedScheduling"]
    assert sched and sched[0]["type"] == "Warning"
    assert sched[0]["explanation"].startswith("unschedulable:")
    assert sched[0]["replica"] in ("rank-0", "rank-1")
    assert any(e["reason"] == "SuccessfulCreate" and e["object"] == f"Job/{name}" for e in events)
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)


# ------------------------------------------------------------------ the cluster says no
async def test_a_failing_api_is_a_502_naming_the_api_error(jp_fetch, kubesim):
    kubesim.faults.add_error(500, 1.0, verbs={"list"}, resources={"configmaps"})
    try:
        r = await call(jp_fetch, "GET", "jobs")
    finally:
        kubesim.faults.clear()
    assert r.code == 502 and r.json["reason"] == "KubernetesApiError"
    assert r.json["kubeStatus"] == 500


async def test_a_submission_failing_half_way_is_rolled_back(jp_fetch, kubesim):
    kubesim.faults.add_error(500, 1.0, verbs={"create"}, resources={"services"})
    try:
        r = await call(jp_fetch, "POST", "jobs", body={"source": "1", "name": "half"})
    finally:
        kubesim.faults.clear()
    assert r.code == 502 and r.json["reason"] == "SubmitFailed"
    assert "removed what had been created" in r.json["message"]
    assert "leftovers" not in r.json  # nothing left over
    wait_for(lambda: job_objects(kubesim) == [], what="nothing left")
