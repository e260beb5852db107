"""Decoding protobuf request bodies, from bodies kubectl 1.37 sent (``kubectl create ...``)."""

from __future__ import annotations

import pytest

from kubesim import errors
from kubesim.protobuf import decode

# kubectl create secret generic s1 --from-literal=a=1 --type=my/type
SECRET = bytes.fromhex(
    "6b3873000a0c0a027631120653656372657412250a120a02733112001a0022002a0032003800420012060a01"
    "611201311a076d792f747970651a002200"
)
# kubectl create service clusterip svc1 --tcp=80:8080 --tcp=443:https
SERVICE = bytes.fromhex(
    "6b3873000a0d0a0276311207536572766963651290010a210a047376633112001a0022002a00320038004200"
    "5a0b0a0361707012047376633112670a1b0a0738302d38303830120354435018502207080010903f1a00280"
    "00a220a093434332d6874747073120354435018bb03220b080110001a0568747470732800120b0a03617070"
    "1204737663311a002209436c757374657249503a00420052005a00600068001a020a001a002200"
)


def test_secret_data_is_base64_and_zero_values_are_dropped() -> None:
    assert decode(SECRET) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1"},
        "data": {"a": "MQ=="},
        "type": "my/type",
    }


def test_service_ports_with_int_or_string_target_ports() -> None:
    svc = decode(SERVICE)
    assert svc["metadata"] == {"name": "svc1", "labels": {"app": "svc1"}}
    assert svc["spec"] == {
        "ports": [
            {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"},
        ],
        "selector": {"app": "svc1"},
        "type": "ClusterIP",
    }


def test_a_field_kubesim_cannot_decode_is_refused_not_dropped() -> None:
    # The Secret with an extra field 9 = "x" that kubesim has no schema for.
    at = SECRET.index(b"\x12\x25")  # Unknown.raw, 37 bytes long
    raw = SECRET[at + 2 : at + 2 + 0x25] + b"J\x01x"  # field 9, length 1
    body = SECRET[:at] + b"\x12" + bytes([len(raw)]) + raw + SECRET[at + 2 + 0x25 :]
    with pytest.raises(errors.ApiError) as e:
        decode(body)
    assert e.value.code == 415
    assert "Secret field 9" in e.value.message


def test_kinds_without_a_schema_get_415() -> None:
    body = SECRET.replace(b"\x06Secret", b"\x06Widget")
    with pytest.raises(errors.ApiError) as e:
        decode(body)
    assert (e.value.code, e.value.reason) == (415, "UnsupportedMediaType")
