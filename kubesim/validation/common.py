"""Small pieces shared by the hand-written rules of ``podspec``, ``objects`` and ``updates``.

They live apart so that each rule module can use them without importing another rule
module: quantities parsed as the API prints them, the cause builders repeated across kinds
(enums, ranges, relative paths, each message of a name check), and label selectors, which
Jobs, claims and network policies all carry.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any, NamedTuple

from kubesim.errors import Cause
from kubesim.naming import (
    NEGATIVE_ERROR,
    forbidden,
    inclusive_range_error,
    invalid,
    is_label_value,
    is_qualified_name,
    not_supported,
    required,
    validate_labels,
)
from kubesim.quantity import canonical_quantity, parse_quantity

Obj = dict[str, Any]
#: A JSON path: map keys and list indexes, from the object's root.
Path = tuple[str | int, ...]

MAX_INT32 = 2**31 - 1


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Volume types of a PersistentVolume (exactly one per volume; immutable once created).
PV_SOURCES = words(
    "gcePersistentDisk awsElasticBlockStore hostPath glusterfs nfs rbd quobyte iscsi "
    "cephfs cinder fc flocker flexVolume azureFile vsphereVolume azureDisk "
    "photonPersistentDisk portworxVolume scaleIO local storageos csi"
)


class Qty(NamedTuple):
    value: Decimal
    text: str  # canonical form, as the API prints it

    def __str__(self) -> str:
        return self.text


def qty(x: Any) -> Qty | None:
    """A quantity field's value, or None when it does not parse (decoding reports that)."""
    return _qty(str(x).strip())


@functools.lru_cache(maxsize=4096)
def _qty(text: str) -> Qty | None:
    # Cached: the same few values recur in every write (Qty and Decimal are immutable).
    try:
        return Qty(parse_quantity(text), canonical_quantity(text))
    except ValueError:
        return None


def storage_request(spec: Obj) -> Any:
    """The raw ``resources.requests.storage`` of a claim spec, or None."""
    return ((spec.get("resources") or {}).get("requests") or {}).get("storage")


def invalid_each(path: str, value: Any, messages: list[str]) -> list[Cause]:
    """One Invalid cause per message of an ``is_*`` name check."""
    return [invalid(path, value, m) for m in messages]


def out_of_range(path: str, value: int, lo: int, hi: int) -> list[Cause]:
    """An Invalid cause unless ``lo <= value <= hi``."""
    return [] if lo <= value <= hi else [invalid(path, value, inclusive_range_error(lo, hi))]


def extra_volume_types(path: str, found: list[str]) -> list[Cause]:
    """A volume (or PersistentVolume) names exactly one type: the first found wins."""
    return [forbidden(f"{path}.{s}", "may not specify more than 1 volume type") for s in found[1:]]


def nonneg(spec: Obj, key: str, path: str) -> list[Cause]:
    v = spec.get(key)
    return [invalid(f"{path}.{key}", v, NEGATIVE_ERROR)] if isinstance(v, int) and v < 0 else []


def one_of(path: str, value: Any, allowed: list[str], empty_required: bool = True) -> list[Cause]:
    if value is None or value in allowed:
        return []
    if value == "" and empty_required:
        return [required(path)]
    return [not_supported(path, value, allowed)]


def local_path(p: str, path: str) -> list[Cause]:
    out = [invalid(path, p, "must be a relative path")] if p.startswith("/") else []
    if ".." in p.replace("\\", "/").split("/"):
        out.append(invalid(path, p, "must not contain '..'"))
    return out


def validate_label_selector(sel: Obj | None, path: str) -> list[Cause]:
    if not sel:
        return []
    out = validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, req in enumerate(sel.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op, values = req.get("operator"), req.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                out.append(
                    required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    forbidden(
                        p + ".values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            out.append(invalid(p + ".operator", op, "not a valid selector operator"))
        out += invalid_each(p + ".key", req.get("key", ""), is_qualified_name(req.get("key") or ""))
        for j, val in enumerate(values):
            out += invalid_each(f"{p}.values[{j}]", val, is_label_value(val))
    return out
