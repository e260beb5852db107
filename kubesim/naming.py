"""Name, label and annotation rules, with kube-apiserver's exact wording.

Clients (and people reading test failures) match on these messages, so they are phrased
as apimachinery's ``util/validation`` and ``api/validation`` phrase them, quirks included
(the ``(e.g. 'my-name',  or '123-abc', ...)`` comma, ``maskTrailingDash``). Also home of
the ``field.Error`` constructors every validator here builds its causes with.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from kubesim.errors import Cause

# ------------------------------------------------------------------ field errors
# reason -> the words ErrorBody() starts the message with
_WORDS = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueTypeInvalid": "Invalid value",
    "InternalError": "Internal error",
}
_NO_VALUE = ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError")
_OMIT = object()


class Raw(str):
    """A value printed as is, not quoted (Go's ``fmt.Stringer`` case, e.g. a Quantity)."""


def fmt_value(value: Any) -> str:
    """A bad value as ``field.Error.ErrorBody`` prints it: strings quoted, others as JSON."""
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def cause(reason: str, path: str, value: Any = _OMIT, detail: str = "") -> Cause:
    """One ``field.Error`` as a Status cause: ``<Words>[: <value>][: <detail>]``."""
    msg = _WORDS[reason]
    if reason not in _NO_VALUE and value is not _OMIT:
        msg += ": " + fmt_value(value)
    if detail:
        msg += ": " + detail
    return Cause(reason, msg, path)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return cause("FieldValueInvalid", path, value, detail)


def required(path: str, detail: str = "") -> Cause:
    return cause("FieldValueRequired", path, detail=detail)


def forbidden(path: str, detail: str) -> Cause:
    return cause("FieldValueForbidden", path, detail=detail)


def not_found(path: str, value: Any) -> Cause:
    return cause("FieldValueNotFound", path, value)


def duplicate(path: str, value: Any) -> Cause:
    return cause("FieldValueDuplicate", path, value)


def not_supported(path: str, value: Any, supported: list[str]) -> Cause:
    detail = "supported values: " + ", ".join(json.dumps(s) for s in supported)
    return cause("FieldValueNotSupported", path, value, detail if supported else "")


def too_long(path: str, max_bytes: int) -> Cause:
    unit = "byte" if max_bytes == 1 else "bytes"
    return cause("FieldValueTooLong", path, detail=f"may not be more than {max_bytes} {unit}")


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    return cause("FieldValueTypeInvalid", path, value, detail)


def immutable(path: str, value: Any) -> Cause:
    return invalid(path, value, "field is immutable")


# ---------------------------------------------------------------- string rules
def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError, trailing comma quirk included."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {ex}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


EMPTY_ERROR = "must be non-empty"
NEGATIVE_ERROR = "must be greater than or equal to 0"

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters "
    "other than '='"
)


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile("^" + fmt + "$")


_RE_LABEL = _full(DNS1123_LABEL_FMT)
_RE_SUBDOMAIN = _full(DNS1123_SUBDOMAIN_FMT)
_RE_DNS1035 = _full(DNS1035_LABEL_FMT)
_RE_QNAME = _full(QUALIFIED_NAME_FMT)
_RE_LABEL_VALUE = _full(LABEL_VALUE_FMT)
_RE_CONFIG_KEY = _full(CONFIG_KEY_FMT)


def is_dns1123_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _RE_LABEL.match(value):
        if _RE_SUBDOMAIN.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value.encode()) > 253 else []
    if not _RE_SUBDOMAIN.match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _RE_DNS1035.match(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_path_segment_name(value: str, prefix: bool = False) -> list[str]:
    if not prefix and value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def is_qualified_name(value: str) -> list[str]:
    if type(value) is not str:  # not a string (a malformed object): as it fails, uncached
        return list(_qualified_name_errors.__wrapped__(value))
    return list(_qualified_name_errors(value))


# Label keys and values, annotation keys and finalizers recur in nearly every object written
# (``app.kubernetes.io/name``, ``teamhub``...): each distinct one is checked once.
@functools.lru_cache(maxsize=8192)
def _qualified_name_errors(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return (
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        )
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _RE_QNAME.match(name):
        errs.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return tuple(errs)


def is_label_value(value: str) -> list[str]:
    if type(value) is not str:
        return list(_label_value_errors.__wrapped__(value))
    return list(_label_value_errors(value))


@functools.lru_cache(maxsize=8192)
def _label_value_errors(value: str) -> tuple[str, ...]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _RE_LABEL_VALUE.match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return tuple(errs)


def is_config_key(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _RE_CONFIG_KEY.match(value):
        errs.append(
            regex_error(_CONFIG_KEY_MSG, CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name")
        )
    if value in (".", ".."):
        errs.append(f"must not be '{value}'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_env_var_name(value: str) -> list[str]:
    """The relaxed rule (GA in 1.34): any printable ASCII but '='."""
    errs = ["environment variable name " + EMPTY_ERROR] if not value else []
    if any(not (" " <= ch <= "~") or ch == "=" for ch in value):
        errs.append(ENV_VAR_NAME_MSG)
    return errs


def is_port_name(value: str) -> list[str]:
    """IANA_SVC_NAME, as IsValidPortName checks it."""
    errs = [max_len_error(15)] if len(value) > 15 else []
    if not re.fullmatch("[-a-z0-9]+", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


# --------------------------------------------------------------------- names
def _mask_trailing_dash(name: str) -> str:
    # apimachinery's maskTrailingDash, exactly (it drops the character before the dash).
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def _label_name(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def _subdomain_name(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


_RBAC = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
#: Resources whose names must be DNS-1123 labels. Services too since the
#: RelaxedServiceNameValidation gate (beta and on by default in 1.36, GA in 1.37);
#: before that they were DNS-1035 labels (``is_dns1035_label``).
LABEL_NAMED = ("namespaces", "services")


def name_errors(resource: str, name: str, prefix: bool = False) -> list[str]:
    """The messages the resource's ValidateNameFunc returns for ``name``."""
    if resource in _RBAC:
        return is_path_segment_name(name, prefix)
    if resource in LABEL_NAMED:
        return _label_name(name, prefix)
    return _subdomain_name(name, prefix)


def validate_name(resource: str, name: str, path: str = "metadata.name") -> list[Cause]:
    """``metadata.name`` for ``resource`` (a plural: ``pods``, ``roles`` ...)."""
    if not name:
        return [required(path, "name or generateName is required")]
    return [invalid(path, name, m) for m in name_errors(resource, name)]


def validate_generate_name(resource: str, prefix: str) -> list[Cause]:
    """``metadata.generateName``: the name rule with a trailing dash allowed."""
    return [
        invalid("metadata.generateName", prefix, m) for m in name_errors(resource, prefix, True)
    ]


# ----------------------------------------------------------- labels, metadata
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_labels(labels: dict[str, Any] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    for k, v in (labels or {}).items():
        out += [invalid(path, k, m) for m in is_qualified_name(k)]
        out += [invalid(path, v, m) for m in is_label_value(v if isinstance(v, str) else "")]
    return out


def validate_annotations(annotations: dict[str, Any] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    size = 0
    for k, v in (annotations or {}).items():
        # The rule is QualifiedName except that case doesn't matter.
        out += [invalid(path, k, m) for m in is_qualified_name(k.lower())]
        size += len(k.encode()) + len((v or "").encode())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def _owner_references(refs: list[Any] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    controllers = []
    for i, ref in enumerate(refs or []):
        p = f"{path}[{i}]"
        api_version = ref.get("apiVersion") or ""
        if not api_version.rsplit("/", 1)[-1]:
            out.append(invalid(p + ".apiVersion", api_version, "version must not be empty"))
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                out.append(invalid(f"{p}.{key}", ref.get(key) or "", "must not be empty"))
        if ref.get("controller"):
            controllers.append(ref.get("name", ""))
    if len(controllers) > 1:
        found = ", ".join(controllers)
        out.append(
            invalid(
                path,
                refs,
                "Only one reference can have Controller set to true. "
                f'Found "true" in references for {found}',
            )
        )
    return out


def validate_metadata(
    obj: dict[str, Any], resource: str | None = None, namespaced: bool | None = None
) -> list[Cause]:
    """ObjectMeta rules of ValidateObjectMeta.

    With ``resource`` the name (or, when no name is set, generateName) is checked too;
    with ``namespaced=True`` a namespace is required. Cluster-scoped objects get their
    namespace cleared by the handler before validation, so it is not checked for them.
    """
    meta = obj.get("metadata") or {}
    out: list[Cause] = []
    if resource is not None:
        gen = meta.get("generateName") or ""
        if gen:
            out += validate_generate_name(resource, gen)
        if meta.get("name") or not gen:
            out += validate_name(resource, meta.get("name") or "")
    ns = meta.get("namespace") or ""
    if namespaced and not ns:
        out.append(required("metadata.namespace"))
    elif ns and namespaced is not False:
        out += [invalid("metadata.namespace", ns, m) for m in _label_name(ns, False)]
    gen_num = meta.get("generation")
    if isinstance(gen_num, int) and gen_num < 0:
        out.append(invalid("metadata.generation", gen_num, NEGATIVE_ERROR))
    out += validate_labels(meta.get("labels"), "metadata.labels")
    out += validate_annotations(meta.get("annotations"), "metadata.annotations")
    out += _owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    fins = meta.get("finalizers") or []
    for fin in fins:
        out += [invalid("metadata.finalizers", fin, m) for m in is_qualified_name(fin)]
    if "orphan" in fins and "foregroundDeletion" in fins:
        out.append(
            invalid(
                "metadata.finalizers",
                fins,
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    return out
