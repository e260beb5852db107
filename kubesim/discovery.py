"""Discovery documents (/api, /apis, /api/v1, /apis/<g>/<v>), derived from the registry."""

from __future__ import annotations

from typing import Any

from kubesim.resources import Registry, ResourceType

# Verbs the real API lists for subresources in discovery.
_SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "log": ["get"],
    "token": ["create"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "binding": ["create"],
    "eviction": ["create"],
    "finalize": ["update"],
}
_SUB_KIND = {
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "log": ("", "", "Pod"),
    "exec": ("", "", "PodExecOptions"),
    "attach": ("", "", "PodAttachOptions"),
    "portforward": ("", "", "PodPortForwardOptions"),
    "binding": ("", "", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
}


def _resource(rt: ResourceType) -> dict[str, Any]:
    r: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        r["shortNames"] = list(rt.short_names)
    if rt.categories:
        r["categories"] = list(rt.categories)
    return r


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = [rt for rt in registry.types.values() if rt.group == group and rt.version == version]
    if not types:
        return None
    resources = []
    for rt in sorted(types, key=lambda t: t.plural):
        resources.append(_resource(rt))
        for sub in rt.subresources:
            g, v, kind = _SUB_KIND.get(sub, ("", "", rt.kind))
            entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": _SUB_VERBS.get(sub, ["get"]),
            }
            if g:
                entry["group"], entry["version"] = g, v
            resources.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def core_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def group_list(registry: Registry) -> dict[str, Any]:
    groups = []
    for name in sorted(g for g in registry.groups() if g):
        versions = sorted({rt.version for rt in registry.types.values() if rt.group == name})
        groups.append(_group(name, versions))
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> dict[str, Any] | None:
    versions = sorted({rt.version for rt in registry.types.values() if rt.group == name})
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def version_info(k8s_version: str) -> dict[str, Any]:
    major, minor = k8s_version.split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{major}.{minor}.0-kubesim",
        "gitCommit": "kubesim",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "kubesim",
        "compiler": "kubesim",
        "platform": "linux/amd64",
    }
