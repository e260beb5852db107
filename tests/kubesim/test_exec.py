"""``pods/exec`` (kubesim's process kubelet): the real kubectl and the Python client run
commands in a running container — output, exit code, stdin, terminal, the container's own
environment, mounts and namespaces — with the API's authorization (``get`` and, since
1.35, ``create`` for a WebSocket; ``create`` for SPDY, kubectl's fallback) and its errors.
Also: kubectl inside a pod reaches the API with in-cluster config.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import kubernetes
import pytest
import websocket
from kubernetes.stream import stream

from kubesim.kubelet.container import namespace_support
from kubesim.sim import KubeSim
from tests.kubesim.helpers import kubectl_path, wait_for

NS = "default"
ISOLATED = namespace_support() is not None and os.environ.get("KUBESIM_ISOLATION") != "none"
needs_namespaces = pytest.mark.skipif(not ISOLATED, reason="needs namespace isolation (root)")


class Env:
    def __init__(self, sim: KubeSim, tmp: Path) -> None:
        self.sim, self.tmp = sim, tmp
        self.mnt = tmp / "mnt"  # where box mounts its ConfigMap
        self.core = kubernetes.client.CoreV1Api(
            kubernetes.config.new_client_from_config(str(sim.write_kubeconfig(tmp / "admin")))
        )

    def kubectl(
        self, *args: str, sa: str | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess:
        token = self.sim.create_token(NS, sa) if sa else None
        kc = self.sim.write_kubeconfig(self.tmp / f"kc-{sa or 'admin'}", token=token, tls=True)
        env = {**os.environ, "KUBECONFIG": str(kc), "KUBECACHEDIR": str(self.tmp / "cache")}
        return subprocess.run(
            [kubectl_path(), *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def running(self, name: str) -> dict:
        def ready() -> dict | None:
            p = self.sim.lookup("pods", NS, name)
            sts = ((p or {}).get("status") or {}).get("containerStatuses") or []
            return p if sts and any("running" in s["state"] for s in sts) else None

        return wait_for(ready, 30, what=f"pod {name} running")


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    d = tmp_path_factory.mktemp("exec")
    with KubeSim(kubelet="process", data_dir=d / "sim") as sim:
        e = Env(sim, d)
        sim.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": NS},
                "data": {"greeting": "hello from the volume"},
            }
        )
        sim.apply(
            pod(
                "box",
                env=[{"name": "FOO", "value": "bar"}],
                workingDir=str(d),
                volumeMounts=[
                    {"name": "cfg", "mountPath": str(e.mnt)},
                    {"name": "scratch", "mountPath": str(d / "scratch")},
                ],
                volumes=[
                    {"name": "cfg", "configMap": {"name": "cfg"}},
                    {"name": "scratch", "emptyDir": {}},
                ],
            )
        )
        for sa, verbs in (
            ("getter", ["get"]),
            ("creator", ["create"]),
            ("both", ["get", "create"]),
        ):
            grant(sim, sa, verbs)
        e.running("box")
        yield e


def pod(name: str, command: list[str] | None = None, **container: Any) -> dict:
    volumes = container.pop("volumes", [])
    c = {"name": "main", "image": "busybox", "command": command or ["sleep", "3600"], **container}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [c], "volumes": volumes, "restartPolicy": "Never"},
    }


def grant(sim: KubeSim, sa: str, exec_verbs: list[str]) -> None:
    """ServiceAccount ``sa`` may get pods and do ``exec_verbs`` on pods/exec."""
    rbac = "rbac.authorization.k8s.io"
    sim.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}})
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    if exec_verbs:
        rules.append({"apiGroups": [""], "resources": ["pods/exec"], "verbs": exec_verbs})
    sim.apply(
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": {"name": sa}, "rules": rules}
    )
    sim.apply(
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": sa},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": NS}],
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": sa},
        }
    )


def exec_path(name: str, *command: str, **flags: str) -> str:
    q = urlencode([("command", c) for c in command] + list(flags.items()))
    return f"/api/v1/namespaces/{NS}/pods/{name}/exec?{q}"


def raw(sim: KubeSim, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """One HTTP request (as the admin unless ``headers`` say otherwise); (status, body)."""
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=30)
    try:
        conn.request(
            method, path, headers={"Authorization": f"Bearer {sim.auth.admin_token}", **headers}
        )
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


WS = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
WS_KEY = {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


# ------------------------------------------------------------------ kubectl exec
def test_kubectl_exec_output_stderr_and_exit_code(k: Env) -> None:
    r = k.kubectl("exec", "box", "--", "sh", "-c", "echo out $FOO; echo err >&2; exit 3")
    assert (r.returncode, r.stdout) == (3, "out bar\n")
    assert r.stderr == "err\ncommand terminated with exit code 3\n"
    ok = k.kubectl("exec", "box", "--", "true")
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")


def test_kubectl_exec_stdin(k: Env) -> None:
    data = "".join(f"line {i}\n" for i in range(5000))  # more than one frame
    r = k.kubectl("exec", "-i", "box", "--", "wc", "-l", input=data)
    assert (r.returncode, r.stdout) == (0, "5000\n"), r.stderr
    echoed = k.kubectl("exec", "-i", "box", "--", "cat", input=data)
    assert echoed.stdout == data


def test_exec_runs_in_the_containers_context(k: Env) -> None:
    r = k.kubectl("exec", "box", "--", "sh", "-c", "pwd; echo $FOO $KUBERNETES_SERVICE_HOST")
    assert r.stdout.splitlines() == [str(k.tmp), f"bar {k.sim.host}"], r.stderr


@needs_namespaces
def test_exec_sees_the_containers_mounts_hostname_and_processes(k: Env) -> None:
    script = (
        f"cat {k.mnt}/greeting; echo; hostname; cat /etc/hostname; tr '\\0' ' ' </proc/1/cmdline"
    )
    r = k.kubectl("exec", "box", "--", "sh", "-c", script)
    lines = r.stdout.splitlines()
    assert lines[:3] == ["hello from the volume", "box", "box"], r.stderr
    assert "podinit.py" in lines[3]  # PID 1 of the container's PID namespace
    ro = k.kubectl("exec", "box", "--", "sh", "-c", f"touch {k.mnt}/x")
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr


@needs_namespaces
def test_kubectl_cp_both_ways(k: Env) -> None:
    """``kubectl cp`` is ``tar`` through exec, in the container's mounts."""
    local = k.tmp / "local.txt"
    local.write_text("copied!\n")
    inside = f"{k.tmp}/scratch/f.txt"
    up = k.kubectl("cp", str(local), f"box:{inside}")
    assert up.returncode == 0, up.stderr
    assert not Path(inside).exists()  # in the pod's emptyDir, not at that host path
    assert k.kubectl("exec", "box", "--", "cat", inside).stdout == "copied!\n"
    down = k.kubectl("cp", f"box:{inside}", str(k.tmp / "back.txt"))
    assert down.returncode == 0, down.stderr
    assert (k.tmp / "back.txt").read_text() == "copied!\n"


def test_a_command_that_cannot_start(k: Env) -> None:
    r = k.kubectl("exec", "box", "--", "no-such-command", "arg")
    assert r.returncode == 1
    assert r.stderr.startswith(
        "error: Internal error occurred: Internal error occurred: error executing command in "
        'container: failed to exec in container: failed to start exec "'
    )
    assert r.stderr.endswith(
        "OCI runtime exec failed: exec failed: unable to start container process: exec: "
        '"no-such-command": executable file not found in $PATH: unknown\n'
    )
    r = k.kubectl("exec", "box", "--", "/no/such/file")
    assert 'exec: "/no/such/file": stat /no/such/file: no such file or directory' in r.stderr


# ------------------------------------------------------------------ authorization
def test_websocket_needs_get_and_create_spdy_needs_create(k: Env) -> None:
    exec_requests = lambda verb: k.sim.counters.total(verb, "pods/exec", NS)  # noqa: E731
    before = {v: exec_requests(v) for v in ("get", "create")}
    both = k.kubectl("exec", "box", "--", "echo", "hi", sa="both")
    assert both.stdout == "hi\n", both.stderr
    assert exec_requests("get") == before["get"] + 1  # the WebSocket, allowed
    assert exec_requests("create") == before["create"]

    # create only: the WebSocket GET is refused (no get), kubectl falls back to SPDY (POST)
    creator = k.kubectl(
        "exec", "-i", "box", "--", "sh", "-c", "cat; exit 5", sa="creator", input="x\n"
    )
    assert (creator.returncode, creator.stdout) == (5, "x\n"), creator.stderr
    assert creator.stderr == "command terminated with exit code 5\n"
    assert exec_requests("get") == before["get"] + 2
    assert exec_requests("create") == before["create"] + 1


def test_get_without_create_is_forbidden(k: Env) -> None:
    r = k.kubectl("exec", "box", "--", "true", sa="getter")
    assert r.returncode == 1
    assert r.stderr == (
        'error: unable to upgrade connection: pods "box" is forbidden: User '
        '"system:serviceaccount:default:getter" cannot create resource "pods/exec" in API '
        'group "" in the namespace "default"\n'
    )


def test_websocket_upgrade_checks_create_too(k: Env) -> None:
    token = k.sim.create_token(NS, "getter")  # may get pods/exec, not create it
    path = exec_path("box", "true", stdout="true")
    status, body = raw(k.sim, "GET", path, {**WS, **WS_KEY, "Authorization": f"Bearer {token}"})
    assert status == 403
    assert json.loads(body)["message"] == (
        'pods "box" is forbidden: User "system:serviceaccount:default:getter" cannot create '
        'resource "pods/exec" in API group "" in the namespace "default"'
    )


# ------------------------------------------------------------------ refusals
def test_unknown_container_and_missing_pod(k: Env) -> None:
    status, body = raw(k.sim, "GET", exec_path("box", "true", container="nope", stdout="1"), WS)
    assert (status, json.loads(body)["message"]) == (400, "container nope is not valid for pod box")
    status, body = raw(k.sim, "POST", exec_path("ghost", "true", stdout="1"), {})
    assert (status, json.loads(body)["message"]) == (404, 'pods "ghost" not found')
    status, body = raw(k.sim, "POST", exec_path("box", "true", stdout="1"), {})
    assert (status, json.loads(body)["message"]) == (400, "Upgrade request required")


def test_spdy_protocol_negotiation(k: Env) -> None:
    spdy = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}
    path = exec_path("box", "true", stdout="1")
    status, body = raw(k.sim, "POST", path, {**spdy, "X-Stream-Protocol-Version": "v9.x"})
    assert (status, body) == (
        403,
        "unable to upgrade: unable to negotiate protocol: client supports [v9.x], server "
        "accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n",
    )


def test_exec_into_a_container_that_is_not_running(k: Env) -> None:
    two = pod("two", ["sleep", "3600"])
    two["spec"]["containers"].append({"name": "done", "image": "busybox", "command": ["true"]})
    k.sim.apply(two)
    wait_for(
        lambda: any(
            "terminated" in s["state"]
            for s in (k.sim.lookup("pods", NS, "two") or {})
            .get("status", {})
            .get("containerStatuses", [])
            if s["name"] == "done"
        ),
        30,
        what="container done terminated",
    )
    status, body = raw(k.sim, "GET", exec_path("two", "true", stdout="1"), WS)
    assert (status, json.loads(body)["message"]) == (
        400,
        "a container name must be specified for pod two, choose one of: [main done]",
    )
    r = k.kubectl("exec", "two", "-c", "done", "--", "true")
    assert r.returncode == 1
    assert r.stderr == (
        "error: Internal error occurred: unable to upgrade connection: "
        'container not found ("done")\n'
    )
    # through to the kubelet (v4): its plain-text refusal before any upgrade
    ws = websocket.WebSocket()
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        ws.connect(
            f"ws://{k.sim.host}:{k.sim.port}"
            + exec_path("two", "true", container="done", stdout="1"),
            header=[f"Authorization: Bearer {k.sim.auth.admin_token}"],
            subprotocols=["v4.channel.k8s.io"],
        )
    assert err.value.status_code == 500
    assert err.value.resp_body == b'container not found ("done")'


def test_a_pod_without_a_node(k: Env) -> None:
    p = pod("nowhere")
    p["spec"]["nodeSelector"] = {"no": "such-node"}
    k.sim.apply(p)
    status, body = raw(k.sim, "GET", exec_path("nowhere", "true", stdout="1"), WS)
    assert (status, json.loads(body)["message"]) == (
        400,
        "pod nowhere does not have a host assigned",
    )


# ------------------------------------------------------------------ python client
def test_python_client_stream_v5_stdin_close_and_exit_code(k: Env) -> None:
    resp = stream(
        k.core.connect_get_namespaced_pod_exec,
        "box",
        NS,
        command=["sh", "-c", "cat; echo done >&2; exit 7"],
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    assert resp.subprotocol == "v5.channel.k8s.io"
    resp.write_stdin("piped\n")
    resp.close_channel(0)  # v5: end of stdin
    resp.run_forever(timeout=30)
    assert resp.read_stdout() == "piped\n"
    assert resp.read_stderr() == "done\n"
    assert resp.returncode == 7
    resp.close()


def v4_exec(k: Env, *command: str, protocol: str = "v4.channel.k8s.io") -> list[bytes]:
    ws = websocket.create_connection(
        f"ws://{k.sim.host}:{k.sim.port}" + exec_path("box", *command, stdout="1", stderr="1"),
        header=[f"Authorization: Bearer {k.sim.auth.admin_token}"],
        subprotocols=[protocol],
    )
    assert ws.subprotocol == protocol
    frames = []
    while True:
        try:
            op, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        frames.append(data)
    return frames


def test_v4_websocket_statuses_are_the_runtimes(k: Env) -> None:
    frames = v4_exec(k, "sh", "-c", "echo hi; exit 3")
    assert frames[0] == b"\x01"  # streams ready
    assert b"\x01hi\n" in frames
    status = json.loads(frames[-1][1:])
    assert frames[-1][0] == 3
    assert status == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        "[sh -c echo hi; exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    ok = v4_exec(k, "true")
    assert json.loads(ok[-1][1:]) == {"metadata": {}, "status": "Success"}
    b64 = v4_exec(k, "echo", "x", protocol="v4.base64.channel.k8s.io")
    assert b"1eAo=" in b64  # "1" + base64("x\n") in a text frame


def test_tty(k: Env) -> None:
    resp = stream(
        k.core.connect_get_namespaced_pod_exec,
        "box",
        NS,
        command=["sh", "-c", "tty; echo to-stderr >&2"],
        stdin=False,
        stdout=True,
        stderr=True,
        tty=True,
        _preload_content=False,
    )
    resp.run_forever(timeout=30)
    out = resp.read_stdout()
    assert out.startswith("/dev/pts/"), out
    assert "to-stderr" in out  # one terminal: stderr goes there too
    assert resp.returncode == 0


# ------------------------------------------------------------------ instant kubelet
def test_instant_containers_have_nothing_to_execute(kubesim: KubeSim) -> None:
    kubesim.apply(pod("inst"))
    wait_for(
        lambda: (
            (kubesim.lookup("pods", NS, "inst") or {}).get("status", {}).get("phase") == "Running"
        )
    )
    core = kubernetes.client.CoreV1Api(
        kubernetes.config.new_client_from_config(str(kubesim.kubeconfig))
    )
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "inst",
        NS,
        command=["ls"],
        stdout=True,
        stderr=True,
        _preload_content=False,
    )
    resp.run_forever(timeout=30)
    status = json.loads(resp.read_channel(3))
    assert status["reason"] == "InternalError"
    assert status["message"].endswith('exec: "ls": executable file not found in $PATH: unknown')


# ------------------------------------------------------------------ API access from pods
@needs_namespaces
def test_in_cluster_config_from_a_pod(k: Env) -> None:
    """kubectl and the Python client in a pod, without a kubeconfig: https to
    KUBERNETES_SERVICE_HOST/PORT with the mounted token and ca.crt, as on a cluster."""
    grant(k.sim, "reader", [])
    script = textwrap.dedent(
        """
        from kubernetes import client, config
        config.load_incluster_config()
        me = client.CoreV1Api().read_namespaced_pod("incluster", "default")
        print("python sees", me.metadata.name)
        """
    )
    cmd = f"kubectl get pod incluster -o name; {sys.executable} -c '{script}'"
    p = pod(
        "incluster",
        ["sh", "-c", cmd],
        env=[{"name": "KUBECONFIG", "value": ""}, {"name": "HOME", "value": str(k.tmp / "home")}],
    )
    p["spec"]["serviceAccountName"] = "reader"
    k.sim.apply(p)
    wait_for(
        lambda: (
            (k.sim.lookup("pods", NS, "incluster") or {}).get("status", {}).get("phase")
            in ("Succeeded", "Failed")
        ),
        60,
        what="pod incluster finished",
    )
    log = k.core.read_namespaced_pod_log("incluster", NS)
    assert log == "pod/incluster\npython sees incluster\n", log
