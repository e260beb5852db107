"""The update-only rules: immutable metadata and the fields each kind freezes once created.

kube-apiserver validates an update twice: the new object with the create rules
(``objects``), then old against new with ``Validate*Update``. The second half lives here,
including the semantic equality (``apiequality.Semantic``) those rules compare with and
the go-cmp-like diff that real messages append.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kubesim.errors import Cause
from kubesim.naming import forbidden, immutable, invalid
from kubesim.validation.common import (
    MAX_INT32,
    PV_SOURCES,
    Obj,
    Qty,
    out_of_range,
    qty,
    storage_request,
)
from kubesim.validation.podspec import validate_image


def _norm(x: Any, key: str = "") -> Any:
    """Semantic equality as apiequality.Semantic sees it: absent, null, empty and zero
    strings alike; quantities by value."""
    if isinstance(x, dict):
        out = {k: _norm(v, k) for k, v in x.items()}
        if key in ("requests", "limits", "capacity"):
            out = {k: (str(q) if (q := qty(v)) else v) for k, v in out.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(x, list):
        return [_norm(v) for v in x]
    if key == "sizeLimit" and x is not None:
        q = qty(x)
        return str(q) if q else x
    return x


def _go_field(key: str) -> str:
    return key[:1].upper() + key[1:]


def _diff(old: Obj, new: Obj, type_name: str) -> str:
    """A short go-cmp-like diff of two specs (real messages append ``cmp.Diff``)."""
    old, new = _norm(old), _norm(new)
    lines = [f"  {type_name}{{"]
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            if k in old:
                lines.append(f"- \t{_go_field(k)}: {json.dumps(old[k], sort_keys=True)},")
            if k in new:
                lines.append(f"+ \t{_go_field(k)}: {json.dumps(new[k], sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines)


UPDATABLE_POD_SPEC_FIELDS = ",".join(
    [
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)",
    ]
)


def _pod_update(old: Obj, new: Obj) -> list[Cause]:
    out: list[Cause] = []
    for key in ("containers", "initContainers"):
        n, o = new.get(key) or [], old.get(key) or []
        if len(n) != len(o):
            return [forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
        for i, c in enumerate(n):
            out += validate_image(c.get("image") or "", f"spec.{key}[{i}].image")
    new_ads, old_ads = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if new_ads is not None:
        if bad := out_of_range("spec.activeDeadlineSeconds", new_ads, 0, MAX_INT32):
            return out + bad
        if old_ads is not None and old_ads < new_ads:
            return [
                *out,
                invalid(
                    "spec.activeDeadlineSeconds",
                    new_ads,
                    "must be less than or equal to previous value",
                ),
            ]
    elif old_ads is not None:
        out.append(
            invalid(
                "spec.activeDeadlineSeconds",
                None,
                "must not update from a positive integer to nil value",
            )
        )
    new_tols = [_norm(t) for t in new.get("tolerations") or []]
    for t in old.get("tolerations") or []:
        want = {k: v for k, v in _norm(t).items() if k != "tolerationSeconds"}
        if not any(
            {k: v for k, v in n.items() if k != "tolerationSeconds"} == want for n in new_tols
        ):
            out.append(
                forbidden(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            )
            break
    old_gates = [g.get("name") for g in old.get("schedulingGates") or []]
    for i, g in enumerate(new.get("schedulingGates") or []):
        if g.get("name") not in old_gates:
            out.append(
                forbidden(
                    f"spec.schedulingGates[{i}]",
                    f"only deletion is allowed, but found new scheduling gate '{g.get('name')}'",
                )
            )
    munged = copy.deepcopy(new)
    for key in ("containers", "initContainers"):
        for c, o in zip(munged.get(key) or [], old.get(key) or [], strict=False):
            c["image"] = o.get("image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged[key] = old.get(key)
    old_tgps = old.get("terminationGracePeriodSeconds")
    if (
        isinstance(old_tgps, int)
        and old_tgps < 0
        and munged.get("terminationGracePeriodSeconds") == 1
    ):
        munged["terminationGracePeriodSeconds"] = old_tgps
    if old.get("schedulingGates") and _norm(munged.get("nodeSelector")) != _norm(
        old.get("nodeSelector")
    ):
        old_sel = old.get("nodeSelector") or {}
        if all((munged.get("nodeSelector") or {}).get(k) == v for k, v in old_sel.items()):
            munged["nodeSelector"] = old.get("nodeSelector")  # additions allowed while gated
    if _norm(munged) != _norm(old):
        out.append(
            forbidden(
                "spec",
                "pod updates may not change fields other than "
                f"{UPDATABLE_POD_SPEC_FIELDS}\n{_diff(old, munged, 'core.PodSpec')}",
            )
        )
    return out


def _storage(spec: Obj) -> Qty | None:
    raw = storage_request(spec)
    return qty(raw) if raw is not None else None


def _pvc_update(old: Obj, new: Obj) -> list[Cause]:
    o_spec, n_spec = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(new.get("spec") or {})
    out: list[Cause] = []
    if not o_spec.get("volumeName"):
        o_spec["volumeName"] = n_spec.get("volumeName")  # binding sets it once
    ann = "volume.beta.kubernetes.io/storage-class"
    o_ann = (old.get("metadata") or {}).get("annotations") or {}
    n_ann = (new.get("metadata") or {}).get("annotations") or {}
    if o_ann.get(ann) != n_ann.get(ann):
        out.append(invalid(f"metadata.annotations.{ann}", n_ann.get(ann, ""), "field is immutable"))
    if o_spec.get("storageClassName") is None and ann not in o_ann:
        o_spec["storageClassName"] = n_spec.get("storageClassName")  # retroactive default
    phase = (new.get("status") or old.get("status") or {}).get("phase")
    if phase == "Bound":
        reqs = (n_spec.get("resources") or {}).get("requests")
        if reqs is not None:
            reqs["storage"] = storage_request(o_spec)
        if n_spec.get("volumeAttributesClassName") is not None:
            n_spec["volumeAttributesClassName"] = o_spec.get("volumeAttributesClassName")
    if _norm(n_spec) != _norm(o_spec):
        out.append(
            forbidden(
                "spec",
                "spec is immutable after creation except resources.requests "
                "and volumeAttributesClassName for bound claims\n"
                + _diff(o_spec, n_spec, "core.PersistentVolumeClaimSpec"),
            )
        )
    old_size, new_size = _storage(old.get("spec") or {}), _storage(new.get("spec") or {})
    cap = qty(((old.get("status") or {}).get("capacity") or {}).get("storage") or "0")
    if (
        old_size
        and new_size
        and new_size.value < old_size.value
        and cap is not None
        and new_size.value <= cap.value
    ):
        out.append(
            forbidden(
                "spec.resources.requests.storage", "field can not be less than status.capacity"
            )
        )
    if (new.get("spec") or {}).get("volumeMode") != (old.get("spec") or {}).get("volumeMode"):
        out.append(immutable("volumeMode", (new.get("spec") or {}).get("volumeMode")))
    return out


def _pv_update(old: Obj, new: Obj) -> list[Cause]:
    o_spec, n_spec = old.get("spec") or {}, new.get("spec") or {}
    o_src = {k: o_spec.get(k) for k in PV_SOURCES if o_spec.get(k) is not None}
    n_src = {k: n_spec.get(k) for k in PV_SOURCES if n_spec.get(k) is not None}
    out: list[Cause] = []
    if _norm(o_src) != _norm(n_src):
        out.append(
            forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation\n"
                + _diff(o_src, n_src, "core.PersistentVolumeSource"),
            )
        )
    if n_spec.get("volumeMode") != o_spec.get("volumeMode"):
        out.append(immutable("volumeMode", n_spec.get("volumeMode")))
    if o_spec.get("nodeAffinity") and _norm(o_spec["nodeAffinity"]) != _norm(
        n_spec.get("nodeAffinity")
    ):
        out.append(immutable("nodeAffinity", n_spec.get("nodeAffinity")))
    return out


def _job_update(old: Obj, new: Obj) -> list[Cause]:
    o, n = old.get("spec") or {}, new.get("spec") or {}
    out: list[Cause] = []
    indexed = n.get("completionMode") == "Indexed"
    if _norm(n.get("completions")) != _norm(o.get("completions")):
        if not indexed:
            out.append(immutable("spec.completions", n.get("completions")))
        elif n.get("completions") is not None and n.get("completions") != n.get("parallelism"):
            out.append(
                invalid(
                    "spec.completions",
                    n.get("completions"),
                    "can only be modified in tandem with spec.parallelism",
                )
            )
    if _norm(n.get("selector")) != _norm(o.get("selector")):
        out.append(immutable("spec.selector", n.get("selector")))
    old_tpl = copy.deepcopy(o.get("template") or {})
    new_tpl = n.get("template") or {}
    suspended = bool(o.get("suspend")) and not (old.get("status") or {}).get("startTime")
    if suspended:  # scheduling directives of a suspended, never started Job may change
        for k in ("nodeSelector", "tolerations", "schedulingGates"):
            old_tpl.setdefault("spec", {})[k] = (new_tpl.get("spec") or {}).get(k)
        aff = (new_tpl.get("spec") or {}).get("affinity") or {}
        old_aff = old_tpl.setdefault("spec", {}).get("affinity") or {}
        old_aff["nodeAffinity"] = aff.get("nodeAffinity")
        old_tpl["spec"]["affinity"] = old_aff
        for k in ("labels", "annotations"):
            old_tpl.setdefault("metadata", {})[k] = (new_tpl.get("metadata") or {}).get(k)
    if _norm(new_tpl) != _norm(old_tpl):
        out.append(immutable("spec.template", new_tpl))
    for key in (
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ):
        if _norm(n.get(key)) != _norm(o.get(key)):
            out.append(immutable(f"spec.{key}", n.get(key)))
    return out


def _data_update(old: Obj, new: Obj, keys: tuple[str, ...]) -> list[Cause]:
    out: list[Cause] = []
    if old.get("immutable"):
        if not new.get("immutable"):
            out.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        out += [
            forbidden(k, "field is immutable when `immutable` is set")
            for k in keys
            if _norm(new.get(k)) != _norm(old.get(k))
        ]
    return out


def _service_update(old: Obj, new: Obj) -> list[Cause]:
    o, n = old.get("spec") or {}, new.get("spec") or {}
    if "ExternalName" in (o.get("type"), n.get("type")):
        return []
    old_ip, new_ip = o.get("clusterIP") or "", n.get("clusterIP") or ""
    if old_ip and new_ip and new_ip != old_ip:
        return [
            invalid(
                "spec.clusterIPs[0]", n.get("clusterIPs") or [new_ip], "may not change once set"
            )
        ]
    return []


def validate_update(resource: str, old: Obj, new: Obj, status: bool = False) -> list[Cause]:
    """The update-only rules: immutable metadata and per-resource immutable fields.
    ``new`` itself is checked with ``validate_object``. The caller keeps the stored
    ``creationTimestamp`` and fills an empty ``uid``, as rest.BeforeUpdate does."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    out: list[Cause] = []
    for key in ("name", "namespace"):
        if (nm.get(key) or "") != (om.get(key) or ""):
            out.append(immutable(f"metadata.{key}", nm.get(key) or ""))
    # rest.BeforeUpdate fills an empty uid and always restores creationTimestamp from the
    # stored object before validating, so only a different uid is an error.
    if nm.get("uid") and nm["uid"] != om.get("uid"):
        out.append(immutable("metadata.uid", nm["uid"]))
    if status:
        return out
    if resource == "pods":
        out += _pod_update(old.get("spec") or {}, new.get("spec") or {})
    elif resource == "persistentvolumeclaims":
        out += _pvc_update(old, new)
    elif resource == "persistentvolumes":
        out += _pv_update(old, new)
    elif resource == "jobs":
        out += _job_update(old, new)
    elif resource == "secrets":
        if (new.get("type") or "Opaque") != (old.get("type") or "Opaque"):
            out.append(immutable("type", new.get("type") or ""))
        out += _data_update(old, new, ("data",))
    elif resource == "configmaps":
        out += _data_update(old, new, ("data", "binaryData"))
    elif resource == "services":
        out += _service_update(old, new)
    elif resource in ("rolebindings", "clusterrolebindings") and _norm(new.get("roleRef")) != _norm(
        old.get("roleRef")
    ):
        out.append(invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
    return out
