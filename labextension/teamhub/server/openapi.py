"""The OpenAPI 3.1 document of the jobs REST API, generated from the models the handlers
validate with (:mod:`teamhub.server.models`, :class:`teamhub.jobs.spec.JobSpec`), so the
document cannot drift from what the server accepts and sends (a test compares the
committed ``docs/api/teamhub-jobs.openapi.yaml`` with this output).

    python -m teamhub.server.openapi                 # print the YAML
    python -m teamhub.server.openapi --write PATH    # write it
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from teamhub.server import models as M

REF = "#/components/schemas/{model}"
#: What each ``JobSpec`` field means (the model itself carries no descriptions); a test
#: checks that every field is here.
SPEC_FIELDS = {
    "backend": "`indexed` (a batch/v1 Indexed Job and a headless Service; no operator), "
    "`pytorch` (PyTorchJob), `tf` (TFJob) or `mpi` (MPIJob); the last three need the "
    "Kubeflow training operator (see `GET capabilities`).",
    "script": "Path of a Python file to run, relative to the server's root directory; it is "
    "copied into the job. Exactly one of `script`, `source`, `command`.",
    "source": "Python code to run (e.g. a cell's source).",
    "command": "A command: a list of arguments, or a string run by `/bin/sh -c`.",
    "workers": "Number of workers (ranks), at least 1.",
    "procs_per_worker": "Processes per worker (`torchrun --nproc-per-node`; MPI slots).",
    "cpu": "CPU request per worker, a Kubernetes quantity (`2`, `500m`).",
    "memory": "Memory request per worker, a Kubernetes quantity (`8Gi`).",
    "gpus": "GPUs per worker (`nvidia.com/gpu`).",
    "image": "Container image; default the notebook's own. Must match the patterns the "
    "user's teams allow (`GET environment`).",
    "env": "Extra environment variables (names to string values); the backend's rank "
    "wiring variables are refused.",
    "labels": "Extra labels on the workload and its pods.",
    "queue": "The Kueue queue the job waits in (label `kueue.x-k8s.io/queue-name`): one of "
    '`queues` in `GET environment`. Default: the first of them, if any; `""`: none.',
    "deadline": "Seconds the job may run (`activeDeadlineSeconds`).",
    "name": "Job name (a DNS-1035 label); default `<user>-<backend>-<id>`.",
    "chief": "`tf` only: the first worker is the TFJob `Chief`.",
    "working_dir": "Absolute path the job starts in; default the notebook's working directory.",
}


def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    from teamhub.jobs.spec import JobSpec

    responses: list[type[BaseModel]] = [
        M.ErrorBody,
        M.JobList,
        M.JobModel,
        M.DryRun,
        M.EventList,
        M.EnvironmentModel,
        M.CapabilitiesModel,
    ]
    _, top = models_json_schema(
        [(m, "serialization") for m in responses] + [(JobSpec, "validation")],
        ref_template=REF,
    )
    schemas = top["$defs"]
    spec = schemas["JobSpec"]
    for name, text in SPEC_FIELDS.items():
        spec["properties"][name]["description"] = text
    refs = {m.__name__: {"$ref": REF.format(model=m.__name__)} for m in [*responses, JobSpec]}
    return schemas, refs


def _parameters(query: type[M.Query]) -> list[dict[str, Any]]:
    schema = query.model_json_schema()
    out = []
    for name, field in query.model_fields.items():
        key = field.alias or name
        prop = dict(schema["properties"][key])
        description = prop.pop("description", "")
        prop.pop("title", None)
        prop = _not_null(prop)
        if key in query.lists:
            description += " Repeat the parameter or separate names with commas."
        out.append(
            {
                "name": key,
                "in": "query",
                "required": False,
                "description": description,
                "schema": prop,
                **({"explode": True} if key in query.lists else {}),
            }
        )
    return out


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or has a value: drop the model's ``null`` option."""
    options = [o for o in schema.get("anyOf", []) if o != {"type": "null"}]
    if "anyOf" not in schema:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**options[0], **rest} if len(options) == 1 else {"anyOf": options, **rest}


def _json(ref: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


ERRORS = {
    "400": "The request is malformed: an invalid job spec (`errors` per field), query "
    "parameter or JSON body.",
    "403": "Not authenticated as the server's user, not authorized, or the image is not "
    "allowed for the user's teams (`ImageNotAllowed`, `errors` on `image`).",
    "404": "No such job (`JobNotFound`) or, for logs, no pod of the replica asked for "
    "(`ReplicaNotFound`).",
    "409": "A job (or the record of a cancelled job) of that name exists (`JobExists`).",
    "422": "More than the user's whole quota (`QuotaExceeded`, `errors` per resource) or a "
    "backend the cluster does not serve (`BackendUnavailable`).",
    "502": "The Kubernetes API refused a request (`KubernetesApiError`) or a submission "
    "failed half-way and was rolled back (`SubmitFailed`, `leftovers`).",
    "503": "This server cannot run jobs: it is not a teamhub notebook, or its pod cannot be "
    "read (`NotebookEnvironment`).",
}


def document() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    schemas, ref = _schemas()
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "The job's name.",
        "schema": {"type": "string"},
    }

    def errors(*codes: str) -> dict[str, Any]:
        return {c: _json(ref["ErrorBody"], ERRORS[c]) for c in codes}

    def op(summary: str, ok: dict[str, Any], *codes: str, **extra: Any) -> dict[str, Any]:
        return {
            "summary": summary,
            **extra,
            "responses": dict(sorted({**ok, **errors("403", *codes, "502", "503")}.items())),
        }

    paths = {
        "/teamhub/api/jobs": {
            "get": op(
                "Every job of the user, newest first (rebuilt from labels).",
                {"200": _json(ref["JobList"], "The jobs.")},
                "400",
                operationId="listJobs",
                parameters=_parameters(M.ListQuery),
            ),
            "post": op(
                "Submit a job in the notebook's environment.",
                {
                    "201": {
                        **_json(ref["JobModel"], "Submitted; `status` is null (ask for it)."),
                        "headers": {
                            "Location": {
                                "description": "The job's URL.",
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    "200": _json(ref["DryRun"], "With `dryRun`: the manifests, nothing made."),
                },
                "400",
                "409",
                "422",
                operationId="submitJob",
                parameters=_parameters(M.SubmitQuery),
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": ref["JobSpec"]}},
                },
            ),
        },
        "/teamhub/api/jobs/{name}": {
            "parameters": [name],
            "get": op(
                "A job with its status (phase, reason, ready/total) and its pods.",
                {"200": _json(ref["JobModel"], "The job, with `status` and `pods`.")},
                "404",
                operationId="getJob",
            ),
            "delete": op(
                "Delete a job for good: workload, pods, record and owned objects.",
                {"204": {"description": "Deleted."}},
                "404",
                operationId="deleteJob",
            ),
        },
        "/teamhub/api/jobs/{name}/cancel": {
            "parameters": [name],
            "post": op(
                "Stop a job's pods and keep its record (phase `Cancelled`) and logs.",
                {"200": _json(ref["JobModel"], "The job, with its final `status`.")},
                "400",
                "404",
                operationId="cancelJob",
                parameters=_parameters(M.CancelQuery),
            ),
        },
        "/teamhub/api/jobs/{name}/events": {
            "parameters": [name],
            "get": op(
                "Events about the job and its pods, oldest first, with explanations of "
                "what keeps it pending.",
                {"200": _json(ref["EventList"], "The events.")},
                "404",
                operationId="getJobEvents",
            ),
        },
        "/teamhub/api/jobs/{name}/logs": {
            "parameters": [name],
            "get": op(
                "The job's logs: every rank merged with `[replica]` prefixes, or chosen "
                "replicas; streamed (chunked `text/plain`, whole lines), in bounded memory.",
                {
                    "200": {
                        "description": "UTF-8 text, one log line per line. Without `follow`, "
                        "the logs as they are (merged in time order); with `follow`, new "
                        "lines as they come, from new pods and restarts, until the job has "
                        "finished. A stream that fails after it started ends with the line "
                        "`[teamhub] log stream failed: <message>`.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
                "400",
                "404",
                operationId="getJobLogs",
                parameters=_parameters(M.LogsQuery),
            ),
        },
        "/teamhub/api/environment": {
            "get": op(
                "What jobs inherit from this notebook and what the user's teams allow: "
                "teams, volumes, credential names (never values), images, quota.",
                {"200": _json(ref["EnvironmentModel"], "The environment.")},
                operationId="getEnvironment",
            ),
        },
        "/teamhub/api/capabilities": {
            "get": op(
                "The backends and what each can honour, whether the cluster serves it, "
                "the defaults and the JSON Schema of a submission (to render a form).",
                {"200": _json(ref["CapabilitiesModel"], "The capabilities.")},
                operationId="getCapabilities",
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "teamhub jobs API",
            "version": "1",
            "description": "Distributed jobs in the notebook's own environment, served by "
            "the notebook server (jupyter-server extension `teamhub`). Only the server's "
            "own user is served. Errors are JSON `ErrorBody` objects. "
            "See docs/user/jobs-api.md.",
        },
        "servers": [
            {
                "url": "{baseUrl}",
                "description": "The notebook server's base URL.",
                "variables": {
                    "baseUrl": {
                        "default": "/user/alice",
                        "description": "e.g. JupyterHub's /user/<name> (no trailing slash)",
                    }
                },
            }
        ],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <API token>`: the server's token, or in JupyterHub a "
                    "token of the server's owner; browsers use the session cookie and "
                    "`X-XSRFToken` instead.",
                }
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # every schema written out, no &anchors
        return True


def render() -> str:
    header = "# Generated by `python -m teamhub.server.openapi`; do not edit.\n"
    body = yaml.dump(document(), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the YAML here instead of printing it")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
