"""kubesim behaves like a cluster with Kubeflow's training operator v1.9 installed.

Instant kubelet (pods scripted by annotations), sync client. The process-kubelet runs where
ranks really talk to each other are in ``test_training_operator_process.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from kubesim.controllers.training import RESTRICTED_INIT_CONTAINER_TEMPLATE, TrainingOperatorConfig
from kubesim.sim import KubeSim
from tests.kubesim.helpers import restricted_pod, wait_for
from tests.kubesim.training_helpers import Cluster, env_of, job, new_namespace, replica

LABELS = "training.kubeflow.org/"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    d = tmp_path_factory.mktemp("training")
    s = KubeSim(kubelet="instant", data_dir=d / "sim").start()
    s.kubeconfig = s.write_kubeconfig(d / "kubeconfig")  # type: ignore[attr-defined]
    yield s
    s.stop()


@pytest.fixture
def k(sim: KubeSim) -> Cluster:
    """A fresh namespace of the shared simulator."""
    c = Cluster(sim.kubeconfig, "")  # type: ignore[attr-defined]
    c.ns = new_namespace(c.core)
    return c


def expect_error(fn, *args, **kw) -> ApiException:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiException) as info:
        fn(*args, **kw)
    return info.value


# ------------------------------------------------------------------- API side
def test_kubesim_ships_its_crds() -> None:
    """The package carries the CRDs (an installed kubesim must not need ../shared)."""
    from kubesim import crds

    kinds = [c["spec"]["names"]["kind"] for c in crds.training_operator_crds()]
    assert kinds == ["PyTorchJob", "TFJob", "MPIJob"]
    with pytest.raises(ValueError, match="kubesim ships no CRD file"):
        crds.load("nope.json")


def test_kubectl_lists_jobs_with_the_crd_printer_columns(kubesim: KubeSim, kubectl) -> None:  # type: ignore[no-untyped-def]
    kubesim.apply(job("PyTorchJob", "seen", {"Worker": replica(1)}))
    wait_for(lambda: kubesim.lookup("pods", "default", "seen-worker-0"), what="the worker pod")
    out = wait_for(
        lambda: (o := kubectl("get", "pytorchjobs").stdout) and "Running" in o and o,
        what="kubectl showing the Running state",
    )
    assert out.split("\n")[0].split() == ["NAME", "STATE", "AGE"]
    assert out.split("\n")[1].split()[:2] == ["seen", "Running"]
    crd = kubectl("get", "crd", "tfjobs.kubeflow.org", "-o", "jsonpath={.spec.group}").stdout
    assert crd == "kubeflow.org"


def test_crds_are_served_with_discovery_crd_objects_and_rbac(sim: KubeSim, k: Cluster) -> None:
    api = kubernetes.config.new_client_from_config(str(sim.kubeconfig))  # type: ignore[attr-defined]
    res = kubernetes.client.CustomObjectsApi(api).get_api_resources("kubeflow.org", "v1")
    names = {r.name for r in res.resources}
    assert {"pytorchjobs", "pytorchjobs/status", "tfjobs", "tfjobs/status", "mpijobs"} <= names
    crd = kubernetes.client.ApiextensionsV1Api(api).read_custom_resource_definition(
        "pytorchjobs.kubeflow.org"
    )
    assert crd.spec.names.kind == "PyTorchJob"
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"

    # A notebook's ServiceAccount may create PyTorchJobs only if its Role says so.
    k.core.create_namespaced_service_account(k.ns, {"metadata": {"name": "nb"}})
    k.rbac.create_namespaced_role(
        k.ns,
        {
            "metadata": {"name": "jobs"},
            "rules": [
                {"apiGroups": ["kubeflow.org"], "resources": ["pytorchjobs"], "verbs": ["create"]}
            ],
        },
    )
    k.rbac.create_namespaced_role_binding(
        k.ns,
        {
            "metadata": {"name": "jobs"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "jobs"},
            "subjects": [{"kind": "ServiceAccount", "name": "nb", "namespace": k.ns}],
        },
    )
    cfg = kubernetes.client.Configuration()
    cfg.host = sim.url
    cfg.api_key = {"authorization": "Bearer " + sim.create_token(k.ns, "nb")}
    as_nb = kubernetes.client.CustomObjectsApi(kubernetes.client.ApiClient(cfg))
    body = job("PyTorchJob", "mine", {"Worker": replica(1)})
    as_nb.create_namespaced_custom_object("kubeflow.org", "v1", k.ns, "pytorchjobs", body)
    err = expect_error(as_nb.list_namespaced_custom_object, "kubeflow.org", "v1", k.ns, "tfjobs")
    assert err.status == 403
    assert (
        'cannot list resource "tfjobs" in API group "kubeflow.org"'
        in json.loads(err.body)["message"]
    )


def test_schema_validation_defaults_and_immutable_queue(k: Cluster) -> None:
    bad = job("PyTorchJob", "bad", {"Worker": replica("two")})  # type: ignore[arg-type]
    err = expect_error(k.create, bad)
    assert err.status == 422
    assert json.loads(err.body)["message"] == (
        'PyTorchJob.kubeflow.org "bad" is invalid: spec.pytorchReplicaSpecs.Worker.replicas: '
        'Invalid value: "string": spec.pytorchReplicaSpecs.Worker.replicas in body must be of '
        'type integer: "string"'
    )
    typo = job("PyTorchJob", "typo", {"Worker": {**replica(1), "replica": 2}})
    err = expect_error(k.create, typo, field_validation="Strict")
    assert err.status == 400
    assert json.loads(err.body)["message"].endswith(
        'strict decoding error: unknown field "spec.pytorchReplicaSpecs.Worker.replica"'
    )

    ok = job(
        "PyTorchJob",
        "ok",
        {"Worker": replica(1, ports=[{"name": "pytorchjob-port", "containerPort": 29500}])},
        runPolicy={"schedulingPolicy": {"queue": "gpu-a"}},
    )
    created = k.create(ok)
    # The API server fills in the schema's defaults.
    assert created["spec"]["runPolicy"]["suspend"] is False
    port = created["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert port["ports"][0]["protocol"] == "TCP"
    err = expect_error(
        k.patch, "PyTorchJob", "ok", {"spec": {"runPolicy": {"schedulingPolicy": {"queue": "b"}}}}
    )
    assert err.status == 422
    assert json.loads(err.body)["message"] == (
        'PyTorchJob.kubeflow.org "ok" is invalid: spec.runPolicy.schedulingPolicy.queue: '
        'Invalid value: "string": spec.runPolicy.schedulingPolicy.queue is immutable'
    )


def test_operator_webhooks_refuse_invalid_jobs(k: Cluster) -> None:
    two_masters = job("PyTorchJob", "x", {"Master": replica(2), "Worker": replica(1)})
    err = expect_error(k.create, two_masters)
    assert err.status == 403
    assert json.loads(err.body)["message"] == (
        'admission webhook "validator.pytorchjob.training-operator.kubeflow.org" denied the '
        "request: spec.pytorchReplicaSpecs[Master].replicas: Forbidden: must be 1"
    )
    unnamed = job("PyTorchJob", "1st", {"Worker": replica(1, container="main")})
    msg = json.loads(expect_error(k.create, unnamed).body)["message"]
    assert 'metadata.name: Invalid value: "1st": should match: a DNS-1035 label' in msg
    assert (
        "spec.pytorchReplicaSpecs[Worker].template.spec.containers: Required value: must have "
        "at least one container with name pytorch" in msg
    )
    chiefs = job(
        "TFJob", "tf", {"Chief": replica(1, "tensorflow"), "Master": replica(1, "tensorflow")}
    )
    msg = json.loads(expect_error(k.create, chiefs).body)["message"]
    assert msg.endswith(
        "spec.tfReplicaSpecs: Forbidden: must not have more than 1 Chief or Master role"
    )


# ---------------------------------------------------------------- PyTorchJob
def test_pytorch_pods_services_labels_and_env(k: Cluster) -> None:
    created = k.create(
        job("PyTorchJob", "ddp", {"Master": replica(1), "Worker": replica(2)}, nprocPerNode="2")
    )
    pods = wait_for(lambda: len(k.pods("ddp")) == 3 and k.pods("ddp"), what="3 pods")
    assert set(pods) == {"ddp-master-0", "ddp-worker-0", "ddp-worker-1"}
    master, worker1 = pods["ddp-master-0"], pods["ddp-worker-1"]
    assert master.metadata.labels == {
        LABELS + "operator-name": "pytorchjob-controller",
        LABELS + "job-name": "ddp",
        LABELS + "replica-type": "master",
        LABELS + "replica-index": "0",
        LABELS + "job-role": "master",
    }
    assert LABELS + "job-role" not in worker1.metadata.labels
    ref = master.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion) == (
        "PyTorchJob",
        "ddp",
        created["metadata"]["uid"],
        True,
        True,
    )
    assert env_of(master) == {
        "PYTHONUNBUFFERED": "0",
        "MASTER_PORT": "23456",
        "MASTER_ADDR": "ddp-master-0",
        "WORLD_SIZE": "6",
        "RANK": "0",
        "PET_NPROC_PER_NODE": "2",
        "PET_NODE_RANK": "0",
        "PET_NNODES": "3",
    }
    assert (env_of(worker1)["RANK"], env_of(worker1)["PET_NODE_RANK"]) == ("2", "2")
    assert master.spec.restart_policy == "OnFailure"  # the operator's default for PyTorch
    assert master.spec.containers[0].ports[0].container_port == 23456
    assert not master.spec.init_containers
    assert worker1.spec.init_containers[0].name == "init-pytorch"
    assert "nslookup ddp-master-0" in worker1.spec.init_containers[0].command[2]

    services = wait_for(lambda: len(k.services("ddp")) == 3 and k.services("ddp"))
    svc = services["ddp-worker-1"]
    assert svc.spec.cluster_ip == "None"
    assert svc.spec.selector == {k_: v for k_, v in worker1.metadata.labels.items()}
    assert [(p.name, p.port) for p in svc.spec.ports] == [("pytorchjob-port", 23456)]
    assert svc.metadata.owner_references[0].uid == created["metadata"]["uid"]
    reasons = {e[1:] for e in k.events("ddp")}
    assert ("SuccessfulCreatePod", "Created pod: ddp-worker-1") in reasons
    assert ("SuccessfulCreateService", "Created service: ddp-master-0") in reasons


def test_pytorch_elastic_env_without_master(k: Cluster) -> None:
    elastic = {"minReplicas": 1, "maxReplicas": 3, "maxRestarts": 2, "rdzvId": "r1"}
    k.create(job("PyTorchJob", "el", {"Worker": replica(2)}, elasticPolicy=elastic))
    pods = wait_for(lambda: len(k.pods("el")) == 2 and k.pods("el"))
    env = env_of(pods["el-worker-1"])
    assert "MASTER_ADDR" not in env and "RANK" not in env
    assert env == {
        "PYTHONUNBUFFERED": "0",
        "PET_RDZV_ENDPOINT": "el-worker-0:23456",
        "PET_RDZV_BACKEND": "c10d",
        "PET_NNODES": "1:3",
        "PET_MAX_RESTARTS": "2",
        "PET_RDZV_ID": "r1",
    }
    assert pods["el-worker-0"].metadata.labels[LABELS + "job-role"] == "master"


def test_pytorch_success_conditions_and_replica_statuses(k: Cluster) -> None:
    replicas = {"Master": replica(1, exit_code=0, run_seconds=0.6), "Worker": replica(1)}
    k.create(job("PyTorchJob", "ok", replicas))
    running = k.wait_condition("PyTorchJob", "ok", "Running")
    assert (running["reason"], running["message"]) == (
        "PyTorchJobRunning",
        "PyTorchJob ok is running.",
    )
    done = k.wait_condition("PyTorchJob", "ok", "Succeeded")
    assert (done["reason"], done["message"]) == (
        "PyTorchJobSucceeded",
        "PyTorchJob ok is successfully completed.",
    )
    st = k.get("PyTorchJob", "ok")["status"]
    assert [(c["type"], c["status"]) for c in st["conditions"]] == [
        ("Created", "True"),
        ("Running", "False"),
        ("Succeeded", "True"),
    ]
    assert st["startTime"] <= st["completionTime"]
    assert st["replicaStatuses"]["Master"]["succeeded"] == 1
    assert st["replicaStatuses"]["Worker"] == {
        "succeeded": 1,  # still running when the master finished: counted as succeeded
        "selector": "training.kubeflow.org/job-name=ok,training.kubeflow.org/operator-name="
        "pytorchjob-controller,training.kubeflow.org/replica-type=worker",
    }
    # cleanPodPolicy defaults to None: the worker keeps running.
    assert k.pods("ok")["ok-worker-0"].status.phase == "Running"
    assert ("Normal", "ExitedWithCode", f"Pod: {k.ns}.ok-master-0 exited with code 0") in k.events(
        "ok"
    )


def test_pytorch_failed_replica_with_restart_policy_never(k: Cluster) -> None:
    replicas = {"Master": replica(1), "Worker": replica(1, restart="Never", exit_code=3)}
    k.create(job("PyTorchJob", "bad", replicas))
    failed = k.wait_condition("PyTorchJob", "bad", "Failed")
    assert failed["reason"] == "PyTorchJobFailed"
    assert failed["message"] == "PyTorchJob bad is failed because 1 Worker replica(s) failed."
    st = k.get("PyTorchJob", "bad")["status"]
    assert st["replicaStatuses"]["Worker"]["failed"] == 1 and st["completionTime"]
    assert ("Normal", "PyTorchJobFailed", failed["message"]) in k.events("bad")


BOTH = {"cp-master-0", "cp-worker-0"}


@pytest.mark.parametrize("policy", ["Running", "All", "None"])
def test_clean_pod_policy(k: Cluster, policy: str) -> None:
    """After success: Running deletes the still-running worker (and its Service), All
    deletes every pod and Service, None (the default) keeps everything."""
    left = {"Running": {"cp-master-0"}, "All": set(), "None": BOTH}[policy]
    replicas = {"Master": replica(1, exit_code=0, run_seconds=0.3), "Worker": replica(1)}
    k.create(job("PyTorchJob", "cp", replicas, runPolicy={"cleanPodPolicy": policy}))
    k.wait_condition("PyTorchJob", "cp", "Succeeded")
    wait_for(lambda: set(k.pods("cp")) == left, what=f"pods {left} left")
    wait_for(lambda: set(k.services("cp")) == left, what=f"services {left} left")


def test_suspend_and_resume(k: Cluster) -> None:
    k.create(
        job(
            "PyTorchJob",
            "sus",
            {"Master": replica(1), "Worker": replica(1)},
            runPolicy={"suspend": True},
        )
    )
    k.wait_condition("PyTorchJob", "sus", "Suspended")
    assert k.pods("sus") == {} and "startTime" not in k.get("PyTorchJob", "sus")["status"]
    assert k.conditions("PyTorchJob", "sus") == [
        ("Created", "True", "PyTorchJobCreated"),
        ("Suspended", "True", "PyTorchJobSuspended"),
    ]
    k.patch("PyTorchJob", "sus", {"spec": {"runPolicy": {"suspend": False}}})
    k.wait_condition("PyTorchJob", "sus", "Running")
    assert ("Suspended", "False", "PyTorchJobResumed") in k.conditions("PyTorchJob", "sus")
    assert set(k.pods("sus")) == {"sus-master-0", "sus-worker-0"}
    k.patch("PyTorchJob", "sus", {"spec": {"runPolicy": {"suspend": True}}})
    wait_for(lambda: not k.pods("sus") and not k.services("sus"), what="pods removed")
    conds = k.conditions("PyTorchJob", "sus")
    assert ("Running", "False", "PyTorchJobSuspended") in conds
    assert conds[-1] == ("Suspended", "True", "PyTorchJobSuspended")


def test_ttl_after_finished_deletes_the_job_and_its_pods(k: Cluster) -> None:
    replicas = {"Worker": replica(1, exit_code=0, run_seconds=0.2)}
    k.create(job("PyTorchJob", "ttl", replicas, runPolicy={"ttlSecondsAfterFinished": 1}))
    k.wait_condition("PyTorchJob", "ttl", "Succeeded")
    assert k.exists("PyTorchJob", "ttl")
    wait_for(lambda: not k.exists("PyTorchJob", "ttl"), what="job deleted by its TTL")
    wait_for(lambda: not k.pods("ttl"), what="pods garbage-collected")


def test_backoff_limit_counts_container_restarts(k: Cluster) -> None:
    replicas = {"Worker": replica(1, restart="OnFailure", exit_code=1)}
    k.create(job("PyTorchJob", "bo", replicas, runPolicy={"backoffLimit": 2}))
    failed = k.wait_condition("PyTorchJob", "bo", "Failed")
    assert (
        failed["message"] == "Job bo has failed because it has reached the specified backoff limit"
    )
    wait_for(lambda: not k.pods("bo"), what="pods deleted")


def test_exit_code_policy_retries_signals_and_fails_on_errors(k: Cluster) -> None:
    retry = {"Master": replica(1), "Worker": replica(1, restart="ExitCode", exit_code=137)}
    k.create(job("PyTorchJob", "ec", retry))
    first = wait_for(lambda: k.pods("ec").get("ec-worker-0")).metadata.uid
    k.watch_condition("PyTorchJob", "ec", "Restarting")  # (Running replaces it at once)
    # The replacement keeps exiting 137 and being replaced, so check the one we saw.
    renewed = wait_for(
        lambda: (p := k.pods("ec").get("ec-worker-0")) and p.metadata.uid != first and p,
        what="a new worker pod",
    )
    assert renewed.spec.restart_policy == "Never"
    k.wait_event("ec", "PyTorchJobRestarting")

    fatal = {"Master": replica(1), "Worker": replica(1, restart="ExitCode", exit_code=2)}
    k.create(job("PyTorchJob", "ec2", fatal))
    failed = k.wait_condition("PyTorchJob", "ec2", "Failed")
    assert failed["message"] == 'job "ec2" is failing because "Worker" replica(s) failed.'


def test_active_deadline_fails_the_job(k: Cluster) -> None:
    k.create(
        job("PyTorchJob", "dl", {"Worker": replica(1)}, runPolicy={"activeDeadlineSeconds": 1})
    )
    failed = k.wait_condition("PyTorchJob", "dl", "Failed", timeout=6)
    assert (
        failed["message"]
        == "Job dl has failed because it was active longer than specified deadline"
    )
    wait_for(lambda: not k.pods("dl"), what="pods deleted")


def test_pod_security_refusal_is_a_failed_create_event(sim: KubeSim, tmp_path: Path) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    safe = restricted_pod("x")["spec"]
    tpl = {
        "template": {"spec": {**safe, "containers": [{**safe["containers"][0], "name": "pytorch"}]}}
    }
    body = job(
        "PyTorchJob", "psa", {"Master": {**tpl, "replicas": 1}, "Worker": {**tpl, "replicas": 1}}
    )

    k = Cluster(sim.kubeconfig, "")  # type: ignore[attr-defined]
    k.ns = new_namespace(k.core, labels)
    k.create(body)
    ev = k.wait_event("psa", "FailedCreatePod")
    assert ev[0] == "Warning"
    assert ev[2].startswith(
        'Error creating: pods "psa-worker-0" is forbidden: violates PodSecurity'
    )
    assert '"init-pytorch"' in ev[2]
    assert set(k.pods("psa")) == {"psa-master-0"}  # the master has no init container

    # With the hardened init container template (Kubeflow's platform manifests) it works.
    config = TrainingOperatorConfig(
        pytorch_init_container_template=RESTRICTED_INIT_CONTAINER_TEMPLATE
    )
    with KubeSim(training_operator=config, data_dir=tmp_path / "s2") as other:
        k2 = Cluster(other.write_kubeconfig(tmp_path / "kc2"), "")
        k2.ns = new_namespace(k2.core, labels)
        k2.create(body)
        wait_for(lambda: set(k2.pods("psa")) == {"psa-master-0", "psa-worker-0"})


# ------------------------------------------------------------------- TFJob
def test_tfjob_tf_config_and_worker0_success(k: Cluster) -> None:
    replicas = {
        "PS": replica(1, "tensorflow"),
        "Worker": replica(2, "tensorflow"),
    }
    replicas["Worker"]["template"]["metadata"]["annotations"] = {
        "kubesim.io/exit-code": "0",
        "kubesim.io/run-seconds": "0.5",
    }
    k.create(job("TFJob", "tf", replicas))
    pods = wait_for(lambda: len(k.pods("tf")) == 3 and k.pods("tf"))
    cfg = json.loads(env_of(pods["tf-worker-1"])["TF_CONFIG"])
    assert cfg == {
        "cluster": {
            "ps": [f"tf-ps-0.{k.ns}.svc:2222"],
            "worker": [f"tf-worker-0.{k.ns}.svc:2222", f"tf-worker-1.{k.ns}.svc:2222"],
        },
        "task": {"type": "worker", "index": 1},
        "environment": "cloud",
    }
    assert pods["tf-worker-0"].metadata.labels[LABELS + "job-role"] == "master"
    assert pods["tf-ps-0"].spec.restart_policy == "Never"
    done = k.wait_condition("TFJob", "tf", "Succeeded")
    assert (done["reason"], done["message"]) == (
        "TFJobSucceeded",
        f"TFJob {k.ns}/tf successfully completed.",
    )
    assert set(k.services("tf")) == {"tf-ps-0", "tf-worker-0", "tf-worker-1"}


# ------------------------------------------------------------------- MPIJob
def test_mpijob_objects_hostfile_launcher_and_success(k: Cluster) -> None:
    replicas = {
        "Launcher": replica(1, "mpi", exit_code=0, run_seconds=0.5),
        "Worker": replica(2, "mpi"),
    }
    del replicas["Worker"]["template"]["spec"]["containers"][0]["command"]
    k.create(job("MPIJob", "pi", replicas, slotsPerWorker=2))
    k.wait_condition("MPIJob", "pi", "Succeeded")
    cm = k.core.read_namespaced_config_map("pi-config", k.ns)
    assert cm.data["hostfile"] == "pi-worker-0 slots=2\npi-worker-1 slots=2\n"
    assert "kubectl exec ${POD_NAME}" in cm.data["kubexec.sh"]
    role = k.rbac.read_namespaced_role("pi-launcher", k.ns)
    assert role.rules[1].resources == ["pods/exec"]
    assert role.rules[1].resource_names == ["pi-worker-0", "pi-worker-1"]
    assert (
        k.rbac.read_namespaced_role_binding("pi-launcher", k.ns).subjects[0].name == "pi-launcher"
    )
    k.core.read_namespaced_service_account("pi-launcher", k.ns)
    pods = k.pods("pi")
    launcher, worker = pods["pi-launcher"], pods["pi-worker-1"]
    assert launcher.metadata.labels[LABELS + "replica-type"] == "launcher"
    assert launcher.metadata.labels[LABELS + "job-role"] == "master"
    assert LABELS + "replica-index" not in launcher.metadata.labels
    assert launcher.spec.service_account_name == "pi-launcher"
    env = env_of(launcher)
    assert env["OMPI_MCA_plm_rsh_agent"] == "/etc/mpi/kubexec.sh"
    assert env["OMPI_MCA_orte_default_hostfile"] == "/etc/mpi/hostfile"
    assert {m.mount_path for m in launcher.spec.containers[0].volume_mounts} >= {
        "/etc/mpi",
        "/opt/kube",
    }
    assert worker.spec.containers[0].command == ["sleep"] and worker.spec.containers[0].args == [
        "365d"
    ]
    assert launcher.status.start_time >= max(
        p.status.start_time for n_, p in pods.items() if "worker" in n_
    )
    assert k.services("pi") == {}
    st = k.get("MPIJob", "pi")["status"]
    assert st["conditions"][-1]["message"] == "MPIJob pi is successfully completed."
    assert st["replicaStatuses"]["Launcher"] == {"succeeded": 1}


def test_mpijob_launcher_failure_and_validation(k: Cluster) -> None:
    replicas = {"Launcher": replica(1, "mpi", exit_code=1), "Worker": replica(1, "mpi")}
    k.create(job("MPIJob", "boom", replicas))
    failed = k.wait_condition("MPIJob", "boom", "Failed")
    assert failed["reason"] == "MPIJobMPIJobFailed"  # sic, as the operator writes it
    assert failed["message"] == "MPIJob boom is failed because 1 Launcher replica(s) failed."

    k.create(job("MPIJob", "nolauncher", {"Worker": replica(1, "mpi")}))
    ev = k.wait_event("nolauncher", "MPIJobFailedValidation")
    assert ev[2] == (
        "MPIJob failed validation because MPIReplicaSpec is not valid: Master ReplicaSpec must be "
        "present"
    )
    assert k.pods("nolauncher") == {}
