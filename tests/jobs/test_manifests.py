"""The backends' manifests, built purely (no cluster): valid against the real schemas
(kubernetes-validate for core kinds, the Kubeflow v1.9 CRDs for the rest), carrying the
notebook's environment, wired for ranks; and every option a backend can't honour, every
entitlement breach, refused with a message naming the field."""

from __future__ import annotations

import base64
import dataclasses
import json
from functools import cache

import pytest
from teamhub.jobs import labels as L
from teamhub.jobs.backends import BACKENDS, get_backend
from teamhub.jobs.code import CODE_DIR, MAX_CODE_BYTES, CodeBundle, read_code
from teamhub.jobs.errors import (
    CodeTooLargeError,
    ImageNotAllowedError,
    JobSpecError,
    QuotaExceededError,
)
from teamhub.jobs.spec import JobSpec

from tests.jobs.jobs_support import IMAGE, NS, environment, validate

SID = "abcdefghijkl"


@cache
def env():
    return environment()


@cache
def unlimited():
    """The notebook's environment without a quota."""
    e = env()
    return dataclasses.replace(e, entitlements=dataclasses.replace(e.entitlements, quota={}))


def build(*, environment=None, **kwargs):
    spec = JobSpec(**({"source": "print('hi')"} | kwargs))
    return get_backend(spec.backend).build(spec, environment or env(), submission=SID)


def templates(workload: dict) -> dict[str, dict]:
    """{replica type: pod template} of any workload."""
    if workload["kind"] == "Job":
        return {"rank": workload["spec"]["template"]}
    key = next(k for k in workload["spec"] if k.endswith("ReplicaSpecs"))
    return {k: v["template"] for k, v in workload["spec"][key].items()}


def env_of(template: dict) -> dict[str, dict]:
    return {e["name"]: e for e in template["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("workers", [1, 3])
def test_every_backend_builds_valid_manifests_in_the_notebooks_environment(backend, workers):
    objs = build(
        backend=backend,
        workers=workers,
        cpu="2",
        memory="8Gi",
        gpus=1,
        env={"EPOCHS": "3"},
        labels={"kueue.x-k8s.io/queue-name": "vision"},
        deadline=3600,
    )
    for obj in objs:
        validate(obj)
    workload, cm = objs[0], objs[1]
    name = workload["metadata"]["name"]
    assert name == f"alice-{backend}-abcde"
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == f"{name}.job"
    assert cm["data"]["main.py"] == "print('hi')"
    assert json.loads(cm["data"]["spec.json"])["workers"] == workers
    # labels on every object, and the extra label on the workload and its pods
    for obj in objs:
        labels = obj["metadata"]["labels"]
        assert labels[L.OWNER] == "alice" and labels[L.BACKEND] == backend
        assert labels[L.SUBMISSION] == SID and labels[L.JOB] == name
        assert labels["team.teamhub.io/vision"] == "true"
        assert labels[L.MANAGED_BY] == "teamhub" and labels[L.COMPONENT] == "job"
    assert workload["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "vision"
    assert json.loads(workload["metadata"]["annotations"][L.SPEC_ANNOTATION])["gpus"] == 1
    nb = env()
    for rtype, tpl in templates(workload).items():
        spec, c = tpl["spec"], tpl["spec"]["containers"][0]
        assert tpl["metadata"]["labels"][L.SUBMISSION] == SID
        assert tpl["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "vision"
        # No job pod has API rights, but the MPI launcher: kubectl exec into its workers
        # with the token of the ServiceAccount the operator makes for it.
        launcher = (backend, rtype) == ("mpi", "Launcher")
        assert spec["automountServiceAccountToken"] is launcher
        assert "serviceAccountName" not in spec and "serviceAccount" not in spec
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["image"] == IMAGE and c["workingDir"] == "/home/jovyan"
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        for m in nb.volume_mounts:  # same data and credentials, same paths, same readOnly
            assert mounts[m["mountPath"]] == m
        assert mounts[CODE_DIR]["readOnly"] is True
        vols = {v["name"]: v for v in spec["volumes"]}
        assert vols["teamhub-job-code"]["configMap"]["name"] == f"{name}.job"
        for v in nb.volumes:
            assert vols[v["name"]] == v
        e = env_of(tpl)
        assert e["EPOCHS"]["value"] == "3" and e["MY_SETTING"]["value"] == "kept"
        assert e["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["key"].endswith("KEY_ID")
        assert not any(n.startswith(("JUPYTERHUB_", "JPY_")) for n in e)
        assert e["TEAMHUB_JOB_NAME"]["value"] == name
        if rtype == "Launcher":  # the MPI launcher only coordinates
            assert "resources" not in c
        else:
            assert c["resources"] == {
                "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
                "limits": {"nvidia.com/gpu": "1"},
            }


def test_indexed_job_shape():
    job, cm, svc = build(workers=4, procs_per_worker=1, deadline=60)
    name = job["metadata"]["name"]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 4
    assert spec["activeDeadlineSeconds"] == 60
    assert spec["backoffLimit"] == 3
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }
    assert rules[1]["action"] == "FailJob"
    assert rules[1]["onExitCodes"] == {"containerName": "job", "operator": "NotIn", "values": [0]}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["subdomain"] == name
    assert svc["kind"] == "Service" and svc["metadata"]["name"] == name
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"]
    assert svc["spec"]["selector"] == {L.SUBMISSION: SID, L.JOB: name}
    assert all(
        spec["template"]["metadata"]["labels"][k] == v for k, v in svc["spec"]["selector"].items()
    )
    e = env_of(spec["template"])
    index = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert e["RANK"]["valueFrom"]["fieldRef"]["fieldPath"] == index
    assert e["PET_NODE_RANK"]["valueFrom"]["fieldRef"]["fieldPath"] == index
    assert e["WORLD_SIZE"]["value"] == "4" and e["PET_NNODES"]["value"] == "4"
    assert e["MASTER_ADDR"]["value"] == f"{name}-0.{name}"
    assert e["MASTER_PORT"]["value"] == "29500"
    assert pod["containers"][0]["command"] == ["python", f"{CODE_DIR}/main.py"]
    assert "ownerReferences" not in cm["metadata"]  # set by the client once the Job exists


def test_indexed_several_processes_per_worker_use_torchrun():
    job = build(workers=2, procs_per_worker=4)[0]
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"][0] == "torchrun" and c["command"][-1] == f"{CODE_DIR}/main.py"
    assert "--master_addr=$(MASTER_ADDR)" in c["command"]
    e = env_of(job["spec"]["template"])
    assert e["WORLD_SIZE"]["value"] == "8" and e["PET_NPROC_PER_NODE"]["value"] == "4"


def test_pytorch_job_shape():
    job = build(backend="pytorch", workers=4, procs_per_worker=2)[0]
    replicas = job["spec"]["pytorchReplicaSpecs"]
    assert replicas["Master"]["replicas"] == 1 and replicas["Worker"]["replicas"] == 3
    assert all(r["restartPolicy"] == "Never" for r in replicas.values())
    assert job["spec"]["nprocPerNode"] == "2"
    assert job["spec"]["runPolicy"] == {"cleanPodPolicy": "None"}
    c = replicas["Master"]["template"]["spec"]["containers"][0]
    assert c["name"] == "pytorch"
    assert c["ports"] == [{"name": "pytorchjob-port", "containerPort": 23456, "protocol": "TCP"}]
    assert c["command"][:3] == [
        "torchrun",
        "--master_addr=$(MASTER_ADDR)",
        "--master_port=$(MASTER_PORT)",
    ]
    assert "RANK" not in env_of(replicas["Master"]["template"])  # the operator sets it
    single = build(backend="pytorch", workers=1)[0]["spec"]["pytorchReplicaSpecs"]
    assert list(single) == ["Master"]


def test_tf_job_shape():
    job = build(backend="tf", workers=3, chief=True, deadline=10)[0]
    replicas = job["spec"]["tfReplicaSpecs"]
    assert replicas["Chief"]["replicas"] == 1 and replicas["Worker"]["replicas"] == 2
    assert job["spec"]["runPolicy"] == {"cleanPodPolicy": "None", "activeDeadlineSeconds": 10}
    assert replicas["Chief"]["template"]["spec"]["containers"][0]["name"] == "tensorflow"
    assert list(build(backend="tf", workers=2)[0]["spec"]["tfReplicaSpecs"]) == ["Worker"]
    assert list(build(backend="tf", workers=1, chief=True)[0]["spec"]["tfReplicaSpecs"]) == [
        "Chief"
    ]


def test_mpi_job_shape():
    job = build(backend="mpi", workers=3, procs_per_worker=4, gpus=1)[0]
    spec = job["spec"]
    assert spec["slotsPerWorker"] == 4 and spec["mainContainer"] == "mpi"
    assert spec["runPolicy"]["cleanPodPolicy"] == "Running"
    launcher = spec["mpiReplicaSpecs"]["Launcher"]
    worker = spec["mpiReplicaSpecs"]["Worker"]
    assert launcher["replicas"] == 1 and worker["replicas"] == 3
    assert launcher["template"]["spec"]["containers"][0]["command"] == [
        "mpirun",
        "-np",
        "12",
        "python",
        f"{CODE_DIR}/main.py",
    ]
    wc = worker["template"]["spec"]["containers"][0]
    assert wc["command"] == ["sleep", "365d"] and wc["resources"]["limits"]["nvidia.com/gpu"] == "1"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"backend": "tf", "procs_per_worker": 2}, "procs_per_worker", "one process per worker"),
        ({"backend": "pytorch", "chief": True}, "chief", "only the tf backend"),
        ({"backend": "indexed", "chief": True}, "chief", "only the tf backend"),
        ({"workers": 100_001, "backend": "indexed"}, "workers", "at most 100000"),
        ({"env": {"RANK": "3"}}, "env", "RANK is set by the indexed backend"),
        ({"env": {"PET_NNODES": "3"}}, "env", "set by the indexed backend"),
        ({"backend": "tf", "env": {"TF_CONFIG": "{}"}}, "env", "set by the tf backend"),
        ({"backend": "pytorch", "env": {"MASTER_ADDR": "x"}}, "env", "pytorch backend"),
        ({"env": {"TEAMHUB_JOB_NAME": "x"}}, "env", "cannot be overridden"),
        ({"name": "a" * 62, "workers": 10}, "name", "at most 61 characters"),
        ({"backend": "pytorch", "name": "a" * 60, "workers": 2}, "name", "<name>-master-0"),
        ({"backend": "mpi", "name": "a" * 60}, "name", "at most 54"),
    ],
)
def test_what_a_backend_cannot_honour_is_an_error(kwargs, field, words):
    with pytest.raises(JobSpecError) as e:
        build(environment=unlimited(), **kwargs)
    got = dict(e.value.problems)
    assert words in got[field], got


def test_generated_names_fit_every_backend():
    long_user = dataclasses.replace(unlimited(), username="A.Very-Long_User" * 8)
    for name, backend in BACKENDS.items():
        spec = JobSpec(source="x", backend=name, workers=1000)
        job = backend.build(spec, long_user, submission=SID)[0]
        n = job["metadata"]["name"]
        assert len(n) <= backend.max_name_length(spec) and n.endswith(f"-{name}-abcde")
        assert n.startswith("a-very-long-user"), n
        validate(job)


def test_image_must_be_allowed():
    assert build(image="quay.io/jupyter/pytorch-notebook:cuda12")[0]
    with pytest.raises(ImageNotAllowedError) as e:
        build(image="docker.io/evil/miner")
    msg = dict(e.value.problems)["image"]
    assert "'docker.io/evil/miner' is not allowed for your teams (vision)" in msg
    assert "quay.io/jupyter/*" in msg


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"gpus": 2, "workers": 3}, "gpus", "2 x 3 workers = 6 GPUs exceeds your quota of 4 GPUs"),
        ({"cpu": "12", "workers": 3}, "cpu", "36 CPUs exceeds your quota of 32 CPUs"),
        ({"memory": "64Gi", "workers": 3}, "memory", "192Gi of memory exceeds your quota of 128Gi"),
        ({"workers": 51}, "workers", "51 pods exceeds your quota of 50 pods"),
        ({"backend": "mpi", "workers": 50}, "workers", "51 pods exceeds"),
    ],
)
def test_beyond_quota_is_refused_before_anything_is_built(kwargs, field, words):
    with pytest.raises(QuotaExceededError) as e:
        build(**kwargs)
    assert words in dict(e.value.problems)[field]
    assert "(teams: vision)" in str(e.value)


def test_within_quota_is_fine_and_launcher_gets_no_gpus():
    build(gpus=1, workers=4)
    build(backend="mpi", gpus=2, workers=2)  # 4 GPUs on workers; the launcher has none


def test_several_kinds_of_problem_are_reported_together():
    with pytest.raises(JobSpecError) as e:
        build(backend="tf", procs_per_worker=2, gpus=5, image="evil")
    assert set(e.value.fields) == {"procs_per_worker", "gpus", "image"}


def test_script_is_copied_and_run_by_its_kind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("print('train')\n")
    (tmp_path / "run.sh").write_text("echo hi\n")
    (tmp_path / "tool").write_text("#!/usr/bin/env python\nprint(1)\n")
    (tmp_path / "data.bin").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "notes.txt").write_text("hello")
    job, cm, _ = build(source=None, script="train.py")
    assert cm["data"]["train.py"] == "print('train')\n"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        f"{CODE_DIR}/train.py",
    ]
    cmd = build(source=None, script=str(tmp_path / "run.sh"))[0]
    assert cmd["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "sh",
        f"{CODE_DIR}/run.sh",
    ]
    cmd = build(source=None, script="tool")[0]
    assert cmd["spec"]["template"]["spec"]["containers"][0]["command"] == [f"{CODE_DIR}/tool"]
    with pytest.raises(JobSpecError, match=r"don't know how to run 'notes\.txt'"):
        build(source=None, script="notes.txt")
    with pytest.raises(JobSpecError, match="script: no such file"):
        build(source=None, script="missing.py")
    with pytest.raises(JobSpecError, match="is a directory"):
        build(source=None, script=str(tmp_path))
    spec = JobSpec(script="data.bin")
    bundle = read_code(spec)
    assert bundle.files == {"data.bin": b"\xff\xfe\x00binary"}


def test_binary_script_goes_to_binary_data(tmp_path):
    (tmp_path / "prog").write_bytes(b"#!/bin/sh\n\xff")
    cm = build(source=None, script=str(tmp_path / "prog"))[1]
    assert base64.b64decode(cm["binaryData"]["prog"]) == b"#!/bin/sh\n\xff"
    validate(cm)


def test_command_jobs_mount_no_code():
    job, cm, _ = build(source=None, command="python -c 'print(1)'")
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["/bin/sh", "-c", "python -c 'print(1)'"]
    assert all(m["mountPath"] != CODE_DIR for m in c["volumeMounts"])
    assert set(cm["data"]) == {"spec.json"}


def test_code_above_one_mib_is_refused():
    build(source="#" * (MAX_CODE_BYTES - 2000))
    with pytest.raises(CodeTooLargeError) as e:
        build(source="#" * MAX_CODE_BYTES)
    msg = dict(e.value.problems)["source"]
    assert "holds at most 1 MiB" in msg and "command=['python', '<its path>']" in msg


def test_explicit_code_bundle_and_working_dir():
    spec = JobSpec(script="/nowhere/x.py", working_dir="/teams/vision/data")
    objs = get_backend("indexed").build(
        spec, env(), submission=SID, code=CodeBundle({"x.py": "print(2)"}, "x.py")
    )
    c = objs[0]["spec"]["template"]["spec"]["containers"][0]
    assert c["workingDir"] == "/teams/vision/data" and objs[1]["data"]["x.py"] == "print(2)"
    assert objs[0]["metadata"]["namespace"] == NS
