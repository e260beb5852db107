"""The one thin layer between the jobs API and the Kubernetes API (kubernetes_asyncio).

Why generic requests on manifest dicts rather than the typed clients: the jobs API builds,
reads and compares plain manifests (the same dicts the pure builders return and the tests
validate), for core kinds and Kubeflow custom resources alike; one code path for all
kinds keeps the I/O layer small. Every call is a single API request; errors become
:class:`~teamhub.jobs.errors.KubeApiError` with the API's own message.

Credentials: ``KUBECONFIG`` (kubesim gives every pod one; a ``tokenFile`` user is re-read
as the token rotates) or the in-cluster ServiceAccount — in a teamhub notebook, the
user's ServiceAccount ``teamhub-user``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.rest import ApiException

from teamhub.jobs.errors import KubeApiError


@dataclass(frozen=True)
class Kind:
    """An API resource type: enough to build its URLs."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        out = f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{out}/{name}" if name else out

    def describe(self, name: str) -> str:
        return f"{self.kind} {name}"


POD = Kind("", "v1", "pods", "Pod")
SERVICE = Kind("", "v1", "services", "Service")
CONFIGMAP = Kind("", "v1", "configmaps", "ConfigMap")
EVENT = Kind("", "v1", "events", "Event")
BATCH_JOB = Kind("batch", "v1", "jobs", "Job")
PYTORCHJOB = Kind("kubeflow.org", "v1", "pytorchjobs", "PyTorchJob")
TFJOB = Kind("kubeflow.org", "v1", "tfjobs", "TFJob")
MPIJOB = Kind("kubeflow.org", "v1", "mpijobs", "MPIJob")
WORKLOAD_KINDS = (BATCH_JOB, PYTORCHJOB, TFJOB, MPIJOB)


def kind_of(manifest: Mapping[str, Any]) -> Kind:
    """The :class:`Kind` of a manifest this package builds."""
    for k in (*WORKLOAD_KINDS, POD, SERVICE, CONFIGMAP, EVENT):
        if k.api_version == manifest.get("apiVersion") and k.kind == manifest.get("kind"):
            return k
    raise ValueError(f"not a kind teamhub.jobs handles: {manifest.get('kind')!r}")


_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def _api_error(status: int, body: bytes | str | None, what: str) -> KubeApiError:
    text = body.decode(errors="replace") if isinstance(body, bytes) else (body or "")
    reason, message = "", text.strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            reason = data.get("reason") or ""
            message = data.get("message") or message
    except ValueError:
        pass
    return KubeApiError(status, reason or "Error", message or f"HTTP {status}", what=what)


async def load_api_client(
    kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None
) -> k8s.ApiClient:
    """An ``ApiClient`` from ``kubeconfig``, else ``KUBECONFIG``, else in-cluster config,
    else ``~/.kube/config``."""
    cfg = k8s.Configuration()
    if kubeconfig is not None:
        await k8s_config.load_kube_config(
            config_file=str(kubeconfig), context=context, client_configuration=cfg
        )
    elif os.environ.get("KUBECONFIG") or not os.environ.get("KUBERNETES_SERVICE_HOST"):
        await k8s_config.load_kube_config(context=context, client_configuration=cfg)
    else:
        k8s_config.load_incluster_config(client_configuration=cfg)
    return k8s.ApiClient(cfg)


async def _lines(stream: Any) -> AsyncIterator[bytes]:
    """Newline-separated chunks of any length (aiohttp's ``readline`` stops at 64 KiB, and
    a watch event carries a whole object)."""
    buf = b""
    async for chunk in stream.iter_any():
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield line
    if buf:
        yield buf


class Kube:
    """Generic create/get/list/delete/watch of manifest dicts, as one identity."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client = api_client
        self._core: k8s.CoreV1Api | None = None

    @property
    def core_api(self) -> k8s.CoreV1Api:
        """A typed ``CoreV1Api`` on the same connection (for log streaming)."""
        if self._core is None:
            self._core = k8s.CoreV1Api(self.api_client)
        return self._core

    async def close(self) -> None:
        await self.api_client.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        what: str = "",
    ) -> Any:
        try:
            return await self.api_client.call_api(
                path,
                method,
                query_params=query or [],
                header_params=dict(_JSON),
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
            )
        except ApiException as e:
            raise _api_error(e.status, e.body, what) from None

    async def create(self, kind: Kind, namespace: str, body: Mapping[str, Any]) -> dict:
        name = body.get("metadata", {}).get("name", "")
        return await self.request(
            "POST", kind.path(namespace), body=dict(body), what=f"creating {kind.describe(name)}"
        )

    async def get(self, kind: Kind, namespace: str, name: str) -> dict | None:
        """The object, or None if it does not exist."""
        try:
            return await self.request(
                "GET", kind.path(namespace, name), what=f"reading {kind.describe(name)}"
            )
        except KubeApiError as e:
            if e.status == 404 and e.reason == "NotFound":
                return None
            raise

    async def list(self, kind: Kind, namespace: str, *, label_selector: str | None = None) -> dict:
        """The list object (``items``, ``metadata.resourceVersion``)."""
        query = [("labelSelector", label_selector)] if label_selector else []
        return await self.request(
            "GET", kind.path(namespace), query=query, what=f"listing {kind.plural}"
        )

    async def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        *,
        propagation: str = "Background",
        uid: str | None = None,
    ) -> bool:
        """Delete (only the object with ``uid``, when given); False if it was already gone."""
        body: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": propagation,
        }
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            await self.request(
                "DELETE",
                kind.path(namespace, name),
                body=body,
                what=f"deleting {kind.describe(name)}",
            )
        except KubeApiError as e:
            if e.status == 404:
                return False
            raise
        return True

    async def watch(
        self,
        kind: Kind,
        namespace: str,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
    ) -> AsyncIterator[tuple[str, dict]]:
        """``(type, object)`` watch events until the server ends the stream."""
        query: list[tuple[str, Any]] = [("watch", "true"), ("allowWatchBookmarks", "true")]
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if timeout_seconds:
            query.append(("timeoutSeconds", int(timeout_seconds)))
        try:
            resp = await self.api_client.call_api(
                kind.path(namespace),
                "GET",
                query_params=query,
                header_params=dict(_JSON),
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
            )
        except ApiException as e:
            raise _api_error(e.status, e.body, f"watching {kind.plural}") from None
        try:
            if not 200 <= resp.status <= 299:
                raise _api_error(resp.status, await resp.read(), f"watching {kind.plural}")
            async for line in _lines(resp.content):
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    obj = event.get("object") or {}
                    raise KubeApiError(
                        int(obj.get("code") or 500),
                        obj.get("reason") or "Error",
                        obj.get("message") or "watch error",
                        what=f"watching {kind.plural}",
                    )
                yield event["type"], event["object"]
        finally:
            resp.release()
