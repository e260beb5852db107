"""The extension is enabled by the config file the wheel installs, and the committed
OpenAPI document is current and says what the server really sends (responses are checked
against its schemas)."""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.server.server_support import call, until

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "labextension" / "jupyter-config" / "server-config" / "teamhub.json"
OPENAPI = REPO / "docs" / "api" / "teamhub-jobs.openapi.yaml"
INSTALLED_AS = "etc/jupyter/jupyter_server_config.d/teamhub.json"


# ------------------------------------------------------------------ enabled on install
def test_the_wheel_installs_the_config_that_enables_the_extension():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared[str(SHIPPED.relative_to(REPO))] == INSTALLED_AS
    assert json.loads(SHIPPED.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"teamhub": True}}
    }


def test_the_package_names_its_extension():
    import teamhub
    from teamhub.server.extension import TeamhubExtension

    points = teamhub._jupyter_server_extension_points()
    assert points == [{"module": "teamhub.server.extension", "app": TeamhubExtension}]
    assert TeamhubExtension.name == "teamhub"


def test_installed_in_this_environment():
    """``pip install`` (editable too) put the config file into the environment."""
    installed = Path(sys.prefix) / INSTALLED_AS
    assert installed.is_file(), f"{installed} missing: reinstall teamhub (pip install -e .)"
    assert json.loads(installed.read_text()) == json.loads(SHIPPED.read_text())


class TestEnabledByTheConfigFile:
    @pytest.fixture
    def jp_server_config(self, jp_env_config_path, teamhub_config):
        """No ``jpserver_extensions`` here: only the installed file enables teamhub."""
        target = Path(jp_env_config_path) / "jupyter_server_config.d" / "teamhub.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHIPPED, target)
        return {"TeamhubExtension": teamhub_config}

    @pytest.mark.asyncio
    async def test_the_api_is_served(self, jp_fetch, jp_serverapp):
        assert jp_serverapp.extension_manager.extensions["teamhub"].enabled
        r = await call(jp_fetch, "GET", "capabilities")
        assert r.code == 200 and r.json["defaults"]["backend"] == "indexed"


# ------------------------------------------------------------------ OpenAPI
def test_the_committed_openapi_document_is_current():
    from teamhub.server.openapi import render

    assert OPENAPI.read_text() == render(), (
        "docs/api/teamhub-jobs.openapi.yaml is stale: run "
        "`python -m teamhub.server.openapi --write docs/api/teamhub-jobs.openapi.yaml`"
    )


def test_every_route_and_spec_field_is_documented():
    from teamhub.jobs.spec import JobSpec
    from teamhub.server.handlers import routes
    from teamhub.server.openapi import SPEC_FIELDS, document

    doc = document()
    documented = {p.replace("{name}", "(?P<name>[^/]+)") for p in doc["paths"]}
    assert documented == {"/" + pattern for pattern, _ in routes()}
    assert set(SPEC_FIELDS) == set(JobSpec.model_fields)
    for path, item in doc["paths"].items():
        handler = dict(routes())[path.lstrip("/").replace("{name}", "(?P<name>[^/]+)")]
        methods = {m.upper() for m in item if m != "parameters"}
        verbs = ("GET", "POST", "DELETE", "PUT", "PATCH")
        implemented = {m for m in verbs if m.lower() in handler.__dict__}
        assert methods == implemented, path


@cache
def _registry() -> tuple[dict[str, Any], Registry]:
    doc = yaml.safe_load(OPENAPI.read_text())
    resource = Resource(contents=doc, specification=DRAFT202012)
    return doc, Registry().with_resource("doc", resource)


def conforms(body: Any, schema_name: str) -> None:
    _, registry = _registry()
    schema = {"$ref": f"doc#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(body)


@pytest.mark.asyncio
async def test_responses_conform_to_the_document(jp_fetch, kubesim):
    conforms((await call(jp_fetch, "GET", "environment")).json, "EnvironmentModel")
    conforms((await call(jp_fetch, "GET", "capabilities")).json, "CapabilitiesModel")
    r = await call(jp_fetch, "POST", "jobs", body={"source": "1", "workers": 2, "name": "doc"})
    assert r.code == 201
    conforms(r.json, "JobModel")

    async def pods():
        got = (await call(jp_fetch, "GET", "jobs", "doc")).json
        return got if len(got["pods"]) == 2 else None

    conforms(await until(pods, what="pods"), "JobModel")
    conforms((await call(jp_fetch, "GET", "jobs")).json, "JobList")
    conforms((await call(jp_fetch, "GET", "jobs", "doc", "events")).json, "EventList")
    dry = await call(jp_fetch, "POST", "jobs", params={"dryRun": "1"}, body={"source": "1"})
    conforms(dry.json, "DryRun")
    conforms((await call(jp_fetch, "POST", "jobs", "doc", "cancel")).json, "JobModel")
    for bad in ({"workers": 0}, {"source": "1", "image": "evil"}):
        conforms((await call(jp_fetch, "POST", "jobs", body=bad)).json, "ErrorBody")
    conforms((await call(jp_fetch, "GET", "jobs", "nope")).json, "ErrorBody")
    with pytest.raises(jsonschema.ValidationError):  # the check itself can fail
        conforms({"jobs": [{"name": "x"}]}, "JobList")
