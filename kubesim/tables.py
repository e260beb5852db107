"""Server-side printing: the ``meta.k8s.io/v1 Table`` that ``kubectl get`` asks for.

kubectl renders whatever columns the server returns, so these columns decide what
``kubectl get pods`` shows. Columns follow the real API's printers for the types we serve.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubesim.resources import ResourceType

Obj = dict[str, Any]


def _age(obj: Obj) -> str:
    ts = obj["metadata"].get("creationTimestamp")
    if not ts:
        return "<unknown>"
    then = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    s = int((datetime.now(UTC) - then).total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _pod_cells(o: Obj) -> list[Any]:
    st = o.get("status", {})
    cs = st.get("containerStatuses", []) or []
    total = len(o.get("spec", {}).get("containers", []))
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in cs)
    reason = st.get("reason") or st.get("phase", "Pending")
    for c in cs:
        state = c.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and st.get("phase") not in ("Succeeded", "Failed"):
            reason = state["terminated"].get("reason", reason)
        elif "terminated" in state:
            reason = state["terminated"].get("reason") or reason
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [o["metadata"]["name"], f"{ready}/{total}", reason, restarts, _age(o)]


def _job_cells(o: Obj) -> list[Any]:
    st, spec = o.get("status", {}), o.get("spec", {})
    conds = {c["type"]: c["status"] for c in st.get("conditions", []) or []}
    status = "Running"
    if conds.get("Complete") == "True":
        status = "Complete"
    elif conds.get("Failed") == "True":
        status = "Failed"
    elif conds.get("Suspended") == "True":
        status = "Suspended"
    comp = f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}"
    return [o["metadata"]["name"], status, comp, _age(o)]


_COLUMNS: dict[tuple[str, str], tuple[list[tuple[str, str]], Any]] = {
    ("", "pods"): (
        [
            ("Name", "string"),
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "integer"),
            ("Age", "string"),
        ],
        _pod_cells,
    ),
    ("batch", "jobs"): (
        [("Name", "string"), ("Status", "string"), ("Completions", "string"), ("Age", "string")],
        _job_cells,
    ),
    ("", "namespaces"): (
        [("Name", "string"), ("Status", "string"), ("Age", "string")],
        lambda o: [o["metadata"]["name"], o.get("status", {}).get("phase", ""), _age(o)],
    ),
    ("", "persistentvolumeclaims"): (
        [("Name", "string"), ("Status", "string"), ("Volume", "string"), ("Age", "string")],
        lambda o: [
            o["metadata"]["name"],
            o.get("status", {}).get("phase", ""),
            o.get("spec", {}).get("volumeName", ""),
            _age(o),
        ],
    ),
    ("", "persistentvolumes"): (
        [
            ("Name", "string"),
            ("Reclaim Policy", "string"),
            ("Status", "string"),
            ("Claim", "string"),
            ("Age", "string"),
        ],
        lambda o: [
            o["metadata"]["name"],
            o["spec"].get("persistentVolumeReclaimPolicy", ""),
            o.get("status", {}).get("phase", ""),
            "/".join(
                filter(
                    None,
                    [
                        (o["spec"].get("claimRef") or {}).get("namespace"),
                        (o["spec"].get("claimRef") or {}).get("name"),
                    ],
                )
            ),
            _age(o),
        ],
    ),
    ("", "nodes"): (
        [("Name", "string"), ("Status", "string"), ("Age", "string")],
        lambda o: [o["metadata"]["name"], "Ready", _age(o)],
    ),
    ("", "events"): (
        [
            ("Last Seen", "string"),
            ("Type", "string"),
            ("Reason", "string"),
            ("Object", "string"),
            ("Message", "string"),
        ],
        lambda o: [
            _age(o),
            o.get("type", ""),
            o.get("reason", ""),
            f"{(o.get('involvedObject') or {}).get('kind', '').lower()}/"
            f"{(o.get('involvedObject') or {}).get('name', '')}",
            o.get("message", ""),
        ],
    ),
}


def table(rt: ResourceType, items: list[Obj], list_meta: dict[str, Any]) -> dict[str, Any]:
    cols, cells = _COLUMNS.get(
        rt.key,
        ([("Name", "string"), ("Age", "string")], lambda o: [o["metadata"]["name"], _age(o)]),
    )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": n,
                "type": t,
                "format": "name" if n == "Name" else "",
                "description": n,
                "priority": 0,
            }
            for n, t in cols
        ],
        "rows": [
            {
                "cells": cells(o),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"],
                },
            }
            for o in items
        ],
    }
