"""The REST API's tornado handlers: parse the request into a model, call the backend, write
the response model. No Kubernetes here (see :mod:`teamhub.server.backend`).

Every method is ``@web.authenticated`` and ``@authorized`` (jupyter-server's auth: in a
JupyterHub single-user server only the server's owner, or whoever the owner shared it
with through JupyterHub's ``access:servers`` scope, gets through) and answers errors as
JSON ``{"message", "reason", ...}`` (:mod:`teamhub.server.errors`).

Log streaming (``GET jobs/{name}/logs``) writes ``text/plain`` in chunked encoding, one
chunk per batch of whole lines, with at most two chunks on their way to the client (so a
slow client slows the reads from the API down instead of filling memory). It stops when
the client disconnects. Errors found before any output are JSON errors; a
snapshot waits for its first chunk so that, e.g., an unknown replica is a 404. A followed
stream sends its headers at once (the job may not have started yet); if it fails later,
its last line is ``[teamhub] log stream failed: <message>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from http.client import responses
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from pydantic import BaseModel
from tornado import web
from tornado.iostream import StreamClosedError

from teamhub.server.backend import JobsBackend
from teamhub.server.errors import ApiError, internal_error, to_api_error
from teamhub.server.models import (
    CancelQuery,
    ErrorBody,
    ListQuery,
    LogsQuery,
    Model,
    SubmitQuery,
)

#: Where the API lives, under the server's base URL.
API_PATH = "teamhub/api"
#: The jupyter-server authorization resource of every endpoint.
AUTH_RESOURCE = "teamhub"
TEXT = "text/plain; charset=utf-8"
#: A job name in a URL (the jobs API says whether it is a valid one).
NAME = r"(?P<name>[^/]+)"
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def api_errors(method: F) -> F:
    """Turn the jobs API's errors into :class:`ApiError` (status + JSON body)."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except web.HTTPError:
            raise
        except Exception as e:
            err = to_api_error(e)
            if err is None:
                self.log.exception("teamhub: %s %s failed", self.request.method, self.request.path)
                err = internal_error(e)
            raise err from e

    return wrapper  # type: ignore[return-value]


class BaseHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def backend(self) -> JobsBackend:
        return self.settings["teamhub_backend"]

    def json_body(self) -> Any:
        """The request body as JSON (None when empty); a 400 naming the problem if not."""
        raw = self.request.body.strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(
                400,
                ErrorBody(message=f"the request body is not valid JSON: {e}", reason="InvalidJSON"),
            ) from None

    def send(self, model: BaseModel, status: int = 200) -> None:
        self.set_status(status)
        data = model.dump() if isinstance(model, Model) else model.model_dump(mode="json")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        err = to_api_error(exc) if exc is not None else None
        if err is None:
            if exc is not None:
                err = internal_error(exc)
            else:
                message = responses.get(status_code, "error")
                err = ApiError(status_code, ErrorBody(message=message, reason=message))
        self.set_status(err.status_code)
        self.finish(json.dumps(err.body.model_dump(mode="json", by_alias=True, exclude_none=True)))


class JobsHandler(BaseHandler):
    """``GET jobs``: every job of the user; ``POST jobs``: submit one."""

    @web.authenticated
    @authorized
    @api_errors
    async def get(self) -> None:
        query = ListQuery.from_arguments(self.request.query_arguments)
        self.send(await self.backend.list_jobs(status=query.status))

    @web.authenticated
    @authorized
    @api_errors
    async def post(self) -> None:
        query = SubmitQuery.from_arguments(self.request.query_arguments)
        body = self.json_body()
        result = await self.backend.submit(body, dry_run=query.dry_run)
        if query.dry_run:
            self.send(result)
            return
        name = getattr(result, "name", "")
        self.set_header("Location", url_path_join(self.base_url, API_PATH, "jobs", name))
        self.send(result, 201)


class JobHandler(BaseHandler):
    """``GET jobs/{name}``: status and pods; ``DELETE jobs/{name}``: delete for good."""

    @web.authenticated
    @authorized
    @api_errors
    async def get(self, name: str) -> None:
        self.send(await self.backend.get_job(name))

    @web.authenticated
    @authorized
    @api_errors
    async def delete(self, name: str) -> None:
        await self.backend.delete_job(name)
        self.set_status(204)
        self.finish()


class CancelHandler(BaseHandler):
    """``POST jobs/{name}/cancel``: stop the pods, keep the record and the logs."""

    @web.authenticated
    @authorized
    @api_errors
    async def post(self, name: str) -> None:
        query = CancelQuery.from_arguments(self.request.query_arguments)
        self.send(await self.backend.cancel_job(name, archive_logs=query.archive_logs))


class EventsHandler(BaseHandler):
    """``GET jobs/{name}/events``: events with explanations of what keeps a job pending."""

    @web.authenticated
    @authorized
    @api_errors
    async def get(self, name: str) -> None:
        self.send(await self.backend.job_events(name))


class LogsHandler(BaseHandler):
    """``GET jobs/{name}/logs``: the logs as a chunked ``text/plain`` stream."""

    _copy: asyncio.Future[None] | None = None
    _gone = False

    @web.authenticated
    @authorized
    @api_errors
    async def get(self, name: str) -> None:
        query = LogsQuery.from_arguments(self.request.query_arguments)
        chunks = await self.backend.open_logs(name, query)
        self.set_header("Content-Type", TEXT)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # reverse proxies: do not buffer
        if self._gone:  # the client left while the job was looked up
            await chunks.aclose()  # type: ignore[attr-defined]
            return
        self._copy = asyncio.ensure_future(self._stream(chunks, follow=query.follow))
        await asyncio.wait([self._copy])
        if self._copy.cancelled() or self._gone:
            return  # the client went away: nobody to answer
        self._copy.result()  # an error before any output: a JSON error response
        self.finish(set_content_type=TEXT)

    async def _stream(self, chunks: AsyncIterator[bytes], *, follow: bool) -> None:
        """Copy the chunks to the response. One chunk is being sent while the next is
        taken: at most two are buffered here, and a client that reads slowly holds up the
        reading from the API (the backpressure)."""
        started = False
        async with contextlib.aclosing(chunks):  # type: ignore[type-var]
            try:
                if follow:
                    await self.flush()
                    started = True
                sending: Awaitable[None] | None = None
                async for chunk in chunks:
                    self.write(chunk)
                    started = True
                    if sending is not None:
                        await sending
                    sending = self.flush()
                    self.update_api_activity()
                if sending is not None:
                    await sending
            except StreamClosedError:
                self._gone = True
            except Exception as e:
                if not started:
                    raise
                err = to_api_error(e) or internal_error(e)
                self.log.warning("teamhub: log stream of %s failed: %s", self.path_kwargs, e)
                self.write(f"[teamhub] log stream failed: {err.body.message}\n".encode())

    def on_connection_close(self) -> None:
        """The client went away: stop reading logs (closes the API connections)."""
        self._gone = True
        if self._copy is not None and not self._copy.done():
            self._copy.cancel()


class EnvironmentHandler(BaseHandler):
    """``GET environment``: teams, volumes, credential names, allowed images, quota."""

    @web.authenticated
    @authorized
    @api_errors
    async def get(self) -> None:
        self.send(await self.backend.environment())


class CapabilitiesHandler(BaseHandler):
    """``GET capabilities``: the backends and what each can honour, for the submit form."""

    @web.authenticated
    @authorized
    @api_errors
    async def get(self) -> None:
        self.send(await self.backend.capabilities())


def routes() -> list[tuple[str, type[BaseHandler]]]:
    """URL patterns (relative to the server's base URL) and their handlers."""

    def at(*parts: str) -> str:
        return url_path_join(API_PATH, *parts)

    return [
        (at("jobs"), JobsHandler),
        (at("jobs", NAME), JobHandler),
        (at("jobs", NAME, "cancel"), CancelHandler),
        (at("jobs", NAME, "events"), EventsHandler),
        (at("jobs", NAME, "logs"), LogsHandler),
        (at("environment"), EnvironmentHandler),
        (at("capabilities"), CapabilitiesHandler),
    ]
