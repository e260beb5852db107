"""The TTL-after-finished controller: deletes a finished Job ``ttlSecondsAfterFinished``
after its ``Complete``/``Failed`` condition's transition, as kube-controller-manager's
``ttl-after-finished-controller`` does: with ``Foreground`` propagation and a uid
precondition, so the Job goes only after its pods (they carry ``blockOwnerDeletion``).
"""

from __future__ import annotations

import time
from collections.abc import Hashable

from kubesim import errors
from kubesim.controllers import jobstatus as js
from kubesim.controllers.jobs import KeyedTimers

USER = "system:serviceaccount:kube-system:ttl-after-finished-controller"


class TTLAfterFinishedController(KeyedTimers):
    watches = (("batch", "jobs"),)

    async def reconcile(self, key: Hashable) -> None:
        ns, name = key  # type: ignore[misc]
        rt = self.api.rt("batch", "jobs")
        job = self.store.peek(rt, ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        finished = js.finish_time(job)
        if ttl is None or finished is None:
            return
        left = finished + ttl - time.time()
        if left > 0:
            self.requeue(key, left)
            return
        try:
            self.api.delete(
                rt,
                ns,
                name,
                propagation="Foreground",
                preconditions={"uid": job["metadata"]["uid"]},
                user=USER,
            )
        except errors.ApiError as e:
            if e.code not in (404, 409):
                raise
