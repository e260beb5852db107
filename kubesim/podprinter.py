"""The pod row of ``kubectl get pods``: the apiserver's ``printPod``.

Its STATUS column is not the phase but the reason a human wants to see (``Completed``,
``CrashLoopBackOff``, ``Init:0/1``, ``Terminating``…), derived from the container states.
"""

from __future__ import annotations

from typing import Any

from kubesim.printing import NONE, age, parse_time, since

Obj = dict[str, Any]


def _restartable(c: Obj | None) -> bool:
    return bool(c) and c.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two timestamps, either of which may be missing."""
    if not b or a is None:
        return a or b
    ta, tb = parse_time(a), parse_time(b)
    return b if ta and tb and tb > ta else a


def _condition(o: Obj, kind: str) -> bool:
    conds = (o.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conds)


def _term_reason(t: Obj, prefix: str = "") -> str:
    if t.get("reason"):
        return prefix + t["reason"]
    if t.get("signal"):
        return f"{prefix}Signal:{t['signal']}"
    return f"{prefix}ExitCode:{t.get('exitCode', 0)}"


def pod_cells(o: Obj) -> list[Any]:
    """``printPod``: READY, STATUS (the reason a human wants), RESTARTS, AGE; IP, NODE…"""
    spec, st, meta = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    inits = spec.get("initContainers") or []
    total = len(spec.get("containers") or []) + sum(1 for c in inits if _restartable(c))
    phase = st.get("phase", "")
    reason = st.get("reason") or phase
    for c in st.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    by_name = {c.get("name"): c for c in inits}
    ready = restarts = ri_restarts = 0
    last: str | None = None
    ri_last: str | None = None
    initializing = False
    for i, cs in enumerate(st.get("initContainerStatuses") or []):
        finished = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        restarts += cs.get("restartCount", 0)
        last = _later(last, finished)
        restartable = _restartable(by_name.get(cs.get("name")))
        if restartable:
            ri_restarts += cs.get("restartCount", 0)
            ri_last = _later(ri_last, finished)
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        if restartable and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term:
            reason = _term_reason(term, "Init:")
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(inits)}"
        initializing = True
        break
    if not initializing or _condition(o, "Initialized"):
        restarts, last = ri_restarts, ri_last
        running = False
        for cs in reversed(st.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            term_last = (cs.get("lastState") or {}).get("terminated") or {}
            last = _later(last, term_last.get("finishedAt"))
            state = cs.get("state") or {}
            term, wait = state.get("terminated"), state.get("waiting")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term:
                reason = _term_reason(term)
            elif cs.get("ready") and "running" in state:
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running" if _condition(o, "Ready") else "NotReady"
    if meta.get("deletionTimestamp") and st.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    shown = f"{restarts} ({since(last)} ago)" if restarts and last else str(restarts)
    gates = spec.get("readinessGates") or []
    gates_cell = NONE
    if gates:
        conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        n = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_cell = f"{n}/{len(gates)}"
    ips = st.get("podIPs") or []
    return [
        meta["name"],
        f"{ready}/{total}",
        reason,
        shown,
        age(o),
        (ips[0].get("ip") if ips else "") or NONE,
        spec.get("nodeName") or NONE,
        st.get("nominatedNodeName") or NONE,
        gates_cell,
    ]


def pod_row_conditions(o: Obj) -> list[Obj] | None:
    phase = (o.get("status") or {}).get("phase")
    message = {"Succeeded": "The pod has completed successfully.", "Failed": "The pod failed."}
    if phase not in message:
        return None
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message[phase]}]


# --------------------------------------------------------------------- others
