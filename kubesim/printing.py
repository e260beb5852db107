"""Formatting shared by the table printers, as ``k8s.io/apimachinery`` and kubectl's
printers phrase things: human durations (``5m30s``), label selectors, access modes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
NONE = "<none>"


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def parse_time(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def since(ts: str | None) -> str:
    """``translateTimestampSince``: the age of a timestamp, or ``<unknown>``."""
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - t).total_seconds())


def age(o: Obj) -> str:
    return since(o["metadata"].get("creationTimestamp"))


def format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` pairs, ``<none>`` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or NONE


def format_selector(sel: Obj | None) -> str:
    """``metav1.FormatLabelSelector``: the selector as ``kubectl -l`` would take it."""
    labels = (sel or {}).get("matchLabels") or {}
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in labels.items()]
    for e in (sel or {}).get("matchExpressions") or []:
        key, op, values = e.get("key", ""), e.get("operator", ""), sorted(e.get("values") or [])
        text = {
            "In": f"{key} in ({','.join(values)})",
            "NotIn": f"{key} notin ({','.join(values)})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op, "<error>")
        reqs.append((key, text))
    return ",".join(t for _, t in sorted(reqs)) or NONE


def containers(spec: Obj) -> list[str]:
    """``layoutContainerCells``: the containers' names and images, comma-separated."""
    cs = spec.get("containers") or []
    return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)]


def access_modes(modes: list[str] | None) -> str:
    """``GetAccessModesAsString``: ``RWO,ROX,RWX,RWOP`` in that order."""
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}
    short["ReadWriteOncePod"] = "RWOP"
    return ",".join(v for k, v in short.items() if k in (modes or []))
