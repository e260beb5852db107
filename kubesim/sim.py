"""``KubeSim``: the API server, controllers, scheduler and kubelet, assembled and runnable
in-process (tests) or from the command line (``python -m kubesim serve``).

The whole simulated cluster lives on one asyncio event loop in a background thread, so a
test can use blocking clients (kubectl, the sync client) and async ones alike, and can
reach in through the Python control API (``faults``, ``counters``, ``call``).
"""

from __future__ import annotations

import asyncio
import copy
import gc
import ipaddress
import random
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import uvloop
import yaml
from aiohttp import web

from kubesim import bootstrap, errors, quota, rbac
from kubesim.admission import Admission
from kubesim.api import Api, Request
from kubesim.auth import Authenticator, User
from kubesim.controllers import interested
from kubesim.controllers.gc import GarbageCollector
from kubesim.controllers.jobs import JobController
from kubesim.controllers.namespaces import NamespaceController
from kubesim.controllers.quota import QuotaController
from kubesim.controllers.scheduler import Scheduler
from kubesim.controllers.ttlafterfinished import TTLAfterFinishedController
from kubesim.controllers.volumes import VolumeController
from kubesim.events import Recorder
from kubesim.faults import Counters, Faults
from kubesim.kubelet import Kubelet
from kubesim.kubelet.instant import InstantRuntime
from kubesim.resources import ResourceType, default_registry
from kubesim.server import Server
from kubesim.store import Event, Store, now_rfc3339

#: Object uids (``KubeSim.new_uid``): a PRNG seeded from the OS once.
_uid_random = random.Random()

T = TypeVar("T")
DEFAULT_NODES = ({"name": "kubesim-node-1"}, {"name": "kubesim-node-2"})


#: The cyclic collector's young-generation threshold in a process that serves kubesim
#: (CPython's default is 700 allocations): see :func:`tune_gc_for_serving`.
SERVING_GC_THRESHOLD0 = 10_000


def tune_gc_for_serving() -> None:
    """Set up Python's cyclic garbage collector for a process that runs kubesim as its main
    work (``kubesim serve``, a benchmark); to call once kubesim has started.

    - Every object alive now (the OpenAPI schemas and their compiled checks, some 150 000
      objects kept for the life of the process) is moved out of the collector's reach:
      full collections would otherwise walk them all. Objects are still freed by
      reference counting; only reference cycles alive now that become garbage later are
      never collected.
    - The young generation is collected every :data:`SERVING_GC_THRESHOLD0` allocations
      instead of 700. Everything kubesim stores survives (each write keeps a new version
      of an object, and the watch history keeps recent ones), so frequent young
      collections mostly re-walk survivors and promote them, and fill the old generation
      fast enough to trigger a full collection every few hundred writes. A Kubernetes API
      server's collector (Go's) runs beside it rather than stopping it, so these pauses
      are kubesim's, not the cluster's: on ``bench/spawn.py``'s TeamSpawner phase, the
      collector's time in kubesim's process fell from about 800 ms (six full collections)
      to about 260 ms (one).

    Not done by ``KubeSim.start`` itself: it changes the collector for the whole process
    (a test session, the demo hub).
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(SERVING_GC_THRESHOLD0, gen1, gen2)


#: The event loops kubesim's thread can run on (``KubeSim(event_loop=...)``).
#:
#: ``uvloop`` (libuv, transports in C, the same asyncio API) costs kubesim about a tenth
#: less CPU per request, for a process that is kubesim's alone (``kubesim serve``,
#: ``bench/spawn.py``). ``asyncio``, the default, is for kubesim inside a process whose
#: other threads do work too (tests, the local demo): the standard loop releases the GIL
#: at every pass (its ``select``), while a busy uvloop keeps it for the interpreter's
#: whole switch interval at a time, and a test's client thread beside a busy kubesim then
#: waits milliseconds for every step.
EVENT_LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


class KubeSim:
    def __init__(
        self,
        *,
        kubelet: str = "instant",
        nodes: list[dict[str, Any]] | tuple[dict[str, Any], ...] = DEFAULT_NODES,
        k8s_version: str = "1.37",
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 5.0,
        training_operator: bool | Any = True,
        kueue: bool = False,
        event_loop: str = "asyncio",
        hidden_paths: tuple[str | Path, ...] | list[str | Path] = (),
    ) -> None:
        if kubelet not in ("instant", "process"):
            raise ValueError("kubelet must be 'instant' or 'process'")
        if event_loop not in EVENT_LOOPS:
            raise ValueError(f"event_loop must be one of {', '.join(EVENT_LOOPS)}")
        self.kubelet_mode = kubelet
        self.event_loop = event_loop
        self.k8s_version = k8s_version
        self.host, self.port = host, port
        self.tls_port = 0  # the https listener, started on demand (kubectl needs TLS)
        self.bookmark_interval = bookmark_interval
        self._own_data = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="kubesim-"))
        #: Host directories the process kubelet's containers do not see, besides
        #: ``data_dir`` (with namespace isolation; e.g. the local demo's hub state). Each is
        #: covered whole in the container, volumes mounted inside it included.
        self.hidden_paths = tuple(Path(p) for p in hidden_paths)
        self.node_specs = list(nodes)
        self.registry = default_registry()
        self._quota_types_cache: tuple[int, dict[tuple[str, ...], list[Any]]] = (-1, {})
        self.store = Store()
        self.api = Api(self.store, self.registry)
        self.auth = Authenticator()
        self.rbac = rbac.RbacIndex()
        self.faults = Faults()
        self.counters = Counters()
        self.recorder = Recorder(self.api)
        self.watches_served = 0
        self._ips: dict[str, str] = {}
        self._next_ip = 2
        self._pod_net, self._pod_net_lock = claim_pod_network()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._validator: Any = None
        Admission(self).install()
        self.controllers = [
            NamespaceController(self),
            GarbageCollector(self),
            Scheduler(self),
            VolumeController(self),
            QuotaController(self),
            JobController(self),
            TTLAfterFinishedController(self),
        ]
        if training_operator:  # Kubeflow's training operator v1.9: kubeflow.org/v1 jobs
            from kubesim.controllers.training import TrainingOperatorConfig, install

            cfg = (
                training_operator if isinstance(training_operator, TrainingOperatorConfig) else None
            )
            self.controllers += install(self, cfg)
        if kueue:  # Kueue's LocalQueue API (no Kueue controllers): kubesim.crds.kueue
            from kubesim.crds import kueue as kueue_crds

            kueue_crds.install(self)
        self.kubelet = Kubelet(self, self._make_runtime(), self.data_dir / "logs")
        #: Per resource type, the controllers its events go to (see ``interested``).
        self._interested: tuple[int, dict[tuple[str, str], tuple]] = (-1, {})
        self.store.listeners.append(self._on_event)

    def _make_runtime(self) -> Any:
        if self.kubelet_mode == "instant":
            return InstantRuntime()
        from kubesim.kubelet.process import ProcessRuntime

        return ProcessRuntime(self, self.data_dir)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> KubeSim:
        self._thread = threading.Thread(target=self._thread_main, name="kubesim", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._startup_error:
            raise RuntimeError("kubesim failed to start") from self._startup_error
        return self

    def _thread_main(self) -> None:
        loop = EVENT_LOOPS[self.event_loop]()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._astart())
        except BaseException as e:  # surfaced by start()
            self._startup_error = e
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._astop())
        # Whatever is still running (pod workers, streams) is cancelled and awaited, so
        # nothing is left pending when the loop closes.
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    async def _astart(self) -> None:
        for c in self.controllers:
            c.start()
        bootstrap.cluster_objects(self)
        self._runner = web.AppRunner(Server(self).app(), access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        bootstrap.api_service(self)  # once the port is known
        await asyncio.sleep(0)

    async def _astop(self) -> None:
        self.store.drop_watches()
        await self.kubelet.shutdown()
        for c in self.controllers:
            c.stop()
        if self._runner:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(30)
        if self._own_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self._pod_net_lock.close()  # the pod network is free for another simulator

    def __enter__(self) -> KubeSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        """The same API over https (self-signed certificate, see ``kubesim.tls``)."""
        if not self.tls_port:
            self.call(self._start_tls)
        return f"https://{self.host}:{self.tls_port}"

    async def _start_tls(self) -> None:
        from kubesim.tls import server_context

        if not self.tls_port and self._runner:
            site = web.TCPSite(self._runner, self.host, 0, ssl_context=server_context())
            await site.start()
            self.tls_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            bootstrap.api_service(self)  # service/kubernetes now names the https listener

    # -------------------------------------------------------- control API
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the simulator's loop and return its result (thread-safe)."""
        assert self._loop is not None

        async def run() -> T:
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[return-value]

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(60)

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create (or replace) an object as the admin, from any thread. For test setup."""

        def do() -> dict[str, Any]:
            rt = self.registry.by_kind(manifest["apiVersion"], manifest["kind"])
            if rt is None:
                raise ValueError(
                    f"kubesim does not serve {manifest['apiVersion']}/{manifest['kind']}"
                )
            ns = manifest["metadata"].get("namespace", "default") if rt.namespaced else ""
            existing = self.store.peek(rt, ns, manifest["metadata"]["name"])
            if existing is None:
                return self.api.create(rt, ns, manifest, user="kubesim-admin")
            body = copy.deepcopy(manifest)
            body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            return self.api.update(rt, ns, manifest["metadata"]["name"], body, user="kubesim-admin")

        return self.call(do)

    def write_kubeconfig(
        self,
        path: str | Path,
        token: str | None = None,
        namespace: str = "default",
        tls: bool = False,
    ) -> Path:
        """A kubeconfig for the admin (or ``token``). ``tls=True`` for kubectl, which sends
        credentials only over https."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cluster: dict[str, Any] = {"server": self.url}
        if tls:
            from kubesim.tls import ca_data

            cluster = {"server": self.tls_url, "certificate-authority-data": ca_data()}
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubesim", "cluster": cluster}],
            "users": [{"name": "kubesim-admin", "user": {"token": token or self.auth.admin_token}}],
            "contexts": [
                {
                    "name": "kubesim",
                    "context": {
                        "cluster": "kubesim",
                        "user": "kubesim-admin",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "kubesim",
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    def create_token(self, namespace: str, service_account: str, expiration: int = 3600) -> str:
        """A token for a ServiceAccount, as ``kubectl create token`` would get."""

        def do() -> str:
            sa = self.store.get(self.api.rt("", "serviceaccounts"), namespace, service_account)
            return self.auth.issue_sa_token(
                namespace, service_account, sa["metadata"]["uid"], expiration=expiration
            )[0]

        return self.call(do)

    # ------------------------------------------------------------ internals
    def _on_event(self, ev: Event) -> None:
        if ev.rt.group == "rbac.authorization.k8s.io":
            if ev.type == "DELETED":
                self.rbac.remove(ev.obj)
            else:
                self.rbac.upsert(ev.obj)
        n, by_type = self._interested
        if n != len(self.controllers):  # controllers added since: look again
            self._interested = n, by_type = len(self.controllers), {}
        cs = by_type.get(ev.rt.key)
        if cs is None:
            cs = by_type[ev.rt.key] = interested(self.controllers, ev.rt.key)
        for c in cs:
            c.on_event(ev)
        self.kubelet.on_event(ev)

    def new_uid(self) -> str:
        """A random (version 4) UUID, as the API server gives every object. From a PRNG
        seeded once rather than ``uuid4``'s system call per object: uniqueness is what a
        simulator needs, not unpredictability."""
        return str(uuid.UUID(int=_uid_random.getrandbits(128), version=4))

    def lookup(self, plural: str, namespace: str, name: str) -> dict | None:
        return self.store.peek(self.api.rt("", plural), namespace, name)

    def default_storage_class(self) -> str | None:
        for sc in self.store.iter(self.api.rt("storage.k8s.io", "storageclasses")):
            ann = sc["metadata"].get("annotations") or {}
            if ann.get("storageclass.kubernetes.io/is-default-class") == "true":
                return sc["metadata"]["name"]
        return None

    def allocate_pod_ip(self, uid: str) -> str:
        if uid not in self._ips:
            used = set(self._ips.values())
            while True:
                ip = str(self._pod_net + self._next_ip)
                self._next_ip += 1
                if ip not in used and not ip.endswith(".0") and not ip.endswith(".255"):
                    break
            self._ips[uid] = ip
        return self._ips[uid]

    def release_pod_ip(self, uid: str) -> None:
        self._ips.pop(uid, None)

    def validate(self, req: Request) -> None:
        from kubesim.validation import check_write

        if self._validator is None:
            from kubesim.validation import SchemaValidator

            self._validator = SchemaValidator(self.k8s_version)
            for crd in self.registry.crds.values():
                self._validator.add_crd(crd)
        check_write(self._validator, req)

    def quota_used(self, namespace: str, q: dict) -> dict[str, Decimal]:
        """What the quota controller would count for ``q`` in ``namespace`` right now."""
        hard = tuple(sorted((q.get("spec") or {}).get("hard") or {}))
        objects = [
            (rt.plural, rt.group, obj)
            for rt in self._quota_types(hard)
            for obj in self.store.iter(rt, namespace)
        ]
        return quota.calculate_used(q, objects)

    def _quota_types(self, hard: tuple[str, ...]) -> list[Any]:
        """The namespaced types whose objects consume any of the quota names ``hard``: a
        quota of pods and storage need not look at the namespace's Secrets or Roles.
        Cached per set of names while the served types stay the same (CRDs come)."""
        if self._quota_types_cache[0] != self.registry.generation:
            self._quota_types_cache = (self.registry.generation, {})
        cache = self._quota_types_cache[1]
        hit = cache.get(hard)
        if hit is None:
            hit = cache[hard] = [
                rt
                for rt in self.registry.types.values()
                if rt.namespaced
                and not rt.virtual
                and rt.key != ("", "events")
                and quota.matching_resources(rt.plural, rt.group, hard)
            ]
        return hit

    def openapi(self, parts: list[str]) -> dict | None:
        from kubesim import openapi

        return openapi.document(self, parts)

    def token_request(self, namespace: str, name: str, body: dict) -> dict:
        sa = self.store.get(self.api.rt("", "serviceaccounts"), namespace, name)
        spec = (body or {}).get("spec") or {}
        pod = None
        ref = spec.get("boundObjectRef")
        if ref and ref.get("kind") == "Pod":
            p = self.store.get(self.api.rt("", "pods"), namespace, ref["name"])
            if ref.get("uid") and ref["uid"] != p["metadata"]["uid"]:
                raise errors.bad_request("the UID in the bound object reference does not match")
            pod = (p["metadata"]["name"], p["metadata"]["uid"])
        token, exp = self.auth.issue_sa_token(
            namespace,
            name,
            sa["metadata"]["uid"],
            expiration=spec.get("expirationSeconds", 3600),
            audiences=spec.get("audiences"),
            pod=pod,
        )
        from datetime import UTC, datetime

        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now_rfc3339()},
            "spec": {**spec, "expirationSeconds": spec.get("expirationSeconds", 3600)},
            "status": {
                "token": token,
                "expirationTimestamp": datetime.fromtimestamp(exp, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            },
        }

    def review(self, rt: ResourceType, body: dict, user: User) -> dict:
        spec = (body or {}).get("spec") or {}
        out = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {}, "spec": spec}
        if rt.plural == "selfsubjectaccessreviews":
            info = rbac.UserInfo(user.name, user.groups)
            if user.is_admin:
                out["status"] = {"allowed": True}
            else:
                out["status"] = rbac.subject_access_review(self.rbac, info, spec)
        elif rt.plural == "selfsubjectreviews":  # kubectl auth whoami
            info = {"username": user.name, "groups": list(user.groups)}
            out = {**out, "metadata": {"creationTimestamp": now_rfc3339()}}
            out.pop("spec")
            out["status"] = {"userInfo": {**info, **({"uid": user.uid} if user.uid else {})}}
        else:  # tokenreviews
            try:
                who = self.auth.authenticate(f"Bearer {spec.get('token', '')}", self.lookup)
                out["status"] = {
                    "authenticated": who.name != "system:anonymous",
                    "user": {"username": who.name, "uid": who.uid, "groups": list(who.groups)},
                }
            except errors.ApiError:
                out["status"] = {"authenticated": False, "error": "invalid bearer token"}
        return out

    def bind_pod(self, namespace: str, name: str, body: dict) -> None:
        node = ((body or {}).get("target") or {}).get("name")
        pod = self.store.get(self.api.rt("", "pods"), namespace, name)
        if pod["spec"].get("nodeName"):
            raise errors.conflict("pods", "", name)
        if not node:
            raise errors.bad_request("binding target name is required")
        self.controllers[2].bind(pod, node)  # type: ignore[attr-defined]

    # --------------------------------------------------------------- types
    def register_crd(self, crd: dict, rt: ResourceType) -> None:
        """Serve a custom resource type validated by its CRD schema."""
        self.registry.register(rt, crd=crd)
        if self._validator is not None:
            self._validator.add_crd(crd)


def claim_pod_network() -> tuple[ipaddress.IPv4Address, Any]:
    """A loopback /16 (``127.N.0.0``, N in 1..254) for this simulator's pod IPs.

    Pods of two kubesims on one machine (the demo and a test run, parallel tests) must not
    get the same addresses, or one's proxy reaches the other's servers. Each simulator
    holds an exclusive lock on ``/tmp/kubesim-podnet/<N>.lock`` for its lifetime (released
    by the kernel when the process ends, however it ends); the search starts at a random N.
    """
    import fcntl
    import random
    import tempfile

    lock_dir = Path(tempfile.gettempdir()) / "kubesim-podnet"
    lock_dir.mkdir(exist_ok=True)
    start = random.randrange(254)
    for i in range(254):
        n = (start + i) % 254 + 1
        f = open(lock_dir / f"{n}.lock", "w")  # noqa: SIM115 - held open as the lock
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        return ipaddress.IPv4Address(f"127.{n}.0.0"), f
    raise RuntimeError("kubesim: all 254 loopback pod networks are in use on this machine")
