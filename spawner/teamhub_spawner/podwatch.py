"""How TeamSpawner follows its pod: KubeSpawner's shared pod and event reflectors, with
the waking and indexing of :mod:`.reflectors`.

- A start goes on as soon as the pod watch shows its pod running, instead of at the next
  of KubeSpawner's doubling looks (up to 0.2 s, 0.4 s, 0.8 s … later).
- A pod's events (the start's progress messages) are read from that pod's own events,
  not found by sorting and scanning every event of the cluster's pods.

The watches themselves are KubeSpawner's (same kinds, labels, fields and keys in
``KubeSpawner.reflectors``): one each for the whole hub, whatever the number of users.
A hub that also runs plain KubeSpawners shares them; if a plain KubeSpawner started a
reflector first, TeamSpawner uses it as KubeSpawner would.
"""

from __future__ import annotations

from typing import Any

from kubespawner import KubeSpawner

from teamhub_spawner.reflectors import TeamEventReflector, TeamPodReflector, WakingReflector


class PodWatch(KubeSpawner):
    """The pod-following part of :class:`~teamhub_spawner.spawner.TeamSpawner`."""

    async def _start_watching_pods(self, replace: bool = False) -> Any:
        return await self._start_reflector(
            kind="pods",
            reflector_class=TeamPodReflector,
            labels={"component": self.component_label},
            omit_namespace=self.enable_user_namespaces,
            replace=replace,
        )

    async def _start_watching_events(self, replace: bool = False) -> Any:
        return await self._start_reflector(
            kind="events",
            reflector_class=TeamEventReflector,
            fields={"involvedObject.kind": "Pod"},
            omit_namespace=self.enable_user_namespaces,
            replace=replace,
        )

    @property
    def events(self) -> list[dict]:
        """This server's pod's events since the start began (KubeSpawner's ``events``),
        from the pod's own events."""
        reflector = self.event_reflector
        if not isinstance(reflector, TeamEventReflector):
            return KubeSpawner.events.fget(self)  # type: ignore[attr-defined]
        events: list[dict] = []
        for event in reflector.events_of(self.pod_name):
            if self._last_event and event["metadata"]["uid"] == self._last_event:
                events = []  # what came before this start's marker is an earlier pod's
            else:
                events.append(event)
        return events

    async def _make_create_pod_request(self, pod: Any, request_timeout: float) -> bool:
        """KubeSpawner's pod create, then a wait for the pod to run that ends when the
        watch says so: KubeSpawner's own wait, which follows, then finds it running at
        its first look. Not when KubeSpawner has work to do between creating the pod and
        its start (internal TLS, a Service, ``after_pod_created_hook``): that work may be
        what the pod waits for."""
        created = await super()._make_create_pod_request(pod, request_timeout)
        if created and not (
            self.internal_ssl or self.services_enabled or self.after_pod_created_hook
        ):
            await self._until_pod_settles()
        return created

    async def _until_pod_settles(self) -> None:
        """Wait until the new pod runs, ends, is deleted or goes (at most
        ``start_timeout``). A pod the watch has not shown within
        ``k8s_api_request_timeout`` is left to KubeSpawner's wait, which restarts the
        pod reflector when a pod never shows up."""
        reflector = self.pod_reflector
        if not isinstance(reflector, WakingReflector):
            return
        key = f"{self.namespace}/{self.pod_name}"
        keys = [key]
        if not await reflector.wait_until(
            keys, lambda: key in reflector.resources, self.k8s_api_request_timeout
        ):
            return

        def settled() -> bool:
            pod = reflector.resources.get(key)
            return (
                pod is None
                or "deletionTimestamp" in pod["metadata"]
                or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
                or self.is_pod_running(pod)
            )

        await reflector.wait_until(keys, settled, self.start_timeout)
