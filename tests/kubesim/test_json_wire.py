"""kubesim's JSON on the wire (kubesim/store.py ``to_json``, the request body decoder in
kubesim/handlers.py): compact UTF-8 through orjson, the standard library for what orjson
does not encode, and a malformed body answered with a 400 Status."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from kubesim.sim import KubeSim
from kubesim.store import to_json


def test_to_json_is_compact_utf8_and_falls_back_for_what_orjson_refuses() -> None:
    obj = {"metadata": {"name": "ü-ñ", "labels": {"a": "b"}}, "data": [1, 2.5, None, True]}
    out = to_json(obj)
    assert out == '{"metadata":{"name":"ü-ñ","labels":{"a":"b"}},"data":[1,2.5,null,true]}'.encode()
    # Keys that are not strings and integers beyond 64 bits: the standard library's way.
    assert to_json({1: "x"}) == b'{"1":"x"}'
    assert json.loads(to_json({"n": 2**70})) == {"n": 2**70}


def test_a_malformed_body_is_a_400_status(kubesim: KubeSim) -> None:
    req = urllib.request.Request(
        f"{kubesim.url}/api/v1/namespaces/default/configmaps",
        data=b'{"metadata": {"name": ',
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {kubesim.auth.admin_token}",
        },
    )
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("a malformed body was accepted")
    except urllib.error.HTTPError as e:
        status = json.loads(e.read())
        assert e.code == 400
    assert status["kind"] == "Status" and status["code"] == 400
    assert status["message"].startswith("error decoding request body: ")
