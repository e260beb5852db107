"""The real kubectl, unchanged, against kubesim: ``get`` (tables of every kind, wide,
output formats, selectors, all namespaces, ``-w``) and ``version`` print what they print
against a real cluster. Each test works in a namespace of its own."""

from __future__ import annotations

import json
import queue
import re
import threading

import yaml

from kubesim.sim import KubeSim
from tests.kubesim.helpers import wait_for
from tests.kubesim.kubectl_support import (  # noqa: F401  (the module's fixtures)
    AGE,
    Kubectl,
    by_name,
    header,
    kubectl_runner,
    kubectl_sim,
    kubectl_tables_ns,
    namespace,
    phase,
    pod,
    rows,
    running,
)


# -------------------------------------------------------------- get (tables)
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
