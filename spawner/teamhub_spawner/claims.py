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

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from teamhub_spawner.objects import labels as L
from teamhub_spawner.reflectors import WakingReflector

#: The reflector's key among KubeSpawner's shared reflectors.
REFLECTOR_KIND = "teamhub-claims"


class ClaimReflector(WakingReflector):
    """The PersistentVolumeClaims teamhub manages, in every namespace. A start waiting for
    its claims is woken when one of them changes (not every start at every change)."""

    kind = "persistentvolumeclaims"
    list_method_name = "list_persistent_volume_claim_for_all_namespaces"


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
    left = list(names)

    async def all_bound() -> bool:
        nonlocal left
        left = await unbound(reflector.resources, namespace, names, binding_mode)
        return not left

    await reflector.wait_until([f"{namespace}/{name}" for name in names], all_bound, timeout)
    return left
