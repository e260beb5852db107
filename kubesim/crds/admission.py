"""What kube-apiserver does with custom resources beyond schema validation.

- **Structural defaulting**: a ``default`` in the CRD's ``openAPIV3Schema`` is filled in
  wherever the field is absent (or null and not ``nullable``) inside an object that is
  present — on create and update, before validation. Clients read the defaults back
  (``runPolicy: {}`` comes back as ``{"suspend": false}``; a container port without
  ``protocol`` gets ``TCP``).
- **Transition rules**: ``x-kubernetes-validations`` with the rule ``self == oldSelf`` (the
  CEL idiom for an immutable field, e.g. the training operator's
  ``spec.runPolicy.schedulingPolicy.queue``) reject an update that changes the field with the
  rule's ``message``. Other CEL rules are not evaluated (kubesim has no CEL); the CRDs kubesim
  ships use only this one.

Both plugins act on every type registered with a CRD (``sim.registry.crds``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from kubesim import errors
from kubesim.api import Request
from kubesim.resources import Registry

Obj = dict[str, Any]
IMMUTABLE_RULE = "self == oldSelf"


def served_schema(crd: Obj, version: str) -> Obj:
    for v in crd.get("spec", {}).get("versions") or []:
        if v.get("name") == version:
            return (v.get("schema") or {}).get("openAPIV3Schema") or {}
    return {}


# ------------------------------------------------------------------ defaulting
def apply_defaults(schema: Obj, value: Any) -> None:
    """Fill ``schema`` defaults into ``value`` in place (apiserver's structural defaulting)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if "default" in sub and (
                name not in value or (value[name] is None and not sub.get("nullable"))
            ):
                value[name] = copy.deepcopy(sub["default"])
        for name, v in value.items():
            if name in props:
                apply_defaults(props[name], v)
            elif isinstance(schema.get("additionalProperties"), dict):
                apply_defaults(schema["additionalProperties"], v)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(schema["items"], item)


# ------------------------------------------------------------ transition rules
Rule = tuple[tuple[str | None, ...], str]  # (path with None for map/array members, message)


def immutable_rules(schema: Obj, path: tuple[str | None, ...] = ()) -> Iterator[Rule]:
    for rule in schema.get("x-kubernetes-validations") or []:
        if rule.get("rule", "").replace(" ", "") == IMMUTABLE_RULE.replace(" ", ""):
            yield path, rule.get("message") or f"failed rule: {rule['rule']}"
    for name, sub in (schema.get("properties") or {}).items():
        yield from immutable_rules(sub, (*path, name))
    for key in ("additionalProperties", "items"):
        if isinstance(schema.get(key), dict):
            yield from immutable_rules(schema[key], (*path, None))


def _pairs(
    old: Any, new: Any, path: tuple[str | None, ...], shown: str
) -> Iterator[tuple[str, Any, Any]]:
    """(field path, old value, new value) for every place ``path`` names in both."""
    if not path:
        yield shown, old, new
        return
    head, rest = path[0], path[1:]
    if head is not None:
        if isinstance(old, dict) and isinstance(new, dict) and head in old and head in new:
            yield from _pairs(old[head], new[head], rest, f"{shown}.{head}" if shown else head)
    elif isinstance(old, dict) and isinstance(new, dict):
        for k in new.keys() & old.keys():
            yield from _pairs(old[k], new[k], rest, f"{shown}[{k}]")
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(min(len(old), len(new))):
            yield from _pairs(old[i], new[i], rest, f"{shown}[{i}]")


def _cel_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(v), "null")


# ------------------------------------------------------------------- plugins
class CrdAdmission:
    """Mutating (defaults) and validating (transition rules) plugins for custom resources."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._rules: dict[tuple[str, str], list[Rule]] = {}

    def _crd(self, req: Request) -> Obj | None:
        if req.obj is None or req.rt.virtual:
            return None
        return self.registry.crds.get(req.rt.key)

    def defaults(self, req: Request) -> None:
        crd = self._crd(req)
        if crd is not None and req.operation in ("CREATE", "UPDATE"):
            apply_defaults(served_schema(crd, req.rt.version), req.obj)

    def transition_rules(self, req: Request) -> None:
        crd = self._crd(req)
        if crd is None or req.operation != "UPDATE" or req.old is None:
            return
        rules = self._rules.get(req.rt.key)
        if rules is None:
            rules = self._rules[req.rt.key] = list(
                immutable_rules(served_schema(crd, req.rt.version))
            )
        causes = [
            errors.Cause("FieldValueInvalid", f'Invalid value: "{_cel_type(new)}": {msg}', field)
            for path, msg in rules
            for field, old, new in _pairs(req.old, req.obj, path, "")
            if old != new
        ]
        if causes:
            name = req.obj["metadata"].get("name", "")
            raise errors.invalid(req.rt.kind, req.rt.group, name, causes)

    def install(self, mutating: list[Callable[[Request], None]], validating: list) -> None:
        """Defaults run after the other mutating plugins; transition rules right after the
        schema validation step (the first validating plugin), as CEL runs with the schema."""
        if self.defaults not in mutating:
            mutating.append(self.defaults)
        if self.transition_rules not in validating:
            validating.insert(1 if validating else 0, self.transition_rules)
