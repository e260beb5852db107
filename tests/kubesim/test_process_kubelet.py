"""The ``process`` kubelet end to end: real local processes, volumes, env, names, lifecycle.

One simulator serves the module; each test uses its own object names. Pods are plain
shell/Python commands, so the tests also show what a pod can rely on.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kubesim.sim import KubeSim
from tests.kubesim.helpers import kubectl_path


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    s = KubeSim(kubelet="process").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def kubeconfig(sim: KubeSim, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sim.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture(scope="module")
def core(kubeconfig: Path) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(kubeconfig)))


def wait_for(fn: Callable[[], Any], timeout: float = 8.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def pod(name: str, script: str, restart: str = "Never", **spec: Any) -> dict:
    container = {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **spec.pop("meta", {})},
        "spec": {"restartPolicy": restart, "containers": [container], **spec},
    }


def phase(sim: KubeSim, name: str) -> str:
    p = sim.lookup("pods", "default", name)
    return (p or {}).get("status", {}).get("phase", "")


def finished(sim: KubeSim, name: str, timeout: float = 8.0) -> dict:
    wait_for(lambda: phase(sim, name) in ("Succeeded", "Failed"), timeout, f"{name} to finish")
    return sim.lookup("pods", "default", name)  # type: ignore[return-value]


def state(p: dict) -> dict:
    return p["status"]["containerStatuses"][0]["state"]


def log(core: kubernetes.client.CoreV1Api, name: str) -> str:
    return core.read_namespaced_pod_log(name, "default")


def nfs_pv(name: str, path: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "nfs",
            "nfs": {"server": "fs.local", "path": path},
        },
    }


def claim(name: str, pv: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "nfs",
            "volumeName": pv,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


def secret(name: str, **data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def procs_with(marker: str) -> list[int]:
    """PIDs whose command line contains ``marker`` (zombies have none)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                    out.append(int(d))
            except OSError:
                pass
    return [p for p in out if p != os.getpid()]


# ------------------------------------------------------------------ volumes
def test_secret_and_shared_pv_files_read_back_through_logs(sim: KubeSim, tmp_path: Path) -> None:
    # Two PVs naming the same NFS export share files; the storage exists before the pods.
    storage = sim.data_dir / "storage/nfs/fs.local/exports/team"
    storage.mkdir(parents=True)
    (storage / "hello.txt").write_text("from the nfs share\n")
    for obj in (
        nfs_pv("share-a", "/exports/team"),
        nfs_pv("share-b", "/exports/team/"),
        claim("data-a", "share-a"),
        claim("data-b", "share-b"),
        secret("creds", password="hunter2"),
    ):
        sim.apply(obj)
    sim.apply(
        pod(
            "writer",
            "cat /etc/creds/password /data/hello.txt; echo written > /data/by-writer",
            container={
                "volumeMounts": [
                    {"name": "c", "mountPath": "/etc/creds"},
                    {"name": "d", "mountPath": "/data"},
                ]
            },
            volumes=[
                {"name": "c", "secret": {"secretName": "creds"}},
                {"name": "d", "persistentVolumeClaim": {"claimName": "data-a"}},
            ],
        )
    )
    assert finished(sim, "writer")["status"]["phase"] == "Succeeded"
    # Read back as a user would: the real kubectl, over https (kubectl only sends a token
    # over TLS), with the kubeconfig kubesim writes.
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig", tls=True)
    out = subprocess.run(
        [kubectl_path(), "--kubeconfig", str(kubeconfig), "logs", "writer"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hunter2from the nfs share\n"

    sim.apply(
        pod(
            "reader",
            "cat /shared/by-writer",
            container={"volumeMounts": [{"name": "d", "mountPath": "/shared"}]},
            volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data-b"}}],
        )
    )
    assert finished(sim, "reader")["status"]["phase"] == "Succeeded"
    assert (storage / "by-writer").read_text() == "written\n"


def test_secret_update_reaches_the_mounted_file(sim: KubeSim, core: Any) -> None:
    sim.apply(secret("rotating", key="v1"))
    sim.apply(
        pod(
            "watcher",
            'echo "start $(cat /s/key)"; '
            'while [ "$(cat /s/key)" != v2 ]; do sleep 0.05; done; echo "now $(cat /s/key)"',
            container={"volumeMounts": [{"name": "s", "mountPath": "/s"}]},
            volumes=[{"name": "s", "secret": {"secretName": "rotating"}}],
        )
    )
    wait_for(
        lambda: "start v1" in log(core, "watcher") if phase(sim, "watcher") == "Running" else False,
        what="watcher to start",
    )
    sim.apply(secret("rotating", key="v2"))
    p = finished(sim, "watcher", timeout=5)
    assert p["status"]["phase"] == "Succeeded"
    assert log(core, "watcher") == "start v1\nnow v2\n"


def test_read_only_mount_refuses_writes(sim: KubeSim, core: Any) -> None:
    sim.apply(
        pod(
            "ro",
            "echo data > /ro/f && echo wrote; echo ok > /rw/f && echo wrote rw",
            container={
                "volumeMounts": [
                    {"name": "v", "mountPath": "/ro", "readOnly": True},
                    {"name": "v", "mountPath": "/rw"},
                ]
            },
            volumes=[{"name": "v", "emptyDir": {}}],
        )
    )
    p = finished(sim, "ro")
    text = log(core, "ro")
    assert "Read-only file system" in text and "wrote rw" in text and "wrote\n" not in text
    assert p["status"]["phase"] == "Succeeded"  # the last command succeeded


# ------------------------------------------------------------------ env
def test_env_from_secret_and_pod_ip(sim: KubeSim, core: Any) -> None:
    sim.apply(secret("envsec", token="t0k3n"))
    sim.apply(
        pod(
            "envpod",
            'echo "$TOKEN $POD_IP $URL $HOSTNAME"; cat $KUBECONFIG | grep -c tokenFile',
            container={
                "env": [
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "envsec", "key": "token"}},
                    },
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "URL", "value": "http://$(POD_IP):8888/"},
                ]
            },
        )
    )
    p = finished(sim, "envpod")
    ip = p["status"]["podIP"]
    assert ip.startswith("127.")
    assert log(core, "envpod") == f"t0k3n {ip} http://{ip}:8888/ envpod\n1\n"


def test_missing_secret_key_waits_then_starts(sim: KubeSim) -> None:
    sim.apply(
        pod(
            "needs",
            "echo $V",
            container={
                "env": [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "later", "key": "v"}}}]
            },
        )
    )

    def waiting() -> dict | None:
        p = sim.lookup("pods", "default", "needs")
        st = ((p or {}).get("status", {}).get("containerStatuses") or [{}])[0]
        return st.get("state", {}).get("waiting")

    w = wait_for(
        lambda: (waiting() or {}).get("reason") == "CreateContainerConfigError" and waiting()
    )
    assert w["message"] == 'secret "later" not found'
    sim.apply(secret("later", v="here"))
    assert finished(sim, "needs")["status"]["phase"] == "Succeeded"


def test_kubeconfig_authenticates_as_the_service_account(sim: KubeSim, core: Any) -> None:
    script = (
        "from kubernetes import client, config\n"
        "config.load_kube_config()\n"
        "try:\n"
        "    client.CoreV1Api().list_namespaced_pod('default')\n"
        "except client.ApiException as e:\n"
        "    print(e.status, e.body)\n"
    )
    sim.apply(pod("incluster", "", container={"command": ["python", "-c", script]}))
    assert finished(sim, "incluster", timeout=90)["status"]["phase"] == "Succeeded"
    out = log(core, "incluster")
    assert out.startswith("403 ")
    assert 'User \\"system:serviceaccount:default:default\\" cannot list resource' in out


# ------------------------------------------------------------------ names
def test_client_reaches_server_by_hostname_subdomain(sim: KubeSim, core: Any) -> None:
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "grp"},
            "spec": {"clusterIP": "None", "selector": {"app": "srv"}, "ports": [{"port": 8080}]},
        }
    )
    server = (
        "import http.server, os\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers()\n"
        "        self.wfile.write(os.environ['HOSTNAME'].encode())\n"
        "http.server.HTTPServer((os.environ['POD_IP'], 8080), H).serve_forever()\n"
    )
    sim.apply(
        pod(
            "server",
            "",
            restart="Always",
            hostname="srv",
            subdomain="grp",
            meta={"labels": {"app": "srv"}},
            container={
                "command": ["python", "-c", server],
                "env": [
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                ],
            },
        )
    )
    client = (
        "import time, urllib.request\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://srv.grp:8080/', timeout=1).read()"
        ".decode()); break\n"
        "    except OSError: time.sleep(0.05)\n"
        "print(open('/etc/hosts').read().count('srv.grp.default.svc.cluster.local'))\n"
    )
    sim.apply(pod("client", "", container={"command": ["python", "-c", client]}))
    p = finished(sim, "client", timeout=10)
    assert p["status"]["phase"] == "Succeeded"
    assert log(core, "client") == "srv\n1\n"
    # Another pod may use the same port on its own IP.
    sim.apply(
        pod(
            "server2",
            "",
            meta={"labels": {"app": "other"}},
            container={
                "command": [
                    "python",
                    "-c",
                    "import socket, os; s = socket.socket(); "
                    "s.bind((os.environ['POD_IP'], 8080)); print('bound')",
                ],
                "env": [
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                ],
            },
        )
    )
    assert finished(sim, "server2")["status"]["phase"] == "Succeeded"


# ------------------------------------------------------------------ lifecycle
def test_exit_codes_and_phases(sim: KubeSim) -> None:
    sim.apply(pod("fails", "exit 3"))
    # Kubernetes expands $(VAR) in commands and reduces "$$" to "$": "$$$$" reaches sh as "$$".
    sim.apply(pod("killed", "kill -KILL $$$$"))
    sim.apply(pod("nocmd", "", container={"command": ["no-such-binary-xyz"]}))
    sim.apply(pod("ok", "true"))
    f, k, n, o = (finished(sim, x) for x in ("fails", "killed", "nocmd", "ok"))
    assert (f["status"]["phase"], state(f)["terminated"]["exitCode"]) == ("Failed", 3)
    assert state(f)["terminated"]["reason"] == "Error"
    assert state(k)["terminated"]["exitCode"] == 137
    t = state(n)["terminated"]
    assert (t["exitCode"], t["reason"]) == (128, "StartError")
    assert 'exec: "no-such-binary-xyz": executable file not found in $PATH' in t["message"]
    assert (o["status"]["phase"], state(o)["terminated"]["reason"]) == ("Succeeded", "Completed")


def test_on_failure_restarts_until_success(sim: KubeSim) -> None:
    sim.apply(
        pod(
            "flaky",
            "[ -f /scratch/once ] && exit 0; touch /scratch/once; exit 1",
            restart="OnFailure",
            container={"volumeMounts": [{"name": "s", "mountPath": "/scratch"}]},
            volumes=[{"name": "s", "emptyDir": {}}],
        )
    )
    p = finished(sim, "flaky")
    st = p["status"]["containerStatuses"][0]
    assert p["status"]["phase"] == "Succeeded"
    assert st["restartCount"] == 1
    assert st["lastState"]["terminated"]["exitCode"] == 1


def test_unbound_claim_keeps_pod_unscheduled_until_bound(sim: KubeSim) -> None:
    """As kube-scheduler's VolumeBinding plugin: a pod whose claim is not bound yet (here
    pre-bound to a PV that does not exist) is not scheduled, with the scheduler's own
    sentence, and is scheduled and run once the claim binds."""
    sim.apply(claim("late", "late-pv"))
    sim.apply(
        pod(
            "patient",
            "ls /d",
            container={"volumeMounts": [{"name": "d", "mountPath": "/d"}]},
            volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "late"}}],
        )
    )
    n = len(sim.call(lambda: list(sim.store.iter(sim.api.rt("", "nodes")))))
    expected = (
        f"0/{n} nodes are available: pod has unbound immediate PersistentVolumeClaims. "
        f"no new claims to deallocate, preemption: 0/{n} nodes are available: "
        f"{n} Preemption is not helpful for scheduling."
    )

    def scheduling_event() -> bool:
        evs = sim.call(lambda: list(sim.store.iter(sim.api.rt("", "events"), "default")))
        return any(
            e["reason"] == "FailedScheduling"
            and e["involvedObject"]["name"] == "patient"
            and e["message"] == expected
            for e in evs
        )

    wait_for(scheduling_event, what="FailedScheduling event")
    p = sim.lookup("pods", "default", "patient")
    assert p is not None and not p["spec"].get("nodeName")
    cond = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    sim.apply(nfs_pv("late-pv", "/exports/late"))
    assert finished(sim, "patient")["status"]["phase"] == "Succeeded"


def test_missing_claim_is_named_by_the_scheduler(sim: KubeSim) -> None:
    sim.apply(
        pod(
            "orphan",
            "true",
            volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "nowhere"}}],
        )
    )

    def message() -> str | None:
        p = sim.lookup("pods", "default", "orphan") or {}
        conds = (p.get("status") or {}).get("conditions") or []
        return next((c["message"] for c in conds if c["type"] == "PodScheduled"), None)

    assert 'persistentvolumeclaim "nowhere" not found.' in wait_for(message, what="condition")
    sim.apply(claim("nowhere", "nowhere-pv"))
    sim.apply(nfs_pv("nowhere-pv", "/exports/nowhere"))
    assert finished(sim, "orphan")["status"]["phase"] == "Succeeded"


def test_deleting_a_pod_kills_its_processes(sim: KubeSim, core: Any) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**8}"  # a unique sleep time marks the processes
    sim.apply(pod("doomed", f"sleep {marker}", restart="Always"))
    wait_for(lambda: phase(sim, "doomed") == "Running")
    pid = wait_for(
        lambda: [
            h.pid
            for r in sim.kubelet.pods.values()
            if r.name == "doomed"
            for c in r.containers.values()
            if (h := c.handle)
        ]
    )[0]
    os.kill(pid, 0)  # alive
    wait_for(lambda: procs_with(marker), what="the container's command running")
    core.delete_namespaced_pod("doomed", "default")
    wait_for(lambda: sim.lookup("pods", "default", "doomed") is None, what="pod deletion")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert procs_with(marker) == []


def test_stopping_kubesim_leaves_no_process() -> None:
    marker = f"1000.{uuid.uuid4().int % 10**8}"
    s = KubeSim(kubelet="process").start()
    try:
        # A grandchild in its own session would escape a process-group kill.
        s.apply(pod("bg", f"setsid sleep {marker} & sleep {marker}", restart="Always"))
        wait_for(lambda: phase(s, "bg") == "Running")
        wait_for(lambda: len(procs_with(marker)) >= 3, what="processes")
    finally:
        s.stop()
    wait_for(lambda: procs_with(marker) == [], timeout=3, what="no leftover process")


# ------------------------------------------------------------------ what a container sees
@pytest.mark.skipif(os.geteuid() != 0, reason="namespace isolation needs root")
def test_a_container_sees_its_pods_files_not_kubesims_data(
    sim: KubeSim, core: Any, tmp_path: Path
) -> None:
    """Under kubesim's data directory live every pod's volumes, secrets and tokens (as in a
    node's /var/lib/kubelet): a container sees only its own pod's directory there, and the
    paths kubesim was told to hide not at all; its own volumes are mounted as usual."""
    sim.apply(secret("others", token="not-for-you"))
    sim.apply(
        pod(
            "holder",
            "sleep 60",
            volumes=[{"name": "s", "secret": {"secretName": "others"}}],
            container={"volumeMounts": [{"name": "s", "mountPath": "/s"}]},
        )
    )
    wait_for(lambda: phase(sim, "holder") == "Running", what="holder running")
    holder_uid = sim.lookup("pods", "default", "holder")["metadata"]["uid"]
    on_host = [f for f in (sim.data_dir / "pods" / holder_uid).rglob("token") if f.is_file()]
    assert any(f.read_text() == "not-for-you" for f in on_host)  # there, on the host
    (tmp_path / "hub.sqlite").write_text("hub state")
    # As the demo hides its state directory, which holds kubesim's data directory.
    sim.hidden_paths = (tmp_path, sim.data_dir.resolve().parent)
    try:
        data = sim.data_dir.resolve()
        sim.apply(
            pod(
                "peek",
                f"ls {data}; echo --; ls {data}/pods; echo --; cat {on_host[0]}; "
                f"cat {tmp_path}/hub.sqlite; echo cwd=$(pwd); echo mine > own && cat own; "
                "cat /mine/token",
                volumes=[{"name": "m", "secret": {"secretName": "others"}}],
                container={"volumeMounts": [{"name": "m", "mountPath": "/mine"}]},
            )
        )
        p = finished(sim, "peek")
        text = log(core, "peek")
    finally:
        sim.hidden_paths = ()
    uid = p["metadata"]["uid"]
    listed_data, listed_pods, rest = text.split("--\n")
    assert listed_data.split() == ["pods"], text  # its own directory's path, nothing else
    assert listed_pods.split() == [uid], text
    assert "not-for-you" not in rest.split("cwd=")[0], text
    assert "hub state" not in text and "No such file or directory" in text, text
    assert f"cwd={data}/pods/{uid}\nmine\nnot-for-you" in text, text  # its own mounts work
    # A command exec'd in a container sees what the container sees.
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig", tls=True)
    command = ["sh", "-c", f"ls {data}/pods; cat /s/token"]
    out = subprocess.run(
        [kubectl_path(), "--kubeconfig", str(kubeconfig), "exec", "holder", "--", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [holder_uid, "not-for-you"], out.stdout
    sim.call(sim.api.delete, sim.registry.get("", "pods"), "default", "holder", grace=0)


@pytest.mark.skipif(os.geteuid() != 0, reason="namespace isolation needs root")
def test_mount_points_are_the_containers_own(sim: KubeSim, core: Any, tmp_path: Path) -> None:
    """A volume's mount point that does not exist is made in a layer of the container's
    own, not on the host: nothing is left behind and another container does not see it.
    The rest of the host's tree is the host's, live: a file the host writes later is seen,
    one the container writes reaches the host; a volume is shared as usual. A mount path
    under a symlink (/var/run -> /run on Debian) is followed inside the container."""
    top = f"/kubesim-test-{uuid.uuid4().hex[:8]}"
    volume = {
        "name": "v",
        "hostPath": {"path": str(tmp_path / "volume"), "type": "DirectoryOrCreate"},
    }
    gate = tmp_path / "gate"
    sim.apply(
        pod(
            "mounts-writer",
            f"echo from-writer > {top}/data/out; echo to-host > {tmp_path}/written; "
            f"echo own > {top}-file; ls -d {top}/data /var/run/kubesim-test/data; "
            f"while [ ! -e {gate} ]; do sleep 0.05; done; cat {top}-file; sleep 60",
            volumes=[volume],
            container={
                "volumeMounts": [
                    {"name": "v", "mountPath": f"{top}/data"},
                    {"name": "v", "mountPath": "/var/run/kubesim-test/data"},
                ]
            },
        )
    )
    wait_for(lambda: (tmp_path / "written").exists(), what="the writer's file on the host")
    gate.touch()  # seen by the container, which then goes on
    wait_for(lambda: "own" in log(core, "mounts-writer"), what="the writer's output")
    out = log(core, "mounts-writer").split()
    assert out == [f"{top}/data", "/var/run/kubesim-test/data", "own"], out
    assert not os.path.lexists(top) and not os.path.lexists(f"{top}-file")
    assert not os.path.lexists("/run/kubesim-test")
    sim.apply(
        pod(
            "mounts-reader",
            f"cat {top}-reader/out; ls -d {top} /run/kubesim-test",
            volumes=[volume],
            container={"volumeMounts": [{"name": "v", "mountPath": f"{top}-reader"}]},
        )
    )
    finished(sim, "mounts-reader")
    text = log(core, "mounts-reader")
    assert text.startswith("from-writer\n"), text  # the volume is shared, as on a node
    assert f"ls: cannot access '{top}': No such file or directory" in text, text
    assert "ls: cannot access '/run/kubesim-test'" in text, text
    sim.call(sim.api.delete, sim.registry.get("", "pods"), "default", "mounts-writer", grace=0)
