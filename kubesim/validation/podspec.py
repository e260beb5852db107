"""ValidatePodSpec's rules: volumes, containers (ports, env, mounts, resources, security
context), tolerations and the pod-level fields.

A pod spec is validated for Pods and for every template that embeds one (Jobs today,
PyTorchJobs' replicas through their schema), so its rules live apart from the per-kind
rules in ``objects``. Messages and cause order follow ``pkg/apis/core/validation``.
"""

from __future__ import annotations

from typing import Any

from kubesim.errors import Cause
from kubesim.naming import (
    NEGATIVE_ERROR,
    Raw,
    duplicate,
    invalid,
    is_config_key,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_label_value,
    is_port_name,
    is_qualified_name,
    not_found,
    not_supported,
    required,
    validate_labels,
)
from kubesim.validation.common import (
    MAX_INT32,
    Obj,
    extra_volume_types,
    invalid_each,
    local_path,
    one_of,
    out_of_range,
    qty,
    words,
)

_VOLUME_SOURCES = words(
    "hostPath emptyDir gitRepo gcePersistentDisk awsElasticBlockStore secret nfs iscsi "
    "glusterfs flocker persistentVolumeClaim quobyte rbd cinder cephfs flexVolume "
    "downwardAPI fc azureFile vsphereVolume azureDisk photonPersistentDisk portworxVolume "
    "projected scaleIO configMap storageos csi ephemeral image"
)


_ENV_FIELD_PATHS = words(
    "metadata.annotations metadata.labels metadata.name metadata.namespace metadata.uid "
    "spec.nodeName spec.serviceAccountName status.hostIP status.hostIPs status.podIP "
    "status.podIPs"
)


# ------------------------------------------------------------------- volumes
def _file_mode(mode: Any, path: str) -> list[Cause]:
    if mode is not None and not 0 <= mode <= 0o777:
        return [invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive")]
    return []


def _key_to_paths(items: list[Obj] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, it in enumerate(items or []):
        p = f"{path}.items[{i}]"
        if not it.get("key"):
            out.append(required(p + ".key"))
        if not it.get("path"):
            out.append(required(p + ".path"))
        else:
            out += local_path(it["path"], p + ".path")
        out += _file_mode(it.get("mode"), p + ".mode")
    return out


def _volume_source(src: str, body: Any, path: str) -> list[Cause]:
    p = f"{path}.{src}"
    body = body if isinstance(body, dict) else {}
    out: list[Cause] = []
    need = {
        "persistentVolumeClaim": "claimName",
        "secret": "secretName",
        "configMap": "name",
        "nfs": "server",
        "hostPath": "path",
        "csi": "driver",
    }.get(src)
    if need and not body.get(need):
        out.append(required(f"{p}.{need}"))
    if src == "nfs" and body.get("path") and not body["path"].startswith("/"):
        out.append(invalid(p + ".path", body["path"], "must be an absolute path"))
    if src in ("secret", "configMap", "projected", "downwardAPI"):
        out += _file_mode(body.get("defaultMode"), p + ".defaultMode")
        out += _key_to_paths(body.get("items"), p)
    if src == "emptyDir" and body.get("sizeLimit") is not None:
        q = qty(body["sizeLimit"])
        if q is not None and q.value < 0:
            out.append(invalid(p + ".sizeLimit", str(q), NEGATIVE_ERROR))
    return out


def _volumes(volumes: list[Obj] | None, path: str) -> tuple[set[str], list[Cause]]:
    names: set[str] = set()
    out: list[Cause] = []
    for i, vol in enumerate(volumes or []):
        p = f"{path}[{i}]"
        errs: list[Cause] = []
        found = [s for s in _VOLUME_SOURCES if vol.get(s) is not None]
        if not found:
            errs.append(required(p, "must specify a volume type"))
        else:
            errs += _volume_source(found[0], vol[found[0]], p)
            errs += extra_volume_types(p, found)
        name = vol.get("name") or ""
        if not name:
            errs.append(required(p + ".name"))
        else:
            errs += invalid_each(p + ".name", name, is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(p + ".name", name))
        if errs:
            out += errs
        else:
            names.add(name)  # only valid volumes can be mounted (as ValidateVolumes)
    return names, out


# ---------------------------------------------------------------- containers
def _resources(res: Obj | None, path: str) -> list[Cause]:
    res = res or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    out: list[Cause] = []
    for which, values in (("limits", limits), ("requests", requests)):
        for rname, raw in values.items():
            p = f"{path}.{which}[{rname}]"
            out += invalid_each(p, rname, is_qualified_name(rname))
            native = "/" not in rname or "kubernetes.io/" in rname
            if (
                "/" not in rname
                and rname not in ("cpu", "memory", "ephemeral-storage")
                and not rname.startswith("hugepages-")
            ):
                out.append(invalid(p, rname, "must be a standard resource for containers"))
            q = qty(raw)
            if q is None:
                continue
            if q.value < 0:
                out.append(invalid(p, str(q), NEGATIVE_ERROR))
            if not native and q.value != q.value.to_integral_value():
                out.append(invalid(p, Raw(str(q)), "must be an integer"))
    for rname, raw in requests.items():
        q = qty(raw)
        overcommit = ("/" not in rname or "kubernetes.io/" in rname) and not rname.startswith(
            "hugepages-"
        )
        if rname in limits:
            lim = qty(limits[rname])
            if q is None or lim is None:
                continue
            if not overcommit and q.value != lim.value:
                out.append(
                    invalid(f"{path}.requests", str(q), f"must be equal to {rname} limit of {lim}")
                )
            elif q.value > lim.value:
                out.append(
                    invalid(
                        f"{path}.requests",
                        str(q),
                        f"must be less than or equal to {rname} limit of {lim}",
                    )
                )
        elif not overcommit:
            out.append(
                required(f"{path}.limits", "Limit must be set for non overcommitable resources")
            )
    return out


def _env(env: list[Obj] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, ev in enumerate(env or []):
        p = f"{path}[{i}]"
        name = ev.get("name") or ""
        if not name:
            out.append(required(p + ".name"))
        out += invalid_each(p + ".name", name, is_env_var_name(name))
        src = ev.get("valueFrom")
        if src is None:
            continue
        vp = p + ".valueFrom"
        kinds = [
            k
            for k in (
                "fieldRef",
                "resourceFieldRef",
                "configMapKeyRef",
                "secretKeyRef",
                "fileKeyRef",
            )
            if src.get(k) is not None
        ]
        for k in ("configMapKeyRef", "secretKeyRef"):
            ref = src.get(k)
            if ref is None:
                continue
            out += invalid_each(
                f"{vp}.{k}.name", ref.get("name", ""), is_dns1123_subdomain(ref.get("name") or "")
            )
            if not ref.get("key"):
                out.append(required(f"{vp}.{k}.key"))
            else:
                out += invalid_each(f"{vp}.{k}.key", ref["key"], is_config_key(ref["key"]))
        fref = src.get("fieldRef")
        if fref is not None:
            fp = fref.get("fieldPath") or ""
            base = (
                fp.split("[", 1)[0]
                if fp.startswith(("metadata.labels[", "metadata.annotations["))
                else fp
            )
            if not fp:
                out.append(required(vp + ".fieldRef.fieldPath"))
            elif base not in _ENV_FIELD_PATHS or fp in ("metadata.labels", "metadata.annotations"):
                out.append(not_supported(vp + ".fieldRef.fieldPath", fp, list(_ENV_FIELD_PATHS)))
        if not kinds:
            out.append(
                invalid(
                    vp,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, "
                    "`configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif ev.get("value"):
            out.append(invalid(vp, "", "may not be specified when `value` is not empty"))
        elif len(kinds) > 1:
            out.append(invalid(vp, "", "may not have more than one field specified at a time"))
    return out


def _ports(ports: list[Obj] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(ports or []):
        p = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = is_port_name(name)
            out += invalid_each(p + ".name", name, msgs)
            if not msgs and name in names:
                out.append(duplicate(p + ".name", name))
            names.add(name)
        for key in ("containerPort", "hostPort"):
            n = port.get(key) or 0
            if key == "containerPort" and n == 0:
                out.append(required(p + ".containerPort"))
            elif n:
                out += out_of_range(f"{p}.{key}", n, 1, 65535)
        out += one_of(p + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"])
    return out


def _mounts(mounts: list[Obj] | None, volumes: set[str], path: str) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for i, m in enumerate(mounts or []):
        p = f"{path}[{i}]"
        name, mount_path = m.get("name") or "", m.get("mountPath") or ""
        if not name:
            out.append(required(p + ".name"))
        if name not in volumes:
            out.append(not_found(p + ".name", name))
        if not mount_path:
            out.append(required(p + ".mountPath"))
        if mount_path in seen:
            out.append(invalid(p + ".mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
        if m.get("subPath"):  # the real path omits the index here
            out += local_path(m["subPath"], path + ".subPath")
    return out


def _security_context(sc: Obj | None, path: str, pod: bool) -> list[Cause]:
    sc = sc or {}
    out: list[Cause] = []
    for key in ("runAsUser", "runAsGroup") + (("fsGroup",) if pod else ()):
        if isinstance(v := sc.get(key), int):
            out += out_of_range(f"{path}.{key}", v, 0, MAX_INT32)
    for i, g in enumerate(sc.get("supplementalGroups") or []):
        if isinstance(g, int):
            out += out_of_range(f"{path}.supplementalGroups[{i}]", g, 0, MAX_INT32)
    if not pod and sc.get("allowPrivilegeEscalation") is False:
        if sc.get("privileged"):
            out.append(
                invalid(
                    path,
                    sc,
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        if "SYS_ADMIN" in ((sc.get("capabilities") or {}).get("add") or []):
            out.append(
                invalid(
                    path,
                    sc,
                    "cannot set `allowPrivilegeEscalation` to false and "
                    "`capabilities.Add` CAP_SYS_ADMIN",
                )
            )
    return out


def validate_image(image: str, path: str) -> list[Cause]:
    """A Pod's container image (templates may leave it empty); also checked on update."""
    if not image:
        return [required(path)]
    if image.strip() != image:
        return [invalid(path, image, "must not have leading or trailing whitespace")]
    return []


def _containers(
    ctrs: list[Obj] | None, path: str, volumes: set[str], taken: set[str], pod: bool
) -> list[Cause]:
    out: list[Cause] = []
    for i, c in enumerate(ctrs or []):
        p = f"{path}[{i}]"
        name = c.get("name") or ""
        if not name:
            out.append(required(p + ".name"))
        else:
            out += invalid_each(p + ".name", name, is_dns1123_label(name))
        if pod:
            out += validate_image(c.get("image") or "", p + ".image")
        out += one_of(
            p + ".imagePullPolicy", c.get("imagePullPolicy"), ["Always", "IfNotPresent", "Never"]
        )
        out += one_of(
            p + ".terminationMessagePolicy",
            c.get("terminationMessagePolicy"),
            ["File", "FallbackToLogsOnError"],
        )
        out += _ports(c.get("ports"), p + ".ports")
        out += _env(c.get("env"), p + ".env")
        out += _mounts(c.get("volumeMounts"), volumes, p + ".volumeMounts")
        out += _resources(c.get("resources"), p + ".resources")
        out += _security_context(c.get("securityContext"), p + ".securityContext", False)
        if name in taken:  # checked after the rest, as validateContainers does
            out.append(duplicate(p + ".name", name))
        elif name:
            taken.add(name)
    return out


def _tolerations(tols: list[Obj] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, t in enumerate(tols or []):
        p = f"{path}[{i}]"
        key, op, value = t.get("key") or "", t.get("operator") or "", t.get("value") or ""
        if key:
            out += invalid_each(p + ".key", key, is_qualified_name(key))
        elif op != "Exists":
            out.append(
                invalid(
                    p + ".operator",
                    op,
                    "operator must be Exists when `key` is "
                    'empty, which means "match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            out.append(
                invalid(
                    p + ".effect",
                    t.get("effect") or "",
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if op in ("Equal", ""):
            msgs = is_label_value(value)
            if msgs:
                out.append(invalid(p + ".operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                out.append(
                    invalid(p + ".operator", t, "value must be empty when `operator` is 'Exists'")
                )
        else:
            out.append(not_supported(p + ".operator", op, ["Equal", "Exists"]))
        if t.get("effect"):
            out += one_of(
                p + ".effect", t["effect"], ["NoSchedule", "PreferNoSchedule", "NoExecute"]
            )
    return out


def validate_pod_spec(spec: Obj, path: str = "spec", *, pod: bool | None = None) -> list[Cause]:
    """ValidatePodSpec's rules (after defaulting). ``pod``: a Pod, not a template, which
    also requires images; by default a Pod when ``path == "spec"``."""
    pod = path == "spec" if pod is None else pod
    volumes, out = _volumes(spec.get("volumes"), path + ".volumes")
    if not spec.get("containers"):
        out.append(required(path + ".containers"))
    names: set[str] = set()
    out += _containers(spec.get("containers"), path + ".containers", volumes, names, pod)
    out += _containers(spec.get("initContainers"), path + ".initContainers", volumes, names, pod)
    out += one_of(
        path + ".restartPolicy", spec.get("restartPolicy"), ["Always", "OnFailure", "Never"]
    )
    out += one_of(
        path + ".dnsPolicy",
        spec.get("dnsPolicy"),
        ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    )
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            out += invalid_each(f"{path}.{key}", spec[key], is_dns1123_label(spec[key]))
    for key in ("serviceAccountName", "priorityClassName"):
        if spec.get(key):
            out += invalid_each(f"{path}.{key}", spec[key], is_dns1123_subdomain(spec[key]))
    out += validate_labels(spec.get("nodeSelector"), path + ".nodeSelector")
    out += _tolerations(spec.get("tolerations"), path + ".tolerations")
    if isinstance(ads := spec.get("activeDeadlineSeconds"), int):
        out += out_of_range(path + ".activeDeadlineSeconds", ads, 1, MAX_INT32)
    out += _security_context(spec.get("securityContext"), path + ".securityContext", True)
    return out
