"""The hub's Kubernetes API clients: KubeSpawner's shared clients, without per-request
environment lookups unless asked for.

teamhub uses the clients KubeSpawner shares (one per API class and event loop), so the
pod reflectors, KubeSpawner's pod creates and teamhub's provisioning share connections.
kubernetes_asyncio opens their aiohttp session with ``trust_env=True``; aiohttp then looks
up ``~/.netrc`` and the ``HTTP(S)_PROXY``/``NO_PROXY`` variables before *every* request, each
lookup in an executor thread. Measured on this project's 2-core machines, that costs about
1 ms of CPU per request against about 0.3 ms for the request itself: a TeamSpawner start
made 17 requests (a first start now makes 16), so at 100 users starting together the
lookups were the largest part of the hub's CPU (``bench/spawn.py``).

Inside a cluster the hub reaches the API server directly (in-cluster config names its
address; kubeconfig files name a server and, when needed, a ``proxy-url``, which
kubernetes_asyncio passes on explicitly). So teamhub turns the environment lookups off
by default, and ``TeamSpawner.k8s_api_trust_env`` turns them back on for a hub that must
reach the API server through a proxy given only in its environment. The official
synchronous ``kubernetes`` client does not read proxy variables either.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from kubespawner.clients import shared_client

#: Whether the shared clients read proxy settings and ``.netrc`` from the environment.
#: Set by TeamSpawner from ``k8s_api_trust_env``; one value per hub process.
_trust_env = False

#: kubernetes_asyncio's read buffer for its session (watch events of large objects can
#: exceed aiohttp's default; etcd's request limit is 1.5 MiB).
_READ_BUFSIZE = 2**21


def set_trust_env(trust: bool) -> None:
    """Choose whether the shared clients consult the environment (see module docs)."""
    global _trust_env
    _trust_env = bool(trust)


def shared(api_name: str) -> Any:
    """KubeSpawner's shared ``kubernetes_asyncio.client.<api_name>`` for this loop, with
    the environment lookups set as chosen."""
    client = shared_client(api_name)
    apply_trust_env(client.api_client)
    return client


def apply_trust_env(api_client: Any) -> None:
    """Give ``api_client`` a session with ``trust_env`` as chosen, on the same connection
    pool. aiohttp fixes ``trust_env`` when a session is made, so the session is replaced:
    the new one takes over the old one's connector (its pooled connections and TLS
    context); the old one is detached, which closes it without closing the connector."""
    rest = api_client.rest_client
    session = rest.pool_manager
    if session.closed or session.trust_env == _trust_env:
        return
    rest.pool_manager = aiohttp.ClientSession(
        connector=session.connector, trust_env=_trust_env, read_bufsize=_READ_BUFSIZE
    )
    session.detach()
