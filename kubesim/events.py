"""An event recorder like client-go's: repeated events bump ``count`` instead of piling up."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kubesim import errors
from kubesim.store import now_rfc3339

if TYPE_CHECKING:
    from kubesim.api import Api


class Recorder:
    def __init__(self, api: Api) -> None:
        self.api = api
        self._rt = api.rt("", "events")
        self._seen: dict[tuple[str, ...], tuple[str, str]] = {}
        self._last_ns = 0

    def _name(self, involved: str) -> str:
        """``<object>.<unix nanoseconds in hex>`` as client-go names events: listed by name,
        an object's events come out oldest first."""
        ns = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = ns
        return f"{involved}.{ns:x}"

    def record(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        component: str,
        host: str = "",
        field_path: str = "",
    ) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        involved = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            involved["fieldPath"] = field_path
        key = (ns, involved["uid"], reason, message, component, field_path)
        now = now_rfc3339()
        if key in self._seen:
            ev_ns, name = self._seen[key]
            current = self.api.store.peek(self._rt, ev_ns, name)
            if current is not None:
                updated = {**current, "count": current.get("count", 1) + 1, "lastTimestamp": now}
                updated["metadata"] = {**current["metadata"]}
                self.api.store.replace(self._rt, updated, check_rv=False, share=True)
                return
        ev = {
            "metadata": {"name": self._name(meta["name"]), "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": host,  # as client-go's recorder: the source host, or ""
        }
        try:
            created = self.api.create(self._rt, ns, ev, take=True, share=True)
        except errors.ApiError:
            return  # namespace gone; the real recorder drops such events too
        self._seen[key] = (ns, created["metadata"]["name"])
