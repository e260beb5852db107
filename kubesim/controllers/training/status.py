"""A training job's ``status``: conditions and replica counts, as the operator keeps them.

These follow ``pkg/util/status.go`` and ``pkg/core/status.go`` of training-operator v1.9:

- Setting a condition whose type already exists with the same status and reason changes
  nothing; with the same status it keeps ``lastTransitionTime``. Otherwise the old one is
  removed and the new one appended, so ``conditions[-1]`` is the latest state (what the
  ``State`` printer column shows).
- ``Running`` and ``Restarting`` replace each other.
- ``Succeeded`` or ``Failed`` flips ``Running`` to ``False``.
- Once ``Failed`` is true nothing changes any more.

Status is plain JSON as the operator writes it: zero counts are omitted (``omitempty``).
"""

from __future__ import annotations

from typing import Any

from kubesim.controllers.training import names as n
from kubesim.store import now_rfc3339

Status = dict[str, Any]


def condition(status: Status, ctype: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_true(status: Status, ctype: str) -> bool:
    c = condition(status, ctype)
    return c is not None and c.get("status") == "True"


def is_succeeded(status: Status) -> bool:
    return is_true(status, n.SUCCEEDED)


def is_failed(status: Status) -> bool:
    return is_true(status, n.FAILED)


def is_finished(status: Status) -> bool:
    return is_succeeded(status) or is_failed(status)


def update_condition(
    status: Status, ctype: str, reason: str, message: str, cstatus: str = "True"
) -> None:
    """``UpdateJobConditions`` (``setCondition`` + ``filterOutCondition``)."""
    if is_failed(status):
        return
    current = condition(status, ctype)
    if current and current.get("status") == cstatus and current.get("reason") == reason:
        return
    now = now_rfc3339()
    new = {
        "type": ctype,
        "status": cstatus,
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    }
    if current and current.get("status") == cstatus:
        new["lastTransitionTime"] = current.get("lastTransitionTime", now)
    kept = []
    for c in status.get("conditions") or []:
        t = c.get("type")
        if t == ctype or {t, ctype} == {n.RUNNING, n.RESTARTING}:
            continue
        if ctype in (n.FAILED, n.SUCCEEDED) and t == n.RUNNING:
            c = {**c, "status": "False"}
        kept.append(c)
    status["conditions"] = [*kept, new]


# ------------------------------------------------------------- replica counts
COUNTS = ("active", "succeeded", "failed")


def init_replica_status(status: Status, rtype: str) -> dict[str, Any]:
    """``InitializeReplicaStatuses``: counts restart from zero on every reconcile."""
    rs: dict[str, Any] = {}
    status.setdefault("replicaStatuses", {})[rtype] = rs
    return rs


def count(status: Status, rtype: str, field: str) -> int:
    return int(((status.get("replicaStatuses") or {}).get(rtype) or {}).get(field) or 0)


def bump(status: Status, rtype: str, field: str, by: int = 1) -> None:
    rs = status.setdefault("replicaStatuses", {}).setdefault(rtype, {})
    rs[field] = int(rs.get(field) or 0) + by
    if not rs[field]:
        del rs[field]


def set_count(status: Status, rtype: str, field: str, value: int) -> None:
    rs = status.setdefault("replicaStatuses", {}).setdefault(rtype, {})
    if value:
        rs[field] = value
    else:
        rs.pop(field, None)


def update_replica_status(status: Status, rtype: str, pod: dict[str, Any]) -> None:
    """``UpdateJobReplicaStatuses``: a Running pod being deleted counts as failed."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Running":
        bump(status, rtype, "failed" if pod["metadata"].get("deletionTimestamp") else "active")
    elif phase == "Succeeded":
        bump(status, rtype, "succeeded")
    elif phase == "Failed":
        bump(status, rtype, "failed")


def total_failed(status: Status) -> int:
    return sum(count(status, rt, "failed") for rt in status.get("replicaStatuses") or {})


def compact(status: Status) -> Status:
    """The status as the operator's JSON encoding writes it (empty fields omitted)."""
    return {k: v for k, v in status.items() if v not in (None, [], {})}
