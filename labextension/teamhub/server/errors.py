"""Errors of the jobs API as HTTP responses: a status code and a JSON :class:`ErrorBody`.

Why one table: a client (the JupyterLab panel, the widgets, ``curl``) must be able to tell
"fix your request" (4xx, with the fields at fault) from "the cluster said no" (502) from
"this server cannot serve jobs" (503), and the same jobs error must always give the same
answer whichever endpoint raised it.

==================================  ======  ====================  =========================
error                               status  reason                notes
==================================  ======  ====================  =========================
``QueryError`` (bad query string)   400     InvalidQuery          ``errors`` per parameter
``JobSpecError`` (bad spec)         400     InvalidJobSpec        ``errors`` per field
``CodeTooLargeError``               400     CodeTooLarge          ``errors``
``ImageNotAllowedError``            403     ImageNotAllowed       ``errors`` (``image``)
``QuotaExceededError``              422     QuotaExceeded         ``errors`` per resource
``BackendUnavailableError``         422     BackendUnavailable    no training operator
``JobNotFoundError``                404     JobNotFound
``ReplicaNotFoundError``            404     ReplicaNotFound       (logs)
``JobExistsError``                  409     JobExists
``NotebookEnvironmentError``        503     NotebookEnvironment   not a teamhub notebook
``SubmitError``                     502     SubmitFailed          ``leftovers``
``KubeApiError``                    502     KubernetesApiError    ``kubeStatus``/``Reason``
anything else                       500     InternalError         logged with its traceback
==================================  ======  ====================  =========================
"""

from __future__ import annotations

from http.client import responses

from tornado import web

from teamhub.jobs.errors import (
    BackendUnavailableError,
    CodeTooLargeError,
    ImageNotAllowedError,
    JobError,
    JobExistsError,
    JobNotFoundError,
    JobSpecError,
    KubeApiError,
    NotebookEnvironmentError,
    QuotaExceededError,
    SubmitError,
)
from teamhub.server.models import ErrorBody, FieldError, QueryError


class ApiError(web.HTTPError):
    """An HTTP error with its JSON body (what :meth:`BaseHandler.write_error` sends)."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(status, log_message=body.message.replace("%", "%%"), reason=None)
        self.body = body


class ReplicaNotFoundError(LookupError):
    """The job has pods but none of the replicas asked for (a snapshot of the logs)."""


def _fields(problems: list[tuple[str, str]]) -> list[FieldError]:
    return [FieldError(field=f, message=m) for f, m in problems]


def to_api_error(e: BaseException) -> ApiError | None:
    """The response for ``e``; None for errors this table does not know (a 500)."""
    if isinstance(e, ApiError):
        return e
    if isinstance(e, web.HTTPError):  # jupyter-server's own (403 from auth...)
        standard = responses.get(e.status_code, "Error")
        message = e.log_message % e.args if e.log_message and e.args else e.log_message
        body = ErrorBody(message=message or standard, reason=e.reason or standard)
        return ApiError(e.status_code, body)
    if isinstance(e, QueryError):
        return ApiError(400, _body(str(e), "InvalidQuery", errors=_fields(e.problems)))
    if isinstance(e, JobSpecError):
        status, reason = 400, "InvalidJobSpec"
        if isinstance(e, ImageNotAllowedError):
            status, reason = 403, "ImageNotAllowed"
        elif isinstance(e, QuotaExceededError):
            status, reason = 422, "QuotaExceeded"
        elif isinstance(e, CodeTooLargeError):
            reason = "CodeTooLarge"
        return ApiError(status, _body(str(e), reason, errors=_fields(e.problems)))
    if isinstance(e, BackendUnavailableError):
        return ApiError(422, _body(str(e), "BackendUnavailable"))
    if isinstance(e, JobNotFoundError):
        return ApiError(404, _body(str(e), "JobNotFound"))
    if isinstance(e, JobExistsError):
        return ApiError(409, _body(str(e), "JobExists"))
    if isinstance(e, NotebookEnvironmentError):
        return ApiError(503, _body(f"this server cannot run jobs: {e}", "NotebookEnvironment"))
    if isinstance(e, SubmitError):
        return ApiError(502, _body(str(e), "SubmitFailed", leftovers=e.leftovers or None))
    if isinstance(e, KubeApiError):
        return ApiError(
            502,
            _body(str(e), "KubernetesApiError", kube_status=e.status, kube_reason=e.reason),
        )
    if isinstance(e, JobError):
        return ApiError(500, _body(str(e), type(e).__name__))
    if isinstance(e, ReplicaNotFoundError):
        return ApiError(404, _body(str(e), "ReplicaNotFound"))
    return None


def _body(message: str, reason: str, **extra: object) -> ErrorBody:
    return ErrorBody(message=message, reason=reason, **extra)  # type: ignore[arg-type]


def internal_error(e: BaseException) -> ApiError:
    return ApiError(500, _body(f"unexpected error: {type(e).__name__}: {e}", "InternalError"))
