"""A container's environment, computed as the kubelet computes it.

Pure functions: the pod, the container and lookups in, ``{name: value}`` out. They follow
``kubelet_pods.go`` (``makeEnvironmentVariables``), the ``expansion`` package and
``fieldpath``, because programs in pods (and their tests) depend on the details:

- ``$(VAR)`` expands only variables defined *earlier in the container's env* (or by
  envFrom, or service links), ``$$`` is a literal ``$``, an unknown ``$(X)`` stays as is;
- a missing Secret/ConfigMap or key that is not ``optional`` fails the container with
  the kubelet's own message (``secret "s" not found``, ``couldn't find key k in Secret
  ns/s``), surfaced as ``CreateContainerConfigError``;
- unset ``limits.*`` in a ``resourceFieldRef`` read as the node's allocatable;
- service link variables (``<SVC>_SERVICE_HOST`` ...) for Services of the pod's
  namespace when ``enableServiceLinks``, and always for the master ``kubernetes`` Service.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kubesim.quantity import parse_quantity

Obj = dict[str, Any]
Lookup = Callable[[str], Obj | None]


class ContainerConfigError(Exception):
    """The container's configuration cannot be built (the kubelet retries until it can)."""

    reason = "CreateContainerConfigError"


# ------------------------------------------------------------------ expansion
def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion (third_party/forked/golang/expansion).

    ``$$`` is an escaped ``$``; ``$(NAME)`` is replaced when ``lookup`` knows NAME and kept
    verbatim otherwise; an unclosed ``$(`` and a ``$`` before any other character are
    copied through.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close == -1:
                out.append("$(")
                i += 2
            else:
                name = text[i + 2 : close]
                value = lookup(name)
                out.append(value if value is not None else f"$({name})")
                i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def _lookup_in(*maps: Mapping[str, str]) -> Callable[[str], str | None]:
    def look(name: str) -> str | None:
        for m in maps:
            if name in m:
                return m[name]
        return None

    return look


def expand_command(container: Obj, env: Mapping[str, str]) -> list[str]:
    """``command`` + ``args`` with ``$(VAR)`` expanded against the container's env."""
    look = _lookup_in(env)
    return [expand(a, look) for a in (container.get("command") or [])] + [
        expand(a, look) for a in (container.get("args") or [])
    ]


# ------------------------------------------------------------------ field refs
def go_quote(s: str) -> str:
    """Go's ``%q`` for the common cases (used by the downward API's label/annotation files)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable():
            code = ord(ch)
            out.append(
                f"\\x{code:02x}"
                if code < 0x80
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_map(m: Mapping[str, str] | None) -> str:
    """``fieldpath.FormatMap``: sorted ``key="value"`` lines, no trailing newline."""
    return "\n".join(f"{k}={go_quote(v)}" for k, v in sorted((m or {}).items()))


_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")


def field_ref_value(pod: Obj, path: str, *, pod_ips: list[str], host_ips: list[str]) -> str:
    """The value of a downward API ``fieldRef`` (kubelet ``podFieldSelectorRuntimeValue``)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ips[0] if host_ips else "",
        "status.hostIPs": ",".join(host_ips),
        "status.podIP": pod_ips[0] if pod_ips else "",
        "status.podIPs": ",".join(pod_ips),
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "metadata.labels": format_map(meta.get("labels")),
        "metadata.annotations": format_map(meta.get("annotations")),
    }
    if path in simple:
        return simple[path]
    m = _SUBSCRIPT.match(path)
    if m:
        which = "labels" if m.group(1).endswith("labels") else "annotations"
        return (meta.get(which) or {}).get(m.group(2), "")
    if "[" in path:
        raise ContainerConfigError(f'fieldPath "{path}" does not support subscript')
    raise ContainerConfigError(f"unsupported fieldPath: {path}")


def resource_field_value(
    container: Obj, resource: str, divisor: Any, allocatable: Mapping[str, Any] | None = None
) -> str:
    """A ``resourceFieldRef`` (``limits.cpu`` ...), as ``ExtractContainerResourceValue``.

    Unset limits default to the node's allocatable, as the kubelet does before extracting.
    CPU rounds up in millicores over the divisor, everything else in whole units.
    """
    d = parse_quantity(divisor) if divisor not in (None, "", 0, "0") else Decimal(1)
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise ContainerConfigError(f"unsupported container resource : {resource}")
    if name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
        raise ContainerConfigError(f"unsupported container resource : {resource}")
    res = (container.get("resources") or {}).get(kind) or {}
    raw = res.get(name)
    if raw is None and kind == "limits":
        raw = (allocatable or {}).get(name)
    q = parse_quantity(raw) if raw is not None else Decimal(0)
    if name == "cpu":
        milli, dmilli = math.ceil(q * 1000), math.ceil(d * 1000)
        return str(math.ceil(Decimal(milli) / Decimal(dmilli)))
    return str(math.ceil(Decimal(math.ceil(q)) / Decimal(math.ceil(d))))


# ------------------------------------------------------------------ services
def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_link_env(services: list[Obj]) -> dict[str, str]:
    """``envvars.FromServices``: host/port variables and Docker-style link variables."""
    out: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP") or ""
        ports = spec.get("ports") or []
        if ip in ("", "None") or not ports:
            continue
        prefix = _env_name(svc["metadata"]["name"])
        out[f"{prefix}_SERVICE_HOST"] = ip
        out[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            if p.get("name"):
                out[f"{prefix}_SERVICE_PORT_{_env_name(p['name'])}"] = str(p["port"])
        for i, p in enumerate(ports):
            proto = (p.get("protocol") or "TCP").upper()
            host_port = f"[{ip}]:{p['port']}" if ":" in ip else f"{ip}:{p['port']}"
            url = f"{proto.lower()}://{host_port}"
            if i == 0:
                out[f"{prefix}_PORT"] = url
            pp = f"{prefix}_PORT_{p['port']}_{proto}"
            out[pp] = url
            out[f"{pp}_PROTO"] = proto.lower()
            out[f"{pp}_PORT"] = str(p["port"])
            out[f"{pp}_ADDR"] = ip
    return out


def service_env(
    pod: Obj, services: list[Obj], master_host: str, master_port: int
) -> dict[str, str]:
    """Service env of a pod: the master ``kubernetes`` Service (kubesim's own address)
    always, plus the Services of the pod's namespace when ``enableServiceLinks``."""
    ns = pod["metadata"].get("namespace", "")
    by_name: dict[str, Obj] = {
        "kubernetes": {
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {
                "clusterIP": master_host,
                "ports": [{"name": "https", "port": master_port, "protocol": "TCP"}],
            },
        }
    }
    if (pod.get("spec") or {}).get("enableServiceLinks", True):
        for svc in services:
            m = svc["metadata"]
            if m.get("namespace") == ns and not (ns == "default" and m["name"] == "kubernetes"):
                by_name[m["name"]] = svc
    return service_link_env(list(by_name.values()))


# ------------------------------------------------------------------ env
def _decode(data: Obj, key: str) -> str | None:
    if key in (data.get("data") or {}):
        raw = base64.b64decode(data["data"][key])
        return raw.decode("utf-8", "surrogateescape")
    if key in (data.get("stringData") or {}):
        return data["stringData"][key]
    return None


def _secret_items(secret: Obj) -> dict[str, str]:
    keys = list(secret.get("data") or {}) + list(secret.get("stringData") or {})
    return {k: _decode(secret, k) or "" for k in keys}


def _cm_value(cm: Obj, key: str) -> str | None:
    if key in (cm.get("data") or {}):
        return cm["data"][key]
    if key in (cm.get("binaryData") or {}):
        return base64.b64decode(cm["binaryData"][key]).decode("utf-8", "surrogateescape")
    return None


def container_env(
    pod: Obj,
    container: Obj,
    *,
    get_secret: Lookup,
    get_configmap: Lookup,
    services: Mapping[str, str],
    pod_ips: list[str],
    host_ips: list[str],
    allocatable: Mapping[str, Any] | None = None,
    containers: list[Obj] | None = None,
) -> dict[str, str]:
    """The variables Kubernetes defines for ``container``: envFrom, env, service links.

    ``services`` is the service env (:func:`service_env`); ``get_secret(name)`` and
    ``get_configmap(name)`` return the object of the pod's namespace or None. Raises
    :class:`ContainerConfigError` with the kubelet's message when a required one is missing.
    """
    ns = pod["metadata"].get("namespace", "")
    tmp: dict[str, str] = {}
    cache: dict[tuple[str, str], Obj | None] = {}

    def fetch(kind: str, name: str) -> Obj | None:
        if (kind, name) not in cache:
            cache[(kind, name)] = (get_secret if kind == "secret" else get_configmap)(name)
        return cache[(kind, name)]

    for ef in container.get("envFrom") or []:
        prefix = ef.get("prefix") or ""
        for kind, ref in (("configmap", ef.get("configMapRef")), ("secret", ef.get("secretRef"))):
            if ref is None:
                continue
            obj = fetch(kind, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'{kind} "{ref.get("name", "")}" not found')
            items = (
                _secret_items(obj)
                if kind == "secret"
                else {k: _cm_value(obj, k) or "" for k in (obj.get("data") or {})}
            )
            for k, v in items.items():
                tmp[prefix + k] = v

    look = _lookup_in(tmp, services)
    all_containers = containers or (pod.get("spec") or {}).get("containers") or []
    for e in container.get("env") or []:
        name, vf = e["name"], e.get("valueFrom")
        value: str | None = e.get("value") or ""
        if value:
            value = expand(value, look)
        elif vf:
            value = _value_from(
                pod, container, vf, ns, fetch, pod_ips, host_ips, allocatable, all_containers
            )
            if value is None:
                continue  # optional and missing: the variable is not defined
        tmp[name] = value or ""
    out = dict(tmp)
    for k, v in services.items():
        out.setdefault(k, v)
    return out


def _value_from(
    pod: Obj,
    container: Obj,
    vf: Obj,
    ns: str,
    fetch: Callable[[str, str], Obj | None],
    pod_ips: list[str],
    host_ips: list[str],
    allocatable: Mapping[str, Any] | None,
    containers: list[Obj],
) -> str | None:
    if "fieldRef" in vf:
        return field_ref_value(
            pod, vf["fieldRef"].get("fieldPath", ""), pod_ips=pod_ips, host_ips=host_ips
        )
    if "resourceFieldRef" in vf:
        ref = vf["resourceFieldRef"]
        target = container
        if ref.get("containerName"):
            target = next(
                (c for c in containers if c.get("name") == ref["containerName"]), container
            )
        return resource_field_value(
            target, ref.get("resource", ""), ref.get("divisor"), allocatable
        )
    for kind, label, key_name in (
        ("secret", "Secret", "secretKeyRef"),
        ("configmap", "ConfigMap", "configMapKeyRef"),
    ):
        ref = vf.get(key_name)
        if ref is None:
            continue
        name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
        obj = fetch(kind, name)
        if obj is None:
            if optional:
                return None
            raise ContainerConfigError(f'{kind} "{name}" not found')
        value = _decode(obj, key) if kind == "secret" else _cm_value(obj, key)
        if value is None:
            if optional:
                return None
            raise ContainerConfigError(f"couldn't find key {key} in {label} {ns}/{name}")
        return value
    return ""
