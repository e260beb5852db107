"""JupyterLab's cache-buster: ``ServerConnection.makeRequest`` (default ``cache:
'no-store'``) appends ``?<milliseconds>`` (a bare number) to every URL it requests. The API
refuses unknown query parameters (a misspelt option is an error), but not that one, so the
JupyterLab extension uses JupyterLab's defaults on every endpoint."""

from __future__ import annotations

import pytest
from teamhub.server.models import ListQuery, LogsQuery, is_cache_buster
from tornado.httputil import parse_qs_bytes

from tests.jobs.jobs_support import job_objects
from tests.server.server_support import call

BUSTER = "1795851953477"


def test_the_bare_number_jupyterlab_appends_is_not_a_parameter() -> None:
    args = parse_qs_bytes(f"follow=true&tail=5&{BUSTER}", keep_blank_values=True)
    assert set(args) == {"follow", "tail", BUSTER}
    query = LogsQuery.from_arguments(args)
    assert (query.follow, query.tail) == (True, 5)
    assert ListQuery.from_arguments(parse_qs_bytes(BUSTER, keep_blank_values=True)).status
    assert is_cache_buster(BUSTER, [b""])
    assert not is_cache_buster(BUSTER, [b"1"])
    assert not is_cache_buster("reload", [b""])
    assert not is_cache_buster("١٢٣", [b""])  # digits, but not ASCII ones


@pytest.mark.asyncio
async def test_every_endpoint_answers_a_request_with_the_cache_buster(jp_fetch, kubesim):
    bust = {BUSTER: ""}
    r = await call(
        jp_fetch, "POST", "jobs", params={"dryRun": "true", **bust}, body={"command": "true"}
    )
    assert r.code == 200, r.text
    assert job_objects(kubesim) == []  # dryRun was read, not dropped with the cache-buster
    r = await call(jp_fetch, "POST", "jobs", params=bust, body={"command": "true", "name": "cb"})
    assert r.code == 201, r.text

    for path in [
        ("jobs",),
        ("jobs", "cb"),
        ("jobs", "cb", "events"),
        ("environment",),
        ("capabilities",),
    ]:
        r = await call(jp_fetch, "GET", *path, params=bust)
        assert r.code == 200, (path, r.text)
    listed = await call(jp_fetch, "GET", "jobs", params={"status": "false", **bust})
    assert [(j["name"], j["status"]) for j in listed.json["jobs"]] == [("cb", None)]

    r = await call(
        jp_fetch, "POST", "jobs", "cb", "cancel", params={"archiveLogs": "false", **bust}
    )
    assert r.code == 200 and r.json["cancelled"] is True, r.text
    assert (await call(jp_fetch, "DELETE", "jobs", "cb", params=bust)).code == 204


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({BUSTER: "1"}, BUSTER),  # a number with a value is not JupyterLab's
        ({"reload": ""}, "reload"),
        ({"12ab": ""}, "12ab"),
    ],
)
async def test_other_unknown_parameters_are_still_refused(jp_fetch, params, field):
    r = await call(jp_fetch, "GET", "jobs", params=params)
    assert r.code == 400 and r.json["reason"] == "InvalidQuery", r.text
    assert r.json["errors"] == [{"field": field, "message": "unknown parameter"}]
