"""HTTP front end: URL routing, authentication, authorization, content types, watch streams.

Speaks the Kubernetes REST API over plain HTTP on 127.0.0.1 so unmodified clients
(kubernetes_asyncio, the sync client, kubectl) work against it. Everything behind the
URL is in ``kubesim.api`` (verbs + admission) and ``kubesim.store`` (storage, watch).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubesim import discovery, errors, tables
from kubesim.rbac import Attributes, UserInfo, forbidden_error
from kubesim.resources import ResourceType
from kubesim.selectors import parse_field_selector, parse_label_selector, supported_fields
from kubesim.store import to_json

if TYPE_CHECKING:
    from kubesim.auth import User
    from kubesim.sim import KubeSim

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
}
_ANONYMOUS_PATHS = ("/version", "/healthz", "/readyz", "/livez")


_TRUE = frozenset(("1", "t", "T", "true", "TRUE", "True"))


def query_bool(query: Any, name: str) -> bool:
    """A boolean query parameter parsed as the apiserver does (Go's ``strconv.ParseBool``):
    the Python clients send ``watch=True``, kubectl and client-go ``watch=true``."""
    return query.get(name, "") in _TRUE


@dataclass
class Route:
    rt: ResourceType
    namespace: str = ""
    name: str = ""
    subresource: str = ""


def dumps(obj: Any) -> bytes:
    return to_json(obj)


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(obj), status=status, content_type="application/json", headers=headers
    )


def error_response(e: errors.ApiError) -> web.Response:
    return json_response(e.status(), e.code, e.headers or None)


class Server:
    def __init__(self, sim: KubeSim) -> None:
        self.sim = sim

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -------------------------------------------------------------- dispatch
    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except errors.ApiError as e:
            return error_response(e)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return error_response(errors.bad_request(f"error decoding request body: {e}"))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sim = self.sim
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        user = sim.auth.authenticate(request.headers.get("Authorization"), sim.lookup)
        user = self._impersonate(request, user)
        if user.name == "system:anonymous" and path not in _ANONYMOUS_PATHS:
            raise errors.unauthorized()
        route = self._route(parts) if parts and parts[0] in ("api", "apis") else None
        verb = self._verb(request, route)
        resource = (
            route.rt.plural + (f"/{route.subresource}" if route.subresource else "")
            if route
            else path
        )
        sim.counters.record(verb, resource, route.namespace if route else "")
        if sim.faults.latency:
            await asyncio.sleep(sim.faults.latency)
        code = sim.faults.pick_error(verb, resource) if route else None
        if code:
            reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}
            headers = {"Retry-After": "1"} if code == 429 else {}
            raise errors.ApiError(
                code, reason[code], f"kubesim injected fault ({code})", {}, headers
            )
        if route is None:
            return self._non_resource(request, parts, path, user)
        if not user.is_admin:
            attrs = Attributes(
                verb,
                route.rt.group,
                route.rt.plural,
                route.subresource,
                route.namespace,
                route.name,
            )
            info = UserInfo(user.name, user.groups)
            allowed, _ = sim.rbac.authorize(info, attrs)
            if not allowed:
                raise forbidden_error(info, attrs)
        return await self._resource(request, route, verb, user)

    def _impersonate(self, request: web.Request, user: User) -> User:
        as_user = request.headers.get("Impersonate-User")
        if not as_user:
            return user
        if not user.is_admin:
            raise errors.forbidden(
                "users",
                "",
                as_user,
                f'users "{as_user}" is forbidden: User "{user.name}" cannot '
                'impersonate resource "users" in API group "" at the cluster '
                "scope",
            )
        from kubesim.auth import User as U

        groups = (*request.headers.getall("Impersonate-Group", []), "system:authenticated")
        if as_user.startswith("system:serviceaccount:"):
            ns = as_user.split(":")[2]
            groups += ("system:serviceaccounts", f"system:serviceaccounts:{ns}")
        return U(as_user, groups)

    def _route(self, parts: list[str]) -> Route | None:
        reg = self.sim.registry
        if parts[0] == "api":
            if len(parts) < 3 or parts[1] != "v1":
                return None
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) < 4:
                return None
            group, version, rest = parts[1], parts[2], parts[3:]
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            ns, rest = rest[1], rest[2:]
        else:
            ns = ""
        rt = reg.get(group, rest[0])
        if rt is None or rt.version != version:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource", {}
            )
        if ns and not rt.namespaced:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource", {}
            )
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (sub and sub not in rt.subresources):
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource", {}
            )
        return Route(rt, ns, name, sub)

    @staticmethod
    def _verb(request: web.Request, route: Route | None) -> str:
        m = request.method
        if route is None:
            return m.lower()
        if m == "GET":
            if query_bool(request.query, "watch"):
                return "watch"
            return "get" if route.name else "list"
        if m == "POST":
            return "create"
        if m == "PUT":
            return "update"
        if m == "PATCH":
            return "patch"
        if m == "DELETE":
            return "delete" if route.name else "deletecollection"
        return m.lower()

    # ---------------------------------------------------------- non-resource
    def _non_resource(
        self, request: web.Request, parts: list[str], path: str, user: User
    ) -> web.StreamResponse:
        sim = self.sim
        if request.method != "GET":
            raise errors.method_not_allowed()
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if path == "/version":
            return json_response(discovery.version_info(sim.k8s_version))
        if path == "/api":
            return json_response(discovery.core_versions())
        if path == "/apis":
            return json_response(discovery.group_list(sim.registry))
        if parts[0] == "openapi":
            from kubesim.openapi import acceptable

            if not acceptable(request.headers.get("Accept", "")):  # the protobuf encodings
                return web.Response(status=406, text="406 - Not Acceptable")
            doc = sim.openapi(parts[1:])
            if doc is None:
                raise errors.ApiError(
                    404, "NotFound", "the server could not find the requested resource", {}
                )
            return json_response(doc)
        if len(parts) == 2 and parts[0] == "api":
            doc = discovery.resource_list(sim.registry, "", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.group(sim.registry, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.resource_list(sim.registry, parts[1], parts[2])
        else:
            doc = None
        if doc is None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource", {}
            )
        return json_response(doc)

    # -------------------------------------------------------------- resources
    async def _resource(
        self, request: web.Request, route: Route, verb: str, user: User
    ) -> web.StreamResponse:
        from kubesim import handlers

        return await handlers.dispatch(self, request, route, verb, user)

    # helpers used by handlers
    def predicate(self, route: Route, query: Any):  # -> Callable[[dict], bool] | None
        ls = parse_label_selector(query.get("labelSelector", ""))
        fs_text = query.get("fieldSelector", "")
        fs = (
            parse_field_selector(
                fs_text, supported_fields(route.rt.plural), resource=route.rt.plural
            )
            if fs_text
            else None
        )
        if not query.get("labelSelector") and fs is None:
            return None
        if not ls.nothing and all(r.op in ("=", "==", "in") for r in ls.requirements):
            # The usual selector (``a=b,c=d``): one look-up per term, for every object of
            # a list. A missing label gives None, which no value of a term equals.
            terms = tuple((r.key, r.values) for r in ls.requirements)

            def match_values(obj: dict) -> bool:
                labels = obj["metadata"].get("labels") or {}
                for key, values in terms:
                    if labels.get(key) not in values:
                        return False
                return fs is None or fs.matches(obj)

            return match_values

        def match(obj: dict) -> bool:
            if not ls.matches(obj["metadata"].get("labels") or {}):
                return False
            return fs is None or fs.matches(obj)

        return match

    @staticmethod
    def wants_table(request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def table(
        self, request: web.Request, route: Route, items: list[dict], meta: dict[str, Any]
    ) -> dict[str, Any]:
        """``items`` as the Table ``kubectl get`` asked for (``includeObject`` honoured)."""
        return tables.table(
            route.rt,
            items,
            meta,
            include=tables.include_object(request.query),
            crd=self.sim.registry.crds.get(route.rt.key),
        )

    def list_response(
        self, request: web.Request, route: Route, items: list[dict], rv: int, cont: str | None
    ) -> web.Response:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
        if self.wants_table(request):
            return json_response(self.table(request, route, items, meta))
        return json_response(
            {
                "kind": f"{route.rt.kind}List",
                "apiVersion": route.rt.api_version,
                "metadata": meta,
                "items": items,
            }
        )

    @staticmethod
    def encode_continue(rv: int, last: tuple[str, str]) -> str:
        raw = json.dumps({"rv": rv, "ns": last[0], "name": last[1]}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @staticmethod
    def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
        try:
            d = json.loads(base64.urlsafe_b64decode(token.encode()))
            return int(d["rv"]), (d["ns"], d["name"])
        except (ValueError, KeyError, TypeError) as e:
            raise errors.bad_request("continue key is not valid") from e
