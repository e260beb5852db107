"""The three PATCH bodies kube-apiserver accepts, applied with the server's semantics.

* JSON merge patch (RFC 7386) as evanphx/json-patch applies it,
* JSON patch (RFC 6902) through the ``jsonpatch`` library, with the server's status codes,
* strategic merge patch, a port of the server half of ``apimachinery/pkg/util/strategicpatch``
  (merge keys, ``$patch``, ``$setElementOrder``, ``$deleteFromPrimitiveList``,
  ``$retainKeys``), driven by the patch metadata in kubernetes-validate's bundled schemas.

The odd corners are kept on purpose (new merge-list items land before the untouched ones,
``$patch: merge`` in a list is an error, …): clients see exactly what a real cluster does.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

from kubesim.errors import ApiError, bad_request

_GO_KIND = {dict: "object", list: "array", str: "string", bool: "bool", int: "number"}
_JSONPATCH_ERRORS = (
    jsonpatch.JsonPatchException,
    jsonpointer.JsonPointerException,
    LookupError,
    TypeError,
)
_REJECTED = "the server rejected our request due to an error in our request"
_DELETE_PREFIX, _ORDER_PREFIX = "$deleteFromPrimitiveList", "$setElementOrder"


def _go_kind(v: Any) -> str:
    """How Go's JSON decoder names a value's kind in "cannot unmarshal X" errors."""
    return "number" if isinstance(v, float) else _GO_KIND.get(type(v), "value")


def _unprocessable() -> ApiError:
    """``NewGenericServerResponse(422, ...)``: the detail is dropped, as the server does."""
    return ApiError(422, "Invalid", _REJECTED)


# -- JSON merge patch --------------------------------------------------------------------------


def _prune(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _prune(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [None if x is None else _prune(x) for x in v]
    return v


def _merge_docs(doc: dict, patch: dict) -> dict:
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
        elif doc.get(k) is None or not isinstance(doc[k], dict):
            doc[k] = _prune(v)
        elif isinstance(v, dict):
            _merge_docs(doc[k], v)
        else:
            doc[k] = v
    return doc


def json_merge_patch(original: dict, patch: Any) -> dict:
    """Apply an ``application/merge-patch+json`` body; ``null`` deletes a key."""
    if patch is None:
        raise bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        raise bad_request(
            f"error decoding patch: json: cannot unmarshal {_go_kind(patch)} into Go value of "
            "type map[string]interface {}"
        )
    return _merge_docs(copy.deepcopy(original), copy.deepcopy(patch))


# -- JSON patch --------------------------------------------------------------------------------


def json_patch(original: dict, ops: Any) -> dict:
    """Apply an ``application/json-patch+json`` body (a list of RFC 6902 operations).

    A body that does not decode as a list of operations is a 400; an operation that fails
    (``test`` mismatch, missing path, unknown op) is the server's generic 422.
    """
    if ops is None:  # decodes as an empty patch
        return copy.deepcopy(original)
    prefix = "error decoding patch: json: cannot unmarshal"
    if not isinstance(ops, list):
        raise bad_request(f"{prefix} {_go_kind(ops)} into Go value of type []handlers.jsonPatchOp")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise bad_request(f"{prefix} {_go_kind(op)} into Go value of type handlers.jsonPatchOp")
        for name, v in (op or {}).items():
            if name in ("op", "path", "from") and v is not None and not isinstance(v, str):
                field = f"Go struct field jsonPatchOp.{name} of type string"
                raise bad_request(f"{prefix} {_go_kind(v)} into {field}")
    if len(ops) > 10000:
        msg = f"The allowed maximum operations in a JSON patch is 10000, got {len(ops)}"
        raise ApiError(413, "RequestEntityTooLarge", f"Request entity too large: {msg}")
    try:
        return jsonpatch.JsonPatch([op or {} for op in ops]).apply(original, in_place=False)
    except _JSONPATCH_ERRORS as e:
        raise _unprocessable() from e


# -- schema lookup -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PatchMeta:
    """``x-kubernetes-patch-strategy`` (split on ``,``) and ``x-kubernetes-patch-merge-key``."""

    strategies: tuple[str, ...] = ()
    merge_key: str = ""

    @property
    def retain_keys(self) -> bool:
        return "retainKeys" in self.strategies

    @property
    def strategy(self) -> str:
        """The strategy besides ``retainKeys``: ``merge``, ``replace`` or ``""``."""
        return next((s for s in self.strategies if s != "retainKeys"), "")


def _schema_dir(k8s_version: str) -> Any:
    ver = k8s_version.lstrip("v")
    ver = ver if ver.count(".") >= 2 else ver + ".0"
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return root / f"v{ver}-local-strict"


@functools.cache
def _definitions(k8s_version: str) -> dict[str, Any]:
    path = _schema_dir(k8s_version) / "_definitions.json"
    if not path.is_file():
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {k8s_version}")
    return json.loads(path.read_text())["$defs"]


@functools.cache
def _gvk_index(k8s_version: str) -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, d in _definitions(k8s_version).items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


class SchemaLookup:
    """Walks a kind's JSON schema, following ``$ref``, to answer patch-metadata questions.

    Lists are stepped through transparently: the child of a list field is its item schema,
    because strategic merge patch addresses list items by merge key, not by index.
    """

    def __init__(self, defs: Mapping[str, Any], root: str | Mapping[str, Any]):
        self.defs = defs
        self.name = root if isinstance(root, str) else ""
        self.schema = self._resolve(defs[root] if isinstance(root, str) else root)

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("#/$defs/", 1)[-1]
            self.name, schema = name, self.defs[name]
        return schema

    @classmethod
    def for_kind(
        cls, api_version: str, kind: str, k8s_version: str = "1.37"
    ) -> SchemaLookup | None:
        """The schema of a built-in kind; None for kinds it does not know (custom resources)."""
        group, _, version = api_version.rpartition("/")
        name = _gvk_index(k8s_version).get((group, version, kind))
        return None if name is None else cls(_definitions(k8s_version), name)

    def child(self, field: str) -> tuple[SchemaLookup | None, PatchMeta]:
        """Sub-schema (item schema for lists) and patch metadata of one property."""
        prop = (self.schema.get("properties") or {}).get(field)
        if prop is None and isinstance(self.schema.get("additionalProperties"), dict):
            prop = self.schema["additionalProperties"]
        if prop is None:
            return None, PatchMeta()
        strategies = prop.get("x-kubernetes-patch-strategy", "").split(",")
        meta = PatchMeta(
            tuple(filter(None, strategies)), prop.get("x-kubernetes-patch-merge-key", "")
        )
        sub = SchemaLookup(self.defs, prop)
        if isinstance(sub.schema.get("items"), dict):
            sub = SchemaLookup(self.defs, sub.schema["items"])
        return sub, meta

    def lookup(self, path: Sequence[str]) -> tuple[SchemaLookup | None, PatchMeta]:
        """Follow ``path`` (property names); the metadata is that of the last step."""
        node: SchemaLookup | None = self
        meta = PatchMeta()
        for field in path:
            if node is None:
                return None, PatchMeta()
            node, meta = node.child(field)
        return node, meta

    def patch_meta(self, path: Sequence[str]) -> PatchMeta:
        return self.lookup(path)[1]


# -- strategic merge patch ---------------------------------------------------------------------


class _SmpError(Exception):
    """An error the server returns unconverted: 500 with the Go error text."""


class _SmpBadRequest(_SmpError):
    pass


def _go(v: Any) -> str:
    """Go's ``%v`` of a decoded JSON value, for error messages."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return format(v, "g") if isinstance(v, float) else str(v)


def _go_type(v: Any) -> str:
    names = {dict: "map[string]interface {}", list: "[]interface {}", str: "string"}
    names |= {bool: "bool", int: "int64", float: "float64"}
    return names.get(type(v), "%!s(<nil>)")


def _bad_arg(expected: str, actual: Any) -> _SmpError:
    return _SmpError(f"expected a {expected}, but received a {_go_type(actual)}")


def _same(a: Any, b: Any) -> bool:
    """Go interface equality: 1 and 1.0 and True are different values."""
    return type(a) is type(b) and a == b


def _index(items: list, item: Any, key: str) -> int:
    """Go's ``index``: position of the item (or of its merge-key value) in ``items``."""

    def val(x: Any) -> Any:
        if not key:
            return x
        return x.get(key) if isinstance(x, dict) else None

    want = val(item)
    return next((i for i, x in enumerate(items) if _same(val(x), want)), -1)


def _find(items: list, key: str, value: Any) -> int:
    """``findMapInSliceBasedOnKeyValue``: the map whose merge key equals ``value``."""
    for i, x in enumerate(items):
        if not isinstance(x, dict):
            raise _SmpError(f"value for key {i} is not a map")
        if key in x and _same(x[key], value):
            return i
    return -1


def _key_of(item: Any, key: str) -> Any:
    if not isinstance(item, dict):
        raise _bad_arg("map[string]interface {}", item)
    if key not in item:
        raise _SmpError(f"map: {_go(item)} does not contain declared merge key: {key}")
    return item[key]


def _elem_kind(*lists: list) -> type:
    """``sliceElementType``: the one element type of the lists (no lists of lists)."""
    kind: type | None = None
    for x in (x for lst in lists for x in lst):
        if kind is None:
            kind = type(x)
            if kind is list:
                raise _unprocessable()  # ErrNoListOfLists
        elif type(x) is not kind:
            shown = " ".join(_go(lst) for lst in lists)
            raise _SmpError(f"list element types are not identical: [{shown}]")
    if kind is None:
        raise _SmpError("no elements in any of the given slices")
    return kind


def _sort_by(items: list, order: list, key: str, is_map: bool) -> list:
    """``normalizeSliceOrder``: stable sort by position in ``order``; deletions last."""
    deletes = []
    if is_map:
        for x in [*items, *order]:
            _key_of(x, key)
        deletes = [x for x in items if x.get("$patch") == "delete"]
        items = [x for x in items if x.get("$patch") != "delete"]
    pos = [_index(order, x, key) for x in items]
    ranked = sorted(range(len(items)), key=lambda i: (pos[i] < 0, pos[i]))
    return [items[i] for i in ranked] + deletes


def _normalize(
    patch_items: list, server_only: list, patch_order: list, server_order: list, key: str
) -> list:
    """``normalizeElementOrder`` + ``mergeSortedSlice``: the server's list ordering.

    Server-only items keep their live order and patch items their patch order; a patch item
    the live list does not know is emitted as soon as it is compared, so new items come first.
    """
    is_map = bool(key)
    right = _sort_by(patch_items, patch_order, key, is_map)
    left = _sort_by(server_only, server_order, key, is_map)
    out: list = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i < len(left) and j < len(right):
            li, ri = _index(server_order, left[i], key), _index(server_order, right[j], key)
            take_left = 0 <= li < ri
        else:
            take_left = i < len(left)
        out.append(left[i] if take_left else right[j])
        i, j = (i + 1, j) if take_left else (i, j + 1)
    return out


def _partition(merged: list, by: list, key: str) -> tuple[list, list]:
    """Split ``merged`` into items named in ``by`` and server-only items."""
    present, server_only = [], []
    for x in merged:
        hit = _find(by, key, _key_of(x, key)) >= 0 if key else any(_same(x, y) for y in by)
        (present if hit else server_only).append(x)
    return present, server_only


def _merge_slice(
    orig: list, patch: list, schema: SchemaLookup | None, key: str, is_delete: bool
) -> list:
    if not orig and not patch:
        return orig
    if _elem_kind(orig, patch) is not dict:
        if is_delete:
            return [x for x in orig if not any(_same(x, y) for y in patch)]
        merged: list = []
        for x in orig + patch:
            if not any(_same(x, y) for y in merged):
                merged.append(x)
        key = ""
    else:
        if not key:
            raise _SmpError(f"cannot merge lists without merge key for {schema and schema.name}")
        plain, replace = [], False
        for item in patch:
            directive = item.get("$patch")
            if "$patch" not in item:
                plain.append(item)
            elif directive == "delete":
                value = _key_of(item, key)
                while (at := _find(orig, key, value)) >= 0:
                    orig = orig[:at] + orig[at + 1 :]
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                raise _SmpError("merging lists cannot yet be specified in the patch")
            else:
                raise _SmpError(f"unknown patch type: {directive} in map: {_go(item)}")
        orig, patch = (plain, []) if replace else (orig, plain)
        merged = list(orig)
        for item in patch:
            at = _find(merged, key, _key_of(item, key))
            if at >= 0:
                merged[at] = _merge_map(merged[at], item, schema)
            else:
                merged.append(item)
    present, server_only = _partition(merged, patch, key)
    return _normalize(present, server_only, patch, orig, key)


def _remove_directives(v: Any) -> tuple[Any, bool]:
    if isinstance(v, dict):
        if "$patch" in v:
            return None, False
        kept = {k: _remove_directives(x) for k, x in v.items()}
        return {k: x for k, (x, keep) in kept.items() if keep}, True
    if isinstance(v, list):
        return [x for x, keep in map(_remove_directives, v) if keep], True
    return v, True


def _list_key(k: str, prefix: str, bad: str) -> str:
    head, sep, rest = k.partition("/")
    if not sep or head != prefix:
        raise _SmpBadRequest(bad)
    return rest


def _key_equal(left: Any, right: Any, key: str) -> bool:
    """``mergeKeyValueEqual``."""
    return _same(left, right) if not key else _same(_key_of(left, key), _key_of(right, key))


def _check_order(patch_list: list, order: list, key: str) -> None:
    """``validatePatchWithSetOrderList``: patch items must appear in the order list, in order."""
    if not order or not patch_list:
        return
    for x in patch_list if key else []:
        if not isinstance(x, dict):
            raise _bad_arg("map[string]interface {}", x)
    items = [x for x in patch_list if not (key and x.get("$patch") == "delete")]
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and "$patch" in items[i]:
            i += 1
            continue
        i += _key_equal(items[i], order[j], key)
        j += 1
    if i < len(items):
        raise _SmpError(
            f"the order in patch list:\n{_go(patch_list)}\n doesn't match {_ORDER_PREFIX} "
            f"list:\n{_go(order)}"
        )


def _apply_set_element_order(original: dict, patch: dict, schema: SchemaLookup | None) -> None:
    """``mergePatchIntoOriginal``: merge each list named by ``$setElementOrder/<field>``."""
    for k in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        order = patch.pop(k)
        if not isinstance(order, list):
            raise _bad_arg("[]interface {}", order)
        field = _list_key(k, _ORDER_PREFIX, "invalid patch format of setElementOrder list")
        orig_list, patch_list = original.get(field), patch.get(field)
        for v in (orig_list, patch_list):
            if v is not None and not isinstance(v, list):
                raise _bad_arg("[]interface {}", v)
        sub, meta = schema.child(field) if schema else (None, PatchMeta())
        key = meta.merge_key
        _check_order(patch_list or [], order, key)
        if field not in patch:
            if field not in original:
                continue
            merged = orig_list
        elif field not in original:
            merged = _remove_directives(patch_list)[0]
        else:
            merged = _merge_list_field(orig_list, patch_list, sub, meta, False)
        present, server_only = _partition(merged, order, key)
        _elem_kind(orig_list or [], patch_list or [])
        original[field] = _normalize(present, server_only, order, orig_list or [], key)
        patch.pop(field, None)


def _merge_list_field(orig: list, patch: list, sub: SchemaLookup | None, meta: PatchMeta,
                      is_delete: bool) -> list:  # fmt: skip
    if meta.strategy == "merge" or is_delete:
        return _merge_slice(orig, patch, sub, meta.merge_key, is_delete)
    return patch


def _merge_map(original: dict | None, patch: dict, schema: SchemaLookup | None) -> dict:
    if "$patch" in patch:
        directive = patch["$patch"]
        if directive == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        if directive == "delete":
            return {}
        raise _SmpError(f"unknown patch type: {directive} in map: {_go(patch)}")
    original = {} if original is None else original
    if "$retainKeys" in patch:
        retain = patch.pop("$retainKeys")
        if not isinstance(retain, list):
            raise _SmpBadRequest("invalid patch format of retainKeys")
        for k, v in patch.items():
            skip = v is None or k.startswith((_DELETE_PREFIX, _ORDER_PREFIX))
            if not skip and not any(_same(k, r) for r in retain):
                raise _SmpBadRequest("invalid patch format of retainKeys")
        for k in [k for k in original if not any(_same(k, r) for r in retain)]:
            del original[k]
    _apply_set_element_order(original, patch, schema)
    for k, pv in patch.items():
        is_delete = k.startswith(_DELETE_PREFIX)
        if is_delete:
            k = _list_key(k, _DELETE_PREFIX, "invalid patch format of primitive list")
        if pv is None:
            original.pop(k, None)
            continue
        ov = original.get(k)
        if k not in original or not _same_shape(ov, pv):
            if not is_delete:
                value, keep = _remove_directives(_prune(pv))
                original[k] = value
                if not keep:
                    del original[k]
            continue
        sub, meta = schema.child(k) if schema else (None, PatchMeta())
        if isinstance(ov, dict):
            original[k] = pv if meta.strategy == "replace" else _merge_map(ov, pv, sub)
        elif isinstance(ov, list):
            original[k] = _merge_list_field(ov, pv, sub, meta, is_delete)
        else:
            original[k] = pv
    return original


def _same_shape(a: Any, b: Any) -> bool:
    containers = dict | list
    return type(a) is type(b) or not (isinstance(a, containers) or isinstance(b, containers))


def _typed_round_trip(v: Any) -> Any:
    """What decoding into the Go type leaves: unknown ``$`` keys and nulls dropped."""
    if isinstance(v, dict):
        return {k: _typed_round_trip(x) for k, x in v.items() if x is not None and k[:1] != "$"}
    if isinstance(v, list):
        return [_typed_round_trip(x) for x in v]
    return v


def strategic_merge_patch(original: dict, patch: Any, schema: SchemaLookup | None) -> dict:
    """Apply an ``application/strategic-merge-patch+json`` body to a built-in kind.

    ``schema`` is ``SchemaLookup.for_kind(...)`` of the object; callers answer 415 themselves
    when that is None (custom resources), like the API server.
    """
    if patch is not None and not isinstance(patch, dict):
        raise bad_request(
            f"json: cannot unmarshal {_go_kind(patch)} into Go value of type "
            "map[string]interface {}"
        )
    try:
        merged = _merge_map(copy.deepcopy(original), copy.deepcopy(patch or {}), schema)
    except _SmpBadRequest as e:
        raise bad_request(str(e)) from None
    except _SmpError as e:
        raise ApiError(500, "", str(e)) from None
    return _typed_round_trip(merged)
