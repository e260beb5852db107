"""Namespace lifecycle: default ServiceAccount and root CA ConfigMap in every namespace (put
back when deleted, as kube-controller-manager does), and deletion that removes everything
the namespace holds before the namespace itself goes."""

from __future__ import annotations

import copy
import functools
import subprocess
from collections.abc import Hashable

from kubesim import errors
from kubesim.controllers import Controller


@functools.cache
def root_ca() -> str:
    """The CA pods verify the API server with: the certificate of kubesim's https listener
    (``kubesim.tls``; made with ``openssl``, a placeholder where that is missing)."""
    from kubesim.tls import serving_cert

    try:
        return serving_cert()[0].read_text()
    except (OSError, subprocess.CalledProcessError):
        return "-----BEGIN CERTIFICATE-----\nkubesim-has-no-tls\n-----END CERTIFICATE-----\n"


#: What every active namespace holds, (resource type key, name), put back when deleted: the
#: ``default`` ServiceAccount (kube-controller-manager's serviceaccount controller) and the
#: ``kube-root-ca.crt`` ConfigMap (its root-ca-cert-publisher).
ENSURED = ((("", "serviceaccounts"), "default"), (("", "configmaps"), "kube-root-ca.crt"))


class NamespaceController(Controller):
    watches = (("", "namespaces"), ("", "serviceaccounts"), ("", "configmaps"))

    def keys_for(self, ev):  # type: ignore[override]
        m = ev.obj["metadata"]
        if ev.rt.key == ("", "namespaces"):
            yield m["name"]
        elif ev.type == "DELETED" and (ev.rt.key, m["name"]) in ENSURED:
            yield m["namespace"]

    async def reconcile(self, key: Hashable) -> None:
        name = str(key)
        ns_rt = self.api.rt("", "namespaces")
        ns = self.store.peek(ns_rt, "", name)
        if ns is None:
            return
        if ns["metadata"].get("deletionTimestamp"):
            await self._finalize(name, ns)
            return
        sa_rt, cm_rt = self.api.rt("", "serviceaccounts"), self.api.rt("", "configmaps")
        if self.store.peek(sa_rt, name, "default") is None:
            try:
                self.api.create(sa_rt, name, {"metadata": {"name": "default"}})
            except errors.ApiError as e:
                if e.code != 409:
                    raise
        if self.store.peek(cm_rt, name, "kube-root-ca.crt") is None:
            try:
                self.api.create(
                    cm_rt,
                    name,
                    {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": root_ca()}},
                )
            except errors.ApiError as e:
                if e.code != 409:
                    raise

    async def _finalize(self, name: str, ns: dict) -> None:
        remaining = 0
        for rt in self.sim.registry.types.values():
            if not rt.namespaced or rt.virtual:
                continue
            for obj in list(self.store.iter(rt, name)):
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.api.delete(rt, name, obj["metadata"]["name"], propagation="Background")
                except errors.ApiError as e:
                    if e.code != 404:
                        raise
        if remaining:
            self.requeue(name, 0.1)
            return
        current = self.store.peek(self.api.rt("", "namespaces"), "", name)
        if current is None:
            return
        # Content gone: drop our "kubernetes" spec finalizer (what POST .../finalize does);
        # the store removes the namespace once no finalizer of any kind is left.
        finalized = copy.deepcopy(current)
        finalized["spec"]["finalizers"] = [
            f for f in current["spec"].get("finalizers", []) if f != "kubernetes"
        ]
        self.store.replace(self.api.rt("", "namespaces"), finalized, check_rv=False)
        if current["metadata"].get("finalizers"):
            self.requeue(name, 0.2)  # someone else's finalizer still pending
