"""Server-side printing: the ``meta.k8s.io/v1 Table`` that ``kubectl get`` asks for.

kubectl renders whatever columns the server returns, so these tables decide what ``kubectl
get`` shows. Built-in types use the apiserver's printers (``kubesim.printers``); types
without one get the generic ``NAME``/``CREATED AT`` table, custom resources their CRD's
``additionalPrinterColumns`` (``AGE`` by default), as the real servers do.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from kubesim import errors
from kubesim.podprinter import pod_row_conditions
from kubesim.printers import PRINTERS, Column
from kubesim.printing import human_duration
from kubesim.resources import ResourceType

Obj = dict[str, Any]
INCLUDE_OBJECT = ("None", "Metadata", "Object")
_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace. Is required when creating resources, "
    "although some resources may allow a client to request the generation of an appropriate "
    "name automatically. Name is primarily intended for creation idempotence and "
    "configuration definition. Cannot be updated.",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object "
    "was created.",
}


def include_object(query: Any) -> str:
    """The ``includeObject`` table option: what each row carries besides its cells."""
    value = query.get("includeObject") or "Metadata"
    if value not in INCLUDE_OBJECT:
        raise errors.bad_request(
            f'includeObject: Unsupported value: "{value}": supported values: '
            + ", ".join(f'"{v}"' for v in INCLUDE_OBJECT)
        )
    return value


def _column(name: str, kind: str, priority: int, fmt: str = "", desc: str = "") -> Obj:
    return {
        "name": name,
        "type": kind,
        "format": fmt or ("name" if name == "Name" else ""),
        "description": desc or _DESCRIPTIONS.get(name, name),
        "priority": priority,
    }


# ------------------------------------------------------------ custom resources
_STEP = re.compile(r"\.([^.\[]+)|\[(-?\d*)(?::(-?\d*))?\]")


def _jsonpath(obj: Any, path: str) -> list[Any]:
    """The values at a simple JSONPath (``.a.b``, ``[0]``, ``[-1:]``), as CRD columns use."""
    path = path.strip().removeprefix("{").removesuffix("}").removeprefix("$")
    values = [obj]
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            return []
        pos = m.end()
        out: list[Any] = []
        for v in values:
            if m.group(1) is not None:
                if isinstance(v, dict) and m.group(1) in v:
                    out.append(v[m.group(1)])
            elif isinstance(v, list):
                start = int(m.group(2)) if m.group(2) else None
                if m.group(3) is None:
                    if start is not None and -len(v) <= start < len(v):
                        out.append(v[start])
                else:
                    end = int(m.group(3)) if m.group(3) else None
                    out.extend(v[start:end])
        values = out
    return values


def _crd_cell(kind: str, values: list[Any]) -> Any:
    if not values or values[0] is None:
        return None
    v = values[0]
    if kind == "date":
        try:
            t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        except ValueError:
            return "<invalid>"
        return human_duration((datetime.now(UTC) - t).total_seconds())
    if kind == "string":
        return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    return v


def _crd_printer(rt: ResourceType, crd: Obj) -> tuple[list[Obj], Any]:
    version = next(
        (v for v in crd.get("spec", {}).get("versions", []) if v.get("name") == rt.version), {}
    )
    extra = version.get("additionalPrinterColumns") or [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ]
    cols = [_column("Name", "string", 0)] + [
        _column(
            c["name"],
            c.get("type", "string"),
            c.get("priority", 0),
            c.get("format", ""),
            c.get("description", ""),
        )
        for c in extra
    ]

    def cells(o: Obj) -> list[Any]:
        return [o["metadata"]["name"]] + [
            _crd_cell(c.get("type", "string"), _jsonpath(o, c.get("jsonPath", ""))) for c in extra
        ]

    return cols, cells


def _printer(rt: ResourceType, crd: Obj | None) -> tuple[list[Obj], Any]:
    if crd is not None:
        return _crd_printer(rt, crd)
    found = PRINTERS.get(rt.key)
    if found is not None:
        specs: list[Column] = found[0]
        return [_column(*c) for c in specs], found[1]
    # rest.defaultTableConvertor: what the apiserver prints for types with no printer.
    created = _column("Created At", "date", 0, desc=_DESCRIPTIONS["Age"])
    cols = [_column("Name", "string", 0), created]
    return cols, lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")]


def _row(rt: ResourceType, o: Obj, cells: Any, include: str) -> Obj:
    row: Obj = {"cells": cells(o)}
    if rt.key == ("", "pods") and (conds := pod_row_conditions(o)):
        row["conditions"] = conds
    if include == "Object":
        row["object"] = o
    elif include == "Metadata":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": o["metadata"],
        }
    return row


def table(
    rt: ResourceType,
    items: list[Obj],
    list_meta: dict[str, Any],
    *,
    include: str = "Metadata",
    crd: Obj | None = None,
    headers: bool = True,
) -> dict[str, Any]:
    """The Table of ``items``. ``headers=False`` leaves out the column definitions, as the
    apiserver does for every watch event after the first."""
    cols, cells = _printer(rt, crd)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": cols if headers else None,
        "rows": [_row(rt, o, cells, include) for o in items],
    }
