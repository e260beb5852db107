"""Label and field selectors, parsed and matched as kube-apiserver does.

Clients (kubectl, kubespawner, our own code) show the server's error text to users and
some branch on it, so the parser follows ``k8s.io/apimachinery/pkg/labels/selector.go`` and
``pkg/fields/selector.go`` token by token: the same accepted syntax (including the quirks,
e.g. ``a in ()`` means "a is empty") and the same error messages. Invalid selectors raise
``kubesim.errors.bad_request`` because the list/watch handlers answer 400 with the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubesim.errors import bad_request

# -- validation messages (k8s.io/apimachinery/pkg/util/validation) -----------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_DNS1123_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if examples:
        msg += " (e.g. " + " or ".join(f"'{e}', " for e in examples)
        return msg + f"regex used for validation is '{fmt}')"
    return msg + f" (regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def _full(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


def label_key_errors(key: str) -> list[str]:
    """``IsLabelKey`` (was ``IsQualifiedName``): what is wrong with a key (empty when valid)."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part " + _max_len(253))
            if not _full(_DNS1123_FMT, prefix):
                errs.append(
                    "prefix part " + _regex_error(_DNS1123_MSG, _DNS1123_FMT, "example.com")
                )
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63))
    if not _full(_QNAME_FMT, name):
        errs.append(
            "name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    """``IsValidLabelValue``: what is wrong with a label value (empty list when valid)."""
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _full(_LABEL_VALUE_FMT, value):
        errs.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errs


def _go_strings(values: list[str] | None) -> str:
    """Go's ``%#v`` of a ``[]string`` (how field errors print a bad value list)."""
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"


def _invalid(path: str, shown: str, detail: str) -> str:
    """``field.Invalid(...).Error()``; a nil path prints as ``<nil>``."""
    return f"{path or '<nil>'}: Invalid value: {shown}: {detail}"


def _aggregate(errs: list[str]) -> str:
    uniq = list(dict.fromkeys(errs))
    return uniq[0] if len(uniq) == 1 else "[" + ", ".join(uniq) + "]"


# -- label selectors ---------------------------------------------------------------------------

_BINARY_OPS = ["in", "notin", "=", "==", "!=", "gt", "lt"]


@dataclass(frozen=True)
class Requirement:
    """One ANDed term: ``key op values`` (op is one of the ``selection.Operator`` strings)."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op in ("in", "=", "=="):
            return self.key in labels and labels[self.key] in self.values
        if self.op in ("notin", "!="):
            return self.key not in labels or labels[self.key] not in self.values
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        if self.op in ("gt", "lt") and self.key in labels and len(self.values) == 1:
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if self.op == "gt" else have < want
        return False

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return "!" + self.key
        vals = ",".join(sorted(self.values))
        sym = {"gt": ">", "lt": "<"}.get(self.op, self.op)
        if self.op in ("in", "notin"):
            return f"{self.key} {sym} ({vals})"
        return f"{self.key}{sym}{vals}"


def new_requirement(key: str, op: str, values: list[str] | None) -> Requirement:
    """``labels.NewRequirement``: validate and build; raises ``ValueError`` with Go's text."""
    errs = []
    if kerrs := label_key_errors(key):
        errs.append(_invalid("key", json.dumps(key), "; ".join(kerrs)))
    vals = values or []
    if op in ("in", "notin") and not vals:
        detail = "for 'in', 'notin' operators, values set can't be empty"
        errs.append(_invalid("values", _go_strings(values), detail))
    elif op in ("=", "==", "!=") and len(vals) != 1:
        detail = "exact-match compatibility requires one single value"
        errs.append(_invalid("values", _go_strings(values), detail))
    elif op in ("exists", "!") and vals:
        detail = "values set must be empty for exists and does not exist"
        errs.append(_invalid("values", _go_strings(values), detail))
    elif op in ("gt", "lt"):
        if len(vals) != 1:
            detail = "for 'Gt', 'Lt' operators, exactly one value is required"
            errs.append(_invalid("values", _go_strings(values), detail))
        for i, v in enumerate(vals):
            if not re.fullmatch(r"[+-]?[0-9]+", v):
                detail = "for 'Gt', 'Lt' operators, the value must be an integer"
                errs.append(_invalid(f"values[{i}]", json.dumps(v), detail))
    for i, v in enumerate(vals):
        if verrs := label_value_errors(v):
            errs.append(_invalid(f"values[{i}][{key}]", json.dumps(v), "; ".join(verrs)))
    if errs:
        raise ValueError(_aggregate(errs))
    return Requirement(key, op, tuple(vals))


@dataclass(frozen=True)
class LabelSelector:
    """ANDed requirements; ``nothing`` is ``labels.Nothing()`` (a nil ``metav1.LabelSelector``)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have, if the selector pins it (used to index lists)."""
        for r in self.requirements:
            if r.key == key:
                if r.op in ("=", "==", "in") and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


_SPECIAL = "=!(),><"
_TOKENS = {")", ",", "!", "==", "=", ">", "in", "<", "!=", "notin", "("}
_EOS = ("EOS", "")


def _lex(s: str) -> list[tuple[str, str]]:
    """Tokens as ``(kind, literal)``; kind is ``ID``, ``EOS`` or the literal of an operator."""
    out, i = [], 0
    while True:
        while i < len(s) and s[i] in " \t\r\n":
            i += 1
        if i >= len(s):
            return [*out, _EOS]
        if s[i] in _SPECIAL:  # longest special-symbol run that still forms a token
            j, tok = i, ""
            while j < len(s) and s[j] in _SPECIAL and s[i : j + 1] in _TOKENS:
                tok, j = s[i : j + 1], j + 1
            out.append((tok, tok))
            i += len(tok)
            continue
        j = i
        while j < len(s) and s[j] not in _SPECIAL and s[j] not in " \t\r\n":
            j += 1
        word = s[i:j]
        out.append((word if word in _TOKENS else "ID", word))
        i = j


class _Parser:
    def __init__(self, s: str):
        self.items, self.pos = _lex(s), 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.items[self.pos]
        return ("ID" if values and kind in ("in", "notin") else kind), lit

    def take(self, values: bool = True) -> tuple[str, str]:
        tok = self.peek(values)
        self.pos += 1
        return tok

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == "EOS":
                return reqs
            if kind not in ("ID", "!"):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except ValueError as e:
                raise ValueError(f"unable to parse requirement: {e}") from None
            kind, lit = self.take()
            if kind == "EOS":
                return reqs
            if kind != ",":
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in ("ID", "!"):
                raise ValueError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        op = ""
        kind, key = self.take()
        if kind == "!":
            op, (kind, key) = "!", self.take()
        if kind != "ID":
            raise ValueError(f"found '{key}', expected: identifier")
        if kerrs := label_key_errors(key):
            raise ValueError(_invalid("", json.dumps(key), "; ".join(kerrs)))
        if self.peek()[0] in ("EOS", ","):
            op = op or "exists"
        if op in ("exists", "!"):
            return new_requirement(key, op, [])
        kind, lit = self.take(values=False)
        ops = {"in": "in", "notin": "notin", "=": "=", "==": "==", "!=": "!=", ">": "gt", "<": "lt"}
        if kind not in ops:
            raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY_OPS)}")
        op = ops[kind]
        values = self.set_values() if op in ("in", "notin") else self.exact_value()
        return new_requirement(key, op, sorted(values))

    def set_values(self) -> set[str]:
        kind, lit = self.take()
        if kind != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == ")":
            self.take()
            return {""}
        if kind not in ("ID", ","):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        found: set[str] = set()
        while True:
            kind, lit = self.take()
            if kind == "ID":
                found.add(lit)
                kind2, lit2 = self.peek()
                if kind2 == ")":
                    self.take()
                    return found
                if kind2 != ",":
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            elif kind == ",":
                if not found:
                    found.add("")
                kind2 = self.peek()[0]
                if kind2 == ")":
                    found.add("")
                    self.take()
                    return found
                if kind2 == ",":
                    found.add("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.peek()[0] in ("EOS", ","):
            return {""}
        kind, lit = self.take()
        if kind == "ID":
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


def parse_label_selector(s: str) -> LabelSelector:
    """Parse a ``labelSelector`` query parameter; ``""`` selects everything."""
    try:
        reqs = _Parser(s).parse()
    except ValueError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def _str(v: Any) -> str:
    """A JSON string field as Go decodes it: null is the empty string."""
    return "" if v is None else str(v)


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """``metav1.LabelSelectorAsSelector``: None selects nothing, ``{}`` selects everything."""
    if sel is None:
        return LabelSelector(nothing=True)
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    reqs = []
    try:
        for k, v in (sel.get("matchLabels") or {}).items():
            reqs.append(new_requirement(k, "=", [_str(v)]))
        for expr in sel.get("matchExpressions") or []:
            op = expr.get("operator", "")
            if op not in ops:
                raise ValueError(f"{json.dumps(op)} is not a valid label selector operator")
            values = [_str(v) for v in expr.get("values") or []]
            reqs.append(new_requirement(_str(expr.get("key")), ops[op], values or None))
    except ValueError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# -- field selectors ---------------------------------------------------------------------------

_META = {"metadata.name", "metadata.namespace"}

# Per resource, the labels kube-apiserver's field-label conversion functions accept.
FIELD_SELECTORS: dict[str, set[str]] = {
    "pods": _META
    | {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName"}
    | {"spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs"}
    | {"status.nominatedNodeName"},
    "events": _META
    | {f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion")}
    | {"involvedObject.resourceVersion", "involvedObject.fieldPath"}
    | {"reason", "reportingComponent", "source", "type"},
    "namespaces": {"metadata.name", "status.phase"},
    "secrets": _META | {"type"},
    "nodes": {"metadata.name", "spec.unschedulable"},
    "services": _META | {"spec.clusterIP", "spec.type"},
    "replicationcontrollers": _META | {"status.replicas"},
    "jobs": _META | {"status.successful"},
}
# Old names the conversion functions rewrite (v1 clients sent spec.host).
FIELD_ALIASES: dict[str, dict[str, str]] = {"pods": {"spec.host": "spec.nodeName"}}


def supported_fields(resource: str) -> set[str]:
    """Field labels a list of ``resource`` (plural, optionally ``.group``) can select on."""
    return set(FIELD_SELECTORS.get(resource.split(".", 1)[0], _META))


@dataclass(frozen=True)
class FieldTerm:
    field: str
    op: str  # "=" (also for "==") or "!="
    value: str


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((field_value(obj, t.field) == t.value) == (t.op == "=") for t in self.terms)

    def requires_exact_match(self, field: str) -> str | None:
        return next((t.value for t in self.terms if t.field == field and t.op == "="), None)


def _split_terms(s: str) -> list[str]:
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(s):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    return [*terms, s[start:]] if s else []


def _unescape(s: str) -> str:
    out, in_slash = [], False
    for c in s:
        if in_slash:
            if c not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":  # Go prints the rune with %v, i.e. its code point
            raise ValueError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(
    s: str, supported: set[str] | None = None, *, resource: str | None = None
) -> FieldSelector:
    """Parse a ``fieldSelector``; reject labels outside ``supported`` (or ``resource``'s set).

    With ``resource``, the rejection message is the one that resource's conversion function
    gives: kinds with their own list say ``field label not supported: X``, the rest use
    ``DefaultMetaV1FieldSelectorConversion``'s wording.
    """
    terms = []
    try:
        for part in sorted(_split_terms(s)):
            if not part:
                continue
            m = re.search("!=|==|=", part)
            if not m:
                raise ValueError(f"invalid selector: '{s}'; can't understand '{part}'")
            op = "!=" if m.group() == "!=" else "="
            terms.append(FieldTerm(part[: m.start()], op, _unescape(part[m.end() :])))
    except ValueError as e:
        raise bad_request(str(e)) from None
    plural = resource.split(".", 1)[0] if resource else None
    if supported is None and plural is not None:
        supported = supported_fields(plural)
    if supported is not None:
        aliases = FIELD_ALIASES.get(plural or "", {})
        terms = [FieldTerm(aliases.get(t.field, t.field), t.op, t.value) for t in terms]
        for t in terms:
            if t.field in supported:
                continue
            if plural is not None and plural not in FIELD_SELECTORS:
                raise bad_request(
                    f'"{t.field}" is not a known field selector: '
                    'only "metadata.name", "metadata.namespace"'
                )
            raise bad_request(f"field label not supported: {t.field}")
    return FieldSelector(tuple(terms))


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float | str):
        return str(v)
    return ""


def field_value(obj: Mapping[str, Any], field: str) -> str:
    """The string the API server's ``ToSelectableFields`` gives ``field`` for ``obj``."""
    kind = obj.get("kind")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind == "Pod" and field == "spec.hostNetwork":
        return _fmt(bool(spec.get("hostNetwork")))
    if kind == "Pod" and field == "status.podIP":
        ips = status.get("podIPs") or []
        return _fmt(ips[0].get("ip")) if ips else _fmt(status.get("podIP"))
    if kind == "Node" and field == "spec.unschedulable":
        return _fmt(bool(spec.get("unschedulable")))
    if kind == "Job" and field == "status.successful":
        return str(status.get("succeeded") or 0)
    if kind == "ReplicationController" and field == "status.replicas":
        return str(status.get("replicas") or 0)
    if kind == "Event" and field == "source":
        return _fmt((obj.get("source") or {}).get("component") or obj.get("reportingComponent"))
    cur: Any = obj
    for part in field.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    return _fmt(cur)
