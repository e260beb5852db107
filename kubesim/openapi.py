"""The OpenAPI documents kube-apiserver publishes: ``/openapi/v2`` and ``/openapi/v3[/<gv>]``.

kubectl reads them to decide what the server supports: ``apply`` computes its strategic merge
patch from the v3 schemas (``x-kubernetes-patch-strategy`` / ``-merge-key``), the field
validation check looks for a PATCH operation with a ``fieldValidation`` query parameter, and
``explain`` prints the v3 schemas. The schemas come from kubernetes-validate's bundled
definitions (the same ones writes are validated against), converted from JSON Schema back to
OpenAPI; custom resources add their CRD's ``openAPIV3Schema``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import weakref
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesim.resources import ResourceType

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

Schema = dict[str, Any]
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
#: Definitions every group-version document carries (operations refer to them).
_COMMON = ("DeleteOptions", "Status", "Patch", "WatchEvent", "APIResourceList")
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)

# ------------------------------------------------------------------ definitions


def _schema_file(k8s_version: str) -> Path:
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    for suffix in ("local", "local-strict"):
        p = base / f"v{k8s_version}.0-{suffix}" / "_definitions.json"
        if p.exists():
            return p
    raise FileNotFoundError(f"kubernetes-validate has no schemas for Kubernetes {k8s_version}")


@lru_cache(maxsize=4)
def _raw_definitions(k8s_version: str) -> dict[str, Schema]:
    return json.loads(_schema_file(k8s_version).read_text())["$defs"]


def _convert(node: Any, prefix: str, v3: bool) -> Any:
    """JSON Schema (as kubernetes-validate writes it) -> OpenAPI schema object."""
    if isinstance(node, list):
        return [_convert(x, prefix, v3) for x in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for k, v in node.items():
        if k == "$ref":
            continue
        if k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            if types:
                out["type"] = types[0]
        elif k == "additionalProperties" and v is False:
            continue  # the strict variant's addition; the real documents have none
        elif k in ("properties", "patternProperties"):
            out[k] = {name: _convert(s, prefix, v3) for name, s in v.items()}
        else:
            out[k] = _convert(v, prefix, v3)
    if "$ref" in node:
        ref = {"$ref": prefix + node["$ref"].rsplit("/", 1)[-1]}
        if not out:
            return ref
        # OpenAPI 3.0 ignores siblings of $ref: the real v3 documents wrap it in allOf.
        out.update({"allOf": [ref]} if v3 else ref)
    return out


def _definition(name: str, raw: Schema, prefix: str, v3: bool) -> Schema:
    if name == INT_OR_STRING:
        return {"type": "string", "format": "int-or-string"}
    if name == QUANTITY:
        s: Schema = {"type": "string"}
        return {"oneOf": [s, {"type": "number"}]} if v3 else s
    d = _convert(raw, prefix, v3)
    if "x-kubernetes-group-version-kind" in d:
        for field in ("apiVersion", "kind"):  # the generator pins these with an enum
            d.get("properties", {}).get(field, {}).pop("enum", None)
    return d


@lru_cache(maxsize=8)
def definitions(k8s_version: str, v3: bool) -> dict[str, Schema]:
    """All built-in definitions in OpenAPI form (shared, treat as read-only)."""
    prefix = "#/components/schemas/" if v3 else "#/definitions/"
    return {
        name: _definition(name, raw, prefix, v3)
        for name, raw in _raw_definitions(k8s_version).items()
    }


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for v in node.values():
            _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def _closure(defs: dict[str, Schema], roots: set[str]) -> dict[str, Schema]:
    seen: set[str] = set()
    todo = [r for r in roots if r in defs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(defs[name], found)
        todo.extend(f for f in found if f in defs and f not in seen)
    return {n: defs[n] for n in sorted(seen)}


def _gvk_index(defs: dict[str, Schema]) -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, d in defs.items():
        for g in d.get("x-kubernetes-group-version-kind", []):
            out.setdefault((g["group"], g["version"], g["kind"]), name)
    return out


def _crd_name(rt: ResourceType, kind: str) -> str:
    """``kubeflow.org`` ``v1`` ``PyTorchJob`` -> ``org.kubeflow.v1.PyTorchJob`` (as the API)."""
    return ".".join([*reversed(rt.group.split(".")), rt.version, kind])


def _crd_definitions(rt: ResourceType, crd: dict, prefix: str, v3: bool) -> dict[str, Schema]:
    version = next(
        (v for v in crd.get("spec", {}).get("versions", []) if v.get("name") == rt.version), {}
    )
    schema = copy.deepcopy((version.get("schema") or {}).get("openAPIV3Schema") or {})
    schema.setdefault("type", "object")
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "APIVersion of the object."}
    props["kind"] = {"type": "string", "description": "Kind of the object."}
    meta = {"$ref": prefix + META + "ObjectMeta"}
    props["metadata"] = {"allOf": [meta]} if v3 else meta
    gvk = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
    schema["x-kubernetes-group-version-kind"] = gvk
    item = {"$ref": prefix + _crd_name(rt, rt.kind)}
    list_meta = {"$ref": prefix + META + "ListMeta"}
    return {
        _crd_name(rt, rt.kind): schema,
        _crd_name(rt, rt.kind + "List"): {
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "items": {"type": "array", "items": item},
                "metadata": {"allOf": [list_meta]} if v3 else list_meta,
            },
            "x-kubernetes-group-version-kind": [{**gvk[0], "kind": rt.kind + "List"}],
        },
    }


# ------------------------------------------------------------------------ paths


def _param(name: str, where: str = "query", kind: str = "string", v3: bool = True) -> Schema:
    p: Schema = {"name": name, "in": where, "uniqueItems": True}
    if where == "path":
        p["required"] = True
    if v3:
        p["schema"] = {"type": kind}
    else:
        p["type"] = kind
    return p


def _operation(
    rt: ResourceType,
    action: str,
    verb: str,
    ref: str,
    body: str | None,
    v3: bool,
    sub: str = "",
    crd: bool = False,
) -> Schema:
    op: Schema = {
        "description": f"{verb} {rt.kind}{' ' + sub if sub else ''}",
        "operationId": f"{verb}{rt.kind}{sub.title()}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rt.group,
            "version": rt.version,
            "kind": rt.kind,
        },
        "parameters": [],
    }
    if action in ("post", "put", "patch"):
        op["parameters"] += [_param("dryRun", v3=v3), _param("fieldManager", v3=v3)]
        op["parameters"].append(_param("fieldValidation", v3=v3))
    if action == "patch":
        op["parameters"].append(_param("force", kind="boolean", v3=v3))
    if action in ("list", "watchlist"):
        for name in ("labelSelector", "fieldSelector", "continue", "resourceVersion"):
            op["parameters"].append(_param(name, v3=v3))
        op["parameters"].append(_param("limit", kind="integer", v3=v3))
        op["parameters"].append(_param("watch", kind="boolean", v3=v3))
    # Custom resources take no strategic merge patch: kubectl then sends a merge patch.
    ctypes = [t for t in _PATCH_TYPES if not (crd and "strategic" in t)] if body == "patch" else []
    body_ref = {"$ref": ref.rsplit("/", 1)[0] + "/" + META + "Patch"} if body == "patch" else None
    if body and body != "patch":
        body_ref = {"$ref": body}
        ctypes = ["application/json", "application/yaml"]
    if body_ref is not None:
        if v3:
            op["requestBody"] = {
                "content": {t: {"schema": body_ref} for t in ctypes},
                "required": True,
            }
        else:
            op["consumes"] = ctypes
            op["parameters"].append(
                {"name": "body", "in": "body", "required": True, "schema": body_ref}
            )
    ok = {"$ref": ref}
    if v3:
        op["responses"] = {
            "200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
            "401": {"description": "Unauthorized"},
        }
    else:
        op["produces"] = ["application/json", "application/yaml"]
        op["responses"] = {
            "200": {"description": "OK", "schema": ok},
            "401": {"description": "Unauthorized"},
        }
    return op


def _paths(
    rt: ResourceType, kind_ref: str, list_ref: str, v3: bool, crd: bool
) -> dict[str, Schema]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    coll = f"{base}/{rt.plural}"
    if rt.namespaced:
        coll = f"{base}/namespaces/{{namespace}}/{rt.plural}"
    item = f"{coll}/{{name}}"
    scope = [_param("namespace", "path", v3=v3)] if rt.namespaced else []
    verbs = set(rt.verbs)
    paths: dict[str, Schema] = {}
    c: Schema = {"parameters": scope}
    if "list" in verbs:
        c["get"] = _operation(rt, "list", "list", list_ref, None, v3)
    if "create" in verbs:
        c["post"] = _operation(rt, "post", "create", kind_ref, kind_ref, v3)
    if "deletecollection" in verbs:
        c["delete"] = _operation(rt, "deletecollection", "deletecollection", kind_ref, None, v3)
    paths[coll] = c
    if rt.virtual:
        return paths
    i: Schema = {"parameters": [_param("name", "path", v3=v3), *scope]}
    for verb, method, body in (
        ("get", "get", None),
        ("update", "put", kind_ref),
        ("patch", "patch", "patch"),
        ("delete", "delete", None),
    ):
        if verb in verbs:
            i[method] = _operation(rt, method, verb, kind_ref, body, v3, crd=crd)
    paths[item] = i
    if rt.namespaced and "list" in verbs:
        paths[f"{base}/{rt.plural}"] = {
            "get": _operation(rt, "list", "listAllNamespaces", list_ref, None, v3)
        }
    if "status" in rt.subresources:
        paths[f"{item}/status"] = {
            "parameters": i["parameters"],
            "get": _operation(rt, "get", "read", kind_ref, None, v3, "status"),
            "put": _operation(rt, "put", "replace", kind_ref, kind_ref, v3, "status"),
            "patch": _operation(rt, "patch", "patch", kind_ref, "patch", v3, "status", crd),
        }
    return paths


# -------------------------------------------------------------------- documents


def _inputs(sim: KubeSim) -> list[tuple[ResourceType, dict | None]]:
    return sorted(
        ((rt, sim.registry.crds.get(rt.key)) for rt in sim.registry.types.values()),
        key=lambda x: (x[0].group, x[0].version, x[0].plural),
    )


def _build(k8s_version: str, types: list[tuple[ResourceType, dict | None]], v3: bool) -> Schema:
    prefix = "#/components/schemas/" if v3 else "#/definitions/"
    builtin = definitions(k8s_version, v3)
    index = _gvk_index(builtin)
    extra: dict[str, Schema] = {}
    roots = {META + n for n in _COMMON}
    paths: dict[str, Schema] = {}
    for rt, crd in types:
        if crd is not None:
            extra.update(_crd_definitions(rt, crd, prefix, v3))
            kind, lst = _crd_name(rt, rt.kind), _crd_name(rt, rt.kind + "List")
        else:
            kind = index.get((rt.group, rt.version, rt.kind), "")
            lst = index.get((rt.group, rt.version, rt.kind + "List"), kind)
        roots.update((kind, lst))
        paths.update(_paths(rt, prefix + kind, prefix + lst, v3, crd is not None))
    for d in extra.values():
        _refs(d, roots)
    schemas = {**_closure(builtin, roots), **extra}
    info = {"title": "Kubernetes", "version": f"v{k8s_version}.0"}
    if v3:
        return {
            "openapi": "3.0.0",
            "info": info,
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
                },
            },
        }
    return {
        "swagger": "2.0",
        "info": info,
        "paths": paths,
        "definitions": schemas,
        "securityDefinitions": {
            "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
        },
        "security": [{"BearerToken": []}],
    }


def _gv_path(rt: ResourceType) -> str:
    return f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"


class _Docs:
    """The documents of one sim for one set of served types (rebuilt when a CRD is added)."""

    def __init__(self, k8s_version: str, types: list[tuple[ResourceType, dict | None]]) -> None:
        self.k8s_version, self.types = k8s_version, types
        self.v2: Schema | None = None
        self.gv: dict[str, Schema] = {}
        by_gv: dict[str, list[tuple[ResourceType, dict | None]]] = {}
        for rt, crd in types:
            by_gv.setdefault(_gv_path(rt), []).append((rt, crd))
        self.by_gv = by_gv
        self.index = {
            "paths": {
                gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(k8s_version, members)}"}
                for gv, members in sorted(by_gv.items())
            }
        }

    def v3(self, gv: str) -> Schema | None:
        if gv not in self.by_gv:
            return None
        if gv not in self.gv:
            self.gv[gv] = _build(self.k8s_version, self.by_gv[gv], v3=True)
        return self.gv[gv]


def _hash(k8s_version: str, types: list[tuple[ResourceType, dict | None]]) -> str:
    """Content hash of a document (computed from what it is built from, not the document)."""
    text = json.dumps(
        [k8s_version, [(repr(rt), crd) for rt, crd in types]], sort_keys=True, default=str
    )
    return hashlib.sha512(text.encode()).hexdigest().upper()


_cache: weakref.WeakKeyDictionary[Any, _Docs] = weakref.WeakKeyDictionary()


def document(sim: KubeSim, parts: list[str]) -> dict | None:
    """The document at ``/openapi/<parts>``, or None (404). ``parts`` like ``["v3", "api",
    "v1"]``; built once per sim and set of served types."""
    types = _inputs(sim)
    docs = _cache.get(sim)
    if docs is None or docs.types != types:
        docs = _cache[sim] = _Docs(sim.k8s_version, types)
    if parts == ["v2"]:
        if docs.v2 is None:
            docs.v2 = _build(sim.k8s_version, types, v3=False)
        return docs.v2
    if parts == ["v3"]:
        return docs.index
    if parts and parts[0] == "v3":
        return docs.v3("/".join(parts[1:]))
    return None


def acceptable(accept: str) -> bool:
    """Whether an ``Accept`` header admits JSON (kubesim does not speak the protobuf forms)."""
    if not accept:
        return True
    kinds = [a.split(";")[0].strip() for a in accept.split(",")]
    return any(k in ("application/json", "*/*", "application/*") for k in kinds)
