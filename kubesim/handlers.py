"""Handlers for resource URLs: one function per verb, over ``kubesim.api``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from kubesim import errors, execstream, logstream, watchstream
from kubesim.admission import default_service_account_ready
from kubesim.patch import SchemaLookup, json_merge_patch, json_patch, strategic_merge_patch
from kubesim.rbac import UserInfo
from kubesim.server import PATCH_TYPES, Route, json_response, query_bool

# Go's strconv.ParseBool vocabulary: a query flag given with any other value is ignored.
_BOOL_WORDS = frozenset(
    ("1", "t", "T", "true", "TRUE", "True", "0", "f", "F", "false", "FALSE", "False")
)

if TYPE_CHECKING:
    from kubesim.auth import User
    from kubesim.server import Server


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return {}
    ctype = request.content_type
    if ctype == "application/vnd.kubernetes.protobuf":  # kubectl's typed clients send it
        from kubesim.protobuf import decode

        return decode(raw)
    if "yaml" in ctype:
        import yaml

        return yaml.safe_load(raw)
    return orjson.loads(raw)  # its errors are json.JSONDecodeErrors (a 400, see Server)


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _warning_headers(warnings: list[str]) -> dict[str, str] | None:
    if not warnings:
        return None

    def quoted(w: str) -> str:  # an RFC 7230 quoted-string, as client-go parses it
        return '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return {"Warning": ", ".join(f"299 - {quoted(w)}" for w in warnings)}


async def dispatch(
    server: Server, request: web.Request, route: Route, verb: str, user: User
) -> web.StreamResponse:
    fn = _VERBS.get(verb)
    if fn is None or (verb not in route.rt.verbs and not route.subresource):
        raise errors.method_not_allowed()
    return await fn(server, request, route, user)


async def get(server: Server, request: web.Request, route: Route, user: User) -> web.StreamResponse:
    api = server.sim.api
    if route.subresource == "log":
        return await logstream.stream_logs(server.sim, request, route.namespace, route.name)
    if route.subresource in ("exec", "attach", "portforward"):
        return await execstream.serve(server, request, route, user)
    obj = api.get(route.rt, route.namespace, route.name)
    if server.wants_table(request):
        meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        return json_response(server.table(request, route, [obj], meta))
    return json_response(obj)


async def list_(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    q = request.query
    pred = server.predicate(route, q)
    # Shared, not copied: the items are only filtered and serialised here.
    items, rv = server.sim.api.list(route.rt, route.namespace, pred, share=True)
    cont_in = q.get("continue")
    if cont_in:
        rv0, last = server.decode_continue(cont_in)
        if rv0 < server.sim.store.oldest_rv() - 1:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent "
                "list result. You can start a new list without the continue "
                "parameter."
            )
        items = [
            o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > last
        ]
        rv = rv0
    limit = int(q.get("limit", "0") or 0)
    cont = None
    if limit > 0 and len(items) > limit:
        items = items[:limit]
        m = items[-1]["metadata"]
        cont = server.encode_continue(rv, (m.get("namespace", ""), m["name"]))
    return server.list_response(request, route, items, rv, cont)


def _int(v: str, name: str) -> int:
    try:
        return int(v)
    except ValueError as e:
        raise errors.bad_request(f"invalid {name}: {v!r}") from e


async def create(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    sim = server.sim
    body = await _body(request)
    if route.subresource:
        return await _create_sub(server, request, route, user, body)
    if route.name:
        raise errors.method_not_allowed()
    if route.rt.virtual:
        return json_response(sim.review(route.rt, body, user), 201)
    if route.rt.key == ("", "pods"):
        await default_service_account_ready(sim, route.namespace, body)
    warnings: list[str] = []
    obj = sim.api.create(
        route.rt,
        route.namespace,
        body,
        user=user.name,
        user_info=UserInfo(user.name, tuple(user.groups)),
        dry_run=_dry_run(request),
        warnings=warnings,
        field_validation=request.query.get("fieldValidation", ""),
        take=True,  # the decoded body is ours, and the result is only serialised
        share=True,
    )
    return json_response(obj, 201, _warning_headers(warnings))


async def _create_sub(
    server: Server, request: web.Request, route: Route, user: User, body: Any
) -> web.StreamResponse:
    sim = server.sim
    if route.rt.plural == "serviceaccounts" and route.subresource == "token":
        return json_response(sim.token_request(route.namespace, route.name, body), 201)
    if route.rt.plural == "pods" and route.subresource == "binding":
        sim.bind_pod(route.namespace, route.name, body)
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
            201,
        )
    if route.rt.plural == "pods" and route.subresource == "eviction":
        sim.api.delete(route.rt, route.namespace, route.name, user=user.name)
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
            201,
        )
    if route.subresource in ("exec", "attach", "portforward"):
        return await execstream.serve(server, request, route, user)
    raise errors.method_not_allowed()


async def update(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    if not route.name:
        raise errors.method_not_allowed()
    body = await _body(request)
    warnings: list[str] = []
    sub = "" if route.subresource == "finalize" else route.subresource
    obj = server.sim.api.update(
        route.rt,
        route.namespace,
        route.name,
        body,
        subresource=sub,
        user=user.name,
        user_info=UserInfo(user.name, tuple(user.groups)),
        dry_run=_dry_run(request),
        warnings=warnings,
        field_validation=request.query.get("fieldValidation", ""),
    )
    return json_response(obj, 200, _warning_headers(warnings))


async def patch(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    sim = server.sim
    if not route.name:
        raise errors.method_not_allowed()
    kind = PATCH_TYPES.get(request.content_type)
    if kind is None or kind == "apply":
        raise errors.unsupported_media_type(request.content_type)
    body = await _body(request)
    current = sim.api.get(route.rt, route.namespace, route.name)
    if kind == "json":
        if not isinstance(body, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        new = json_patch(current, body)
    else:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        if kind == "merge":
            new = json_merge_patch(current, body)
        else:
            schema = SchemaLookup.for_kind(route.rt.api_version, route.rt.kind, sim.k8s_version)
            if schema is None:
                raise errors.unsupported_media_type(request.content_type)
            new = strategic_merge_patch(current, body, schema)
    if not isinstance(new, dict):
        raise errors.bad_request("the patch did not produce an object")
    # A patch that does not pin resourceVersion applies to the latest version.
    pinned = isinstance(body, dict) and (body.get("metadata") or {}).get("resourceVersion")
    if not pinned:
        new.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
    warnings: list[str] = []
    obj = sim.api.update(
        route.rt,
        route.namespace,
        route.name,
        new,
        subresource=route.subresource,
        user=user.name,
        user_info=UserInfo(user.name, tuple(user.groups)),
        dry_run=_dry_run(request),
        warnings=warnings,
        field_validation=request.query.get("fieldValidation", ""),
    )
    return json_response(obj, 200, _warning_headers(warnings))


async def _delete_options(request: web.Request) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if request.can_read_body:
        body = await _body(request)
        if isinstance(body, dict):
            opts.update(body)
    q = request.query
    if "gracePeriodSeconds" in q:
        opts["gracePeriodSeconds"] = _int(q["gracePeriodSeconds"], "gracePeriodSeconds")
    if "propagationPolicy" in q:
        opts["propagationPolicy"] = q["propagationPolicy"]
    if q.get("orphanDependents") in _BOOL_WORDS:
        opts["orphanDependents"] = query_bool(q, "orphanDependents")
    if opts.get("orphanDependents") is not None and "propagationPolicy" not in opts:
        opts["propagationPolicy"] = "Orphan" if opts["orphanDependents"] else "Background"
    return opts


async def delete(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    if route.subresource:
        raise errors.method_not_allowed()
    opts = await _delete_options(request)
    obj, gone = server.sim.api.delete(
        route.rt,
        route.namespace,
        route.name,
        grace=opts.get("gracePeriodSeconds"),
        propagation=opts.get("propagationPolicy"),
        preconditions=opts.get("preconditions"),
        user=user.name,
        dry_run=_dry_run(request),
    )
    return json_response(obj, 200 if gone else 202)


async def deletecollection(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    sim = server.sim
    opts = await _delete_options(request)
    pred = server.predicate(route, request.query)
    items, _ = sim.api.list(route.rt, route.namespace, pred)
    out = []
    for o in items:
        try:
            obj, _gone = sim.api.delete(
                route.rt,
                o["metadata"].get("namespace", ""),
                o["metadata"]["name"],
                grace=opts.get("gracePeriodSeconds"),
                propagation=opts.get("propagationPolicy"),
                user=user.name,
                dry_run=_dry_run(request),
            )
            out.append(obj)
        except errors.ApiError as e:
            if e.code != 404:
                raise
    return server.list_response(request, route, out, sim.store.rv, None)


_VERBS = {
    "get": get,
    "list": list_,
    "watch": watchstream.watch,
    "create": create,
    "update": update,
    "patch": patch,
    "delete": delete,
    "deletecollection": deletecollection,
}
