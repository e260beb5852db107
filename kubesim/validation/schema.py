"""The decoding stage's schemas: kubernetes-validate's definitions and CRD structural schemas.

kube-apiserver decodes a body into Go structs (built-in kinds) or checks it against the
CRD's ``openAPIV3Schema`` (custom resources) before any hand-written rule runs. This module
turns both into JSON Schema 2020-12 that ``jsonschema`` can check, with kubesim keywords
standing in for what Go's decoder does itself (quantities, int-or-string, base64 bytes,
embedded resources). ``causes`` turns the resulting errors into the server's answers.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, ValidationError
from packaging.version import Version
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from kubesim.quantity import parse_quantity
from kubesim.validation.common import Obj, Path, words

# --------------------------------------------------------------- schema files
_SCHEMAS = resources.files("kubernetes_validate") / "kubernetes-json-schema"
META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_DROP = words(
    "description x-kubernetes-group-version-kind x-kubernetes-unions "
    "x-kubernetes-patch-merge-key x-kubernetes-patch-strategy x-kubernetes-list-map-keys "
    "x-kubernetes-list-type x-kubernetes-map-type"
)


def supported_versions() -> list[str]:
    """Kubernetes minor versions with strict schemas in kubernetes-validate, oldest first."""
    found = {
        m.group(1)
        for d in _SCHEMAS.iterdir()
        if (m := re.fullmatch(r"v(\d+\.\d+)\.\d+-local-strict", d.name))
    }
    return sorted(found, key=Version)


def pick_version(requested: str) -> str:
    want = ".".join(requested.lstrip("v").split(".")[:2])
    versions = supported_versions()
    usable = [v for v in versions if Version(v) <= Version(want)]
    if not usable or Version(want) > Version(versions[-1]):
        raise ValueError(
            f"Kubernetes version {requested} is not supported: kubernetes-validate "
            f"{_kv_version()} has schemas for {versions[0]} to {versions[-1]}"
        )
    return usable[-1]


def _kv_version() -> str:
    from kubernetes_validate.version import __version__

    return __version__


def _strip(node: Any) -> Any:
    """A schema without descriptions and patch hints (smaller is faster to walk)."""
    if isinstance(node, list):
        return [_strip(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strip(v) for k, v in node.items() if k not in _DROP and k != "properties"}
    if "properties" in node:
        out["properties"] = {k: _strip(v) for k, v in node["properties"].items()}
    if node.get("format") == "byte":
        out["x-kubesim-base64"] = True
    return out


@dataclass
class Schemas:
    base: str  # $id of _definitions.json
    defs: dict[str, Any]
    by_gvk: dict[tuple[str, str], str]
    registry: Registry

    def ref(self, name: str) -> dict[str, str]:
        return {"$ref": f"{self.base}#/$defs/{name}"}


@functools.cache
def load_schemas(version: str) -> Schemas:
    raw = json.loads((_SCHEMAS / f"v{version}.0-local-strict" / "_definitions.json").read_text())
    by_gvk: dict[tuple[str, str], str] = {}
    for name, d in raw["$defs"].items():
        for g in d.get("x-kubernetes-group-version-kind", []):
            api_version = f"{g['group']}/{g['version']}" if g["group"] else g["version"]
            by_gvk.setdefault((api_version, g["kind"]), name)
    defs = {name: _strip(d) for name, d in raw["$defs"].items()}
    # Quantity and IntOrString are ``oneOf`` two nullable types, which rejects null; and
    # their real errors come from Go's UnmarshalJSON. Own keywords reproduce both.
    defs[_QUANTITY] = {"x-kubesim-quantity": True}
    defs[_INT_OR_STRING] = {"x-kubesim-int-or-string": "builtin"}
    doc = {"$id": raw["$id"], "$defs": defs}
    registry = Registry().with_resource(raw["$id"], DRAFT202012.create_resource(doc))
    return Schemas(raw["$id"], defs, by_gvk, registry)


# ------------------------------------------------------------ custom keywords
def _k8s_error(msg: str, kind: str, rel: Path = (), value: Any = None) -> ValidationError:
    err = ValidationError(msg)
    err.k8s = (kind, rel, value)  # type: ignore[attr-defined]
    return err


def json_kind(x: Any) -> str:
    """How Go's decoder names a JSON value in ``cannot unmarshal X into``."""
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int | float):
        return "number"
    if isinstance(x, str):
        return "string"
    return "object" if isinstance(x, dict) else "array" if isinstance(x, list) else "null"


#: Quantity strings known to parse: a handful of values ("1Gi", "500m") recur in nearly
#: every write, and parsing one costs more than the rest of its field's check.
_GOOD_QUANTITIES: set[str] = set()


def _kw_quantity(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
    if instance is None:
        return
    text = instance if isinstance(instance, str) else json.dumps(instance)
    if text in _GOOD_QUANTITIES:
        return
    try:
        parse_quantity(text.strip())
    except ValueError as e:
        yield _k8s_error(str(e), "abort", value=instance)
        return
    if len(_GOOD_QUANTITIES) >= 4096:
        _GOOD_QUANTITIES.clear()
    _GOOD_QUANTITIES.add(text)


def _kw_int_or_string(validator: Any, mode: str, instance: Any, schema: Any) -> Any:
    if instance is None or isinstance(instance, str):
        return
    if isinstance(instance, int) and not isinstance(instance, bool):
        if mode == "crd" or -(2**31) <= instance < 2**31:
            return
    elif mode == "crd" and isinstance(instance, float) and instance.is_integer():
        return
    if mode == "crd":
        yield _k8s_error("integer,string", "type", value=instance)
        return
    kind = json_kind(instance)
    if kind == "number":
        kind = f"number {json.dumps(instance)}"
    yield _k8s_error(f"json: cannot unmarshal {kind} into Go value of type int32", "abort")


def _kw_base64(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
    if not isinstance(instance, str):
        return
    text = instance.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        bad = next((i for i, ch in enumerate(text) if not (ch.isalnum() or ch in "+/=")), None)
        if bad is None:
            pad = text.find("=")
            bad = pad if 0 <= pad < len(text) - 2 or pad % 4 < 2 else len(text) - len(text) % 4
        yield _k8s_error(f"illegal base64 data at input byte {bad}", "abort")


def _kw_embedded(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
    if not isinstance(instance, dict):
        return
    for key in ("apiVersion", "kind"):
        if key not in instance:
            yield _k8s_error("must not be empty", "required", (key,))
        elif not isinstance(instance[key], str):
            yield _k8s_error("must be a string", "invalid", (key,), instance[key])
        elif not instance[key]:
            yield _k8s_error("must not be empty", "invalid", (key,), "")


#: kubesim's decoder keywords (they do not use their validator argument).
KUBESIM_KEYWORDS = {
    "x-kubesim-quantity": _kw_quantity,
    "x-kubesim-int-or-string": _kw_int_or_string,
    "x-kubesim-base64": _kw_base64,
    "x-kubesim-embedded": _kw_embedded,
}
KubeValidator = jsonschema.validators.extend(Draft202012Validator, KUBESIM_KEYWORDS)


# ------------------------------------------------------------------ CRD schemas
_CRD_KEYWORDS = words(
    "minimum maximum enum pattern required format type minLength maxLength minItems "
    "maxItems uniqueItems multipleOf minProperties maxProperties"
)


def _crd_node(node: Any, schemas: Schemas, junctor: bool = False) -> Any:
    """A structural schema as JSON Schema 2020-12: unknown fields are rejected unless
    ``x-kubernetes-preserve-unknown-fields``; null is accepted (the API prunes nulls
    of non-nullable fields instead of rejecting them)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k in ("properties", "patternProperties"):
            out[k] = {p: _crd_node(s, schemas) for p, s in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = _crd_node(v, schemas, k == "not") if isinstance(v, dict) else v
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [_crd_node(s, schemas, True) for s in v]
        elif k in _CRD_KEYWORDS:
            out[k] = v
    for bound in ("Minimum", "Maximum"):
        if node.get("exclusive" + bound) is True and bound.lower() in out:
            out["exclusive" + bound] = out.pop(bound.lower())
    if node.get("x-kubernetes-int-or-string"):
        for k in ("type", "anyOf"):
            out.pop(k, None)
        out["x-kubesim-int-or-string"] = "crd"
    elif "type" in out and not junctor:
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = schemas.ref(META)
        out["x-kubesim-embedded"] = True
    is_object = node.get("type") == "object" or "properties" in node
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if is_object and not junctor and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def crd_schema(schema: Obj | None, schemas: Schemas) -> Obj:
    """The JSON Schema kubesim validates a custom resource against."""
    if not schema:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    out = _crd_node(schema, schemas)
    props = out.setdefault("properties", {})
    props["apiVersion"] = {"type": ["string", "null"]}
    props["kind"] = {"type": ["string", "null"]}
    props["metadata"] = schemas.ref(META)
    return out
