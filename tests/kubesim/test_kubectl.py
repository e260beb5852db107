"""The real kubectl, unchanged, against kubesim: ``get`` (``-w`` too), ``describe``,
``apply``, ``diff``, ``create``, ``delete``, ``logs``, ``auth``, ``wait`` and ``version``
print what they print against a real cluster (tables, messages, exit codes).

One kubesim (instant kubelet) serves the whole module; each test works in a namespace of
its own, so the tests do not depend on each other.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.sim import KubeSim
from tests.kubesim.helpers import kubectl_path, wait_for


class Kubectl:
    """Runs kubectl with a kubeconfig for kubesim's https endpoint."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.exe = kubectl_path()
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(cache)}

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.exe, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.exe, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def many(self, *commands: tuple[str, ...]) -> list[str]:
        """The stdout of several read-only commands, run side by side (keeps this fast)."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return [p.stdout for p in pool.map(lambda c: self(*c), commands)]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    d = tmp_path_factory.mktemp("kubectl")
    s = KubeSim(kubelet="instant", data_dir=d / "kubesim").start()
    s.kubectl_config = s.write_kubeconfig(d / "kubeconfig", tls=True)  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def kubectl(sim: KubeSim, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(sim.kubectl_config, tmp_path_factory.mktemp("kubectl-cache"))  # type: ignore[attr-defined]


# ------------------------------------------------------------------- helpers
def header(text: str) -> list[str]:
    """The column names of kubectl's table output (names may contain one space)."""
    return re.findall(r"\S+(?: \S+)*", text.splitlines()[0])


def rows(text: str) -> list[dict[str, str]]:
    """kubectl's table output as dicts: each cell starts under its column's name."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    spans = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    out = []
    for ln in lines[1:]:
        row = {}
        for i, (start, name) in enumerate(spans):
            end = spans[i + 1][0] if i + 1 < len(spans) else None
            row[name] = ln[start:end].strip()
        out.append(row)
    return out


def by_name(text: str, column: str = "NAME") -> dict[str, dict[str, str]]:
    return {r[column]: r for r in rows(text)}


def namespace(sim: KubeSim, name: str) -> str:
    sim.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_for(lambda: sim.lookup("serviceaccounts", name, "default"), what=f"{name}'s default SA")
    return name


def pod(name: str, ns: str, *, labels: dict | None = None, **annotations: str) -> dict:
    """A pod of one ``main`` container; ``annotations`` script the instant kubelet."""
    ann = {f"kubesim.io/{k.replace('_', '-')}": v for k, v in annotations.items()}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}, "annotations": ann},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11"}],
        },
    }


def phase(sim: KubeSim, ns: str, name: str) -> str:
    p = sim.lookup("pods", ns, name)
    return ((p or {}).get("status") or {}).get("phase", "")


def running(sim: KubeSim, ns: str, *names: str) -> None:
    for n in names:
        wait_for(lambda n=n: phase(sim, ns, n) == "Running", what=f"pod {ns}/{n} running")


AGE = re.compile(r"\d+s|\d+m(\d+s)?")


# -------------------------------------------------------------- get (tables)
@pytest.fixture(scope="module")
def tables_ns(sim: KubeSim) -> str:
    """A namespace holding one object of each kind the table tests print."""
    ns = namespace(sim, "tables")
    sim.apply(pod("web", ns, labels={"app": "web", "tier": "front"}))
    sim.apply(pod("db", ns, labels={"app": "db"}))
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns},
            "data": {"a": "1", "b": "2"},
        }
    )
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": ns},
            "stringData": {"token": "t0ken"},
        }
    )
    sim.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "reader", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        }
    )
    sim.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "default", "namespace": ns},
                {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
            ],
        }
    )
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": ns},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
    )
    running(sim, ns, "web", "db")
    wait_for(
        lambda: (
            (sim.lookup("persistentvolumeclaims", ns, "data") or {}).get("status", {}).get("phase")
            == "Bound"
        ),
        what="pvc bound",
    )
    return ns


def test_version_reports_the_server(kubectl: Kubectl) -> None:
    server = kubectl.json("version")["serverVersion"]
    assert (server["major"], server["minor"]) == ("1", "37")
    assert server["gitVersion"].startswith("v1.37.")


def test_get_pods_default_and_wide_columns(sim: KubeSim, kubectl: Kubectl, tables_ns: str) -> None:
    out, wide = kubectl.many(
        ("get", "pods", "-n", tables_ns), ("get", "pods", "-n", tables_ns, "-o", "wide")
    )
    assert header(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    web = by_name(out)["web"]
    assert (web["READY"], web["STATUS"], web["RESTARTS"]) == ("1/1", "Running", "0")
    assert AGE.fullmatch(web["AGE"])
    assert header(wide) == [
        *["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        *["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
    ]
    obj = sim.lookup("pods", tables_ns, "web")
    assert obj is not None
    row = by_name(wide)["web"]
    assert row["IP"] == obj["status"]["podIP"]
    assert row["NODE"] == obj["spec"]["nodeName"]
    assert (row["NOMINATED NODE"], row["READINESS GATES"]) == ("<none>", "<none>")


def test_get_pods_status_column_shows_why(sim: KubeSim, kubectl: Kubectl) -> None:
    """STATUS is the printer's reason, not the phase: Completed, Error, ContainerCreating."""
    ns = namespace(sim, "statuses")
    sim.apply(pod("done", ns, exit_code="0"))
    sim.apply(pod("failed", ns, exit_code="2"))
    pending = pod("stuck", ns)
    pending["spec"]["nodeSelector"] = {"no-such": "node"}
    sim.apply(pending)
    wait_for(lambda: phase(sim, ns, "done") == "Succeeded", what="pod done")
    wait_for(lambda: phase(sim, ns, "failed") == "Failed", what="pod failed")
    got = by_name(kubectl("get", "pods", "-n", ns, "-o", "wide").stdout)
    assert (got["done"]["READY"], got["done"]["STATUS"]) == ("0/1", "Completed")
    assert (got["failed"]["READY"], got["failed"]["STATUS"]) == ("0/1", "Error")
    assert (got["stuck"]["STATUS"], got["stuck"]["NODE"], got["stuck"]["IP"]) == (
        "Pending",
        "<none>",
        "<none>",
    )


def test_get_nodes_and_namespaces(sim: KubeSim, kubectl: Kubectl, tables_ns: str) -> None:
    out, wide, namespaces = kubectl.many(
        ("get", "nodes"), ("get", "nodes", "-o", "wide"), ("get", "namespaces")
    )
    assert header(out) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert {n: (r["STATUS"], r["ROLES"], r["VERSION"]) for n, r in by_name(out).items()} == {
        "kubesim-node-1": ("Ready", "<none>", "v1.37.0"),
        "kubesim-node-2": ("Ready", "<none>", "v1.37.0"),
    }
    assert header(wide)[5:] == [
        *["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    ]
    node = sim.lookup("nodes", "", "kubesim-node-1")
    assert node is not None
    internal = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    row = by_name(wide)["kubesim-node-1"]
    assert (row["INTERNAL-IP"], row["EXTERNAL-IP"]) == (internal, "<none>")
    assert row["OS-IMAGE"] == node["status"]["nodeInfo"]["osImage"]

    assert header(namespaces) == ["NAME", "STATUS", "AGE"]
    got = by_name(namespaces)
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease", tables_ns):
        assert got[ns]["STATUS"] == "Active"


def test_get_services_including_the_api_service(
    sim: KubeSim, kubectl: Kubectl, tables_ns: str
) -> None:
    out, default, everything = kubectl.many(
        ("get", "services", "-n", tables_ns, "-o", "wide"),
        ("get", "svc", "-n", "default"),
        ("get", "all", "-n", "default"),
    )
    assert header(out) == [
        *["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    ]
    svc = sim.lookup("services", tables_ns, "web")
    assert svc is not None
    web = by_name(out)["web"]
    assert (web["TYPE"], web["CLUSTER-IP"], web["EXTERNAL-IP"]) == (
        "ClusterIP",
        svc["spec"]["clusterIP"],
        "<none>",
    )
    assert (web["PORT(S)"], web["SELECTOR"]) == ("80/TCP", "app=web")
    # Every cluster has service/kubernetes in default; `get all` lists it.
    api = by_name(default)["kubernetes"]
    assert (api["TYPE"], api["CLUSTER-IP"], api["PORT(S)"]) == ("ClusterIP", "10.96.0.1", "443/TCP")
    assert "service/kubernetes" in by_name(everything)


def test_get_volumes(kubectl: Kubectl, tables_ns: str) -> None:
    out, pvs = kubectl.many(("get", "pvc", "-n", tables_ns), ("get", "pv"))
    assert header(out) == [
        *["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS"],
        *["VOLUMEATTRIBUTESCLASS", "AGE"],
    ]
    pvc = by_name(out)["data"]
    assert pvc["VOLUME"].startswith("pvc-")
    assert (pvc["STATUS"], pvc["CAPACITY"], pvc["ACCESS MODES"], pvc["STORAGECLASS"]) == (
        "Bound",
        "1Gi",
        "RWO",
        "standard",
    )
    assert pvc["VOLUMEATTRIBUTESCLASS"] == "<unset>"
    assert header(pvs) == [
        *["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM"],
        *["STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"],
    ]
    pv = by_name(pvs)[pvc["VOLUME"]]
    assert (pv["CLAIM"], pv["STATUS"], pv["RECLAIM POLICY"], pv["CAPACITY"]) == (
        f"{tables_ns}/data",
        "Bound",
        "Delete",
        "1Gi",
    )


def test_get_jobs(sim: KubeSim, kubectl: Kubectl) -> None:
    ns = namespace(sim, "jobs")
    job = sim.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "train", "namespace": ns},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "trainer", "image": "python:3.11"}],
                    }
                }
            },
        }
    )
    out = kubectl("get", "jobs", "-n", ns, "-o", "wide").stdout
    assert header(out) == [
        *["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        *["CONTAINERS", "IMAGES", "SELECTOR"],
    ]
    row = by_name(out)["train"]
    assert (row["COMPLETIONS"], row["CONTAINERS"], row["IMAGES"]) == (
        "0/1",
        "trainer",
        "python:3.11",
    )
    assert row["SELECTOR"] == f"batch.kubernetes.io/controller-uid={job['metadata']['uid']}"


def test_get_events_oldest_first(sim: KubeSim, kubectl: Kubectl, tables_ns: str) -> None:
    out, wide = kubectl.many(
        ("get", "events", "-n", tables_ns), ("get", "events", "-n", tables_ns, "-o", "wide")
    )
    assert header(out) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    web = [r for r in rows(out) if r["OBJECT"] == "pod/web"]
    assert [r["REASON"] for r in web] == ["Scheduled", "Pulled", "Created", "Started"]
    node = sim.lookup("pods", tables_ns, "web")["spec"]["nodeName"]  # type: ignore[index]
    assert web[0]["MESSAGE"] == f"Successfully assigned {tables_ns}/web to {node}"
    assert header(wide) == [
        *["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE"],
        *["FIRST SEEN", "COUNT", "NAME"],
    ]
    pulled = next(r for r in rows(wide) if r["OBJECT"] == "pod/web" and r["REASON"] == "Pulled")
    assert (pulled["SUBOBJECT"], pulled["SOURCE"], pulled["COUNT"]) == (
        "spec.containers{main}",
        f"kubelet, {node}",
        "1",
    )
    assert pulled["NAME"].startswith("web.")


def test_get_config_and_rbac_objects(kubectl: Kubectl, tables_ns: str) -> None:
    secrets, cms, sas, roles, role, bindings, classes = kubectl.many(
        ("get", "secrets", "-n", tables_ns),
        ("get", "configmaps", "-n", tables_ns),
        ("get", "serviceaccounts", "-n", tables_ns),
        ("get", "roles", "-n", tables_ns),
        ("get", "role", "reader", "-n", tables_ns, "-o", "json"),
        ("get", "rolebindings", "-n", tables_ns, "-o", "wide"),
        ("get", "storageclasses"),
    )
    assert header(secrets) == ["NAME", "TYPE", "DATA", "AGE"]
    assert (by_name(secrets)["creds"]["TYPE"], by_name(secrets)["creds"]["DATA"]) == ("Opaque", "1")
    assert header(cms) == ["NAME", "DATA", "AGE"]
    assert (by_name(cms)["settings"]["DATA"], by_name(cms)["kube-root-ca.crt"]["DATA"]) == (
        "2",
        "1",
    )
    assert header(sas) == ["NAME", "SECRETS", "AGE"]
    assert by_name(sas)["default"]["SECRETS"] == "0"
    # Roles have no printer: the generic table with the creation time.
    assert header(roles) == ["NAME", "CREATED AT"]
    created = json.loads(role)["metadata"]["creationTimestamp"]
    assert by_name(roles)["reader"]["CREATED AT"] == created
    assert header(bindings) == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    rb = by_name(bindings)["reader"]
    assert (rb["ROLE"], rb["USERS"], rb["GROUPS"], rb["SERVICEACCOUNTS"]) == (
        "Role/reader",
        "alice",
        "",
        f"{tables_ns}/default",
    )
    sc = by_name(classes)["standard (default)"]
    assert (sc["RECLAIMPOLICY"], sc["VOLUMEBINDINGMODE"], sc["ALLOWVOLUMEEXPANSION"]) == (
        "Delete",
        "Immediate",
        "false",
    )


def test_get_output_formats(kubectl: Kubectl, tables_ns: str) -> None:
    path = "{.status.podIP} {.spec.containers[0].image}"
    columns = "custom-columns=POD:.metadata.name,APP:.metadata.labels.app"
    as_json, as_yaml, jsonpath, names, custom, labels, label_column = kubectl.many(
        ("get", "pod", "web", "-n", tables_ns, "-o", "json"),
        ("get", "pods", "-n", tables_ns, "-o", "yaml"),
        ("get", "pod", "web", "-n", tables_ns, "-o", f"jsonpath={path}"),
        ("get", "pods", "-n", tables_ns, "-o", "name"),
        ("get", "pods", "-n", tables_ns, "-o", columns),
        ("get", "pods", "-n", tables_ns, "--show-labels"),
        ("get", "pods", "-n", tables_ns, "-L", "tier"),
    )
    obj = json.loads(as_json)
    assert (obj["kind"], obj["metadata"]["name"]) == ("Pod", "web")
    listed = yaml.safe_load(as_yaml)
    assert listed["kind"] == "List"
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["db", "web"]
    assert jsonpath == f"{obj['status']['podIP']} python:3.11"
    assert names.split() == ["pod/db", "pod/web"]
    assert by_name(custom, "POD")["web"]["APP"] == "web"
    assert by_name(labels)["web"]["LABELS"] == "app=web,tier=front"
    assert {n: r["TIER"] for n, r in by_name(label_column).items()} == {"db": "", "web": "front"}


def test_get_with_selectors(kubectl: Kubectl, tables_ns: str) -> None:
    selections = {
        ("-l", "app=web"): ["web"],
        ("-l", "tier in (front,back)"): ["web"],
        ("-l", "app!=web"): ["db"],
        ("-l", "!tier"): ["db"],
        ("--field-selector", "metadata.name=db"): ["db"],
        ("--field-selector", "status.phase=Running,metadata.name!=db"): ["web"],
    }
    outs = kubectl.many(*(("get", "pods", "-n", tables_ns, *args) for args in selections))
    assert [sorted(by_name(out)) for out in outs] == list(selections.values())
    none = kubectl("get", "pods", "-n", tables_ns, "-l", "app=nothing")
    assert (none.stdout, none.stderr) == ("", f"No resources found in {tables_ns} namespace.\n")
    bad = kubectl("get", "pods", "-n", tables_ns, "--field-selector", "spec.foo=bar", check=False)
    assert bad.returncode == 1
    assert bad.stderr == (
        'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
        'selector "", field selector "spec.foo=bar": field label not supported: spec.foo\n'
    )


def test_get_across_namespaces_and_get_all(kubectl: Kubectl, tables_ns: str) -> None:
    out, everything, across = kubectl.many(
        ("get", "pods", "-A"), ("get", "all", "-n", tables_ns), ("get", "all", "-A")
    )
    assert header(out) == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert {(r["NAMESPACE"], r["NAME"]) for r in rows(out)} >= {
        (tables_ns, "web"),
        (tables_ns, "db"),
    }
    # One table per kind, separated by blank lines.
    blocks = [b for b in everything.split("\n\n") if b.strip()]
    assert header(blocks[0])[:2] == ["NAME", "READY"]
    assert set(by_name(blocks[0])) == {"pod/db", "pod/web"}
    assert header(blocks[1])[:3] == ["NAME", "TYPE", "CLUSTER-IP"]
    assert set(by_name(blocks[1])) == {"service/web"}
    assert header(across)[0] == "NAMESPACE"
    assert "service/kubernetes" in across and "pod/web" in across


def test_get_watch_receives_later_changes(sim: KubeSim, kubectl: Kubectl) -> None:
    ns = namespace(sim, "watching")
    sim.apply(pod("watched", ns))
    running(sim, ns, "watched")
    proc = kubectl.popen(
        "get", "pods", "-n", ns, "-w", "--output-watch-events", "--request-timeout=20s"
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def next_line() -> list[str]:
        return re.findall(r"\S+(?: \S+)*", lines.get(timeout=15))

    try:
        assert next_line() == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        first = next_line()
        assert first[:5] == ["ADDED", "watched", "1/1", "Running", "0"]
        kubectl("label", "pod", "watched", "-n", ns, "stage=two")
        assert next_line()[:4] == ["MODIFIED", "watched", "1/1", "Running"]
        kubectl("delete", "pod", "watched", "-n", ns, "--wait=false")
        seen = []
        while not seen or seen[-1][0] != "DELETED":
            seen.append(next_line())
        assert ["MODIFIED", "watched", "Terminating"] in [[s[0], s[1], s[3]] for s in seen]
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ describe
def test_describe_pod_node_namespace_and_pvc(
    sim: KubeSim, kubectl: Kubectl, tables_ns: str
) -> None:
    out, node, ns, pvc = kubectl.many(
        ("describe", "pod", "web", "-n", tables_ns),
        ("describe", "node", "kubesim-node-1"),
        ("describe", "namespace", tables_ns),
        ("describe", "pvc", "data", "-n", tables_ns),
    )
    obj = sim.lookup("pods", tables_ns, "web")
    assert obj is not None
    for field, value in (
        ("Name", "web"),
        ("Namespace", tables_ns),
        ("Service Account", "default"),
        ("Node", f"{obj['spec']['nodeName']}/{obj['status']['hostIP']}"),
        ("Status", "Running"),
        ("IP", obj["status"]["podIP"]),
        ("QoS Class", "BestEffort"),
    ):
        assert re.search(rf"^{field}:\s+{re.escape(value)}$", out, re.M), field
    assert re.search(r"^    State:\s+Running$", out, re.M)
    assert re.search(r"^    Ready:\s+True$", out, re.M)
    assert re.search(r"^    Restart Count:\s+0$", out, re.M)
    events = out.split("Events:", 1)[1]
    table = rows("\n".join(ln.strip() for ln in events.splitlines() if ln.strip()))
    assert [(r["Reason"], r["From"]) for r in table if not r["Type"].startswith("-")] == [
        ("Scheduled", "default-scheduler"),
        ("Pulled", "kubelet"),
        ("Created", "kubelet"),
        ("Started", "kubelet"),
    ]

    assert re.search(r"^Name:\s+kubesim-node-1$", node, re.M)
    assert re.search(r"^  HolderIdentity:\s+kubesim-node-1$", node, re.M)  # its Lease
    assert re.search(r"^  Ready\s+True\s", node, re.M)
    assert re.search(r"^  Kubelet Version:\s+v1\.37\.0$", node, re.M)
    assert "Non-terminated Pods:" in node

    assert re.search(r"^Status:\s+Active$", ns, re.M)
    assert "No resource quota." in ns and "No LimitRange resource." in ns

    for field, value in (
        ("Status", "Bound"),
        ("StorageClass", "standard"),
        ("Capacity", "1Gi"),
        ("Access Modes", "RWO"),
        ("VolumeMode", "Filesystem"),
    ):
        assert re.search(rf"^{field}:\s+{value}$", pvc, re.M), field
    assert "ProvisioningSucceeded" in pvc


def test_describe_namespace_with_quota(sim: KubeSim, kubectl: Kubectl) -> None:
    ns = namespace(sim, "quoted")
    sim.apply(pod("one", ns))
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "pods", "namespace": ns},
            "spec": {"hard": {"pods": "10"}},
        }
    )
    wait_for(
        lambda: (sim.lookup("resourcequotas", ns, "pods") or {}).get("status", {}).get("used"),
        what="quota status",
    )
    out = kubectl("describe", "namespace", ns).stdout
    assert re.search(r"^  Name:\s+pods$", out, re.M)
    assert re.search(r"^  pods\s+1\s+10$", out, re.M)


# --------------------------------------------------------------------- apply
APPLIED = """
apiVersion: v1
kind: Namespace
metadata:
  name: applied
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: applied
  labels: {app: web}
data:
  a: "1"
  b: "2"
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: applied
  labels: {app: web, tier: front}
spec:
  containers:
  - name: main
    image: python:3.11
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: applied
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: metrics, port: 9090}
"""


def _changed(text: str) -> str:
    """The same manifests with a changed label, a removed key and removed fields."""
    return (
        text.replace("tier: front", "tier: back")
        .replace('  b: "2"\n', '  c: "3"\n')
        .replace("  sessionAffinity: ClientIP\n", "")
        .replace("  - {name: metrics, port: 9090}\n", "")
    )


def test_apply_multi_document_then_reapply_changes(sim: KubeSim, kubectl: Kubectl) -> None:
    out = kubectl("apply", "-f", "-", input=APPLIED).stdout
    assert out.splitlines() == [
        "namespace/applied created",
        "configmap/settings created",
        "pod/web created",
        "service/web created",
    ]
    cm = kubectl.json("get", "configmap", "settings", "-n", "applied")
    last = json.loads(
        cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last["data"] == {"a": "1", "b": "2"}
    # Set outside the manifests: a three-way merge keeps it.
    kubectl("label", "configmap", "settings", "-n", "applied", "owner=ops")

    again = kubectl("apply", "-f", "-", input=_changed(APPLIED)).stdout
    assert again.splitlines() == [
        "namespace/applied unchanged",
        "configmap/settings configured",
        "pod/web configured",
        "service/web configured",
    ]
    cm = kubectl.json("get", "configmap", "settings", "-n", "applied")
    assert cm["data"] == {"a": "1", "c": "3"}
    assert cm["metadata"]["labels"] == {"app": "web", "owner": "ops"}
    assert kubectl.json("get", "pod", "web", "-n", "applied")["metadata"]["labels"] == {
        "app": "web",
        "tier": "back",
    }
    svc = kubectl.json("get", "service", "web", "-n", "applied")["spec"]
    assert [p["name"] for p in svc["ports"]] == ["http"]  # merged by port, the removed one gone
    assert svc["sessionAffinity"] == "None"  # removed from the manifest: back to the default
    assert kubectl("apply", "-f", "-", input=_changed(APPLIED)).stdout.splitlines() == [
        f"{kind} unchanged"
        for kind in ("namespace/applied", "configmap/settings", "pod/web", "service/web")
    ]


def test_apply_server_dry_run_and_diff(sim: KubeSim, kubectl: Kubectl) -> None:
    manifest = """
apiVersion: v1
kind: ConfigMap
metadata: {name: planned, namespace: default}
data: {mode: "slow"}
"""
    kubectl("apply", "-f", "-", input=manifest)
    changed = manifest.replace('"slow"', '"fast"')
    out = kubectl("apply", "-f", "-", "--dry-run=server", input=changed).stdout
    assert out == "configmap/planned configured (server dry run)\n"
    assert sim.lookup("configmaps", "default", "planned")["data"] == {"mode": "slow"}  # type: ignore[index]

    diff = kubectl("diff", "-f", "-", input=changed, check=False)
    assert diff.returncode == 1, diff.stderr  # 1: there are differences
    assert "-  mode: slow\n+  mode: fast\n" in diff.stdout
    same = kubectl("diff", "-f", "-", input=manifest, check=False)
    assert (same.returncode, same.stdout) == (0, "")


def test_apply_invalid_objects_prints_the_server_errors(kubectl: Kubectl) -> None:
    bad = """
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: default}
spec:
  containers:
  - {name: Bad_Name, image: ""}
"""
    out = kubectl("apply", "-f", "-", input=bad, check=False)
    assert out.returncode == 1
    assert out.stderr == (
        'The Pod "bad" is invalid: \n'
        '* spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must '
        "consist of lower case alphanumeric characters or '-', and must start and end with an "
        "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')\n"
        "* spec.containers[0].image: Required value\n"
    )
    one = kubectl(
        "apply",
        "-f",
        "-",
        check=False,
        input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: default}\n",
    )
    assert one.stderr.startswith(
        'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        "a lowercase RFC 1123 subdomain must consist of"
    )
    # kubectl asks for fieldValidation=Strict: an unknown field is a 400, not a warning.
    typo = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: default}\nfoo: 1\n"
    strict = kubectl("apply", "-f", "-", input=typo, check=False)
    assert strict.stderr == (
        'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version '
        '"v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"\n'
    )
    warned = kubectl("apply", "-f", "-", "--validate=warn", input=typo)
    assert (warned.stdout, warned.stderr) == (
        "configmap/typo created\n",
        'Warning: unknown field "foo"\n',
    )


def test_create_typed_objects(sim: KubeSim, kubectl: Kubectl) -> None:
    """``kubectl create <kind>`` sends protobuf bodies (client-go's typed clients)."""
    assert kubectl("create", "namespace", "created").stdout == "namespace/created created\n"
    ns = ("-n", "created")
    outs = kubectl.many(
        ("create", "serviceaccount", "bot", *ns),
        ("create", "configmap", "conf", "--from-literal=mode=fast", *ns),
        ("create", "secret", "generic", "creds", "--from-literal=password=s3cret", *ns),
        ("create", "role", "reader", "--verb=get,list", "--resource=pods", *ns),
        (
            "create",
            "rolebinding",
            "bot-reader",
            "--role=reader",
            "--serviceaccount=created:bot",
            *ns,
        ),
        ("create", "quota", "small", "--hard=pods=3", *ns),
        ("create", "service", "clusterip", "web", "--tcp=80:8080", *ns),
        ("create", "job", "once", "--image=busybox", *ns, "--", "echo", "hi"),
    )
    assert outs == [
        "serviceaccount/bot created\n",
        "configmap/conf created\n",
        "secret/creds created\n",
        "role.rbac.authorization.k8s.io/reader created\n",
        "rolebinding.rbac.authorization.k8s.io/bot-reader created\n",
        "resourcequota/small created\n",
        "service/web created\n",
        "job.batch/once created\n",
    ]
    secret = kubectl.json("get", "secret", "creds", *ns)
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"
    assert secret["type"] == "Opaque"
    assert sim.lookup("configmaps", "created", "conf")["data"] == {"mode": "fast"}  # type: ignore[index]
    svc = sim.lookup("services", "created", "web")
    assert svc is not None and svc["spec"]["ports"][0]["targetPort"] == 8080
    job = kubectl.json("get", "job", "once", *ns)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    can = kubectl("auth", "can-i", "list", "pods", *ns, "--as=system:serviceaccount:created:bot")
    assert can.stdout == "yes\n"


# -------------------------------------------------------------------- delete
def test_delete_by_name_label_and_namespace(sim: KubeSim, kubectl: Kubectl) -> None:
    ns = namespace(sim, "deleting")
    for name, labels in (("a", {"batch": "1"}), ("b", {"batch": "1"}), ("c", {})):
        sim.apply(pod(name, ns, labels=labels))
    running(sim, ns, "a", "b", "c")

    out = kubectl("delete", "pod", "c", "-n", ns).stdout
    assert out == f'pod "c" deleted from {ns} namespace\n'
    assert sim.lookup("pods", ns, "c") is None  # --wait (the default): gone on return
    out = kubectl("delete", "pods", "-l", "batch=1", "-n", ns, "--wait").stdout
    assert sorted(out.splitlines()) == [
        f'pod "a" deleted from {ns} namespace',
        f'pod "b" deleted from {ns} namespace',
    ]
    assert sim.lookup("pods", ns, "a") is None and sim.lookup("pods", ns, "b") is None
    empty = kubectl("get", "pods", "-n", ns)
    assert empty.stderr == f"No resources found in {ns} namespace.\n"

    sim.apply(pod("last", ns))
    assert kubectl("delete", "namespace", ns).stdout == f'namespace "{ns}" deleted\n'
    assert sim.lookup("namespaces", "", ns) is None  # returns once the namespace is gone
    missing = kubectl("get", "namespace", ns, check=False)
    assert missing.stderr == f'Error from server (NotFound): namespaces "{ns}" not found\n'


# ---------------------------------------------------------------------- logs
def test_logs(sim: KubeSim, kubectl: Kubectl) -> None:
    ns = namespace(sim, "logs")
    talker = pod("talker", ns, logs="one\ntwo\nthree")
    talker["spec"]["containers"].append({"name": "side", "image": "python:3.11"})
    sim.apply(talker)
    running(sim, ns, "talker")

    main, tail, stamped = kubectl.many(
        ("logs", "talker", "-n", ns, "-c", "main"),
        ("logs", "talker", "-n", ns, "-c", "side", "--tail=1"),
        ("logs", "talker", "-n", ns, "-c", "main", "--timestamps"),
    )
    assert (main, tail) == ("one\ntwo\nthree\n", "three\n")
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"
    matches = [re.fullmatch(rf"{stamp} (\w+)", ln) for ln in stamped.splitlines()]
    assert [m and m.group(2) for m in matches] == ["one", "two", "three"]
    default = kubectl("logs", "talker", "-n", ns)
    assert default.stdout == "one\ntwo\nthree\n"
    assert default.stderr == 'Defaulted container "main" out of: main, side\n'
    previous = kubectl("logs", "talker", "-n", ns, "-c", "main", "--previous", check=False)
    assert previous.returncode == 1
    assert previous.stderr == (
        'Error from server (BadRequest): previous terminated container "main" in pod '
        '"talker" not found\n'
    )
    unknown = kubectl("logs", "talker", "-n", ns, "-c", "nope", check=False)
    assert (
        unknown.stderr == "error: container nope is not valid for pod talker out of: main, side\n"
    )

    # -f follows until the container ends.
    sim.apply(pod("runner", ns, logs="starting\nfinished", exit_code="0", run_seconds="1"))
    wait_for(lambda: phase(sim, ns, "runner") in ("Running", "Succeeded"), what="runner started")
    followed = kubectl("logs", "-f", "runner", "-n", ns, timeout=20)
    assert followed.stdout == "starting\nfinished\n"
    assert phase(sim, ns, "runner") == "Succeeded"


# ------------------------------------------------------- auth, token, wait
def test_auth_can_i_with_impersonation_and_tokens(sim: KubeSim, kubectl: Kubectl) -> None:
    ns = namespace(sim, "authz")
    sim.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot", "namespace": ns}}
    )
    bot = f"system:serviceaccount:{ns}:bot"
    assert kubectl("auth", "can-i", "create", "pods").stdout == "yes\n"
    denied = kubectl("auth", "can-i", "list", "pods", "-n", ns, f"--as={bot}", check=False)
    assert (denied.returncode, denied.stdout) == (1, "no\n")
    sim.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "bot-view", "namespace": ns},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": ns}],
        }
    )
    assert kubectl("auth", "can-i", "list", "pods", "-n", ns, f"--as={bot}").stdout == "yes\n"
    assert (
        kubectl("auth", "can-i", "delete", "pods", "-n", ns, f"--as={bot}", check=False).stdout
        == "no\n"
    )

    token = kubectl("create", "token", "bot", "-n", ns).stdout.strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == bot
    who = kubectl("auth", "whoami", f"--token={token}").stdout
    assert re.search(rf"^Username\s+{re.escape(bot)}$", who, re.M)
    listed = kubectl("get", "pods", "-n", ns, f"--token={token}")
    assert listed.stderr == f"No resources found in {ns} namespace.\n"
    forbidden = kubectl("get", "secrets", "-n", ns, f"--token={token}", check=False)
    assert forbidden.stderr == (
        f'Error from server (Forbidden): secrets is forbidden: User "{bot}" cannot list '
        f'resource "secrets" in API group "" in the namespace "{ns}"\n'
    )


def test_wait_for_conditions(sim: KubeSim, kubectl: Kubectl) -> None:
    ns = namespace(sim, "waiting")
    sim.apply(pod("ready", ns))
    out = kubectl("wait", "--for=condition=Ready", "pod/ready", "-n", ns, "--timeout=20s")
    assert out.stdout == "pod/ready condition met\n"
    out = kubectl(
        "wait", "--for=jsonpath={.status.phase}=Running", "pod/ready", "-n", ns, "--timeout=20s"
    )
    assert out.stdout == "pod/ready condition met\n"
    kubectl("delete", "pod", "ready", "-n", ns, "--wait=false")
    out = kubectl("wait", "--for=delete", "pod/ready", "-n", ns, "--timeout=20s", check=False)
    assert out.returncode == 0, out.stderr


# -------------------------------------------------------------------- errors
def test_errors_read_as_from_a_real_server(kubectl: Kubectl) -> None:
    missing = kubectl("get", "pod", "missing", check=False)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == 'Error from server (NotFound): pods "missing" not found\n'
    job = kubectl("get", "job", "missing", "-n", "default", check=False)
    assert job.stderr == 'Error from server (NotFound): jobs.batch "missing" not found\n'
    kind = kubectl("get", "widgets", check=False)
    assert kind.stderr == 'error: the server doesn\'t have a resource type "widgets"\n'
    assert (
        kubectl("get", "pods", "-n", "nowhere").stderr
        == "No resources found in nowhere namespace.\n"
    )
