"""teamhub's requests to the Kubernetes API: the REST path of each kind it manages, sent
through the transport of the client KubeSpawner shares (its connection pool, TLS settings,
proxy and credentials, token refresh included), as JSON both ways.

teamhub builds its objects as JSON (:mod:`.objects`) and reads answers as JSON. The typed
API classes of kubernetes_asyncio (``CoreV1Api.create_namespaced_secret`` and so on) add a
layer that suits typed models, not that: each call copies its JSON body to "sanitize" it
and converts its parameters, about a tenth of the hub's CPU at 100 concurrent starts of 17
requests each (``bench/spawn.py --profiler py-spy``). The paths are the API's own, stable
since each group's v1 (``/api/v1/namespaces/{ns}/secrets/{name}``).

Below the typed layer, ``RESTClientObject.request`` encodes every JSON body with the
standard library's ``json``; at a hundred concurrent starts, encoding and decoding JSON
were a tenth of the hub's CPU again. So the body is encoded with orjson (several times
faster, same JSON) and handed to the client's own aiohttp session with the transport
settings ``RESTClientObject.request`` would add (:func:`session_request`;
tests/spawner/test_restapi.py checks the two send the same request).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from kubernetes_asyncio.client.rest import ApiException

from teamhub_spawner.apiclients import shared

#: kind -> (API prefix, plural, namespaced), for every kind teamhub creates, prunes or reads.
PATHS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Secret": ("/api/v1", "secrets", True),
    "PersistentVolume": ("/api/v1", "persistentvolumes", False),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "ResourceQuota": ("/api/v1", "resourcequotas", True),
    "LimitRange": ("/api/v1", "limitranges", True),
    "Pod": ("/api/v1", "pods", True),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    "LocalQueue": ("/apis/kueue.x-k8s.io/v1beta1", "localqueues", True),
    # Read only: whether a claim binds before its pod exists (claims.py).
    "StorageClass": ("/apis/storage.k8s.io/v1", "storageclasses", False),
}

#: verb -> HTTP method.
METHODS = {
    "create": "POST",
    "read": "GET",
    "list": "GET",
    "replace": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}


def namespaced(kind: str) -> bool:
    return PATHS[kind][2]


def path(kind: str, namespace: str = "", name: str = "") -> str:
    """The URL path of ``kind`` objects (in ``namespace``, for namespaced kinds), or of
    the one called ``name``."""
    prefix, plural, is_namespaced = PATHS[kind]
    if is_namespaced:
        if not namespace:
            raise ValueError(f"{kind} is namespaced: a namespace is needed")
        prefix = f"{prefix}/namespaces/{quote(namespace, safe='')}"
    return f"{prefix}/{plural}/{quote(name, safe='')}" if name else f"{prefix}/{plural}"


async def send(
    method: str,
    url_path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    timeout: float | None = None,
    parse: bool = True,
    content_type: str = "application/json",
    api_client: Any = None,
) -> Any:
    """One request; the answer's JSON (None if empty, or not ``parse``d). A non-2xx
    answer raises ``ApiException`` as the typed API would (status, reason, body as text,
    headers); network errors and timeouts raise what aiohttp raises. Through
    ``api_client`` (an ``ApiClient``), by default KubeSpawner's shared one."""
    resp = await session_request(
        method,
        url_path,
        body=body,
        query=query,
        timeout=timeout,
        content_type=content_type,
        api_client=api_client,
    )
    return await read_answer(resp, parse=parse)


async def session_request(
    method: str,
    url_path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    timeout: float | None = None,
    content_type: str = "application/json",
    api_client: Any = None,
) -> aiohttp.ClientResponse:
    """Send one request through ``api_client``'s session and return the response unread
    (the caller reads or streams it, then releases it).

    The request is the one ``RESTClientObject.request`` sends for the same arguments
    (credentials, default headers, proxy, TLS server name, a total timeout), except that
    a body is encoded with orjson (see the module's docstring).
    """
    api_client = api_client or shared("CoreV1Api").api_client
    rest = api_client.rest_client
    headers = {
        **api_client.default_headers,
        "Accept": "application/json",
        "Content-Type": content_type,
    }
    await api_client.update_params_for_auth(headers, [], ["BearerToken"])
    url = api_client.configuration.host + url_path
    if query:
        url += "?" + urlencode(list(query.items()))
    args: dict[str, Any] = {
        "method": method,
        "url": url,
        "timeout": aiohttp.ClientTimeout(total=timeout) if timeout else aiohttp.ClientTimeout(),
        "headers": headers,
    }
    if body is not None:
        args["data"] = encode(body)
    if rest.proxy:
        args["proxy"] = rest.proxy
    if rest.proxy_headers:
        args["proxy_headers"] = rest.proxy_headers
    if getattr(rest, "server_hostname", None):
        args["server_hostname"] = rest.server_hostname
    return await rest.pool_manager.request(**args)


def encode(body: Any) -> bytes:
    """``body`` as JSON. orjson refuses what is not plain JSON data (keys that are not
    strings, integers beyond 64 bits) where the standard library converts or allows it:
    those few bodies are encoded the standard library's way, as kubernetes_asyncio would."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body).encode()


async def read_answer(resp: Any, *, parse: bool = True) -> Any:
    """The JSON of a response requested with ``_preload_content=False`` (None if empty
    or not ``parse``d); a non-2xx status raises ``ApiException`` as the typed call
    would, with the body as text and the headers."""
    try:
        data = await resp.read()
    finally:
        resp.release()
    if not 200 <= resp.status <= 299:
        e = ApiException(status=resp.status, reason=resp.reason)
        e.body = data.decode("utf-8", "replace")
        e.headers = resp.headers
        raise e
    return orjson.loads(data) if data and parse else None
