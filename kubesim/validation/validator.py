"""The entry points: ``SchemaValidator`` (one Kubernetes version's schemas plus the CRDs
served) and ``check_write``, the validation step of kubesim's admission chain.

They run the two stages in the real server's order (decode against the schema, then the
hand-written create and update rules) and raise the single ``ApiError`` it would answer
with, so callers never merge the stages themselves.
"""

from __future__ import annotations

import functools
from typing import Any

from kubesim.errors import Cause
from kubesim.naming import validate_metadata
from kubesim.validation.causes import Converter, SchemaResult, doc_order
from kubesim.validation.common import Obj
from kubesim.validation.fastcheck import Check, FastChecker
from kubesim.validation.objects import validate_object
from kubesim.validation.schema import (
    KUBESIM_KEYWORDS,
    KubeValidator,
    crd_schema,
    load_schemas,
    pick_version,
)
from kubesim.validation.updates import validate_update


class SchemaValidator:
    """OpenAPI-schema validation of whole objects, for one Kubernetes version.

    The definitions are loaded once per version and compiled validators are cached per
    (apiVersion, kind): ``kubernetes_validate.validate`` re-reads 2 MB on every call.
    Each kind's schema is also compiled by :mod:`.fastcheck`, which answers the common
    case (a valid object) without ``jsonschema``; anything else goes through
    ``jsonschema``, so errors are always its own.
    """

    def __init__(self, k8s_version: str = "1.37") -> None:
        self.version = pick_version(k8s_version)
        self._schemas = load_schemas(self.version)
        self._validators: dict[tuple[str, str], Any] = {}
        self._crds: dict[tuple[str, str], Obj] = {}
        self._fast = _fast_checker(self.version)
        self._checks: dict[tuple[str, str], Check] = {}

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
            self._checks.pop(key, None)
            added.append(key)
        return added

    def remove_crd(self, crd: Obj) -> None:
        spec = crd["spec"]
        for v in spec.get("versions") or []:
            key = (f"{spec['group']}/{v['name']}", spec["names"]["kind"])
            self._crds.pop(key, None)
            self._validators.pop(key, None)
            self._checks.pop(key, None)

    def _schema(self, key: tuple[str, str]) -> Obj:
        schema = self._crds.get(key)
        if schema is None:
            name = self._schemas.by_gvk.get(key)
            if name is None:
                raise KeyError(f"no schema for kind {key[1]!r} in {key[0]!r}")
            schema = self._schemas.ref(name)
        return schema

    def _validator(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        v = self._validators.get(key)
        if v is None:
            v = self._validators[key] = KubeValidator(
                self._schema(key), registry=self._schemas.registry
            )
        return v

    def _check(self, api_version: str, kind: str) -> Check:
        key = (api_version, kind)
        c = self._checks.get(key)
        if c is None:
            c = self._checks[key] = self._fast.compile(self._schema(key))
        return c

    # ------------------------------------------------------------ validate
    def validate(self, obj: Obj) -> list[Cause]:
        """Every schema problem as a cause; ``[]`` when valid. Unknown fields have reason
        ``UNKNOWN_FIELD``; ``check`` tells how the server answers each of them."""
        return self.check(obj).all_causes()

    def check(self, obj: Obj) -> SchemaResult:
        """Decode-stage and schema findings, sorted by how the server answers them.
        KeyError for a kind without schema (ask ``has_schema`` first)."""
        av, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
        res = SchemaResult(av, kind, (obj.get("metadata") or {}).get("name") or "")
        if self._check(av, kind)(obj):
            return res  # valid: what jsonschema would find is nothing
        errs = list(self._validator(av, kind).iter_errors(obj))
        if not errs:
            return res
        root = None if (av, kind) in self._crds else self._schemas.by_gvk[(av, kind)]
        conv = Converter(self._schemas.defs, root, res, doc_order(obj))
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


@functools.cache
def _fast_checker(version: str) -> FastChecker:
    """One per version, shared by every simulator: definitions compile once per process."""
    schemas = load_schemas(version)
    return FastChecker(
        schemas.base,
        schemas.defs,
        KubeValidator({}, registry=schemas.registry),
        frozenset(KUBESIM_KEYWORDS),
    )


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
