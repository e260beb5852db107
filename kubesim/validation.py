"""Validation of every write, as kube-apiserver validates it.

Two stages, as on a real server. *Decoding* (schemas from ``kubernetes-validate`` for the
built-in types, the ``openAPIV3Schema`` for custom resources) fails with 400 BadRequest:
wrong JSON types, unparsable quantities and, under ``fieldValidation=Strict``, unknown
fields. *Validation* (the hand-written rules of ``pkg/apis/*/validation``: names, labels,
container names, volume mounts, requests <= limits, immutable fields) fails with 422
Invalid and a cause per field. ``SchemaValidator.check_write`` runs both and raises the
``ApiError`` the real server would answer with.

Quantities come from ``kubesim.quantity`` (apimachinery's parse errors and canonical
forms, both of which appear in messages).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any, NamedTuple

import jsonschema
from jsonschema import Draft202012Validator, ValidationError
from packaging.version import Version
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from kubesim import errors
from kubesim.errors import ApiError, Cause
from kubesim.naming import (
    NEGATIVE_ERROR,
    Raw,
    cause,
    duplicate,
    forbidden,
    immutable,
    inclusive_range_error,
    invalid,
    is_config_key,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_label_value,
    is_path_segment_name,
    is_port_name,
    is_qualified_name,
    not_found,
    not_supported,
    required,
    too_long,
    type_invalid,
    validate_annotations,
    validate_labels,
    validate_metadata,
)
from kubesim.quantity import canonical_quantity, parse_quantity

Obj = dict[str, Any]
Path = tuple[str | int, ...]

#: Reason of the causes for unknown fields. Not a real CauseType: the real server reports
#: unknown fields in a 400 message (``strict decoding error: ...``), never as causes.
UNKNOWN_FIELD = "FieldValueUnknown"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


class _Qty(NamedTuple):
    value: Decimal
    text: str  # canonical form, as the API prints it

    def __str__(self) -> str:
        return self.text


def _q(x: Any) -> _Qty | None:
    """A quantity field's value, or None when it does not parse (decoding reports that)."""
    try:
        text = str(x).strip()
        return _Qty(parse_quantity(text), canonical_quantity(text))
    except ValueError:
        return None


# --------------------------------------------------------------- schema files
_SCHEMAS = resources.files("kubernetes_validate") / "kubernetes-json-schema"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_DROP = _words(
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


def _pick_version(requested: str) -> str:
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
class _Schemas:
    base: str  # $id of _definitions.json
    defs: dict[str, Any]
    by_gvk: dict[tuple[str, str], str]
    registry: Registry

    def ref(self, name: str) -> dict[str, str]:
        return {"$ref": f"{self.base}#/$defs/{name}"}


@functools.cache
def _load(version: str) -> _Schemas:
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
    return _Schemas(raw["$id"], defs, by_gvk, registry)


# ------------------------------------------------------------ custom keywords
def _k8s_error(msg: str, kind: str, rel: Path = (), value: Any = None) -> ValidationError:
    err = ValidationError(msg)
    err.k8s = (kind, rel, value)  # type: ignore[attr-defined]
    return err


def _json_kind(x: Any) -> str:
    """How Go's decoder names a JSON value in ``cannot unmarshal X into``."""
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int | float):
        return "number"
    if isinstance(x, str):
        return "string"
    return "object" if isinstance(x, dict) else "array" if isinstance(x, list) else "null"


def _openapi_type(x: Any) -> str:
    """How kube-openapi names a value's type in ``must be of type X: "Y"``."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, float):
        return "integer" if x.is_integer() else "number"
    if isinstance(x, int):
        return "integer"
    return "string" if isinstance(x, str) else "object" if isinstance(x, dict) else "array"


def _kw_quantity(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
    if instance is None:
        return
    text = instance if isinstance(instance, str) else json.dumps(instance)
    try:
        parse_quantity(text.strip())
    except ValueError as e:
        yield _k8s_error(str(e), "abort", value=instance)


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
    kind = _json_kind(instance)
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


_Validator = jsonschema.validators.extend(
    Draft202012Validator,
    {
        "x-kubesim-quantity": _kw_quantity,
        "x-kubesim-int-or-string": _kw_int_or_string,
        "x-kubesim-base64": _kw_base64,
        "x-kubesim-embedded": _kw_embedded,
    },
)


# ------------------------------------------------------------------ CRD schemas
_CRD_KEYWORDS = _words(
    "minimum maximum enum pattern required format type minLength maxLength minItems "
    "maxItems uniqueItems multipleOf minProperties maxProperties"
)


def _crd_node(node: Any, schemas: _Schemas, junctor: bool = False) -> Any:
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
        props["metadata"] = schemas.ref(_META)
        out["x-kubesim-embedded"] = True
    is_object = node.get("type") == "object" or "properties" in node
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if is_object and not junctor and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def crd_schema(schema: Obj | None, schemas: _Schemas) -> Obj:
    """The JSON Schema kubesim validates a custom resource against."""
    if not schema:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    out = _crd_node(schema, schemas)
    props = out.setdefault("properties", {})
    props["apiVersion"] = {"type": ["string", "null"]}
    props["kind"] = {"type": ["string", "null"]}
    props["metadata"] = schemas.ref(_META)
    return out


# --------------------------------------------------------------------- results
def _fmt_path(path: Path) -> str:
    """``spec.containers[0].image``; map keys dotted, as kube-openapi and strict decoding
    print them (``_Converter.field`` brackets them where validation does)."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


@dataclass
class SchemaResult:
    """What decoding and schema validation found in one object."""

    api_version: str
    kind: str
    name: str = ""
    #: Go decoder message for a built-in type (400), "" if the object decodes.
    decode: str = ""
    #: Unknown fields in document order (400 under Strict, warnings under Warn).
    unknown: list[Path] = field(default_factory=list)
    #: Schema violations answered with 422 (custom resources; required fields).
    causes: list[Cause] = field(default_factory=list)
    #: Decode problems as causes, for ``all_causes`` (the 400 carries ``decode`` only).
    decode_causes: list[Cause] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        version = self.api_version.rsplit("/", 1)[-1]
        return f'{self.kind} in version "{version}" cannot be handled as a {self.kind}: '

    def unknown_paths(self) -> list[str]:
        return [_fmt_path(p) for p in self.unknown]

    def all_causes(self) -> list[Cause]:
        unknown = [Cause(UNKNOWN_FIELD, f'unknown field "{p}"', p) for p in self.unknown_paths()]
        return unknown + self.decode_causes + self.causes

    def warnings(self, field_validation: str = "Strict") -> list[str]:
        if field_validation != "Warn":
            return []
        return [f'unknown field "{p}"' for p in self.unknown_paths()]

    def error(
        self, field_validation: str = "Strict", extra: list[Cause] | None = None
    ) -> ApiError | None:
        """The error the real server answers with, or None. ``extra``: causes of the
        hand-written validation, merged before the schema's own 422 causes."""
        if self.decode:
            return errors.bad_request(self.prefix + self.decode)
        if self.unknown and field_validation == "Strict":
            joined = ", ".join(f'unknown field "{p}"' for p in self.unknown_paths())
            return errors.bad_request(self.prefix + "strict decoding error: " + joined)
        causes = merge_causes(list(extra or []), self.causes)
        if not causes:
            return None
        group = self.api_version.rsplit("/", 1)[0] if "/" in self.api_version else ""
        return errors.invalid(self.kind, group, self.name, causes)

    def prune(self, obj: Obj) -> None:
        """Drop the unknown fields, as the real server does outside Strict mode."""
        for path in sorted(self.unknown, key=len, reverse=True):
            parent: Any = obj
            for p in path[:-1]:
                parent = parent[p]
            parent.pop(path[-1], None)


def merge_causes(first: list[Cause], then: list[Cause]) -> list[Cause]:
    """``first`` plus those of ``then`` about other fields; no duplicate messages."""
    seen_fields = {c.field for c in first}
    out: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for c in first + [c for c in then if c.field not in seen_fields]:
        if (c.field, c.message) not in seen:
            seen.add((c.field, c.message))
            out.append(c)
    return out


def unknown_fields(causes: list[Cause]) -> list[str]:
    """The unknown-field paths among ``causes`` (as ``SchemaValidator.validate`` returns)."""
    return [c.field for c in causes if c.reason == UNKNOWN_FIELD]


def _doc_order(obj: Any) -> dict[Path, int]:
    order: dict[Path, int] = {}

    def walk(x: Any, path: Path) -> None:
        order[path] = len(order)
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, (*path, k))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, (*path, i))

    walk(obj, ())
    return order


def _num(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _go_name(def_name: str) -> str:
    parts = def_name.split(".")
    return f"{parts[-2]}.{parts[-1]}"


_TIMES = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
)


def _openapi_cause(kw: str, name: str, x: Any, v: Any, fallback: str) -> Cause:
    """A kube-openapi schema error as apiextensions turns it into a field error."""
    body = f"{name} in body"
    if kw == "pattern":
        return invalid(name, x, f"{body} should match '{v}'")
    bounds = {
        "minimum": "greater than or equal to",
        "exclusiveMinimum": "greater than",
        "maximum": "less than or equal to",
        "exclusiveMaximum": "less than",
    }
    if kw in bounds:
        return invalid(name, x, f"{body} should be {bounds[kw]} {_num(v)}")
    if kw == "minLength":
        return invalid(name, x, f"{body} should be at least {v} chars long")
    if kw == "maxLength":
        return too_long(name, v)
    if kw in ("minItems", "minProperties"):
        what = "items" if kw == "minItems" else "properties"
        return invalid(name, len(x), f"{body} should have at least {v} {what}")
    if kw in ("maxItems", "maxProperties"):
        return cause("FieldValueTooMany", name, len(x), f"must have at most {v} items")
    if kw == "uniqueItems":
        return invalid(name, "", f"{body} shouldn't contain duplicates")
    if kw == "multipleOf":
        return invalid(name, x, f"{body} should be a multiple of {_num(v)}")
    if kw == "not":
        return invalid(name, x, f"{body} must not validate the schema (not)")
    return invalid(name, x, fallback)


# ------------------------------------------------------------------- validator
class SchemaValidator:
    """OpenAPI-schema validation of whole objects, for one Kubernetes version.

    The definitions are loaded once per version and compiled validators are cached per
    (apiVersion, kind): ``kubernetes_validate.validate`` re-reads 2 MB on every call.
    """

    def __init__(self, k8s_version: str = "1.37") -> None:
        self.version = _pick_version(k8s_version)
        self._schemas = _load(self.version)
        self._validators: dict[tuple[str, str], Any] = {}
        self._crds: dict[tuple[str, str], Obj] = {}

    # ------------------------------------------------------------- schemas
    def has_schema(self, api_version: str, kind: str) -> bool:
        key = (api_version, kind)
        return key in self._crds or key in self._schemas.by_gvk

    def add_crd(self, crd: Obj) -> list[tuple[str, str]]:
        """Validate the CRD's kind against its ``openAPIV3Schema`` (every served version).
        Returns the (apiVersion, kind) pairs now known."""
        spec = crd["spec"]
        kind = spec["names"]["kind"]
        added = []
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            key = (f"{spec['group']}/{v['name']}", kind)
            openapi = (v.get("schema") or {}).get("openAPIV3Schema")
            self._crds[key] = crd_schema(openapi, self._schemas)
            self._validators.pop(key, None)
            added.append(key)
        return added

    def remove_crd(self, crd: Obj) -> None:
        spec = crd["spec"]
        for v in spec.get("versions") or []:
            key = (f"{spec['group']}/{v['name']}", spec["names"]["kind"])
            self._crds.pop(key, None)
            self._validators.pop(key, None)

    def _validator(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        v = self._validators.get(key)
        if v is None:
            schema = self._crds.get(key)
            if schema is None:
                name = self._schemas.by_gvk.get(key)
                if name is None:
                    raise KeyError(f"no schema for kind {kind!r} in {api_version!r}")
                schema = self._schemas.ref(name)
            v = self._validators[key] = _Validator(schema, registry=self._schemas.registry)
        return v

    # ------------------------------------------------------------ validate
    def validate(self, obj: Obj) -> list[Cause]:
        """Every schema problem as a cause; ``[]`` when valid. Unknown fields have reason
        ``UNKNOWN_FIELD``; ``check`` tells how the server answers each of them."""
        return self.check(obj).all_causes()

    def check(self, obj: Obj) -> SchemaResult:
        """Decode-stage and schema findings, sorted by how the server answers them.
        KeyError for a kind without schema (ask ``has_schema`` first)."""
        av, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
        validator = self._validator(av, kind)
        res = SchemaResult(av, kind, (obj.get("metadata") or {}).get("name") or "")
        errs = list(validator.iter_errors(obj))
        if not errs:
            return res
        root = None if (av, kind) in self._crds else self._schemas.by_gvk[(av, kind)]
        conv = _Converter(self._schemas.defs, root, res, _doc_order(obj))
        for e in errs:
            conv.convert(e)
        res.unknown.sort(key=lambda p: conv.order.get(p, 0))
        if conv.decode:
            res.decode = min(conv.decode)[2]
        return res

    def check_write(
        self,
        resource: str,
        obj: Obj,
        old: Obj | None = None,
        *,
        field_validation: str = "Strict",
        namespaced: bool | None = None,
        subresource: str = "",
    ) -> list[str]:
        """Validate a create (``old`` None) or update as kube-apiserver does: raise the
        ApiError it would answer (400 decode/strict, 422 invalid), else return warnings.
        Outside Strict mode unknown fields are dropped from ``obj``, as the server does.
        Run defaulting first: the real server validates defaulted objects."""
        result = self.check(obj)
        if result.decode or (result.unknown and field_validation == "Strict"):
            raise result.error(field_validation)  # type: ignore[misc]
        warnings = result.warnings(field_validation)
        if result.unknown:
            result.prune(obj)
        if subresource == "status":
            rules = validate_metadata(obj)
            if old is not None:
                rules += validate_update(resource, old, obj, status=True)
        else:
            rules = validate_object(resource, obj, namespaced)
            if old is not None:
                rules += validate_update(resource, old, obj)
        err = result.error(field_validation, rules)
        if err is not None:
            raise err
        return warnings


#: What the real server does with unknown fields when a request has no ``fieldValidation``
#: (kubectl sends Strict; client libraries usually send nothing and get warnings).
DEFAULT_FIELD_VALIDATION = "Warn"


def check_write(validator: SchemaValidator, req: Any) -> None:
    """The validation step of the admission chain, for a ``kubesim.api.Request``.

    Raises the ApiError the real server would answer with; appends warnings (dropped
    unknown fields) to ``req.warnings``. ``req.field_validation`` (the request's
    ``fieldValidation`` parameter) is honoured when the Request carries it.
    """
    obj, rt = req.obj, req.rt
    if obj is None or not validator.has_schema(obj.get("apiVersion", ""), obj.get("kind", "")):
        return
    mode = getattr(req, "field_validation", "") or DEFAULT_FIELD_VALIDATION
    if getattr(rt, "virtual", False) or req.subresource not in ("", "status"):
        # Reviews and subresource bodies (Binding, Eviction ...) have no ObjectMeta rules.
        result = validator.check(obj)
        err = result.error(mode)
        if err is not None:
            raise err
        req.warnings.extend(result.warnings(mode))
        result.prune(obj)
        return
    req.warnings.extend(
        validator.check_write(
            rt.plural,
            obj,
            req.old if req.operation == "UPDATE" else None,
            field_validation=mode,
            namespaced=rt.namespaced,
            subresource=req.subresource,
        )
    )


@dataclass
class _Converter:
    """Turns jsonschema errors into what the real server reports (see ``SchemaResult``)."""

    defs: dict[str, Any]
    root: str | None  # definition name of a built-in kind; None for custom resources
    res: SchemaResult
    order: dict[Path, int]
    decode: list[tuple[int, int, str]] = field(default_factory=list)

    def convert(self, e: ValidationError) -> None:
        path: Path = tuple(e.absolute_path)
        kw, x, v, res = e.validator, e.instance, e.validator_value, self.res
        crd = self.root is None
        typed = not crd or path[:1] == ("metadata",)  # decoded into Go structs
        name = _fmt_path(path)
        k8s = getattr(e, "k8s", None)
        if kw == "additionalProperties" and v is False:
            props = e.schema.get("properties") or {}
            res.unknown += [(*path, k) for k in x if k not in props]
        elif kw == "required":
            seen = {c.field for c in res.causes}
            for r in v:
                f = self.field((*path, r))
                if r not in x and f not in seen:
                    res.causes.append(required(f))
        elif k8s is not None:
            how, rel, value = k8s
            if how == "abort":
                self.decode.append((0, self.order.get(path, 0), e.message))
                res.decode_causes.append(invalid(self.field(path), x, e.message))
            elif how == "type":
                t = _openapi_type(x)
                msg = f'{name} in body must be of type {e.message}: "{t}"'
                res.causes.append(type_invalid(name, t, msg))
            elif how == "required":
                res.causes.append(required(_fmt_path(path + rel), e.message))
            else:
                res.causes.append(invalid(_fmt_path(path + rel), value, e.message))
        elif kw == "type":
            if x is None:
                if not crd:  # null decodes to the zero value, which validation rejects
                    res.causes.append(required(self.field(path)))
                return
            t = _openapi_type(x)
            want = ",".join(w for w in ([v] if isinstance(v, str) else v) if w != "null")
            c = type_invalid(name, t, f'{name} in body must be of type {want}: "{t}"')
            if typed:
                self.decode.append((1, self.order.get(path, 0), self.go_error(path, x)))
                res.decode_causes.append(c)
            else:
                res.causes.append(c)
        elif kw == "enum":
            if x is not None:
                values = [s if isinstance(s, str) else json.dumps(s) for s in v]
                res.causes.append(not_supported(name, x, values))
        elif kw in ("anyOf", "oneOf") and e.context:
            best = jsonschema.exceptions.best_match(e.context)
            if best is not None:
                self.convert(best)
        elif kw != "format":
            res.causes.append(_openapi_cause(kw, name, x, v, e.message))

    def field(self, path: Path) -> str:
        """A field path as validation prints it: map keys in brackets for built-in types
        (``requests[cpu]``), dotted for custom resources (kube-openapi's names)."""
        if self.root is None and path[:1] != ("metadata",):
            return _fmt_path(path)
        keys = self.walk(path)[3]
        out = ""
        for p, is_key in zip(path, keys, strict=False):
            out += f"[{p}]" if isinstance(p, int) or is_key else (f".{p}" if out else str(p))
        return out

    def walk(self, path: Path) -> tuple[str, list[str], Any, list[bool]]:
        """Follow ``path`` through the definitions: (innermost Go struct, JSON field
        stack, schema at the path, which steps were map keys)."""
        if self.root is None:  # of a custom resource only metadata is a Go struct
            cur, schema, fields, keys = _META, self.defs[_META], ["metadata"], [False]
            path = path[1:]
        else:
            cur, schema, fields, keys = self.root, self.defs[self.root], [], []
        struct = cur
        for p in path:
            while "$ref" in schema:
                cur = schema["$ref"].rsplit("/", 1)[1]
                schema = self.defs[cur]
            props = schema.get("properties") or {}
            if isinstance(p, int):
                schema, is_key = schema.get("items") or {}, False
            elif p in props:
                struct, schema, is_key = cur, props[p], False
                fields.append(p)
            else:
                ap = schema.get("additionalProperties")
                schema, is_key = (ap if isinstance(ap, dict) else {}), True
            keys.append(is_key)
        return struct, fields, schema, keys

    def go_type(self, s: Any) -> str:
        if "$ref" in s:
            return _go_name(s["$ref"].rsplit("/", 1)[1])
        t = s.get("type")
        t = next((x for x in t if x != "null"), None) if isinstance(t, list) else t
        if t == "string":
            return "[]uint8" if s.get("x-kubesim-base64") else "string"
        if t == "integer":
            return s.get("format") or "int64"
        if t == "array":
            return "[]" + self.go_type(s.get("items") or {})
        if t == "object":
            ap = s.get("additionalProperties")
            return "map[string]" + (self.go_type(ap) if isinstance(ap, dict) else "interface {}")
        return {"number": "float64", "boolean": "bool"}.get(t or "", "interface {}")

    def go_error(self, path: Path, x: Any) -> str:
        """Go's ``json: cannot unmarshal ...`` for a value of the wrong JSON type."""
        struct, fields, schema, _ = self.walk(path)
        kind = _json_kind(x)
        if kind == "number" and not isinstance(x, bool):
            kind = f"number {json.dumps(x)}" if self.go_type(schema).startswith("int") else kind
        ref = schema.get("$ref", "").rsplit("/", 1)[-1]
        if ref in _TIMES:  # metav1.Time unmarshals into a string first
            return f"json: cannot unmarshal {_json_kind(x)} into Go value of type string"
        if not fields:
            return f"json: cannot unmarshal {kind} into Go value of type {self.go_type(schema)}"
        owner = struct.rsplit(".", 1)[-1]
        return (
            f"json: cannot unmarshal {kind} into Go struct field "
            f"{owner}.{'.'.join(fields)} of type {self.go_type(schema)}"
        )


# ======================================================== hand-written rules
_MAX_INT32 = 2**31 - 1
_VOLUME_SOURCES = _words(
    "hostPath emptyDir gitRepo gcePersistentDisk awsElasticBlockStore secret nfs iscsi "
    "glusterfs flocker persistentVolumeClaim quobyte rbd cinder cephfs flexVolume "
    "downwardAPI fc azureFile vsphereVolume azureDisk photonPersistentDisk portworxVolume "
    "projected scaleIO configMap storageos csi ephemeral image"
)
_PV_SOURCES = _words(
    "gcePersistentDisk awsElasticBlockStore hostPath glusterfs nfs rbd quobyte iscsi "
    "cephfs cinder fc flocker flexVolume azureFile vsphereVolume azureDisk "
    "photonPersistentDisk portworxVolume scaleIO local storageos csi"
)
_FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
_ENV_FIELD_PATHS = _words(
    "metadata.annotations metadata.labels metadata.name metadata.namespace metadata.uid "
    "spec.nodeName spec.serviceAccountName status.hostIP status.hostIPs status.podIP "
    "status.podIPs"
)


def _nonneg(spec: Obj, key: str, path: str) -> list[Cause]:
    v = spec.get(key)
    return [invalid(f"{path}.{key}", v, NEGATIVE_ERROR)] if isinstance(v, int) and v < 0 else []


def _one_of(path: str, value: Any, allowed: list[str], empty_required: bool = True) -> list[Cause]:
    if value is None or value in allowed:
        return []
    if value == "" and empty_required:
        return [required(path)]
    return [not_supported(path, value, allowed)]


def _local_path(p: str, path: str) -> list[Cause]:
    out = [invalid(path, p, "must be a relative path")] if p.startswith("/") else []
    if ".." in p.replace("\\", "/").split("/"):
        out.append(invalid(path, p, "must not contain '..'"))
    return out


def validate_label_selector(sel: Obj | None, path: str) -> list[Cause]:
    if not sel:
        return []
    out = validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, req in enumerate(sel.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op, values = req.get("operator"), req.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                out.append(
                    required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    forbidden(
                        p + ".values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            out.append(invalid(p + ".operator", op, "not a valid selector operator"))
        out += [
            invalid(p + ".key", req.get("key", ""), m)
            for m in is_qualified_name(req.get("key") or "")
        ]
        for j, val in enumerate(values):
            out += [invalid(f"{p}.values[{j}]", val, m) for m in is_label_value(val)]
    return out


# ------------------------------------------------------------------- volumes
def _key_to_paths(items: list[Obj] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, it in enumerate(items or []):
        p = f"{path}.items[{i}]"
        if not it.get("key"):
            out.append(required(p + ".key"))
        if not it.get("path"):
            out.append(required(p + ".path"))
        else:
            out += _local_path(it["path"], p + ".path")
        mode = it.get("mode")
        if mode is not None and not 0 <= mode <= 0o777:
            out.append(invalid(p + ".mode", mode, _FILE_MODE_ERROR))
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
        mode = body.get("defaultMode")
        if mode is not None and not 0 <= mode <= 0o777:
            out.append(invalid(p + ".defaultMode", mode, _FILE_MODE_ERROR))
        out += _key_to_paths(body.get("items"), p)
    if src == "emptyDir" and body.get("sizeLimit") is not None:
        q = _q(body["sizeLimit"])
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
            errs += [
                forbidden(f"{p}.{s}", "may not specify more than 1 volume type") for s in found[1:]
            ]
        name = vol.get("name") or ""
        if not name:
            errs.append(required(p + ".name"))
        else:
            errs += [invalid(p + ".name", name, m) for m in is_dns1123_label(name)]
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
            out += [invalid(p, rname, m) for m in is_qualified_name(rname)]
            native = "/" not in rname or "kubernetes.io/" in rname
            if (
                "/" not in rname
                and rname not in ("cpu", "memory", "ephemeral-storage")
                and not rname.startswith("hugepages-")
            ):
                out.append(invalid(p, rname, "must be a standard resource for containers"))
            q = _q(raw)
            if q is None:
                continue
            if q.value < 0:
                out.append(invalid(p, str(q), NEGATIVE_ERROR))
            if not native and q.value != q.value.to_integral_value():
                out.append(invalid(p, Raw(str(q)), "must be an integer"))
    for rname, raw in requests.items():
        q = _q(raw)
        overcommit = ("/" not in rname or "kubernetes.io/" in rname) and not rname.startswith(
            "hugepages-"
        )
        if rname in limits:
            lim = _q(limits[rname])
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
        out += [invalid(p + ".name", name, m) for m in is_env_var_name(name)]
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
            out += [
                invalid(f"{vp}.{k}.name", ref.get("name", ""), m)
                for m in is_dns1123_subdomain(ref.get("name") or "")
            ]
            if not ref.get("key"):
                out.append(required(f"{vp}.{k}.key"))
            else:
                out += [invalid(f"{vp}.{k}.key", ref["key"], m) for m in is_config_key(ref["key"])]
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
            out += [invalid(p + ".name", name, m) for m in msgs]
            if not msgs and name in names:
                out.append(duplicate(p + ".name", name))
            names.add(name)
        for key in ("containerPort", "hostPort"):
            n = port.get(key) or 0
            if key == "containerPort" and n == 0:
                out.append(required(p + ".containerPort"))
            elif n and not 1 <= n <= 65535:
                out.append(invalid(f"{p}.{key}", n, inclusive_range_error(1, 65535)))
        out += _one_of(p + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"])
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
            out += _local_path(m["subPath"], path + ".subPath")
    return out


def _security_context(sc: Obj | None, path: str, pod: bool) -> list[Cause]:
    sc = sc or {}
    out: list[Cause] = []
    for key in ("runAsUser", "runAsGroup") + (("fsGroup",) if pod else ()):
        v = sc.get(key)
        if isinstance(v, int) and not 0 <= v <= _MAX_INT32:
            out.append(invalid(f"{path}.{key}", v, inclusive_range_error(0, _MAX_INT32)))
    for i, g in enumerate(sc.get("supplementalGroups") or []):
        if isinstance(g, int) and not 0 <= g <= _MAX_INT32:
            out.append(
                invalid(f"{path}.supplementalGroups[{i}]", g, inclusive_range_error(0, _MAX_INT32))
            )
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
            out += [invalid(p + ".name", name, m) for m in is_dns1123_label(name)]
        image = c.get("image") or ""
        if pod and not image:
            out.append(required(p + ".image"))
        elif pod and image.strip() != image:
            out.append(invalid(p + ".image", image, "must not have leading or trailing whitespace"))
        out += _one_of(
            p + ".imagePullPolicy", c.get("imagePullPolicy"), ["Always", "IfNotPresent", "Never"]
        )
        out += _one_of(
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
            out += [invalid(p + ".key", key, m) for m in is_qualified_name(key)]
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
            out += _one_of(
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
    out += _one_of(
        path + ".restartPolicy", spec.get("restartPolicy"), ["Always", "OnFailure", "Never"]
    )
    out += _one_of(
        path + ".dnsPolicy",
        spec.get("dnsPolicy"),
        ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    )
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            out += [invalid(f"{path}.{key}", spec[key], m) for m in is_dns1123_label(spec[key])]
    for key in ("serviceAccountName", "priorityClassName"):
        if spec.get(key):
            out += [invalid(f"{path}.{key}", spec[key], m) for m in is_dns1123_subdomain(spec[key])]
    out += validate_labels(spec.get("nodeSelector"), path + ".nodeSelector")
    out += _tolerations(spec.get("tolerations"), path + ".tolerations")
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= _MAX_INT32:
        out.append(
            invalid(path + ".activeDeadlineSeconds", ads, inclusive_range_error(1, _MAX_INT32))
        )
    out += _security_context(spec.get("securityContext"), path + ".securityContext", True)
    return out


# ------------------------------------------------------------------- objects
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
        out += _nonneg(spec, key, p)
    mode = spec.get("completionMode")
    if mode is not None:
        out += _one_of(p + ".completionMode", mode, ["NonIndexed", "Indexed"], False)
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
    return (
        [invalid(p + ".storageClassName", scn, m) for m in is_dns1123_subdomain(scn)] if scn else []
    )


def validate_pvc(obj: Obj) -> list[Cause]:
    spec, p = obj.get("spec") or {}, "spec"
    out = _access_modes(spec, p, "at least 1 access mode is required")
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    q = _q(storage) if storage is not None else None
    if storage is None:
        out.append(required(p + ".resources[storage]"))
    elif q is not None and q.value <= 0:
        out.append(invalid(p + ".resources[storage]", str(q), "must be greater than zero"))
    out += _storage_class(spec, p)
    out += _one_of(p + ".volumeMode", spec.get("volumeMode"), ["Block", "Filesystem"], False)
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
        q = _q(raw)
        if q is not None and q.value <= 0:
            out.append(invalid(f"{p}.capacity[{r}]", str(q), "must be greater than zero"))
    found = [s for s in _PV_SOURCES if spec.get(s) is not None]
    if not found:
        out.append(required(p, "must specify a volume type"))
    out += [forbidden(f"{p}.{s}", "may not specify more than 1 volume type") for s in found[1:]]
    if found == ["nfs"]:
        nfs = spec["nfs"] or {}
        out += [required(f"{p}.nfs.{k}") for k in ("server", "path") if not nfs.get(k)]
    out += _storage_class(spec, p)
    return out + _one_of(
        p + ".persistentVolumeReclaimPolicy",
        spec.get("persistentVolumeReclaimPolicy"),
        ["Delete", "Recycle", "Retain"],
        False,
    )


def validate_service(obj: Obj) -> list[Cause]:
    spec, p = obj.get("spec") or {}, "spec"
    out: list[Cause] = []
    stype = spec.get("type") or "ClusterIP"
    out += _one_of(
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
            out += [invalid(pp + ".name", name, m) for m in is_dns1123_label(name)]
            if name in names:
                out.append(duplicate(pp + ".name", name))
            names.add(name)
        n = port.get("port") or 0
        if not 1 <= n <= 65535:
            out.append(invalid(pp + ".port", n, inclusive_range_error(1, 65535)))
        out += _one_of(pp + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"])
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            out.append(invalid(pp + ".targetPort", target, inclusive_range_error(1, 65535)))
        elif isinstance(target, str):
            out += [invalid(pp + ".targetPort", target, m) for m in is_port_name(target)]
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
            out += [invalid(f"{which}[{k}]", k, m) for m in is_config_key(k)]
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
        out += [invalid(f"data[{k}]", k, m) for m in is_config_key(k)]
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
        out += _one_of("roleRef.apiGroup", ref.get("apiGroup", ""), [group], False)
        kinds = ["ClusterRole"] if resource == "clusterrolebindings" else ["Role", "ClusterRole"]
        out += _one_of("roleRef.kind", ref.get("kind", ""), kinds, False)
        if not ref.get("name"):
            out.append(required("roleRef.name"))
        else:
            out += [
                invalid("roleRef.name", ref["name"], m) for m in is_path_segment_name(ref["name"])
            ]
        for i, s in enumerate(obj.get("subjects") or []):
            p, kind = f"subjects[{i}]", s.get("kind", "")
            if not s.get("name"):
                out.append(required(p + ".name"))
            if kind == "ServiceAccount":
                out += _one_of(p + ".apiGroup", s.get("apiGroup") or "", [""], False)
                if s.get("name"):
                    out += [
                        invalid(p + ".name", s["name"], m) for m in is_dns1123_subdomain(s["name"])
                    ]
                if resource == "clusterrolebindings" and not s.get("namespace"):
                    out.append(required(p + ".namespace"))
            elif kind in ("User", "Group"):
                out += _one_of(p + ".apiGroup", s.get("apiGroup") or "", [group], False)
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
                out += _one_of(pp + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"])
                n = port.get("port")
                if isinstance(n, int) and not 1 <= n <= 65535:
                    out.append(invalid(pp + ".port", n, inclusive_range_error(1, 65535)))
            for j, peer in enumerate(rule.get(peers_key) or []):
                pp = f"{rp}.{peers_key}[{j}]"
                if not peer:
                    out.append(required(pp, "must specify a peer"))
                out += validate_label_selector(peer.get("podSelector"), pp + ".podSelector")
                out += validate_label_selector(
                    peer.get("namespaceSelector"), pp + ".namespaceSelector"
                )
    for i, t in enumerate(spec.get("policyTypes") or []):
        out += _one_of(f"{p}.policyTypes[{i}]", t, ["Ingress", "Egress"], False)
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


# ------------------------------------------------------------------- updates
def _norm(x: Any, key: str = "") -> Any:
    """Semantic equality as apiequality.Semantic sees it: absent, null, empty and zero
    strings alike; quantities by value."""
    if isinstance(x, dict):
        out = {k: _norm(v, k) for k, v in x.items()}
        if key in ("requests", "limits", "capacity"):
            out = {k: (str(q) if (q := _q(v)) else v) for k, v in out.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(x, list):
        return [_norm(v) for v in x]
    if key == "sizeLimit" and x is not None:
        q = _q(x)
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
            image = c.get("image") or ""
            if not image:
                out.append(required(f"spec.{key}[{i}].image"))
            elif image.strip() != image:
                out.append(
                    invalid(
                        f"spec.{key}[{i}].image",
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    new_ads, old_ads = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if new_ads is not None:
        if not 0 <= new_ads <= _MAX_INT32:
            return [
                *out,
                invalid(
                    "spec.activeDeadlineSeconds", new_ads, inclusive_range_error(0, _MAX_INT32)
                ),
            ]
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


def _storage(spec: Obj) -> _Qty | None:
    raw = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return _q(raw) if raw is not None else None


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
            reqs["storage"] = ((o_spec.get("resources") or {}).get("requests") or {}).get("storage")
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
    cap = _q(((old.get("status") or {}).get("capacity") or {}).get("storage") or "0")
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
    o_src = {k: o_spec.get(k) for k in _PV_SOURCES if o_spec.get(k) is not None}
    n_src = {k: n_spec.get(k) for k in _PV_SOURCES if n_spec.get(k) is not None}
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
