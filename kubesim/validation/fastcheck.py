"""A compiled yes/no answer to "is this object valid against its schema?".

Why: ``jsonschema`` walks a schema with a fresh validator object per subschema, resolves
every ``$ref`` through ``referencing`` and builds its error machinery even when nothing is
wrong; for a pod that is a few milliseconds per write, about a third of what kubesim spent
on a write. Nearly every write is valid, so kubesim first asks this module, which turns
each schema into nested Python closures once (per definition) and only answers
*valid* or *not sure*. *Not sure* (something is invalid, or the schema uses a keyword this
module does not compile) sends the object through ``jsonschema`` exactly as before, which
alone produces the errors. So the errors, their order and messages cannot change; what
must hold is that *valid* here means ``jsonschema`` finds no error (the tests in
``tests/kubesim/test_validation_fastcheck.py`` compare both on many objects).

Compiled keywords, with ``jsonschema``'s Draft 2020-12 semantics: ``type``,
``properties``, ``additionalProperties`` (without ``patternProperties``), ``items``
(without ``prefixItems``), ``required``, ``enum`` (string values), ``$ref`` into the
definitions document, ``allOf``, ``anyOf`` and ``format`` (an annotation: kubesim
validates without a format checker, as kube-apiserver's decoder ignores OpenAPI formats).
Keywords that look at one value without descending (``pattern``, ``maxLength``,
``minimum``, kubesim's decoder keywords, ...) run ``jsonschema``'s own function for
them. Anything else (``oneOf``, ``not``, ``patternProperties``, ...) makes that subschema
*not sure*.
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

#: Keywords without effect on validity (annotations; no format checker is configured).
_ANNOTATIONS = frozenset(("format", "description", "title", "default", "examples", "$comment"))
#: Keywords whose jsonschema function checks the instance itself, without descending into
#: subschemas: they are run as they are (exact by construction).
_LEAF = frozenset(
    [
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "uniqueItems",
        "pattern",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "const",
        "dependentRequired",
    ]
)


def _true(_: Any) -> bool:
    return True


def _unsure(_: Any) -> bool:
    return False


def _is_integer(x: Any) -> bool:
    # Draft 6+: a float with an integral value is an integer; bool is not.
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, numbers.Number)


#: JSON Schema type name -> Python test, as ``jsonschema``'s Draft 2020-12 type checker.
_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "integer": _is_integer,
    "number": _is_number,
}
#: Exact Python types that satisfy a JSON Schema type (the fast path of ``_type_check``).
_EXACT: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}


def _types(types: Any) -> tuple[frozenset[type], Check] | None:
    """The exact Python types that certainly satisfy ``type``, and the full test."""
    names = [types] if isinstance(types, str) else types
    if not isinstance(names, list) or not all(n in _TYPES for n in names):
        return None
    exact = frozenset(t for n in names for t in _EXACT[n])
    tests = [_TYPES[n] for n in names]
    return exact, lambda x: any(f(x) for f in tests)


class FastChecker:
    """Compiles schemas against one definitions document (``$defs`` by name).

    ``base`` is the document's ``$id``: ``$ref`` values ``#/$defs/<name>`` and
    ``<base>#/$defs/<name>`` are compiled; other references are *not sure*.
    ``validator`` is a ``jsonschema`` validator of the class that validates for real:
    leaf keywords and ``extra`` keywords (kubesim's decoder keywords, which do not
    descend either) are run with its functions and type checker.

    Each schema node becomes one closure. A subschema that is only a ``type`` (most
    fields) is also summarised as a set of exact Python types, which the enclosing
    object or array tests inline (``type(v) in ...``) before calling anything.
    """

    def __init__(
        self, base: str, defs: dict[str, Any], validator: Any, extra: frozenset[str]
    ) -> None:
        self.base = base
        self.defs = defs
        self.validator = validator
        self.leaf = _LEAF | extra
        self._by_name: dict[str, Check] = {}
        self._compiling: set[str] = set()
        self._lock = threading.RLock()
        #: Compiled type-only subschemas -> the exact types that satisfy them.
        self._exact: dict[Check, frozenset[type]] = {}

    def compile(self, schema: Any) -> Check:
        """A function answering True only if ``schema`` holds for the instance.

        One compilation at a time: simulators in other threads share the compiled
        definitions, and a definition being compiled must not be used half-done."""
        with self._lock:
            return self._compile(schema)

    def _compile(self, schema: Any) -> Check:
        if schema is True:
            return _true
        if schema is False or not isinstance(schema, dict):
            return _unsure
        if "patternProperties" in schema or "prefixItems" in schema:
            return _unsure
        types: tuple[frozenset[type], Check] | None = None
        items: Check | None = None
        others: list[Check] = []
        for key, value in schema.items():
            if key in ("properties", "additionalProperties", "required") or key in _ANNOTATIONS:
                continue
            c: Check | None = None
            if key == "type":
                types = _types(value)
                if types is None:
                    return _unsure
                continue
            if key == "items":
                if value is not True:
                    items = self._compile(value)  # False: "not sure" for any item
                continue
            if key == "enum":
                c = _enum_check(value)
            elif key == "$ref":
                c = self._ref_check(value)
            elif key in ("allOf", "anyOf"):
                c = self._junction_check(value, key == "allOf")
            elif key in self.leaf:
                c = self._keyword_check(key, value, schema)
            if c is None:
                return _unsure
            others.append(c)
        obj = self._object_parts(schema)
        if obj is None:
            return _unsure
        if obj is _NO_OBJECT and items is None and not others:
            if types is None:
                return _true
            exact, full = types
            check = _type_only(exact, full)
            self._exact[check] = exact
            return check
        if types is None and obj is _NO_OBJECT and items is None and len(others) == 1:
            return others[0]  # a bare $ref (most properties): the definition itself
        return self._node(types, obj, items, others)

    def _node(
        self,
        types: tuple[frozenset[type], Check] | None,
        obj: Any,
        items: Check | None,
        others: list[Check],
    ) -> Check:
        exact_type, full_type = types or (frozenset(), _true)
        typed = types is not None
        has_obj = obj is not _NO_OBJECT
        props, exact, addl, addl_exact, closed, req = obj if has_obj else _NO_PARTS
        item_exact = self._exact.get(items) if items is not None else None
        rest = tuple(others)

        def check(x: Any) -> bool:
            if typed and type(x) not in exact_type and not full_type(x):
                return False
            if has_obj and isinstance(x, dict):
                for k, v in x.items():
                    ex = exact.get(k)
                    if ex is not None and type(v) in ex:
                        continue
                    f = props.get(k)
                    if f is not None:
                        if not f(v):
                            return False
                    elif closed or (
                        addl is not None
                        and (addl_exact is None or type(v) not in addl_exact)
                        and not addl(v)
                    ):
                        return False
                for r in req:
                    if r not in x:
                        return False
            if items is not None and isinstance(x, list):
                for v in x:
                    if (item_exact is None or type(v) not in item_exact) and not items(v):
                        return False
            return not rest or all(c(x) for c in rest)

        return check

    # ------------------------------------------------------------------ keywords
    def _object_parts(self, schema: dict[str, Any]) -> Any:
        """``properties``, ``additionalProperties`` and ``required``, checked together in
        one pass over a dict's keys; ``_NO_OBJECT`` without them, None if unsupported."""
        props_schema = schema.get("properties")
        addl_schema = schema.get("additionalProperties", True)
        required = schema.get("required")
        if props_schema is None and addl_schema is True and required is None:
            return _NO_OBJECT
        if props_schema is not None and not isinstance(props_schema, dict):
            return None
        if required is not None and not isinstance(required, list):
            return None
        props = {k: self._compile(v) for k, v in (props_schema or {}).items()}
        exact = {k: self._exact[f] for k, f in props.items() if f in self._exact}
        addl: Check | None = None
        closed = False
        if addl_schema is False:
            closed = True
        elif isinstance(addl_schema, dict):
            addl = self._compile(addl_schema)
        elif addl_schema is not True:
            return None
        addl_exact = self._exact.get(addl) if addl is not None else None
        return props, exact, addl, addl_exact, closed, tuple(required or ())

    def _ref_check(self, ref: Any) -> Check | None:
        if not isinstance(ref, str):
            return None
        doc, _, fragment = ref.partition("#")
        prefix = "/$defs/"
        if doc not in ("", self.base) or not fragment.startswith(prefix):
            return None
        name = fragment[len(prefix) :]
        if "/" in name or "~" in name or "%" in name or name not in self.defs:
            return None
        return self._definition(name)

    def _definition(self, name: str) -> Check:
        c = self._by_name.get(name)
        if c is not None:
            return c
        if name in self._compiling:
            # A definition that contains itself: reached again while compiling, so it is
            # looked up when first used.
            def later(x: Any) -> bool:
                return self._by_name[name](x)

            return later
        self._compiling.add(name)
        try:
            c = self._by_name[name] = self._compile(self.defs[name])
        finally:
            self._compiling.discard(name)
        return c

    def _junction_check(self, schemas: Any, every: bool) -> Check | None:
        if not isinstance(schemas, list) or not schemas:
            return None
        checks = [self._compile(s) for s in schemas]
        if every:
            return lambda x: all(c(x) for c in checks)
        # One subschema known to hold is enough; "not sure" for all of them stays so.
        return lambda x: any(c(x) for c in checks)

    def _keyword_check(self, key: str, value: Any, schema: dict[str, Any]) -> Check | None:
        fn = type(self.validator).VALIDATORS.get(key)
        if fn is None:
            return None
        validator = self.validator

        def check(x: Any) -> bool:
            for _ in fn(validator, value, x, schema):
                return False
            return True

        return check


_NO_OBJECT = object()
_NO_PARTS: tuple = ({}, {}, None, None, False, ())


def _type_only(exact: frozenset[type], full: Check) -> Check:
    def check(x: Any) -> bool:
        return type(x) in exact or full(x)

    return check


def _enum_check(values: Any) -> Check | None:
    if not isinstance(values, list):
        return None
    # jsonschema's ``equal``: a string equals only an equal string. Other instances (and
    # enums of other values) are left to jsonschema.
    strings = frozenset(v for v in values if isinstance(v, str))
    return lambda x: isinstance(x, str) and x in strings


__all__ = ["Check", "FastChecker"]
