"""ResourceQuota status: keeps ``status.hard``/``status.used`` current, as the quota
controller does, whenever something counted in a namespace changes."""

from __future__ import annotations

import copy
from collections.abc import Hashable

from kubesim import quota
from kubesim.controllers import Controller
from kubesim.store import Event


class QuotaController(Controller):
    def on_event(self, ev: Event) -> None:
        ns = ev.obj["metadata"].get("namespace")
        if not ns or ev.rt.key == ("", "events"):
            return
        if ev.rt.key == ("", "resourcequotas") and ev.type != "DELETED":
            self.enqueue(ns)
            return
        if self.store.iter(self.api.rt("", "resourcequotas"), ns):
            self.enqueue(ns)

    async def reconcile(self, key: Hashable) -> None:
        ns = str(key)
        rt = self.api.rt("", "resourcequotas")
        for q in list(self.store.iter(rt, ns)):
            used = self.sim.quota_used(ns, q)
            status = quota.quota_status(q, used)
            if q.get("status") != status:
                new = copy.deepcopy(q)
                new["status"] = status
                self.store.replace(rt, new, check_rv=False)
