"""Decoding the Kubernetes protobuf request bodies that kubectl sends.

client-go's generated clients prefer protobuf for built-in types, and, unlike CBOR, there is
no fallback to JSON when a server refuses it. So ``kubectl auth can-i``, ``create token`` and
``create namespace|serviceaccount|configmap|secret|role|rolebinding|…`` POST
``application/vnd.kubernetes.protobuf`` bodies whatever the server says. kubesim decodes the
kinds such commands send (``kubesim.protoschemas``) into the JSON objects the rest of
kubesim works with; other kinds get a 415.

Wire format: the 4-byte magic ``k8s\\0``, then a ``runtime.Unknown`` message whose ``raw``
field holds the object's own protobuf encoding. Go's encoder writes every non-pointer
field, zero values included; decoding drops those as JSON's ``omitempty`` would. A field
kubesim has no schema for is an error when it carries a value (never silently lost), and
ignored when it is a zero value.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from kubesim import errors
from kubesim.protoschemas import KINDS, SCHEMAS

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

Wire = int | bytes


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
            size = 8 if wire == 1 else 4
            yield number, wire, data[i : i + size]
            i += size
        else:
            raise ValueError(f"unsupported wire type {wire}")


class _Unsupported(Exception):
    """A field with a value that kubesim has no schema for."""


def _int(value: Wire) -> int:
    if not isinstance(value, int):
        raise ValueError("expected a varint")
    return value - (1 << 64) if value >= 1 << 63 else value


def _bytes(value: Wire) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("expected a length-delimited field")
    return value


def _entry(value: Wire) -> tuple[str, bytes]:
    """A map entry: key (1) and the value's raw bytes (2)."""
    parts = {n: v for n, _, v in _fields(_bytes(value))}
    return _bytes(parts.get(1, b"")).decode(), _bytes(parts.get(2, b""))


def _time(value: Wire) -> str | None:
    parts = {n: _int(v) for n, _, v in _fields(_bytes(value))}
    if not parts.get(1) and not parts.get(2):
        return None
    return datetime.fromtimestamp(parts.get(1, 0), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _intstr(value: Wire) -> int | str:
    parts = {n: v for n, _, v in _fields(_bytes(value))}
    if _int(parts.get(1, 0)) == 1:
        return _bytes(parts.get(3, b"")).decode()
    return _int(parts.get(2, 0))


def _quantity(raw: bytes) -> str:
    return next((_bytes(v).decode() for n, _, v in _fields(raw) if n == 1), "")


def _scalar(kind: str, value: Wire) -> Any:
    """The JSON value of one field, or None for a zero value ``omitempty`` drops."""
    if kind in ("str", "ostr"):
        s = _bytes(value).decode()
        return s if s or kind == "ostr" else None
    if kind in ("int", "oint"):
        n = _int(value)
        return n if n or kind == "oint" else None
    if kind in ("bool", "obool"):
        b = bool(_int(value))
        return b if b or kind == "obool" else None
    if kind == "bytes":
        return _bytes(value)
    if kind == "time":
        return _time(value)
    if kind == "intstr":
        return _intstr(value)
    if kind == "quantity":
        return _quantity(_bytes(value))
    return decode_message(_bytes(value), kind)


def _is_zero(value: Wire) -> bool:
    """A zero value: 0, empty, or a message all of whose fields are zero values."""
    if value in (0, b""):
        return True
    if isinstance(value, int):
        return False
    try:
        return all(_is_zero(v) for _, _, v in _fields(value))
    except ValueError:
        return False


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    """One message as JSON, by its schema in ``kubesim.protoschemas``."""
    schema = SCHEMAS[message]
    out: dict[str, Any] = {}
    for number, _wire, value in _fields(data):
        spec = schema.get(number)
        if spec is None:
            if not _is_zero(value):
                raise _Unsupported(f"{message} field {number}")
            continue
        name, kind = spec.split(":")
        repeated = kind.endswith("[]")
        kind = kind.removesuffix("[]")
        if kind in ("map", "bmap", "qmap"):
            key, raw = _entry(value)
            if kind == "map":
                v: Any = raw.decode()
            elif kind == "bmap":
                v = base64.b64encode(raw).decode()
            else:
                v = _quantity(raw)
            out.setdefault(name, {})[key] = v
        elif repeated:
            item = _bytes(value).decode() if kind == "str" else _scalar(kind, value)
            out.setdefault(name, []).append(item)
        else:
            v = _scalar(kind, value)
            if v is not None:
                out[name] = v
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A ``application/vnd.kubernetes.protobuf`` request body as a JSON object."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("provided input is not a protobuf-encoded Kubernetes object")
    accepted = (
        "the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml (kubesim decodes {CONTENT_TYPE} only for "
    )
    try:
        unknown = decode_message(body[len(MAGIC) :], "Unknown")
        type_meta = unknown.get("typeMeta", {})
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        if (api_version, kind) not in KINDS:
            kinds = ", ".join(sorted(k for _, k in KINDS))
            raise errors.ApiError(415, "UnsupportedMediaType", f"{accepted}{kinds})")
        obj = decode_message(unknown.get("raw", b""), kind)
    except _Unsupported as e:
        raise errors.ApiError(
            415, "UnsupportedMediaType", f"{accepted}the fields it knows; got {e})"
        ) from e
    except ValueError as e:
        raise errors.bad_request(f"error decoding request body: {e}") from e
    return {"apiVersion": api_version, "kind": kind, **obj}
