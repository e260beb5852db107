"""Constrained value types of the teams config, each with the message an admin sees.

Each type is an ``Annotated`` string/int with a validator that raises a message saying
what is wrong *and* what is expected (``must be a DNS-1123 label: ...``), a JSON Schema
fragment for editors and the published schema, and a label for the generated reference.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from .base import TypeLabel, problem
from .quantity import QUANTITY_HINT, QUANTITY_PATTERN, parse_quantity, quantity_text

LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CSI_DRIVER_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$"
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"

LABEL_MESSAGE = (
    "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', "
    "starting and ending with a letter or digit"
)
SUBDOMAIN_MESSAGE = (
    "must be a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit"
)
ENV_MESSAGE = (
    "must be a valid environment variable name: letters, digits and '_', not starting with a digit"
)
# Variables the hub and JupyterHub set themselves; a credential must not shadow them.
RESERVED_ENV_PREFIXES = ("JUPYTERHUB_", "TEAMHUB_")


def _label(value: str) -> str:
    if len(value) > 63 or not re.match(LABEL_PATTERN, value):
        raise problem(LABEL_MESSAGE)
    return value


def _subdomain(value: str) -> str:
    if len(value) > 253 or not re.match(SUBDOMAIN_PATTERN, value):
        raise problem(SUBDOMAIN_MESSAGE)
    return value


def _absolute(value: str, *, allow_root: bool) -> str:
    """Normalise ``value`` (``//``, ``/./``, trailing ``/``) after refusing what is unsafe."""
    if not value.startswith("/"):
        raise problem("must be an absolute path")
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise problem("must not contain control characters")
    if ".." in value.split("/"):
        raise problem("must not contain '..'")
    norm = posixpath.normpath(value)
    if norm.startswith("//"):  # POSIX keeps a leading '//'; Kubernetes paths don't need it
        norm = "/" + norm.lstrip("/")
    if norm == "/" and not allow_root:
        raise problem("must not be the root directory /")
    return norm


def _mount_path(value: str) -> str:
    return _absolute(value, allow_root=False)


def _export_path(value: str) -> str:
    return _absolute(value, allow_root=True)


def _storage_class(value: str) -> str:
    return value if value == "" else _subdomain(value)


def _csi_driver(value: str) -> str:
    if len(value) > 63 or not re.match(CSI_DRIVER_PATTERN, value):
        raise problem(
            "must be a CSI driver name: at most 63 letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return value


def _env_name(value: str) -> str:
    if not re.match(ENV_PATTERN, value):
        raise problem(ENV_MESSAGE)
    if value.upper().startswith(RESERVED_ENV_PREFIXES):
        raise problem("is reserved: names starting with JUPYTERHUB_ or TEAMHUB_ are set by the hub")
    return value


def _secret_key(value: str) -> str:
    if len(value) > 253 or not re.match(SECRET_KEY_PATTERN, value) or value in (".", ".."):
        raise problem("must be a valid Secret key: letters, digits, '-', '_' and '.'")
    if value.startswith(".."):
        raise problem("must not start with '..'")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise problem("must not be empty")
    return value


def _image_pattern(value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise problem("must be a non-empty image pattern without spaces")
    return value


def _quantity(positive: bool):
    def check(value: str) -> str:
        try:
            amount = parse_quantity(value)
        except ValueError:
            raise problem(QUANTITY_HINT) from None
        if positive and amount <= 0:
            raise problem("must be greater than zero")
        if amount < 0:
            raise problem("must not be negative")
        return value

    return check


def _to_quantity_text(value: Any) -> str:
    try:
        return quantity_text(value)
    except ValueError:
        raise problem(QUANTITY_HINT) from None


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise problem("must be a whole number")
    return value


def _non_negative(value: int) -> int:
    if value < 0:
        raise problem("must not be negative")
    return value


def _string(pattern: str | None = None, max_length: int | None = None) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    if max_length:
        schema["maxLength"] = max_length
    return WithJsonSchema(schema)


_QUANTITY_SCHEMA = WithJsonSchema(
    {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": "number", "minimum": 0}]}
)

DnsLabel = Annotated[
    str, AfterValidator(_label), _string(LABEL_PATTERN, 63), TypeLabel("DNS-1123 label")
]
DnsSubdomain = Annotated[
    str,
    AfterValidator(_subdomain),
    _string(SUBDOMAIN_PATTERN, 253),
    TypeLabel("DNS-1123 subdomain"),
]
StorageClassName = Annotated[
    str,
    AfterValidator(_storage_class),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": SUBDOMAIN_PATTERN}, {"const": ""}]}),
    TypeLabel("StorageClass name"),
]
CsiDriver = Annotated[
    str, AfterValidator(_csi_driver), _string(CSI_DRIVER_PATTERN, 63), TypeLabel("CSI driver name")
]
MountPath = Annotated[str, AfterValidator(_mount_path), _string("^/"), TypeLabel("absolute path")]
ExportPath = Annotated[str, AfterValidator(_export_path), _string("^/"), TypeLabel("absolute path")]
EnvName = Annotated[
    str, AfterValidator(_env_name), _string(ENV_PATTERN), TypeLabel("environment variable name")
]
SecretKey = Annotated[
    str,
    AfterValidator(_secret_key),
    _string(SECRET_KEY_PATTERN, 253),
    TypeLabel("Secret key"),
]
NonBlank = Annotated[str, AfterValidator(_non_blank), _string("\\S"), TypeLabel("string")]
ImagePattern = Annotated[
    str, AfterValidator(_image_pattern), _string("^\\S+$"), TypeLabel("image pattern")
]
Quantity = Annotated[
    str,
    BeforeValidator(_to_quantity_text),
    AfterValidator(_quantity(positive=False)),
    _QUANTITY_SCHEMA,
    TypeLabel("quantity"),
]
Size = Annotated[
    str,
    BeforeValidator(_to_quantity_text),
    AfterValidator(_quantity(positive=True)),
    _QUANTITY_SCHEMA,
    TypeLabel("quantity"),
]
Count = Annotated[
    int,
    BeforeValidator(_no_bool),
    AfterValidator(_non_negative),
    WithJsonSchema({"type": "integer", "minimum": 0}),
    TypeLabel("integer"),
]
