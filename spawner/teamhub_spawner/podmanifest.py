"""The notebook pod on its way to the API server, without decoding it into typed models
and back when nobody looks.

KubeSpawner's contract is typed: ``get_pod_manifest()`` returns a ``V1Pod``, which
``modify_pod_hook`` may change and KubeSpawner then creates. teamhub's additions are pure
functions over the manifest's JSON (:mod:`.objects.pod`). Decoding the merged JSON into a
``V1Pod`` (kubernetes_asyncio's generic deserialiser walks every field of every nested
model), encoding it again for the create request, and decoding the created pod the API
server sends back into another ``V1Pod`` that KubeSpawner discards cost the hub about as
much CPU as all the rest of KubeSpawner's start (a teamhub pod has a dozen volumes, mounts
and env vars; ``bench/spawn.py`` at 100 concurrent starts).

- :class:`PodManifest` is a ``V1Pod`` whose ``spec`` stays JSON until someone reads it.
  ``metadata`` is typed from the start (KubeSpawner logs ``pod.metadata.name``). A
  ``modify_pod_hook``, or anything else that reads ``pod.spec``, gets the typed models
  as with any ``V1Pod``, and its changes are what is sent.
- :class:`PodsApi` is ``CoreV1Api`` with a ``create_namespaced_pod`` that sends a
  ``PodManifest``'s JSON as it is, to the pods' REST path (:mod:`.restapi`, without the
  typed layer's copy of the body), and returns the created pod as JSON (a dict) rather
  than a ``V1Pod``: KubeSpawner only awaits it. Errors are the ``ApiException`` the
  typed call raises (KubeSpawner handles 409 by stopping the old pod and retrying).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from kubernetes_asyncio.client import CoreV1Api, V1Pod

from teamhub_spawner.restapi import path, send


def _decode(api_client: Any, data: Any, klass: str) -> Any:
    return api_client.deserialize(SimpleNamespace(data=json.dumps(data)), klass)


class PodManifest(V1Pod):
    """A ``V1Pod`` made from a manifest dict (camelCase JSON); its spec is decoded into
    typed models on first access only."""

    def __init__(self, manifest: dict, api_client: Any) -> None:
        super().__init__(
            api_version=manifest.get("apiVersion", "v1"),
            kind=manifest.get("kind", "Pod"),
            metadata=_decode(api_client, manifest.get("metadata") or {}, "V1ObjectMeta"),
        )
        self._api_client = api_client
        self._spec_json: dict | None = manifest.get("spec")

    @property
    def spec(self) -> Any:
        if self._spec_json is not None:
            self._spec = _decode(self._api_client, self._spec_json, "V1PodSpec")
            self._spec_json = None
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec_json = None
        self._spec = value

    def to_json(self) -> dict:
        """The manifest to send: the spec as given when it was never decoded, else
        whatever the typed models now hold."""
        if self._spec_json is None:
            return self._api_client.sanitize_for_serialization(self)
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self._api_client.sanitize_for_serialization(self.metadata),
            "spec": self._spec_json,
        }


class PodsApi(CoreV1Api):
    """``CoreV1Api`` whose pod creates send JSON and answer JSON (see module docs)."""

    async def create_namespaced_pod(self, namespace: str, body: Any, **kwargs: Any) -> Any:
        if kwargs:  # options KubeSpawner does not use: the typed call handles them
            return await super().create_namespaced_pod(namespace, body, **kwargs)
        if isinstance(body, PodManifest):
            body = body.to_json()
        elif isinstance(body, V1Pod):
            body = self.api_client.sanitize_for_serialization(body)
        return await send("POST", path("Pod", namespace), body=body, api_client=self.api_client)
