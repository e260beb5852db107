"""From ``jsonschema`` errors to what kube-apiserver answers: 400 messages or 422 causes.

The same schema violation is reported very differently depending on where the real server
finds it: Go's JSON decoder aborts with one ``json: cannot unmarshal ...`` message (built-in
kinds, and metadata everywhere), strict decoding lists unknown fields, and kube-openapi
(custom resources) yields one field error per violation. ``Converter`` sorts each error into
the right bucket of a ``SchemaResult``, which knows how the server answers it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jsonschema import ValidationError

from kubesim import errors
from kubesim.errors import ApiError, Cause
from kubesim.naming import cause, invalid, not_supported, required, too_long, type_invalid
from kubesim.validation.common import Obj, Path
from kubesim.validation.schema import META, json_kind

#: Reason of the causes for unknown fields. Not a real CauseType: the real server reports
#: unknown fields in a 400 message (``strict decoding error: ...``), never as causes.
UNKNOWN_FIELD = "FieldValueUnknown"


def fmt_path(path: Path) -> str:
    """``spec.containers[0].image``; map keys dotted, as kube-openapi and strict decoding
    print them (``Converter.field`` brackets them where validation does)."""
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
        return [fmt_path(p) for p in self.unknown]

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


def doc_order(obj: Any) -> dict[Path, int]:
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


@dataclass
class Converter:
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
        name = fmt_path(path)
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
                res.causes.append(required(fmt_path(path + rel), e.message))
            else:
                res.causes.append(invalid(fmt_path(path + rel), value, e.message))
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
            return fmt_path(path)
        keys = self.walk(path)[3]
        out = ""
        for p, is_key in zip(path, keys, strict=False):
            out += f"[{p}]" if isinstance(p, int) or is_key else (f".{p}" if out else str(p))
        return out

    def walk(self, path: Path) -> tuple[str, list[str], Any, list[bool]]:
        """Follow ``path`` through the definitions: (innermost Go struct, JSON field
        stack, schema at the path, which steps were map keys)."""
        if self.root is None:  # of a custom resource only metadata is a Go struct
            cur, schema, fields, keys = META, self.defs[META], ["metadata"], [False]
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
        kind = json_kind(x)
        if kind == "number" and not isinstance(x, bool):
            kind = f"number {json.dumps(x)}" if self.go_type(schema).startswith("int") else kind
        ref = schema.get("$ref", "").rsplit("/", 1)[-1]
        if ref in _TIMES:  # metav1.Time unmarshals into a string first
            return f"json: cannot unmarshal {json_kind(x)} into Go value of type string"
        if not fields:
            return f"json: cannot unmarshal {kind} into Go value of type {self.go_type(schema)}"
        owner = struct.rsplit(".", 1)[-1]
        return (
            f"json: cannot unmarshal {kind} into Go struct field "
            f"{owner}.{'.'.join(fields)} of type {self.go_type(schema)}"
        )
