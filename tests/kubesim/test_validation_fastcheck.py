"""kubesim.validation.fastcheck: the compiled "valid?" answer agrees with jsonschema.

kubesim trusts a *valid* answer of the fast check and skips jsonschema, so a wrong *valid*
would let a bad object in silently. These tests mutate realistic manifests at every path
(wrong JSON types, nulls, unknown fields, missing fields, bad quantities and base64) and
compare the fast answer with jsonschema's errors for each variant.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kubesim.validation import SchemaValidator
from tests.kubesim.validation_manifests import (
    NETPOL,
    PVC,
    ROLE,
    ROLE_BINDING,
    batch_job,
    notebook_pod,
    pytorch_job,
    pytorch_validator,
)

#: Values put in place of every value of a manifest.
SUBSTITUTES: list[Any] = [
    None,
    True,
    0,
    7,
    2.0,
    1.5,
    -(2**40),
    "",
    "text",
    "1Gi",
    "12x",
    "not base64!",
    [],
    ["a"],
    [{"a": 1}],
    {},
    {"zzUnknown": 1},
]

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "creds", "namespace": "teamhub-alice", "labels": {"a": "b"}},
    "type": "Opaque",
    "data": {"token": "c2VjcmV0"},
    "stringData": {"plain": "x"},
}
QUOTA = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {"name": "teamhub", "namespace": "teamhub-alice"},
    "spec": {"hard": {"cpu": "32", "memory": "128Gi", "pods": "50"}},
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "train", "namespace": "teamhub-alice"},
    "spec": {
        "clusterIP": "None",
        "selector": {"job": "train"},
        "ports": [{"name": "c10d", "port": 29500, "targetPort": "c10d", "protocol": "TCP"}],
    },
}
PV = {
    "apiVersion": "v1",
    "kind": "PersistentVolume",
    "metadata": {"name": "teamhub-ml-data-alice", "labels": {"teamhub.io/user": "alice"}},
    "spec": {
        "capacity": {"storage": "100Gi"},
        "accessModes": ["ReadOnlyMany"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "",
        "claimRef": {"namespace": "teamhub-alice", "name": "team-ml-data"},
        "nfs": {"server": "nfs.example.org", "path": "/exports/ml", "readOnly": True},
    },
}
BUILTIN = [
    notebook_pod(),
    batch_job(),
    ROLE,
    ROLE_BINDING,
    PVC,
    NETPOL,
    SECRET,
    QUOTA,
    SERVICE,
    PV,
]


@pytest.fixture(scope="module")
def sv() -> SchemaValidator:
    return pytorch_validator()


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k)
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i)
            yield from _paths(v, (*path, i))


def _set(obj: Any, path: tuple, value: Any) -> None:
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def _variants(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``obj`` with one change: every value replaced, every key removed, an unknown key
    added to every mapping."""
    for path in _paths(obj):
        if path in (("apiVersion",), ("kind",)):  # they choose the schema
            continue
        for sub in SUBSTITUTES:
            new = copy.deepcopy(obj)
            _set(new, path, copy.deepcopy(sub))
            yield new
        new = copy.deepcopy(obj)
        parent: Any = new
        for p in path[:-1]:
            parent = parent[p]
        del parent[path[-1]]
        yield new
        new = copy.deepcopy(obj)
        target: Any = new
        for p in path:
            target = target[p]
        if isinstance(target, dict):
            target["zzUnknown"] = "x"
            yield new


def _answers(sv: SchemaValidator, obj: dict[str, Any]) -> tuple[bool, list[Any]]:
    av, kind = obj["apiVersion"], obj["kind"]
    return sv._check(av, kind)(obj), list(sv._validator(av, kind).iter_errors(obj))


@pytest.mark.parametrize("obj", BUILTIN, ids=lambda o: o["kind"])
def test_builtin_kinds_fast_answer_equals_jsonschema(sv: SchemaValidator, obj: dict) -> None:
    """Built-in schemas use only compiled keywords: valid exactly when jsonschema finds
    no error (so the fast path is taken for every valid object, never for an invalid one)."""
    fast, errs = _answers(sv, obj)
    assert fast and not errs
    checked = invalid = 0
    for variant in _variants(obj):
        fast, errs = _answers(sv, variant)
        assert fast == (not errs), (variant, [e.message for e in errs])
        checked += 1
        invalid += bool(errs)
    assert invalid > checked // 3  # the mutations do reach the schema's checks


def test_crd_fast_valid_implies_jsonschema_valid(sv: SchemaValidator) -> None:
    """CRD schemas may use keywords the fast check does not compile; those are left to
    jsonschema, so only "fast says valid => jsonschema says valid" must hold."""
    job = pytorch_job()
    fast, errs = _answers(sv, job)
    assert fast and not errs
    for variant in _variants(job):
        fast, errs = _answers(sv, variant)
        assert not (fast and errs), (variant, [e.message for e in errs])


@pytest.mark.parametrize("obj", [notebook_pod(), SECRET, pytorch_job()], ids=lambda o: o["kind"])
def test_check_results_are_jsonschema_s(
    sv: SchemaValidator, obj: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``check`` reports (400 decode message, unknown fields, 422 causes) is the
    same with the fast check as with jsonschema alone: the fast check only decides
    whether jsonschema has to run."""
    variants = [v for v in _variants(obj) if isinstance(v.get("metadata"), dict)][::3]
    fast = [sv.check(copy.deepcopy(v)) for v in variants]
    monkeypatch.setattr(sv, "_check", lambda av, kind: lambda x: False)
    slow = [sv.check(copy.deepcopy(v)) for v in variants]
    assert fast == slow
    assert sum(bool(r.decode or r.unknown or r.causes) for r in slow) > len(slow) // 3
