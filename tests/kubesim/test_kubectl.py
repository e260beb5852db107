"""The real kubectl, unchanged, against kubesim: ``describe``, ``apply``, ``diff``,
``create``, ``delete``, ``logs``, ``auth``, ``wait`` and errors print what they print against a
real cluster (messages, exit codes). (``get``: test_kubectl_get.py.) Each test works in a
namespace of its own, so the tests do not depend on each other."""

from __future__ import annotations

import base64
import json
import re

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
