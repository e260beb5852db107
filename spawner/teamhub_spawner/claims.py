"""Waiting for a user's volume claims to bind before their pod is created.

kube-scheduler does not place a pod whose claim is not yet bound (VolumeBinding's
PreFilter: ``pod has unbound immediate PersistentVolumeClaims``); it parks the pod and
tries again after a claim changes, with a back-off of a second or more, and KubeSpawner
then notices the running pod only at its own next look (its waits double each time). A
start creates its claims a moment before the pod, while the PV controller is still
binding them; under a burst of starts that moment is seconds. So TeamSpawner waits for
its claims to be bound first: the user sees "Waiting for volumes" rather than a
FailedScheduling warning, and the pod is scheduled at once.

The hub learns about claims from one cluster-wide watch of teamhub's claims (a
KubeSpawner reflector, shared by every spawner like its pod and event reflectors), never
from polling the API or from a watch per namespace. Claims of a ``WaitForFirstConsumer``
StorageClass bind only once a pod uses them: they are not waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kubespawner.reflector import ResourceReflector

from teamhub_spawner.objects import labels as L

#: The reflector's key among KubeSpawner's shared reflectors.
REFLECTOR_KIND = "teamhub-claims"


class _Claims(dict):
    """The reflector's copy of the claims; tells ``wake`` which claim changed."""

    def __init__(self, items: dict, wake: Callable[[str], None]) -> None:
        super().__init__(items)
        self._wake = wake

    def __setitem__(self, key: str, value: dict) -> None:
        super().__setitem__(key, value)
        self._wake(key)

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._wake(key)
        return value


class ClaimReflector(ResourceReflector):
    """The PersistentVolumeClaims teamhub manages, in every namespace. A start waiting for
    its claims is woken when one of them changes (not every start at every change)."""

    kind = "persistentvolumeclaims"
    list_method_name = "list_persistent_volume_claim_for_all_namespaces"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    async def _list_and_update(self, *args: Any, **kwargs: Any) -> Any:
        rv = await super()._list_and_update(*args, **kwargs)
        self.resources = _Claims(self.resources, self._wake)
        for key in list(self._waiters):  # a (re)list may have changed any claim
            self._wake(key)
        return rv

    def _wake(self, key: str) -> None:
        for fut in self._waiters.pop(key, ()):
            if not fut.done():
                fut.set_result(None)

    def changed(self, keys: list[str]) -> asyncio.Future[None]:
        """A future done when any of ``keys`` (``"<namespace>/<name>"``) changes."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._waiters.setdefault(key, []).append(fut)
        return fut

    def forget(self, fut: asyncio.Future[None], keys: list[str]) -> None:
        for key in keys:
            waiting = self._waiters.get(key)
            if waiting and fut in waiting:
                waiting.remove(fut)
                if not waiting:
                    del self._waiters[key]


def reflector_options() -> dict[str, Any]:
    """Keyword arguments for KubeSpawner's ``_start_reflector``."""
    return {
        "kind": REFLECTOR_KIND,
        "reflector_class": ClaimReflector,
        "labels": {L.MANAGED_BY: L.MANAGED_BY_VALUE},
        "omit_namespace": True,
    }


async def unbound(
    claims: dict[str, dict],
    namespace: str,
    names: Iterable[str],
    binding_mode: Callable[[str], Awaitable[str]],
) -> list[str]:
    """The claims among ``names`` (in ``namespace``) the scheduler would find unbound.

    ``claims`` is the reflector's copy (``"<namespace>/<name>"`` -> claim);
    ``binding_mode(class_name)`` gives a StorageClass's ``volumeBindingMode`` (asked for
    every claim with a class, bound or not, so that what a start reads does not depend on
    timing). A claim not seen yet counts as unbound; one of a ``WaitForFirstConsumer``
    class never does.
    """
    out = []
    for name in names:
        pvc = claims.get(f"{namespace}/{name}")
        if pvc is None:
            out.append(name)
            continue
        class_name = (pvc.get("spec") or {}).get("storageClassName") or ""
        if class_name and await binding_mode(class_name) == "WaitForFirstConsumer":
            continue
        if (pvc.get("status") or {}).get("phase") != "Bound":
            out.append(name)
    return out


async def wait_bound(
    reflector: ClaimReflector,
    namespace: str,
    names: list[str],
    binding_mode: Callable[[str], Awaitable[str]],
    timeout: float,
) -> list[str]:
    """Wait until none of ``names`` is unbound, at most ``timeout`` seconds; the names
    still unbound then (the pod is created anyway: the scheduler's events tell why it
    waits). Woken by the reflector when one of the claims changes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = await unbound(reflector.resources, namespace, names, binding_mode)
        remaining = deadline - loop.time()
        if not left or remaining <= 0:
            return left
        keys = [f"{namespace}/{name}" for name in left]
        fut = reflector.changed(keys)
        try:
            await asyncio.wait_for(fut, remaining)
        except TimeoutError:
            pass
        finally:
            reflector.forget(fut, keys)
