"""Pod Security admission: the Pod Security Standards as the PodSecurity plugin checks them.

Our spawner must produce pods that a namespace labelled
``pod-security.kubernetes.io/enforce=restricted`` admits, and users see the plugin's own
error when they do not, so every check here reproduces ``pod-security-admission/policy``
at version ``latest``: same check set, same order (baseline IDs sorted, then restricted
IDs sorted, restricted checks replacing the baseline checks they override), and the same
forbidden reason/detail strings. Not reproduced: policy versions other than ``latest``
(a ``-version`` label is echoed in messages but ``latest`` rules apply), exemptions (the
default configuration has none), and the opt-in user-namespace relaxations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LEVELS = ("privileged", "baseline", "restricted")
LABEL_PREFIX = "pod-security.kubernetes.io/"

Obj = dict[str, Any]


@dataclass(frozen=True)
class Violation:
    """A failed check: its ID, the plugin's forbidden reason and forbidden detail."""

    check: str
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


@dataclass(frozen=True)
class LevelVersion:
    level: str
    version: str = "latest"

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion


# -- helpers (policy/helpers.go) -------------------------------------------------------------
def _plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _jq(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _containers_of(n: int) -> str:
    return _plural("container", "containers", n)


def _setters(pod: bool, containers: list[str]) -> list[str]:
    out = ["pod"] if pod else []
    if containers:
        out.append(f"{_containers_of(len(containers))} {_jq(containers)}")
    return out


def _sc(obj: Obj) -> Obj:
    return obj.get("securityContext") or {}


def _all_containers(spec: Obj) -> list[Obj]:
    # init containers, containers, then ephemeral containers (policy/visitor.go)
    keys = ("initContainers", "containers", "ephemeralContainers")
    return [c for k in keys for c in spec.get(k) or ()]


def _windows(spec: Obj) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


def _is_zero(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v == 0


Result = tuple[str, str] | None


# -- baseline checks -------------------------------------------------------------------------
def _apparmor(meta: Obj, spec: Obj) -> Result:
    def bad(sc: Obj) -> str | None:
        profile = sc.get("appArmorProfile")
        if profile is None or profile.get("type") in ("RuntimeDefault", "Localhost"):
            return None
        return profile.get("type") or ""

    values: set[str] = set()
    pod_bad = bad(_sc(spec))
    if pod_bad is not None:
        values.add(pod_bad)
    containers = []
    for c in _all_containers(spec):
        v = bad(_sc(c))
        if v is not None:
            containers.append(c.get("name", ""))
            values.add(v)
    setters = _setters(pod_bad is not None, containers)
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    annotations = sorted(
        f"{k}={json.dumps(v)}"
        for k, v in (meta.get("annotations") or {}).items()
        if k.startswith(prefix) and v and v != "runtime/default" and not v.startswith("localhost/")
    )
    if annotations:
        setters.append(_plural("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    bad_values = sorted(values) + annotations
    reason = _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad_values))
    return (
        reason,
        f"{' and '.join(setters)} must not set AppArmor profile type to {_jq(bad_values)}",
    )


_BASELINE_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


def _capabilities_baseline(meta: Obj, spec: Obj) -> Result:
    bad, caps = [], set()
    for c in _all_containers(spec):
        added = set((_sc(c).get("capabilities") or {}).get("add") or ()) - _BASELINE_CAPS
        if added:
            bad.append(c.get("name", ""))
            caps |= added
    if not bad:
        return None
    return "non-default capabilities", (
        f"{_containers_of(len(bad))} {_jq(bad)} must not include {_jq(sorted(caps))} "
        "in securityContext.capabilities.add"
    )


def _host_namespaces(meta: Obj, spec: Obj) -> Result:
    used = sorted(k for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True)
    return ("host namespaces", ", ".join(used)) if used else None


def _host_path_volumes(meta: Obj, spec: Obj) -> Result:
    names = [v.get("name", "") for v in spec.get("volumes") or () if v.get("hostPath") is not None]
    if not names:
        return None
    return "hostPath volumes", f"{_plural('volume', 'volumes', len(names))} {_jq(names)}"


def _host_ports(meta: Obj, spec: Obj) -> Result:
    bad, ports = [], set()
    for c in _all_containers(spec):
        used = {str(p["hostPort"]) for p in c.get("ports") or () if p.get("hostPort")}
        if used:
            bad.append(c.get("name", ""))
            ports |= used
    if not bad:
        return None
    return "hostPort", (
        f"{_containers_of(len(bad))} {_jq(bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
    )


def _probe_hosts(c: Obj) -> list[str]:
    handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    lifecycle = c.get("lifecycle") or {}
    handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
    return [
        (h.get(kind) or {}).get("host")
        for h in handlers
        if h
        for kind in ("httpGet", "tcpSocket")
        if (h.get(kind) or {}).get("host")
    ]


def _host_probes(meta: Obj, spec: Obj) -> Result:
    bad, hosts = set(), set()
    for c in _all_containers(spec):
        found = _probe_hosts(c)
        if found:
            bad.add(c.get("name", ""))
            hosts.update(found)
    if not bad:
        return None
    what = _plural("probe or lifecycle host", "probe or lifecycle hosts", len(hosts))
    return "probe or lifecycle host", (
        f"{_containers_of(len(bad))} {_jq(sorted(bad))} {_plural('uses', 'use', len(bad))} "
        f"{what} {_jq(sorted(hosts))}"
    )


def _privileged(meta: Obj, spec: Obj) -> Result:
    bad = [c.get("name", "") for c in _all_containers(spec) if _sc(c).get("privileged") is True]
    if not bad:
        return None
    return "privileged", (
        f"{_containers_of(len(bad))} {_jq(bad)} must not set securityContext.privileged=true"
    )


def _proc_mount(meta: Obj, spec: Obj) -> Result:
    bad, kinds = [], set()
    for c in _all_containers(spec):
        pm = _sc(c).get("procMount")
        if pm is not None and pm != "Default":
            bad.append(c.get("name", ""))
            kinds.add(pm)
    if not bad:
        return None
    return "procMount", (
        f"{_containers_of(len(bad))} {_jq(bad)} must not set securityContext.procMount to "
        f"{_jq(sorted(kinds))}"
    )


_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _selinux(meta: Obj, spec: Obj) -> Result:
    types: set[str] = set()
    flags = {"user": False, "role": False}

    def bad(sc: Obj) -> bool:
        opts = sc.get("seLinuxOptions")
        if opts is None:
            return False
        invalid = False
        if (opts.get("type") or "") not in _SELINUX_TYPES:
            types.add(opts.get("type") or "")
            invalid = True
        for key in flags:
            if opts.get(key):
                flags[key] = invalid = True
        return invalid

    pod_bad = bad(_sc(spec))
    containers = [c.get("name", "") for c in _all_containers(spec) if bad(_sc(c))]
    setters = _setters(pod_bad, containers)
    if not setters:
        return None
    data = [f"{_plural('type', 'types', len(types))} {_jq(sorted(types))}"] if types else []
    data += [f"{key} may not be set" for key, was_set in flags.items() if was_set]
    return "seLinuxOptions", (
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"
    )


def _seccomp_type(sc: Obj) -> str | None:
    """The seccompProfile.type ``sc`` sets ("" if the profile has none), None if unset."""
    profile = sc.get("seccompProfile")
    return None if profile is None else profile.get("type") or ""


def _seccomp(spec: Obj, required: bool) -> Result:
    valid = ("RuntimeDefault", "Localhost")
    values: set[str] = set()
    pod = _seccomp_type(_sc(spec))
    pod_bad = pod is not None and pod not in valid
    if pod_bad:
        values.add(pod or "")
    explicit, implicit = [], []
    for c in _all_containers(spec):
        t = _seccomp_type(_sc(c))
        if t is not None and t not in valid:
            explicit.append(c.get("name", ""))
            values.add(t)
        elif t is None and (pod is None or pod_bad):  # no valid profile at either level
            implicit.append(c.get("name", ""))
    setters = _setters(pod_bad, explicit)
    if setters:
        return "seccompProfile", (
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{_jq(sorted(values))}"
        )
    if required and implicit:
        return "seccompProfile", (
            f"pod or {_containers_of(len(implicit))} {_jq(implicit)} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"'
        )
    return None


_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
}  # fmt: skip


def _sysctls(meta: Obj, spec: Obj) -> Result:
    names = [s.get("name", "") for s in _sc(spec).get("sysctls") or ()]
    bad = [n for n in names if n not in _SAFE_SYSCTLS]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


def _host_process(meta: Obj, spec: Obj) -> Result:
    def on(sc: Obj) -> bool:
        return (sc.get("windowsOptions") or {}).get("hostProcess") is True

    containers = [c.get("name", "") for c in _all_containers(spec) if on(_sc(c))]
    setters = _setters(on(_sc(spec)), containers)
    if not setters:
        return None
    detail = f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
    return "hostProcess", detail


# -- restricted checks -----------------------------------------------------------------------
def _privilege_escalation(meta: Obj, spec: Obj) -> Result:
    if _windows(spec):
        return None
    bad = [
        c.get("name", "")
        for c in _all_containers(spec)
        if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return "allowPrivilegeEscalation != false", (
        f"{_containers_of(len(bad))} {_jq(bad)} must set "
        "securityContext.allowPrivilegeEscalation=false"
    )


def _capabilities_restricted(meta: Obj, spec: Obj) -> Result:
    if _windows(spec):
        return None
    no_drop, adding, caps = [], [], set()
    for c in _all_containers(spec):
        cap = _sc(c).get("capabilities")
        if cap is None or "ALL" not in (cap.get("drop") or ()):
            no_drop.append(c.get("name", ""))
        extra = set((cap or {}).get("add") or ()) - {"NET_BIND_SERVICE"}
        if extra:
            adding.append(c.get("name", ""))
            caps |= extra
    details = []
    if no_drop:
        details.append(
            f"{_containers_of(len(no_drop))} {_jq(no_drop)} must set "
            'securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{_containers_of(len(adding))} {_jq(adding)} must not include {_jq(sorted(caps))} "
            "in securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


_ALLOWED_VOLUMES = (
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
)  # fmt: skip
_RESTRICTED_VOLUMES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO",
    "storageos",
)  # fmt: skip


def _restricted_volumes(meta: Obj, spec: Obj) -> Result:
    bad, kinds = [], set()
    for vol in spec.get("volumes") or ():
        if any(vol.get(k) is not None for k in _ALLOWED_VOLUMES):
            continue
        bad.append(vol.get("name", ""))
        kinds.add(next((k for k in _RESTRICTED_VOLUMES if vol.get(k) is not None), "unknown"))
    if not bad:
        return None
    return "restricted volume types", (
        f"{_plural('volume', 'volumes', len(bad))} {_jq(bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{_jq(sorted(kinds))}"
    )


def _run_as_non_root(meta: Obj, spec: Obj) -> Result:
    pod = _sc(spec).get("runAsNonRoot")
    explicit, implicit = [], []
    for c in _all_containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is False:
            explicit.append(c.get("name", ""))
        elif value is None and pod is not True:
            implicit.append(c.get("name", ""))
    setters = _setters(pod is False, explicit)
    if setters:
        return "runAsNonRoot != true", (
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        )
    if implicit:
        return "runAsNonRoot != true", (
            f"pod or {_containers_of(len(implicit))} {_jq(implicit)} must set "
            "securityContext.runAsNonRoot=true"
        )
    return None


def _run_as_user(meta: Obj, spec: Obj) -> Result:
    bad = [c.get("name", "") for c in _all_containers(spec) if _is_zero(_sc(c).get("runAsUser"))]
    setters = _setters(_is_zero(_sc(spec).get("runAsUser")), bad)
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


Check = Callable[[Obj, Obj], Result]
# (ID, level, check, IDs of baseline checks it replaces at restricted)
_CHECKS: list[tuple[str, str, Check, tuple[str, ...]]] = [
    ("appArmorProfile", "baseline", _apparmor, ()),
    ("capabilities_baseline", "baseline", _capabilities_baseline, ()),
    ("hostNamespaces", "baseline", _host_namespaces, ()),
    ("hostPathVolumes", "baseline", _host_path_volumes, ()),
    ("hostPorts", "baseline", _host_ports, ()),
    ("hostProbesAndHostLifecycle", "baseline", _host_probes, ()),
    ("privileged", "baseline", _privileged, ()),
    ("procMount", "baseline", _proc_mount, ()),
    ("seLinuxOptions", "baseline", _selinux, ()),
    ("seccompProfile_baseline", "baseline", lambda m, s: _seccomp(s, required=False), ()),
    ("sysctls", "baseline", _sysctls, ()),
    ("windowsHostProcess", "baseline", _host_process, ()),
    ("allowPrivilegeEscalation", "restricted", _privilege_escalation, ()),
    ("capabilities_restricted", "restricted", _capabilities_restricted, ("capabilities_baseline",)),
    ("restrictedVolumes", "restricted", _restricted_volumes, ("hostPathVolumes",)),
    ("runAsNonRoot", "restricted", _run_as_non_root, ()),
    ("runAsUser", "restricted", _run_as_user, ()),
    (
        "seccompProfile_restricted",
        "restricted",
        lambda m, s: None if _windows(s) else _seccomp(s, required=True),
        ("seccompProfile_baseline",),
    ),
]
_OVERRIDDEN = {o for *_, overrides in _CHECKS for o in overrides}


def _checks_for(level: str) -> list[tuple[str, Check]]:
    if level not in LEVELS:
        raise ValueError(f'must be one of privileged, baseline, restricted (got "{level}")')
    if level == "privileged":
        return []
    if level == "baseline":
        return [(cid, fn) for cid, lvl, fn, _ in _CHECKS if lvl == "baseline"]
    return [(cid, fn) for cid, _, fn, _ in _CHECKS if cid not in _OVERRIDDEN]


def check_pod(pod_meta: Obj, pod_spec: Obj, level: str) -> list[Violation]:
    """The violations of ``level`` (latest) by a pod's metadata and spec, in plugin order."""
    out = []
    for cid, fn in _checks_for(level):
        result = fn(pod_meta or {}, pod_spec or {})
        if result is not None:
            out.append(Violation(cid, *result))
    return out


_TEMPLATE_PATHS = {
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}
POD_CONTROLLERS = (
    "CronJob", "DaemonSet", "Deployment", "Job", "PodTemplate", "ReplicaSet",
    "ReplicationController", "StatefulSet",
)  # fmt: skip


def pod_template(obj: Obj) -> Obj | None:
    """The pod template of a workload object the plugin inspects, None if it has none."""
    if obj.get("kind") not in POD_CONTROLLERS:
        return None
    node: Any = obj
    for key in _TEMPLATE_PATHS.get(obj.get("kind", ""), ("spec", "template")):
        node = (node or {}).get(key)
    return node or None


def check_pod_template(obj: Obj, level: str) -> list[Violation]:
    """Violations by a workload's pod template (the plugin only *warns* for these)."""
    template = pod_template(obj)
    if template is None:
        return []
    return check_pod(template.get("metadata") or {}, template.get("spec") or {}, level)


def _parse(labels: dict[str, str], mode: str, fail: str) -> tuple[LevelVersion, bool, bool]:
    level = labels.get(LABEL_PREFIX + mode)
    version = labels.get(f"{LABEL_PREFIX}{mode}-version")
    lv_level = "privileged" if level is None else (level if level in LEVELS else fail)
    valid_version = version is not None and re.fullmatch(r"latest|v1\.(0|[1-9][0-9]*)", version)
    lv_version = version if valid_version else "latest"
    return LevelVersion(lv_level, lv_version), level is not None, version is not None


def namespace_policy(ns_labels: dict[str, str] | None) -> Policy:
    """The namespace's enforce/audit/warn policy (``api.PolicyToEvaluate``).

    An invalid enforce level fails closed (restricted), invalid audit/warn fail open; an
    unset warn level follows the enforce level, so workloads get warnings by default.
    """
    labels = ns_labels or {}
    enforce, _, _ = _parse(labels, "enforce", "restricted")
    audit, _, _ = _parse(labels, "audit", "privileged")
    warn, warn_set, warn_version_set = _parse(labels, "warn", "privileged")
    if not warn_set and LEVELS.index(enforce.level) > LEVELS.index(warn.level):
        version = warn.version if warn_version_set else enforce.version
        warn = LevelVersion(enforce.level, version)
    return Policy(enforce, audit, warn)


def namespace_level(ns_labels: dict[str, str] | None) -> str:
    """The enforced level of a namespace (``privileged`` when unlabelled)."""
    return namespace_policy(ns_labels).enforce.level


def _lv(level: str | LevelVersion) -> str:
    s = str(level)
    return s if ":" in s else f"{s}:latest"


def _details(violations: list[Violation]) -> str:
    return ", ".join(str(v) for v in violations)


def forbidden_message(pod_name: str, level: str | LevelVersion, violations: list[Violation]) -> str:
    """The 403 message for a pod that violates the enforced level."""
    who = f"pods {json.dumps(pod_name)}" if pod_name else "pods"
    return f'{who} is forbidden: violates PodSecurity "{_lv(level)}": {_details(violations)}'


def warning_message(level: str | LevelVersion, violations: list[Violation]) -> str:
    """The ``Warning`` header text for an admitted object that violates the warn level."""
    return f'would violate PodSecurity "{_lv(level)}": {_details(violations)}'


def admit_pod(pod: Obj, ns_labels: dict[str, str] | None) -> tuple[str | None, list[str]]:
    """(403 message or None, warnings) for creating ``pod`` in a namespace with these labels."""
    policy = namespace_policy(ns_labels)
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    violations = check_pod(meta, spec, policy.enforce.level)
    if violations:
        return forbidden_message(meta.get("name", ""), policy.enforce, violations), []
    warned = check_pod(meta, spec, policy.warn.level)
    return None, [warning_message(policy.warn, warned)] if warned else []


def admit_workload(obj: Obj, ns_labels: dict[str, str] | None) -> list[str]:
    """Warnings for a workload object; enforce never applies to pod templates."""
    policy = namespace_policy(ns_labels)
    violations = check_pod_template(obj, policy.warn.level)
    return [warning_message(policy.warn, violations)] if violations else []


def is_significant_pod_update(new: Obj, old: Obj) -> bool:
    """Whether a pod update is re-checked: the plugin only looks at image changes."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    for key in ("containers", "initContainers"):
        a, b = new_spec.get(key) or [], old_spec.get(key) or []
        if len(a) != len(b) or any(
            x.get("image") != y.get("image") for x, y in zip(a, b, strict=True)
        ):
            return True
    return False
