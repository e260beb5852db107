"""TeamSpawner: KubeSpawner that gives each user their team's world, in their own namespace.

KubeSpawner does the pod, its reflectors (one cluster-wide pod and event watch, whatever
the number of users), profiles, state and the proxy URL. TeamSpawner adds, at every start:

1. **who the user is**: their teams and what those entitle them to, from the groups the
   TeamAuthenticator recorded (``auth_state["teamhub"]``), or the user's JupyterHub groups;
2. **what they may choose**: the profile list is filtered by team, and the chosen profile
   and the resulting image are checked again before anything is created, whether the
   choice came from the form or the REST API (a tampered choice is a 400);
3. **their objects** (:mod:`.plan` → :mod:`.provision`): namespace, ServiceAccount + Role +
   RoleBinding, the credential Secret, a pre-bound PV/PVC per team/global volume, home,
   NetworkPolicy, ResourceQuota; objects the user is no longer entitled to are removed;
   then the claims are waited for until bound (:mod:`.claims`), so the pod schedules at once;
4. **the pod**: KubeSpawner's pod plus :func:`~teamhub_spawner.objects.pod_additions`
   (ServiceAccount, restricted security context, mounts, tokens through ``secretKeyRef``),
   followed through KubeSpawner's shared reflectors (:mod:`.podwatch`): the start returns
   as soon as the pod watch shows it running.

On stop the pod and the credential Secret go (no credentials at rest without a running
server); data volumes and the namespace stay. A start that fails or is cancelled removes
them too (JupyterHub calls stop() after a failed start only when poll() finds the pod).
Jobs the user submitted keep running after stop: they live in the namespace and have their
own copies of what they mount, except the credential Secret, which a job started from the
notebook references and which is recreated at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
from typing import Any

from kubernetes_asyncio.client import V1Pod
from kubernetes_asyncio.client.rest import ApiException
from kubespawner import KubeSpawner
from teamhub_hub.authenticator import AUTH_STATE_KEY
from teamhub_hub.registry import teams_config_for
from teamhub_hub.teams import Entitlements, EntitlementsConflictError
from tornado import web
from traitlets import Bool, Float, Integer, TraitError, Unicode, default, validate

from teamhub_spawner import apiclients, claims, ordering, provision
from teamhub_spawner.objects import (
    access_token_patch,
    apply_pod_additions,
    credential_secret_name,
    namespace_name,
    pod_additions,
)
from teamhub_spawner.objects import labels as L
from teamhub_spawner.objects.namespace import PSA_LEVELS
from teamhub_spawner.plan import LISTED, PRUNABLE, Plan, ServerInputs, plan, stale
from teamhub_spawner.podmanifest import PodManifest, PodsApi
from teamhub_spawner.podwatch import PodWatch


class TeamSpawner(PodWatch, KubeSpawner):
    """Spawns each user's notebook with their teams' volumes, credentials and identity."""

    hub_namespace = Unicode(
        config=True,
        help="""The namespace the hub runs in.

        Team credentials are copied from admin-managed Secrets in this namespace, and the
        notebook's NetworkPolicy admits the hub and proxy pods of this namespace. Defaults
        to the `POD_NAMESPACE` environment variable (set by the Helm chart), else `default`.
        """,
    )

    @default("hub_namespace")
    def _hub_namespace_default(self) -> str:
        return os.environ.get("POD_NAMESPACE", "default")

    notebook_uid = Integer(
        1000,
        config=True,
        help="""The user id the notebook runs as (`runAsUser`; `runAsNonRoot` is always set,
        as the `restricted` Pod Security Standard requires). 1000 is `jovyan` in the Jupyter
        docker-stacks images.""",
    )
    notebook_gid = Integer(
        100,
        config=True,
        help="""The group id the notebook runs as (`runAsGroup`) and the `fsGroup` that owns
        mounted volumes and credential files (mode 0440).""",
    )
    pod_security_version = Unicode(
        "latest",
        config=True,
        help="""The Pod Security Standards version enforced on user namespaces
        (`pod-security.kubernetes.io/enforce-version`), e.g. `v1.30` to pin it.""",
    )
    pod_security_level = Unicode(
        "restricted",
        config=True,
        help="""The Pod Security Standard enforced on user namespaces: `restricted` (the
        default) or `baseline`. `baseline` is what the Kubeflow training operator v1's
        MPIJob needs: the operator adds an init container (`kubectl-delivery`) to the MPI
        launcher without the security context `restricted` requires, so the launcher is
        refused. Violations of `restricted` are still warned about and audited either way,
        and the Helm chart's admission policy keeps refusing privileged, host-namespace and
        hostPath pods.""",
    )

    @validate("pod_security_level")
    def _check_pod_security_level(self, proposal: Any) -> str:
        if proposal.value not in PSA_LEVELS:
            raise TraitError(
                f"TeamSpawner.pod_security_level must be one of {', '.join(PSA_LEVELS)}, "
                f"not {proposal.value!r}"
            )
        return proposal.value

    delete_namespace_on_user_delete = Bool(
        False,
        config=True,
        help="""Delete the user's namespace, and with it their home and everything they
        created, when the user is deleted from the hub. Off by default: deleting a user
        in the admin panel then keeps their data, and an admin removes the namespace.""",
    )

    volume_bind_timeout = Float(
        30.0,
        config=True,
        help="""Seconds a start waits for the user's volume claims to be bound before it
        creates the pod (the scheduler does not place a pod with an unbound claim, and
        retries it only after a back-off). Claims of a `WaitForFirstConsumer` StorageClass
        are not waited for. When the time is up the pod is created anyway, and its
        `FailedScheduling` events in the spawn progress say which claim holds it up.""",
    )

    k8s_api_trust_env = Bool(
        False,
        config=True,
        help="""Whether the hub's Kubernetes clients read proxy settings (`HTTPS_PROXY`,
        `NO_PROXY`...) and `~/.netrc` from the environment before every API request, as
        kubernetes_asyncio does by default. Off: inside a cluster the hub reaches the API
        server directly, and the lookups cost about 1 ms of CPU per request, the largest
        part of the hub's CPU when many users start at once. Turn it on only if the hub
        must reach the API server through a proxy named in its environment alone (a
        kubeconfig's `proxy-url` works either way). Applies to the clients KubeSpawner
        shares too (pod reflectors, pod creates).""",
    )

    @default("enable_user_namespaces")
    def _enable_user_namespaces_default(self) -> bool:
        return True

    @default("profile_list")
    def _profile_list_default(self) -> Any:
        return _team_profile_list

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.teams_config = teams_config_for(self)
        apiclients.set_trust_env(self.k8s_api_trust_env)
        apiclients.apply_trust_env(self.api.api_client)
        # Same client; pod creates skip typed round trips (see podmanifest).
        self.api = PodsApi(self.api.api_client)
        self.entitlements: Entitlements | None = None
        self._plan: Plan | None = None
        self._teamhub_progress: list[dict] = []
        self._provisioned = asyncio.Event()
        if self.user is not None:
            self.namespace = namespace_name(self.teams_config.namespace_prefix, self.user.name)
            self.dns_name = self.dns_name_template.format(
                namespace=self.namespace, name=self.pod_name
            )

    # ------------------------------------------------------------ who, and what they may use
    async def _groups(self) -> list[str]:
        state = await self.user.get_auth_state() or {}
        recorded = state.get(AUTH_STATE_KEY)
        if recorded is not None:
            return list(recorded.get("groups", []))
        return sorted(g.name for g in getattr(self.user, "groups", []))

    async def load_entitlements(self) -> Entitlements:
        """The user's entitlements from their current groups (fresh at every start)."""
        try:
            self.entitlements = self.teams_config.entitlements(await self._groups())
        except EntitlementsConflictError as e:
            raise web.HTTPError(409, f"Your teams' settings conflict: {e}") from e
        return self.entitlements

    async def load_user_options(self) -> None:
        ents = await self.load_entitlements()
        slug = (self.user_options or {}).get("profile")
        if slug and not ents.profile_allowed(slug):
            self._forget_refused_options()
            raise web.HTTPError(
                400,
                f"Profile {slug!r} is not available to {self.user.name} "
                f"(teams: {', '.join(ents.teams) or 'none'}; "
                f"profiles: {', '.join(ents.profiles) or 'none'})",
            )
        try:
            await super().load_user_options()
        except ValueError as e:  # KubeSpawner's own checks (unknown choice, bad regex...)
            self._forget_refused_options()
            raise web.HTTPError(400, str(e)) from e
        if not ents.image_allowed(self.image):
            self._forget_refused_options()
            raise web.HTTPError(
                400,
                f"Image {self.image!r} is not allowed for {self.user.name} "
                f"(allowed for teams {', '.join(ents.teams) or 'none'}: "
                f"{', '.join(ents.images or ())})",
            )

    def _forget_refused_options(self) -> None:
        """JupyterHub saves the options of every start, before the spawner sees them, as
        the default of the next start made without options (REST API without a body, the
        admin panel's start button). A refused choice must not become that default, or
        every such start would be refused again: fall back to the defaults instead."""
        orm = self.orm_spawner
        if orm is not None and orm.user_options == self.user_options:
            orm.user_options = {}
            self.user.db.commit()

    # ------------------------------------------------------------ the user's objects
    async def _server_inputs(self) -> ServerInputs:
        ents = self.entitlements or await self.load_entitlements()
        state = await self.user.get_auth_state() or {}
        # Read concurrently, and shared with the other spawns of the next few seconds.
        names = sorted({cred.secret_name for cred in ents.credentials})
        found = await asyncio.gather(
            *(provision.read_shared("Secret", self.hub_namespace, n) for n in names)
        )
        admin: dict[str, Any] = {}
        for name, secret in zip(names, found, strict=True):
            if secret is None:
                cred = next(c for c in ents.credentials if c.secret_name == name)
                raise web.HTTPError(
                    500,
                    f"teams.{cred.team}.credentials[{cred.name!r}]: Secret "
                    f"{name!r} not found in namespace {self.hub_namespace!r}; "
                    "an admin must create it",
                )
            admin[name] = secret.get("data") or {}
        home = self.teams_config.home.to_wire()
        return ServerInputs(
            username=self.user.name,
            namespace=self.namespace,
            teams=tuple(ents.teams),
            volumes=tuple((v.scope, v.to_wire()) for v in ents.volumes),
            credentials=tuple((c.team, c.to_wire()) for c in ents.credentials),
            home=home,
            quota=dict(ents.quota),
            hub_namespace=self.hub_namespace,
            port=self.port or 8888,
            oidc_access_token=state.get("access_token"),
            jupyterhub_api_token=self.api_token,
            admin_secrets=admin,
            servername=self.name or "",
            credential_secret_name=credential_secret_name(self.name or ""),
            pod_security_version=self.pod_security_version,
            pod_security_level=self.pod_security_level,
            queues=tuple(ents.queues.items()),
        )

    def _step(self, message: str) -> None:
        self._teamhub_progress.append({"progress": 0, "message": message})
        self.log.info("%s: %s", self.user.name, message)

    async def _ensure_namespace(self) -> None:
        """Called by KubeSpawner's start before the pod: provision everything teamhub owns.

        Everything that could be wrong (the admin Secrets to copy, the config for this
        user) is read and built before the first write, so a bad input creates nothing.
        """
        try:
            inputs = await self._server_inputs()
            try:
                p = plan(inputs)
            except ValueError as e:
                raise web.HTTPError(500, f"teamhub config for {self.user.name}: {e}") from e
            self._step(f"Preparing namespace {self.namespace}")
            fresh = await provision.ensure(p.namespace) == "created"
            self._step(
                "Setting up identity (ServiceAccount, Role), credentials and "
                f"{len(inputs.volumes)} team volume(s)"
            )
            if fresh:
                # Nothing to compare or prune in a namespace this start made. PVs of an
                # earlier namespace of the user (deleted by hand) outlive it, Released:
                # those the plan has are bound again (provision.ensure); the others stay
                # Released, bound to no claim, until the next start prunes them.
                await provision.ensure_all(p.objects)
                removed: list[str] = []
            else:
                # One listing per kind instead of a create (409) and a read per object;
                # pruning removes only what the plan lacks, so it runs alongside.
                existing = await self._list_existing()
                done = await asyncio.gather(
                    provision.ensure_all(p.objects, existing),
                    self._prune(p, existing),
                    return_exceptions=True,
                )
                for result in done:
                    if isinstance(result, BaseException):
                        raise result
                removed = done[1]
            if removed:
                self._step(f"Removed {len(removed)} object(s) from teams you left")
            await self._wait_for_claims(p)
            self._plan = p
        except provision.ProvisionError as e:
            raise web.HTTPError(500, f"Could not prepare {self.user.name}'s server: {e}") from e
        finally:
            self._provisioned.set()

    async def _start_watching_claims(self) -> Any:
        """The shared reflector of teamhub's claims (started by the first start, like
        KubeSpawner's pod and event reflectors)."""
        return await self._start_reflector(**claims.reflector_options())

    async def _wait_for_claims(self, p: Plan) -> None:
        """Wait (briefly) for the plan's claims to be bound: see :mod:`.claims`."""
        names = [o["metadata"]["name"] for o in p.objects if o["kind"] == "PersistentVolumeClaim"]
        if not names:
            return
        reflector = await self._start_watching_claims()
        modes: dict[str, str] = {}

        async def binding_mode(class_name: str) -> str:
            if class_name not in modes:
                sc = await provision.read_shared("StorageClass", "", class_name)
                modes[class_name] = (sc or {}).get("volumeBindingMode") or "Immediate"
            return modes[class_name]

        left = await claims.unbound(reflector.resources, self.namespace, names, binding_mode)
        if not left:
            return
        self._step(f"Waiting for {len(left)} volume(s) to be bound")
        left = await claims.wait_bound(
            reflector, self.namespace, left, binding_mode, self.volume_bind_timeout
        )
        if left:
            self.log.warning(
                "%s: claim(s) %s not bound after %.0f s; creating the pod anyway",
                self.user.name,
                ", ".join(left),
                self.volume_bind_timeout,
            )

    async def _list_existing(self) -> dict[tuple[str, str, str], dict]:
        """teamhub's objects of this user, of the :data:`LISTED` kinds, by
        :func:`~teamhub_spawner.provision.object_key`."""
        selector = L.user_selector(self.user.name)
        found = await asyncio.gather(
            *(
                provision.list_labelled(kind, self.namespace if namespaced else "", selector)
                for kind, namespaced in LISTED
            )
        )
        return {provision.object_key(o): o for objs in found for o in objs}

    async def _prune(self, p: Plan, existing: dict[tuple[str, str, str], dict]) -> list[str]:
        """Delete the objects of :data:`PRUNABLE` kinds the plan no longer has, among
        ``existing`` (:meth:`_list_existing`)."""
        kinds = PRUNABLE
        found = [
            [o for (k, _, _), o in existing.items() if k == kind and _component(o) == component]
            for kind, _, component in kinds
        ]
        removed = []
        for (kind, _, _), objs in zip(kinds, found, strict=True):
            for obj in stale(p.all(), objs):
                m = obj["metadata"]
                await provision.delete(kind, m.get("namespace", ""), m["name"])
                removed.append(f"{kind} {m['name']}")
        return removed

    async def get_pod_manifest(self) -> V1Pod:
        """KubeSpawner's pod with teamhub's additions. Called once per start, after
        provisioning; the plan (which holds the credential Secret's values) is dropped
        here: the hub keeps no credentials of a running server in memory."""
        pod = await super().get_pod_manifest()
        p, self._plan = self._plan, None
        if p is None:  # start() always provisions first
            raise RuntimeError(
                "TeamSpawner.get_pod_manifest is called once per start, after provisioning"
            )
        ents = self.entitlements
        assert ents is not None
        additions = pod_additions(
            username=self.user.name,
            teams=ents.teams,
            credential_secret=p.credential_secret,
            credentials=[(c.team, c.to_wire()) for c in ents.credentials],
            volumes=[(v.scope, v.to_wire()) for v in ents.volumes],
            home=self.teams_config.home.to_wire(),
            uid=self.notebook_uid,
            gid=self.notebook_gid,
            fs_group=self.notebook_gid,
        )
        merged = apply_pod_additions(provision.to_dict(pod), additions)
        _describe_self(merged, ents)
        return PodManifest(merged, self.api.api_client)

    async def progress(self) -> Any:
        """teamhub's own steps first, then KubeSpawner's pod events."""
        sent = 0
        while True:
            while sent < len(self._teamhub_progress):
                yield self._teamhub_progress[sent]
                sent += 1
            done = self._start_future is not None and self._start_future.done()
            if self._provisioned.is_set() or done:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._provisioned.wait(), 0.5)
        for event in self._teamhub_progress[sent:]:
            yield event
        async for event in super().progress():
            yield event

    def start(self) -> Any:
        self._teamhub_progress = []
        self._provisioned = asyncio.Event()
        return super().start()

    async def _start(self) -> Any:
        """KubeSpawner's start, served in arrival order (see :mod:`.ordering`), and undone
        when it fails.

        JupyterHub calls ``stop()`` after a failed start only when ``poll()`` still finds
        the pod, so a start that fails before or while creating its pod (or is cancelled
        at ``start_timeout``) would leave the credential Secret behind: it is removed
        here, with the pod if there is one. Data volumes stay, as after any stop.
        """
        ordering.started_at(asyncio.get_running_loop().time())
        _starting.set(self)
        try:
            return await super()._start()
        except (Exception, asyncio.CancelledError) as e:
            await self._remove_after_failed_start(e)
            if isinstance(e, ApiException):  # from KubeSpawner's part: creating the pod
                raise web.HTTPError(
                    500,
                    f"Could not start {self.user.name}'s server: creating the notebook pod "
                    f"{self.namespace}/{self.pod_name}: {provision.reason(e)}",
                ) from e
            raise

    async def _remove_after_failed_start(self, error: BaseException) -> None:
        try:
            await provision.delete("Pod", self.namespace, self.pod_name, grace_seconds=0)
            await provision.delete(
                "Secret", self.namespace, credential_secret_name(self.name or "")
            )
        except Exception:  # the start's own error is the one to report
            self.log.exception(
                "Could not clean up after %s's failed start (%s); stopping the server "
                "again removes what is left",
                self.user.name,
                provision.reason(error),
            )

    # ------------------------------------------------------------ stop, refresh, delete
    async def stop(self, now: bool = False) -> None:
        """Delete the pod (KubeSpawner's stop, retried through transient API errors) and
        the credential Secret."""
        policy = provision.DEFAULT_RETRY
        for attempt in range(policy.attempts):
            try:
                await super().stop(now=now)
                break
            except Exception as e:
                if not provision.is_transient(e) or attempt == policy.attempts - 1:
                    raise
                await asyncio.sleep(policy.backoff(attempt))
        # KubeSpawner also stops a leftover pod in the middle of a start (pod name taken):
        # the credential Secret that start just made for its new pod must stay then. That
        # stop runs in a task the start created (JupyterHub's exponential_backoff wraps
        # each try in one), which inherits the start's context.
        if _starting.get() is not self:
            await provision.delete(
                "Secret", self.namespace, credential_secret_name(self.name or "")
            )

    async def update_access_token(self, token: str) -> None:
        """Write a refreshed OIDC access token into the running server's credential Secret
        (the mounted file follows within the kubelet's sync period)."""
        name = credential_secret_name(self.name or "")
        try:
            await provision.patch("Secret", self.namespace, name, access_token_patch(token))
        except ApiException as e:
            if e.status != 404:
                raise

    async def delete_forever(self) -> None:
        await super().delete_forever()
        if self.delete_namespace_on_user_delete and not self.name:
            await provision.delete("Namespace", "", self.namespace)
            for pv in await provision.list_labelled(
                "PersistentVolume", "", L.user_selector(self.user.name, L.COMPONENT_VOLUME)
            ):
                await provision.delete("PersistentVolume", "", pv["metadata"]["name"])


async def _team_profile_list(spawner: TeamSpawner) -> list[dict]:
    """KubeSpawner ``profile_list`` callable: the profiles the user's teams allow."""
    ents = await spawner.load_entitlements()
    return spawner.teams_config.kubespawner_profile_list(ents)


#: The TeamSpawner whose start the current task works for (set in ``_start``; tasks it
#: creates inherit it).
_starting: contextvars.ContextVar[TeamSpawner | None] = contextvars.ContextVar(
    "teamhub_starting", default=None
)


#: Pod annotation with the user's entitlements (JSON), read by the notebook-side teamhub
#: package: the jobs API checks images and quota against it, the Team panel shows it.
ENTITLEMENTS_ANNOTATION = "teamhub.io/entitlements"


def _component(obj: dict) -> str | None:
    return (obj["metadata"].get("labels") or {}).get(L.COMPONENT)


def _describe_self(pod: dict, ents: Entitlements) -> None:
    """Let the notebook find its own pod and entitlements without extra API rights.

    ``TEAMHUB_POD_NAME``/``TEAMHUB_NAMESPACE`` come from the downward API; the
    entitlements (teams, volumes, credential names, allowed profiles and images, quota;
    never credential values) are an annotation the user's ServiceAccount can read with
    ``get pod``.
    """
    meta = pod.setdefault("metadata", {})
    meta.setdefault("annotations", {})[ENTITLEMENTS_ANNOTATION] = ents.annotation_json
    for c in pod["spec"]["containers"]:
        if c["name"] != "notebook":
            continue
        env = [
            e
            for e in c.get("env", [])
            if e["name"] not in ("TEAMHUB_POD_NAME", "TEAMHUB_NAMESPACE")
        ]
        env.append(
            {"name": "TEAMHUB_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        )
        env.append(
            {
                "name": "TEAMHUB_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            }
        )
        c["env"] = env
