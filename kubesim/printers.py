"""The apiserver's table printers for the built-in types kubesim serves.

kube-apiserver answers ``kubectl get`` with a ``Table`` built by per-type printers
(``pkg/printers/internalversion``): these are their columns and cells, so that ``kubectl
get`` prints what it prints against a real cluster. The server always fills in the wide
(priority 1) cells; kubectl drops those columns unless asked for ``-o wide``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubesim.podprinter import pod_cells
from kubesim.printing import (
    NONE,
    access_modes,
    age,
    containers,
    format_labels,
    format_selector,
    human_duration,
    parse_time,
    since,
)

Obj = dict[str, Any]
#: (name, type, priority) of each column, in order.
Column = tuple[str, str, int]
Printer = tuple[list[Column], Callable[[Obj], list[Any]]]


def _node(o: Obj) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
    status = ["Unknown"]
    if ready is not None:
        status = ["Ready" if ready.get("status") == "True" else "NotReady"]
    if spec.get("unschedulable"):
        status.append("SchedulingDisabled")
    roles = set()
    for k, v in (o["metadata"].get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/") and k[len("node-role.kubernetes.io/") :]:
            roles.add(k[len("node-role.kubernetes.io/") :])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    info = st.get("nodeInfo") or {}

    def address(kind: str) -> str:
        found = (a["address"] for a in st.get("addresses") or [] if a.get("type") == kind)
        return next(found, NONE)

    return [
        o["metadata"]["name"],
        ",".join(status),
        ",".join(sorted(roles)) or NONE,
        age(o),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _external_ip(spec: Obj, st: Obj) -> str:
    kind, external = spec.get("type", ""), spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        ingress = (st.get("loadBalancer") or {}).get("ingress") or []
        lb = sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""})
        return ",".join(lb + external) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _service(o: Obj) -> list[Any]:
    spec = o.get("spec") or {}
    ports = ",".join(
        f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort")
        else f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    return [
        o["metadata"]["name"],
        spec.get("type", ""),
        (spec.get("clusterIPs") or [NONE])[0],
        _external_ip(spec, o.get("status") or {}),
        ports or NONE,
        age(o),
        format_labels(spec.get("selector")),
    ]


def _endpoints(o: Obj) -> list[Any]:
    shown: list[str] = []
    count = 0
    for ss in o.get("subsets") or []:
        addrs = [a.get("ip", "") for a in ss.get("addresses") or []]
        ports = ss.get("ports") or [None]
        for p in ports:
            count += len(addrs)
            for ip in addrs:
                if len(shown) < 3:
                    shown.append(ip if p is None else f"{ip}:{p.get('port')}")
    if not o.get("subsets"):
        text = NONE
    else:
        text = ",".join(shown) + (f" + {count - 3} more..." if count > 3 else "")
    return [o["metadata"]["name"], text, age(o)]


def _pv(o: Obj) -> list[Any]:
    spec, meta = o.get("spec") or {}, o["metadata"]
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    phase = (o.get("status") or {}).get("phase", "")
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    cls = (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return [
        meta["name"],
        (spec.get("capacity") or {}).get("storage", "0"),
        access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim,
        cls or spec.get("storageClassName", ""),
        spec.get("volumeAttributesClassName") or "<unset>",
        (o.get("status") or {}).get("reason", ""),
        age(o),
        spec.get("volumeMode") or "<unset>",
    ]


def _pvc(o: Obj) -> list[Any]:
    spec, st, meta = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    bound = bool(spec.get("volumeName"))
    cls = (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return [
        meta["name"],
        "Terminating" if meta.get("deletionTimestamp") else st.get("phase", ""),
        spec.get("volumeName", ""),
        (st.get("capacity") or {}).get("storage", "") if bound else "",
        access_modes(st.get("accessModes")) if bound else "",
        cls or spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        age(o),
        spec.get("volumeMode") or "<unset>",
    ]


def _job(o: Obj) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    done = st.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{done}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{done}/1 of {spec['parallelism']}"
    else:
        completions = f"{done}/1"
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    duration = ""
    if start:
        duration = human_duration(((end or datetime.now(UTC)) - start).total_seconds())
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = "Running"
    if conds.get("Complete") == "True":
        status = "Complete"
    elif conds.get("Failed") == "True":
        status = "Failed"
    elif o["metadata"].get("deletionTimestamp"):
        status = "Terminating"
    elif conds.get("Suspended") == "True":
        status = "Suspended"
    elif conds.get("FailureTarget") == "True":
        status = "FailureTarget"
    tspec = (spec.get("template") or {}).get("spec") or {}
    name = o["metadata"]["name"]
    selector = format_selector(spec.get("selector"))
    return [name, status, completions, duration, age(o), *containers(tspec), selector]


def _event(o: Obj) -> list[Any]:
    if o.get("apiVersion") == "events.k8s.io/v1":  # the same printer, over the new fields
        o = {
            **o,
            "involvedObject": o.get("regarding") or {},
            "message": o.get("note", ""),
            "firstTimestamp": o.get("deprecatedFirstTimestamp"),
            "lastTimestamp": o.get("deprecatedLastTimestamp"),
            "count": o.get("deprecatedCount"),
            "source": o.get("deprecatedSource") or {},
        }
    first = since(o.get("firstTimestamp") or o.get("eventTime"))
    last = since(o["lastTimestamp"]) if o.get("lastTimestamp") else first
    count = o.get("count") or 1
    if o.get("series"):
        last, count = since(o["series"].get("lastObservedTime")), o["series"].get("count", 1)
    inv = o.get("involvedObject") or {}
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    src = o.get("source") or {}
    component = src.get("component") or o.get("reportingComponent") or ""
    component = component or o.get("reportingController", "")
    host = src.get("host") or o.get("reportingInstance", "")
    source = f"{component}, {host}" if host else component
    return [
        last,
        o.get("type", ""),
        o.get("reason", ""),
        target,
        inv.get("fieldPath", ""),
        source,
        (o.get("message") or "").strip(),
        first,
        count,
        o["metadata"]["name"],
    ]


def _binding(o: Obj) -> list[Any]:
    ref = o.get("roleRef") or {}
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for s in o.get("subjects") or []:
        name, kind = s.get("name", ""), s.get("kind")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            sas.append(f"{s['namespace']}/{name}" if s.get("namespace") else name)
    role = f"{ref.get('kind', '')}/{ref.get('name', '')}"
    return [
        o["metadata"]["name"],
        role,
        age(o),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


def _storage_class(o: Obj) -> list[Any]:
    ann = o["metadata"].get("annotations") or {}
    default = "true" in (
        ann.get("storageclass.kubernetes.io/is-default-class"),
        ann.get("storageclass.beta.kubernetes.io/is-default-class"),
    )
    return [
        o["metadata"]["name"] + (" (default)" if default else ""),
        o.get("provisioner", ""),
        o.get("reclaimPolicy") or "Delete",
        o.get("volumeBindingMode") or "Immediate",
        bool(o.get("allowVolumeExpansion")),
        age(o),
    ]


def _quota(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    hard, used = st.get("hard") or {}, st.get("used") or {}
    requests, limits = [], []
    for r in sorted(hard):
        text = f"{r}: {used.get(r, '0')}/{hard[r]}"
        (limits if r.split(".")[0] == "limits" and "." in r else requests).append(text)
    return [o["metadata"]["name"], ", ".join(requests), ", ".join(limits), age(o)]


def _simple(*fields: Callable[[Obj], Any]) -> Callable[[Obj], list[Any]]:
    return lambda o: [o["metadata"]["name"], *(f(o) for f in fields), age(o)]


def cols(normal: str, wide: str = "") -> list[Column]:
    """Columns from ``|``-separated names: ``normal`` ones, then ``wide`` (priority 1)."""
    return [(n, "string", 0) for n in normal.split("|")] + [
        (n, "string", 1) for n in wide.split("|") if n
    ]


_BINDING = cols("Name|Role|Age", "Users|Groups|ServiceAccounts")

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "pods"): (
        cols("Name|Ready|Status|Restarts|Age", "IP|Node|Nominated Node|Readiness Gates"),
        pod_cells,
    ),
    ("", "nodes"): (
        cols(
            "Name|Status|Roles|Age|Version",
            "Internal-IP|External-IP|OS-Image|Kernel-Version|Container-Runtime",
        ),
        _node,
    ),
    ("", "namespaces"): (
        cols("Name|Status|Age"),
        _simple(lambda o: (o.get("status") or {}).get("phase", "")),
    ),
    ("", "services"): (cols("Name|Type|Cluster-IP|External-IP|Port(s)|Age", "Selector"), _service),
    ("", "endpoints"): (cols("Name|Endpoints|Age"), _endpoints),
    ("", "secrets"): (
        cols("Name|Type|Data|Age"),
        _simple(lambda o: o.get("type", ""), lambda o: len(o.get("data") or {})),
    ),
    ("", "configmaps"): (
        cols("Name|Data|Age"),
        _simple(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
    ),
    ("", "serviceaccounts"): (
        cols("Name|Secrets|Age"),
        _simple(lambda o: len(o.get("secrets") or [])),
    ),
    ("", "persistentvolumes"): (
        cols(
            "Name|Capacity|Access Modes|Reclaim Policy|Status|Claim|StorageClass|"
            "VolumeAttributesClass|Reason|Age",
            "VolumeMode",
        ),
        _pv,
    ),
    ("", "persistentvolumeclaims"): (
        cols(
            "Name|Status|Volume|Capacity|Access Modes|StorageClass|VolumeAttributesClass|Age",
            "VolumeMode",
        ),
        _pvc,
    ),
    ("", "events"): (
        # The wide columns sit between the others: listed here in the printer's order.
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        _event,
    ),
    ("", "resourcequotas"): (cols("Name|Request|Limit|Age"), _quota),
    ("batch", "jobs"): (
        cols("Name|Status|Completions|Duration|Age", "Containers|Images|Selector"),
        _job,
    ),
    ("rbac.authorization.k8s.io", "rolebindings"): (_BINDING, _binding),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (_BINDING, _binding),
    ("networking.k8s.io", "networkpolicies"): (
        cols("Name|Pod-Selector|Age"),
        _simple(lambda o: format_selector((o.get("spec") or {}).get("podSelector"))),
    ),
    ("storage.k8s.io", "storageclasses"): (
        cols("Name|Provisioner|ReclaimPolicy|VolumeBindingMode|AllowVolumeExpansion|Age"),
        _storage_class,
    ),
    ("coordination.k8s.io", "leases"): (
        cols("Name|Holder|Age"),
        _simple(lambda o: (o.get("spec") or {}).get("holderIdentity", "")),
    ),
}
PRINTERS[("events.k8s.io", "events")] = PRINTERS[("", "events")]
