"""ResourceQuota status: keeps ``status.hard``/``status.used`` current, as the quota
controller does, whenever something counted in a namespace changes.

Like the real controller's replenishment, only changes to what a quota of the namespace
can count (its own spec, or objects of a resource its ``spec.hard`` names) lead to a
recount: a Secret written in a namespace whose quota limits cpu and pods changes nothing.
"""

from __future__ import annotations

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
        resource, group = ev.rt.plural, ev.rt.group
        for q in self.store.iter(self.api.rt("", "resourcequotas"), ns):
            hard = (q.get("spec") or {}).get("hard") or {}
            if quota.matching_resources(resource, group, hard):
                self.enqueue(ns)
                return

    async def reconcile(self, key: Hashable) -> None:
        ns = str(key)
        rt = self.api.rt("", "resourcequotas")
        for q in list(self.store.iter(rt, ns)):
            used = self.sim.quota_used(ns, q)
            status = quota.quota_status(q, used)
            if q.get("status") != status:
                # Only the status changes: the rest is shared with the stored version.
                new = {**q, "metadata": dict(q["metadata"]), "status": status}
                self.store.replace(rt, new, check_rv=False, take=True, share=True)
