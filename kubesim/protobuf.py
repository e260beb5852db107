"""Decoding the few Kubernetes protobuf request bodies that kubectl sends.

client-go's generated clients prefer protobuf for built-in types, and, unlike CBOR, there is
no fallback to JSON when a server refuses it. So ``kubectl auth can-i`` and ``kubectl create
token`` POST ``application/vnd.kubernetes.protobuf`` bodies whatever the server says. kubesim
decodes the kinds such commands send (schemas transcribed from k8s.io/api's generated.proto)
into the JSON objects the rest of kubesim works with; other kinds get a 415.

Wire format: the 4-byte magic ``k8s\\0``, then a ``runtime.Unknown`` message whose ``raw``
field holds the object's own protobuf encoding.
"""

from __future__ import annotations

from typing import Any

from kubesim import errors

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# message -> {field number: (json name, type, repeated)}; types: str, int, bool, map, message.
Field = tuple[str, str, bool]
_S, _I, _B = "str", "int", "bool"
SCHEMAS: dict[str, dict[int, Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False)},
    "TypeMeta": {1: ("apiVersion", _S, False), 2: ("kind", _S, False)},
    "ObjectMeta": {
        1: ("name", _S, False),
        2: ("generateName", _S, False),
        3: ("namespace", _S, False),
        11: ("labels", "map", False),
        12: ("annotations", "map", False),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SelfSubjectAccessReviewSpec", False),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
    },
    "ResourceAttributes": {
        1: ("namespace", _S, False),
        2: ("verb", _S, False),
        3: ("group", _S, False),
        4: ("version", _S, False),
        5: ("resource", _S, False),
        6: ("subresource", _S, False),
        7: ("name", _S, False),
        8: ("fieldSelector", "SelectorAttributes", False),
        9: ("labelSelector", "SelectorAttributes", False),
    },
    "SelectorAttributes": {
        1: ("rawSelector", _S, False),
        2: ("requirements", "Requirement", True),
    },
    "Requirement": {1: ("key", _S, False), 2: ("operator", _S, False), 3: ("values", _S, True)},
    "NonResourceAttributes": {1: ("path", _S, False), 2: ("verb", _S, False)},
    "TokenRequest": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenRequestSpec", False)},
    "TokenRequestSpec": {
        1: ("audiences", _S, True),
        3: ("boundObjectRef", "BoundObjectReference", False),
        4: ("expirationSeconds", _I, False),
    },
    "BoundObjectReference": {
        1: ("kind", _S, False),
        2: ("apiVersion", _S, False),
        3: ("name", _S, False),
        4: ("uid", _S, False),
    },
    "TokenReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "TokenReviewSpec", False)},
    "TokenReviewSpec": {1: ("token", _S, False), 2: ("audiences", _S, True)},
}
#: Top-level kinds kubesim accepts as protobuf, by apiVersion.
KINDS = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    ("authentication.k8s.io/v1", "TokenRequest"),
    ("authentication.k8s.io/v1", "TokenReview"),
}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(data: bytes):  # -> Iterator[tuple[int, int, int | bytes]]
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            yield number, wire, value
        elif wire == 2:
            n, i = _varint(data, i)
            if i + n > len(data):
                raise ValueError("truncated field")
            yield number, wire, data[i : i + n]
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    """One message as JSON; fields kubesim does not know are skipped."""
    schema = SCHEMAS[message]
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind == _S and isinstance(value, bytes):
            v: Any = value.decode()
        elif kind == _I and isinstance(value, int):
            v = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == _B and isinstance(value, int):
            v = bool(value)
        elif kind == "bytes" and isinstance(value, bytes):
            v = value
        elif kind == "map" and isinstance(value, bytes):
            entry = {n: val.decode() for n, _, val in _fields(value) if isinstance(val, bytes)}
            out.setdefault(name, {})[entry.get(1, "")] = entry.get(2, "")
            continue
        elif kind in SCHEMAS and isinstance(value, bytes):
            v = decode_message(value, kind)
        else:
            raise ValueError(f"field {name}: wire type {wire} does not match {kind}")
        if repeated:
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A ``application/vnd.kubernetes.protobuf`` request body as a JSON object."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("provided input is not a protobuf-encoded Kubernetes object")
    try:
        unknown = decode_message(body[len(MAGIC) :], "Unknown")
        type_meta = unknown.get("typeMeta", {})
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        if (api_version, kind) not in KINDS:
            raise errors.ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                f"include: application/json, application/yaml (kubesim decodes {CONTENT_TYPE} "
                f"only for {', '.join(sorted(k for _, k in KINDS))})",
            )
        obj = decode_message(unknown.get("raw", b""), kind)
    except ValueError as e:
        raise errors.bad_request(f"error decoding request body: {e}") from e
    return {"apiVersion": api_version, "kind": kind, **obj}
