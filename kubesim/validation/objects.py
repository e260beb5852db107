"""Per-kind create rules (``pkg/apis/*/validation``) and ``validate_object``, which picks them.

Each ``validate_<kind>`` holds the hand-written rules of one kind teamhub writes (Jobs,
claims and volumes, Services, ConfigMaps, Secrets, RBAC, NetworkPolicies); the pod spec
they embed is checked by ``podspec``. The same rules run again on every update, with the
update-only rules of ``updates`` added.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from kubesim.errors import Cause
from kubesim.naming import (
    duplicate,
    invalid,
    is_config_key,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_path_segment_name,
    is_port_name,
    not_supported,
    required,
    too_long,
    validate_annotations,
    validate_labels,
    validate_metadata,
)
from kubesim.validation.common import (
    PV_SOURCES,
    Obj,
    extra_volume_types,
    invalid_each,
    nonneg,
    one_of,
    out_of_range,
    qty,
    storage_request,
    validate_label_selector,
)
from kubesim.validation.podspec import validate_pod_spec


def _template(tpl: Obj | None, path: str) -> list[Cause]:
    tpl = tpl or {}
    meta = tpl.get("metadata") or {}
    out = validate_labels(meta.get("labels"), path + ".labels")
    out += validate_annotations(meta.get("annotations"), path + ".annotations")
    return out + validate_pod_spec(tpl.get("spec") or {}, path + ".spec", pod=False)


def _selector_matches(sel: Obj, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for req in sel.get("matchExpressions") or []:
        k, op, vals = req.get("key"), req.get("operator"), req.get("values") or []
        if (
            (op == "In" and labels.get(k) not in vals)
            or (op == "NotIn" and labels.get(k) in vals)
            or (op == "Exists" and k not in labels)
            or (op == "DoesNotExist" and k in labels)
        ):
            return False
    return True


def validate_job(obj: Obj) -> list[Cause]:
    """batch/v1 Job spec rules (ValidateJobSpec), template included."""
    spec, p = obj.get("spec") or {}, "spec"
    out: list[Cause] = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ):
        out += nonneg(spec, key, p)
    mode = spec.get("completionMode")
    if mode is not None:
        out += one_of(p + ".completionMode", mode, ["NonIndexed", "Indexed"], False)
        if mode == "Indexed":
            if spec.get("completions") is None:
                out.append(required(p + ".completions", "when completion mode is Indexed"))
            par = spec.get("parallelism")
            if isinstance(par, int) and par > 100000:
                out.append(
                    invalid(
                        p + ".parallelism",
                        par,
                        "must be less than or equal to 100000 when completion mode is Indexed",
                    )
                )
    tpl = spec.get("template") or {}
    sel = spec.get("selector")
    if sel is not None:
        out += validate_label_selector(sel, p + ".selector")
        labels = (tpl.get("metadata") or {}).get("labels") or {}
        if (sel.get("matchLabels") or sel.get("matchExpressions")) and not _selector_matches(
            sel, labels
        ):
            out.append(
                invalid(
                    p + ".template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    out += _template(tpl, p + ".template")
    policy = (tpl.get("spec") or {}).get("restartPolicy") or "Always"  # as defaulted
    if policy not in ("OnFailure", "Never"):
        out.append(
            not_supported(p + ".template.spec.restartPolicy", policy, ["OnFailure", "Never"])
        )
    return out


_ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]


def _access_modes(spec: Obj, p: str, detail: str) -> list[Cause]:
    modes = spec.get("accessModes") or []
    out = [] if modes else [required(p + ".accessModes", detail)]
    return out + [
        not_supported(p + ".accessModes", m, _ACCESS_MODES) for m in modes if m not in _ACCESS_MODES
    ]


def _storage_class(spec: Obj, p: str) -> list[Cause]:
    scn = spec.get("storageClassName")
    return invalid_each(p + ".storageClassName", scn, is_dns1123_subdomain(scn)) if scn else []


def validate_pvc(obj: Obj) -> list[Cause]:
    spec, p = obj.get("spec") or {}, "spec"
    out = _access_modes(spec, p, "at least 1 access mode is required")
    storage = storage_request(spec)
    q = qty(storage) if storage is not None else None
    if storage is None:
        out.append(required(p + ".resources[storage]"))
    elif q is not None and q.value <= 0:
        out.append(invalid(p + ".resources[storage]", str(q), "must be greater than zero"))
    out += _storage_class(spec, p)
    out += one_of(p + ".volumeMode", spec.get("volumeMode"), ["Block", "Filesystem"], False)
    return out + validate_label_selector(spec.get("selector"), p + ".selector")


def validate_pv(obj: Obj) -> list[Cause]:
    spec, p = obj.get("spec") or {}, "spec"
    out = _access_modes(spec, p, "")
    cap = spec.get("capacity") or {}
    if not cap:
        out.append(required(p + ".capacity"))
    if "storage" not in cap or len(cap) > 1:
        out.append(not_supported(p + ".capacity", cap, ["storage"]))
    for r, raw in cap.items():
        q = qty(raw)
        if q is not None and q.value <= 0:
            out.append(invalid(f"{p}.capacity[{r}]", str(q), "must be greater than zero"))
    found = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not found:
        out.append(required(p, "must specify a volume type"))
    out += extra_volume_types(p, found)
    if found == ["nfs"]:
        nfs = spec["nfs"] or {}
        out += [required(f"{p}.nfs.{k}") for k in ("server", "path") if not nfs.get(k)]
    out += _storage_class(spec, p)
    return out + one_of(
        p + ".persistentVolumeReclaimPolicy",
        spec.get("persistentVolumeReclaimPolicy"),
        ["Delete", "Recycle", "Retain"],
        False,
    )


def validate_service(obj: Obj) -> list[Cause]:
    spec, p = obj.get("spec") or {}, "spec"
    out: list[Cause] = []
    stype = spec.get("type") or "ClusterIP"
    out += one_of(
        p + ".type",
        spec.get("type"),
        ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        False,
    )
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        out.append(required(p + ".ports"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        pp = f"{p}.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(required(pp + ".name"))
        elif name:
            out += invalid_each(pp + ".name", name, is_dns1123_label(name))
            if name in names:
                out.append(duplicate(pp + ".name", name))
            names.add(name)
        out += out_of_range(pp + ".port", port.get("port") or 0, 1, 65535)
        out += one_of(pp + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"])
        target = port.get("targetPort")
        if isinstance(target, int):
            out += out_of_range(pp + ".targetPort", target, 1, 65535)
        elif isinstance(target, str):
            out += invalid_each(pp + ".targetPort", target, is_port_name(target))
    return out + validate_labels(spec.get("selector"), p + ".selector")


def _decoded_len(v: Any) -> int:
    try:
        return len(base64.b64decode(v or "", validate=False))
    except (binascii.Error, ValueError):
        return 0  # already a decode error


def validate_configmap(obj: Obj) -> list[Cause]:
    out: list[Cause] = []
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    size = 0
    for which, mine, other in (("data", data, binary), ("binaryData", binary, data)):
        for k, v in mine.items():
            out += invalid_each(f"{which}[{k}]", k, is_config_key(k))
            if k in other:
                dup = "binaryData" if which == "data" else "data"
                out.append(invalid(f"{which}[{k}]", k, f"duplicate of key present in {dup}"))
            size += len((v or "").encode()) if which == "data" else _decoded_len(v)
    if size > 1024 * 1024:
        out.append(too_long("", 1024 * 1024))
    return out


def validate_secret(obj: Obj) -> list[Cause]:
    data, stype = obj.get("data") or {}, obj.get("type") or "Opaque"
    out: list[Cause] = []
    for k in data:
        out += invalid_each(f"data[{k}]", k, is_config_key(k))
    if sum(_decoded_len(v) for v in data.values()) > 1024 * 1024:
        out.append(too_long("data", 1024 * 1024))
    needed = {
        "kubernetes.io/tls": ("tls.crt", "tls.key"),
        "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
        "kubernetes.io/dockercfg": (".dockercfg",),
        "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    }.get(stype, ())
    out += [required(f"data[{k}]") for k in needed if k not in data]
    if stype == "kubernetes.io/service-account-token":
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        if not ann.get("kubernetes.io/service-account.name"):
            out.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    return out


def validate_rbac(obj: Obj, resource: str) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            out.append(required(p + ".verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if resource == "roles":
                out.append(
                    invalid(
                        p + ".nonResourceURLs",
                        rule["nonResourceURLs"],
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                out.append(
                    invalid(
                        p + ".nonResourceURLs",
                        rule["nonResourceURLs"],
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not rule.get("apiGroups"):
            out.append(
                required(p + ".apiGroups", "resource rules must supply at least one api group")
            )
        if not rule.get("resources"):
            out.append(
                required(p + ".resources", "resource rules must supply at least one resource")
            )
    if resource in ("rolebindings", "clusterrolebindings"):
        ref = obj.get("roleRef") or {}
        group = "rbac.authorization.k8s.io"
        out += one_of("roleRef.apiGroup", ref.get("apiGroup", ""), [group], False)
        kinds = ["ClusterRole"] if resource == "clusterrolebindings" else ["Role", "ClusterRole"]
        out += one_of("roleRef.kind", ref.get("kind", ""), kinds, False)
        if not ref.get("name"):
            out.append(required("roleRef.name"))
        else:
            out += invalid_each("roleRef.name", ref["name"], is_path_segment_name(ref["name"]))
        for i, s in enumerate(obj.get("subjects") or []):
            p, kind = f"subjects[{i}]", s.get("kind", "")
            if not s.get("name"):
                out.append(required(p + ".name"))
            if kind == "ServiceAccount":
                out += one_of(p + ".apiGroup", s.get("apiGroup") or "", [""], False)
                if s.get("name"):
                    out += invalid_each(p + ".name", s["name"], is_dns1123_subdomain(s["name"]))
                if resource == "clusterrolebindings" and not s.get("namespace"):
                    out.append(required(p + ".namespace"))
            elif kind in ("User", "Group"):
                out += one_of(p + ".apiGroup", s.get("apiGroup") or "", [group], False)
            else:
                out.append(not_supported(p + ".kind", kind, ["ServiceAccount", "User", "Group"]))
    return out


def validate_network_policy(obj: Obj) -> list[Cause]:
    spec, p = obj.get("spec") or {}, "spec"
    out = validate_label_selector(spec.get("podSelector"), p + ".podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            rp = f"{p}.{direction}[{i}]"
            for j, port in enumerate(rule.get("ports") or []):
                pp = f"{rp}.ports[{j}]"
                out += one_of(pp + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"])
                n = port.get("port")
                if isinstance(n, int):
                    out += out_of_range(pp + ".port", n, 1, 65535)
            for j, peer in enumerate(rule.get(peers_key) or []):
                pp = f"{rp}.{peers_key}[{j}]"
                if not peer:
                    out.append(required(pp, "must specify a peer"))
                out += validate_label_selector(peer.get("podSelector"), pp + ".podSelector")
                out += validate_label_selector(
                    peer.get("namespaceSelector"), pp + ".namespaceSelector"
                )
    for i, t in enumerate(spec.get("policyTypes") or []):
        out += one_of(f"{p}.policyTypes[{i}]", t, ["Ingress", "Egress"], False)
    return out


def validate_object(resource: str, obj: Obj, namespaced: bool | None = None) -> list[Cause]:
    """All hand-written create rules for ``resource`` (a plural), metadata included."""
    out = validate_metadata(obj, resource, namespaced)
    if resource == "pods":
        out += validate_pod_spec(obj.get("spec") or {}, "spec", pod=True)
    elif resource == "jobs":
        out += validate_job(obj)
    elif resource == "persistentvolumeclaims":
        out += validate_pvc(obj)
    elif resource == "persistentvolumes":
        out += validate_pv(obj)
    elif resource == "services":
        out += validate_service(obj)
    elif resource == "secrets":
        out += validate_secret(obj)
    elif resource == "configmaps":
        out += validate_configmap(obj)
    elif resource in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
        out += validate_rbac(obj, resource)
    elif resource == "networkpolicies":
        out += validate_network_policy(obj)
    return out
