"""The admission chain kube-apiserver runs on writes, in its order.

Mutating: defaulting, ServiceAccount (default account + projected token volume),
LimitRanger defaults, Job selector. Validating: schema + API validation, PodSecurity,
ResourceQuota. Each plugin is a function of ``kubesim.api.Request``.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kubesim import defaults, errors, podsecurity, quota, rbacescalation
from kubesim.api import Request

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
#: How many times the ServiceAccount plugin looks for a pod's ``default`` ServiceAccount
#: before refusing the pod, and the range of its wait between looks (seconds).
DEFAULT_SA_LOOKS = 10
DEFAULT_SA_INTERVAL = (0.1, 0.2)


async def default_service_account_ready(sim: KubeSim, namespace: str, pod: Any) -> None:
    """Wait, as kube-apiserver's ServiceAccount admission plugin does, for the ``default``
    ServiceAccount of a pod being created in a namespace that has none yet.

    A new namespace gets its ``default`` ServiceAccount from a controller a moment after it
    is created, so a pod created right after its namespace (KubeSpawner does this with
    user namespaces) would be refused. The plugin therefore looks the account up again,
    up to 10 times for ``default`` (once for any other name), one random 100-200 ms
    interval apart, before it refuses with ``error looking up service account``. The check
    itself is :meth:`Admission.service_account`; this is its wait, which needs the event
    loop (the admission chain is synchronous). Nothing is waited for when the namespace
    is missing or terminating: NamespaceLifecycle refuses those first.
    """
    spec = pod.get("spec") if isinstance(pod, dict) else None
    if not isinstance(spec, dict):
        return
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if name != "default":
        return
    ns = sim.store.peek(sim.api.rt("", "namespaces"), "", namespace)
    if ns is None or ns["metadata"].get("deletionTimestamp"):
        return
    accounts = sim.api.rt("", "serviceaccounts")
    interval = random.uniform(*DEFAULT_SA_INTERVAL)
    for _ in range(DEFAULT_SA_LOOKS - 1):
        if sim.store.peek(accounts, namespace, name) is not None:
            return
        await asyncio.sleep(interval)


class Admission:
    def __init__(self, sim: KubeSim) -> None:
        self.sim = sim
        self.api = sim.api

    def install(self) -> None:
        self.api.mutating[:] = [
            self.defaults,
            self.service_account,
            self.limit_ranger,
            self.job_selector,
        ]
        self.api.validating[:] = [
            self.validate,
            self.rbac_escalation,
            self.pod_security,
            self.resource_quota,
        ]

    # ---------------------------------------------------------------- mutating
    def defaults(self, req: Request) -> None:
        if req.obj is None:
            return
        if req.operation == "CREATE":
            req.obj["metadata"]["uid"] = self.sim.new_uid()
        key = req.rt.key
        if key == ("", "persistentvolumeclaims"):
            if req.operation == "CREATE":
                defaults.pvc(req.obj, self.sim.default_storage_class())
            return
        fn = defaults.DEFAULTERS.get(key)
        if fn is None:
            return
        if key == ("", "pods") and req.operation == "UPDATE":
            defaults.pod_spec(req.obj.setdefault("spec", {}))
            return
        if key == ("batch", "jobs") and req.operation == "UPDATE":
            return
        fn(req.obj)

    def service_account(self, req: Request) -> None:
        if req.rt.key != ("", "pods") or req.operation != "CREATE" or req.obj is None:
            return
        spec = req.obj["spec"]
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
        sa = self.sim.store.peek(self.api.rt("", "serviceaccounts"), req.namespace, name)
        if sa is None:
            pod = req.obj["metadata"].get("name") or req.obj["metadata"].get("generateName", "")
            raise errors.forbidden(
                "pods",
                "",
                pod,
                f'pods "{pod}" is forbidden: error looking up service account '
                f'{req.namespace}/{name}: serviceaccount "{name}" not found',
            )
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.get("automountServiceAccountToken", True)
        if not automount:
            return
        if any(
            m.get("mountPath") == TOKEN_MOUNT
            for c in spec.get("containers", [])
            for m in c.get("volumeMounts", []) or []
        ):
            return
        vol = f"kube-api-access-{secrets.token_hex(3)[:5]}"
        spec.setdefault("volumes", []).append(
            {
                "name": vol,
                "projected": {
                    "defaultMode": 0o644,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        )
        for c in spec.get("containers", []) + (spec.get("initContainers") or []):
            c.setdefault("volumeMounts", []).append(
                {"name": vol, "readOnly": True, "mountPath": TOKEN_MOUNT}
            )

    def limit_ranger(self, req: Request) -> None:
        if req.rt.key != ("", "pods") or req.operation != "CREATE" or req.obj is None:
            return
        ranges = self.sim.store.iter(self.api.rt("", "limitranges"), req.namespace)
        for lr in ranges:
            for item in lr.get("spec", {}).get("limits", []):
                if item.get("type") != "Container":
                    continue
                for c in req.obj["spec"].get("containers", []):
                    res = c.setdefault("resources", {})
                    for k, v in (item.get("default") or {}).items():
                        res.setdefault("limits", {}).setdefault(k, v)
                    for k, v in (item.get("defaultRequest") or {}).items():
                        res.setdefault("requests", {}).setdefault(k, v)
                    for k, v in (res.get("limits") or {}).items():
                        res.setdefault("requests", {}).setdefault(k, v)
        req.obj["status"]["qosClass"] = defaults.qos_class(req.obj["spec"])

    def job_selector(self, req: Request) -> None:
        if req.rt.key == ("batch", "jobs") and req.operation == "CREATE" and req.obj:
            defaults.job_selector(req.obj)

    # -------------------------------------------------------------- validating
    def validate(self, req: Request) -> None:
        if req.obj is None:
            return
        self.sim.validate(req)

    def rbac_escalation(self, req: Request) -> None:
        rbacescalation.check(self.sim, req)

    def pod_security(self, req: Request) -> None:
        if req.operation != "CREATE" or req.obj is None:
            return
        ns = self.sim.store.peek(self.api.rt("", "namespaces"), "", req.namespace)
        labels = (ns or {}).get("metadata", {}).get("labels") or {}
        if req.rt.key == ("", "pods"):
            message, warnings = podsecurity.admit_pod(req.obj, labels)
            req.warnings.extend(warnings)
            if message:
                name = req.obj["metadata"].get("name", "")
                raise errors.forbidden("pods", "", name, message)
        elif req.rt.key == ("batch", "jobs"):
            req.warnings.extend(podsecurity.admit_workload(req.obj, labels))

    def resource_quota(self, req: Request) -> None:
        if req.operation != "CREATE" or req.obj is None or not req.rt.namespaced:
            return
        quotas = list(self.sim.store.iter(self.api.rt("", "resourcequotas"), req.namespace))
        if not quotas:
            return
        delta = self.usage_of(req.rt.key, req.obj)
        current = []
        for q in quotas:
            q2 = {**q, "status": {**(q.get("status") or {})}}
            q2["status"]["hard"] = q.get("spec", {}).get("hard", {})
            # Counting the namespace's usage is the expensive part, and only a quota that
            # constrains this object reads it (``quota.admit``).
            if quota.quota_matches(q2, req.rt.plural, req.rt.group, req.obj):
                used = self.sim.quota_used(req.namespace, q)
                q2["status"]["used"] = {k: str(v) for k, v in used.items()}
            current.append(q2)
        quota.check_quota(
            current,
            req.rt.plural,
            req.rt.group,
            delta,
            name=req.obj["metadata"].get("name", ""),
            obj=req.obj,
        )

    @staticmethod
    def usage_of(key: tuple[str, str], obj: dict) -> dict[str, Decimal]:
        return dict(quota.usage(key[1], key[0], obj))
