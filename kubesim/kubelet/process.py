"""The ``process`` runtime: each container's ``command`` + ``args`` runs as a local process.

The image is not run: the process comes from this machine's environment, with the
directory of kubesim's Python interpreter first on ``PATH`` (so ``python``,
``jupyterhub-singleuser``... of kubesim's virtualenv are found). Only a few host
variables pass through (``HOME``, ``LANG``, ``TZ``, ``PYTHONPATH``..., see ``HOST_ENV``);
then the kubelet's variables: ``HOSTNAME``, the master service's
``KUBERNETES_SERVICE_HOST``/``_PORT`` (kubesim's https address), service links, the
container's ``env``/``envFrom`` (:mod:`kubesim.kubelet.env`), and ``KUBECONFIG``.

**API access from a pod.** Pods reach kubesim over its https listener (started with the
first pod; its self-signed certificate is every namespace's ``kube-root-ca.crt``), as kubectl
sends credentials only over TLS. ``KUBERNETES_SERVICE_HOST``/``_PORT`` name that listener, so
in-cluster config (``rest.InClusterConfig``, ``load_incluster_config``: https, the projected
token and ``ca.crt`` under ``/var/run/secrets/kubernetes.io/serviceaccount``) works where
the token is mounted (*namespace* mode). Each pod also gets ``KUBECONFIG`` pointing at
``<data_dir>/pods/<uid>/kubeconfig`` (the same https URL and CA), whose user reads the pod's
projected ServiceAccount token through ``tokenFile`` (re-read as the kubelet refreshes it):
kubectl, ``kubernetes`` and ``kubernetes_asyncio`` (``load_kube_config``) inside the pod
authenticate as the pod's ServiceAccount, in the pod's namespace, in either isolation mode.
A container's own ``KUBECONFIG`` env var wins. A pod without a token
(``automountServiceAccountToken: false``) gets no ``KUBECONFIG``: like on a node, it has no
credentials (kubectl there tries in-cluster config, then ``localhost:8080``).

**Isolation modes.** Chosen once per runtime: ``KUBESIM_ISOLATION=namespace|none``, or
automatically (namespace when ``unshare`` works, which needs root).

- *namespace* (root, util-linux ``unshare``): each container runs under ``unshare --mount
  --uts --pid --fork --kill-child --mount-proc --propagation private``. In the private
  mount namespace a small wrapper (PID 1 of the new PID namespace) builds the container's
  root: a tmpfs holding the host's top-level entries bound back live; a mount point that
  does not exist is made in a layer of the container's own (the nearest existing
  directory becomes a tmpfs holding its entries, bound back), so nothing is created on the
  host and no container sees another's mount points. It bind-mounts every volume
  directory on its ``mountPath``, honouring ``subPath``/``subPathExpr``
  and ``readOnly`` (``mount -o remount,bind,ro``; secret/configMap/downwardAPI/projected
  volumes are always read-only, as on a real node), bind-mounts the pod's ``/etc/hosts``
  (:mod:`kubesim.kubelet.dns`) and ``/etc/hostname``, sets the hostname to the pod's, then
  covers kubesim's data directory (every pod's volumes, secrets, tokens and logs; and
  ``KubeSim(hidden_paths=...)``) with an empty read-only tmpfs, keeping only the pod's own
  directory, so that a container reads the other pods' data no more than on a node
  (the rest of the host's filesystem stays visible and shared: there is no image to run
  in), switches to that root (``pivot_root``), then forks the command and forwards
  signals to it, like a container init. When the command exits, the wrapper exits with
  its code and the kernel kills whatever is left in the PID namespace; ``ps`` inside shows
  only the pod's processes.
- *none* (not root / no ``unshare``): processes run directly. A ``mountPath`` that does not
  exist becomes a symlink to the volume directory (removed with the pod); one that exists
  fails the container start (``CreateContainerError``) with an explanation — except the
  automatic ServiceAccount token mount, which is skipped (``KUBECONFIG`` covers API
  access). ``readOnly`` is not enforced, ``/etc/hosts`` is the host's (use pod IPs).

**Lifecycle.** Each container is its own process group (``start_new_session``) with
``PR_SET_PDEATHSIG=SIGKILL``, so nothing survives kubesim (in *namespace* mode not even
grandchildren). ``stop(grace)`` sends SIGTERM to the group, SIGKILL after ``grace``.
The exit code is reported as the kubelet does (killed by signal N -> 128+N). A command
that cannot be executed terminates with ``StartError`` and exit code 128, as with runc.
A container without ``command`` cannot run (there is no image): ``CreateContainerError``.
``kubectl exec`` runs commands in a running container's context (:mod:`kubesim.kubelet.exec`);
init containers run one after another before the others, like any container, except
the operators' own ``kubectl-delivery`` and ``init-pytorch``, which are stood in for
(:mod:`kubesim.kubelet.standins`, :mod:`kubesim.kubelet.kubectl_delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kubesim.kubelet import dns, kubectl_delivery, podinit, standins
from kubesim.kubelet.container import (
    RUNC_PREFIX,
    UNSHARE_ARGS,
    ProcessContainer,
    die_with_parent,
    namespace_support,
)
from kubesim.kubelet.env import container_env, expand, expand_command, service_env
from kubesim.kubelet.logs import LogWriter
from kubesim.kubelet.volumes import PodVolumes
from kubesim.tls import ca_data

if TYPE_CHECKING:
    from kubesim.sim import KubeSim

log = logging.getLogger("kubesim.kubelet.process")
TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
#: Host variables a container inherits (the rest of its env is what Kubernetes defines).
# fmt: off
HOST_ENV = ("HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
            "TERM", "TMPDIR", "PYTHONPATH", "LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR")
# fmt: on


@dataclass
class PodState:
    pod: dict
    dir: Path
    ip: str
    host_ip: str
    volumes: PodVolumes
    hosts: Path
    kubeconfig: Path
    links: list[tuple[Path, Path]] = field(default_factory=list)
    listener: Any = None


class ProcessRuntime:
    def __init__(self, sim: KubeSim, data_dir: Path, isolation: str | None = None) -> None:
        self.sim = sim
        self.data_dir = Path(data_dir)
        mode = isolation or os.environ.get("KUBESIM_ISOLATION") or "auto"
        self.unshare = namespace_support() if mode in ("auto", "namespace") else None
        if mode == "namespace" and self.unshare is None:
            raise RuntimeError(
                "KUBESIM_ISOLATION=namespace but `unshare` does not work here "
                "(needs root and util-linux)"
            )
        self.isolation = "namespace" if self.unshare else "none"
        self.pods: dict[str, PodState] = {}
        self.hosts = dns.HostsFiles(sim, lambda: self.api_ip, self._view)

    def hidden_paths(self) -> list[Path]:
        """Host directories a container does not see (*namespace* mode): kubesim's data
        directory and the ``hidden_paths`` kubesim was given, those that exist."""
        paths = {Path(p).resolve() for p in (self.data_dir, *self.sim.hidden_paths)}
        # One cover for a directory and what is inside it (a cover hides the inner one's).
        outer = [p for p in paths if not any(q in p.parents for q in paths)]
        return sorted(p for p in outer if p.is_dir())

    # ------------------------------------------------------------ helpers
    @property
    def api_ip(self) -> str:
        try:
            ip = ipaddress.ip_address(self.sim.host)
        except ValueError:
            return "127.0.0.1"
        return "127.0.0.1" if ip.is_unspecified else str(ip)

    def _view(self, uid: str) -> dict:
        """The freshest stored version of the pod (status included)."""
        st = self.pods[uid]
        m = st.pod["metadata"]
        cur = self.sim.store.peek(self.sim.api.rt("", "pods"), m["namespace"], m["name"])
        return cur if cur is not None and cur["metadata"]["uid"] == uid else st.pod

    def _host_ip(self, pod: dict) -> str:
        node = self.sim.store.peek(
            self.sim.api.rt("", "nodes"), "", pod["spec"].get("nodeName", "")
        )
        for a in ((node or {}).get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                return a["address"]
        return "127.0.0.1"

    # ------------------------------------------------------------ pods
    async def prepare_pod(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        await self.cleanup_pod(pod, keep_dir=True)  # a retry starts over
        pod_dir = self.data_dir / "pods" / uid
        (pod_dir / "containers").mkdir(parents=True, exist_ok=True)
        vols = PodVolumes(
            self.sim,
            pod,
            pod_dir,
            lambda: self._view(uid),
            lambda: [self.pods[uid].ip],
            lambda: [self.pods[uid].host_ip],
        )
        st = PodState(
            pod,
            pod_dir,
            self.sim.allocate_pod_ip(uid),
            self._host_ip(pod),
            vols,
            pod_dir / "etc-hosts",
            pod_dir / "kubeconfig",
        )
        self.pods[uid] = st
        try:
            vols.setup()
        except Exception:
            vols.close()
            self.pods.pop(uid, None)
            raise
        st.listener = vols.on_event
        self.sim.store.listeners.append(st.listener)
        kubectl_delivery.deliver(pod, vols.paths)
        (pod_dir / "etc-hostname").write_text(dns.uts_hostname(pod) + "\n")
        await self.sim._start_tls()  # pods reach the API over https, as kubectl requires
        self._write_kubeconfig(st)
        self.hosts.register(uid, st.ip, st.hosts)

    def _write_kubeconfig(self, st: PodState) -> None:
        m = st.pod["metadata"]
        sa = st.pod["spec"].get("serviceAccountName") or "default"
        token = st.volumes.token_path()
        user = {"tokenFile": str(token)} if token else {}
        cluster = {
            "server": f"https://{self.api_ip}:{self.sim.tls_port}",
            "certificate-authority-data": ca_data(),
        }
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubesim", "cluster": cluster}],
            "users": [{"name": sa, "user": user}],
            "contexts": [
                {
                    "name": "kubesim",
                    "context": {"cluster": "kubesim", "user": sa, "namespace": m["namespace"]},
                }
            ],
            "current-context": "kubesim",
        }
        st.kubeconfig.write_text(yaml.safe_dump(cfg, sort_keys=False))

    async def cleanup_pod(self, pod: dict, keep_dir: bool = False) -> None:
        st = self.pods.pop(pod["metadata"]["uid"], None)
        if st is None:
            return
        st.volumes.close()
        if st.listener in self.sim.store.listeners:
            self.sim.store.listeners.remove(st.listener)
        for link, target in st.links:
            with contextlib.suppress(OSError):
                if link.is_symlink() and Path(os.readlink(link)) == target:
                    link.unlink()
        self.hosts.unregister(pod["metadata"]["uid"])
        if not keep_dir:
            shutil.rmtree(st.dir, ignore_errors=True)

    # ------------------------------------------------------------ containers
    def _env(self, st: PodState, pod: dict, c: dict) -> tuple[dict[str, str], dict[str, str]]:
        """(kubernetes-defined variables, full process environment)."""
        ns = pod["metadata"]["namespace"]
        svcs = list(self.sim.store.iter(self.sim.api.rt("", "services"), ns))
        kube = container_env(
            pod,
            c,
            get_secret=lambda n: self.sim.store.peek(self.sim.api.rt("", "secrets"), ns, n),
            get_configmap=lambda n: self.sim.store.peek(self.sim.api.rt("", "configmaps"), ns, n),
            services=service_env(pod, svcs, self.api_ip, self.sim.tls_port or self.sim.port),
            pod_ips=[st.ip],
            host_ips=[st.host_ip],
            allocatable=st.volumes.allocatable(),
        )
        bin_dir = str(Path(sys.executable).parent)
        path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        full = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
        full["PATH"] = f"{bin_dir}:{path}"
        if sys.prefix != sys.base_prefix:
            full["VIRTUAL_ENV"] = sys.prefix
        full["HOSTNAME"] = dns.uts_hostname(pod)
        if st.volumes.token_path():  # no token (automount off): no credentials, as on a node
            full["KUBECONFIG"] = str(st.kubeconfig)
        full.update(kube)
        return kube, full

    def _mounts(self, st: PodState, pod: dict, c: dict, kube_env: dict[str, str]) -> list[dict]:
        out = []
        for vm in c.get("volumeMounts") or []:
            src = st.volumes.paths.get(vm["name"])
            if src is None:
                raise RuntimeError(f'volume "{vm["name"]}" not found')
            sub = vm.get("subPath") or ""
            if vm.get("subPathExpr"):
                sub = expand(vm["subPathExpr"], kube_env.get)
            if sub:
                target = Path(os.path.realpath(src / sub))
                if not str(target).startswith(os.path.realpath(src)):
                    raise RuntimeError(f'subpath "{sub}" not within volume path "{src}"')
                if not target.exists():
                    target.mkdir(parents=True, exist_ok=True)
                src = target
            out.append(
                {
                    "name": vm["name"],
                    "src": str(src),
                    "dst": vm["mountPath"],
                    "dir": src.is_dir(),
                    "ro": bool(vm.get("readOnly")) or vm["name"] in st.volumes.read_only,
                }
            )
        return out

    async def start(
        self, pod: dict, container: dict, writer: LogWriter
    ) -> ProcessContainer | standins.StandIn:
        uid = pod["metadata"]["uid"]
        st = self.pods.get(uid)
        if st is None:
            raise RuntimeError("pod sandbox is not ready")
        pod = self._view(uid)
        operators = standins.stand_in(pod, container, st.hosts, writer)
        if operators is not None:
            return operators
        kube, env = self._env(st, pod, container)
        argv = expand_command(container, kube)
        if not argv:
            raise RuntimeError(
                f'container "{container["name"]}" has no command: kubesim\'s '
                "process runtime runs command+args on this machine and cannot "
                f'run the image "{container.get("image", "")}"'
            )
        mounts = self._mounts(st, pod, container, kube)
        cwd = container.get("workingDir") or str(st.dir)
        common: dict[str, Any] = {
            "stdin": subprocess.DEVNULL,
            "stdout": subprocess.PIPE,
            "stderr": subprocess.PIPE,
            "env": env,
            "start_new_session": True,
            "preexec_fn": die_with_parent,
        }
        if self.unshare:
            mounted = {m["dst"] for m in mounts}
            for dst, src in (("/etc/hosts", st.hosts), ("/etc/hostname", st.dir / "etc-hostname")):
                if dst not in mounted:
                    mounts.append({"src": str(src), "dst": dst, "dir": False, "ro": False})
            mounts.sort(key=lambda m: m["dst"].rstrip("/").count("/"))
            spec_file = st.dir / "containers" / f"{container['name']}.json"
            error_file = st.dir / "containers" / f"{container['name']}.error"
            error_file.unlink(missing_ok=True)
            spec_file.write_text(
                json.dumps(
                    {
                        "mounts": mounts,
                        "hostname": dns.uts_hostname(pod),
                        "cwd": cwd,
                        "argv": argv,
                        "error_file": str(error_file),
                        "prefix": RUNC_PREFIX,
                        "hide": [str(p) for p in self.hidden_paths()],
                        "keep": [str(st.dir.resolve())],
                        "rootfs": str(
                            st.dir.resolve() / "containers" / f"{container['name']}.rootfs"
                        ),
                    }
                )
            )
            proc = await asyncio.create_subprocess_exec(
                self.unshare,
                *UNSHARE_ARGS,
                sys.executable,
                "-I",
                "-S",
                podinit.__file__,
                str(spec_file),
                **common,
            )
            return _exec_context(ProcessContainer(proc, writer, error_file), env, cwd)
        self._link_mounts(st, mounts)
        Path(cwd).mkdir(parents=True, exist_ok=True)
        try:
            proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, **common)
        except OSError as e:
            a = argv[0]
            why = (
                "executable file not found in $PATH"
                if isinstance(e, FileNotFoundError) and "/" not in a
                else e.strerror or str(e)
            )
            return ProcessContainer(
                None, writer, start_error=f'{RUNC_PREFIX}exec: "{a}": {why}: unknown'
            )
        return _exec_context(ProcessContainer(proc, writer), env, cwd)

    def _link_mounts(self, st: PodState, mounts: list[dict]) -> None:
        """No mount namespace: mount points become symlinks where nothing exists yet."""
        for m in mounts:
            dst, src = Path(m["dst"]), Path(m["src"])
            if any(lk == dst for lk, _ in st.links):
                continue  # linked by another container of this pod
            if os.path.lexists(dst):
                if m["dst"].rstrip("/") == TOKEN_MOUNT:
                    continue  # every pod has it; KUBECONFIG gives API access instead
                raise RuntimeError(
                    f'cannot mount volume "{m["name"]}" at {dst}: the path exists on this '
                    "machine and kubesim runs without mount namespaces (isolation mode "
                    "'none'; run as root with util-linux unshare to get real mounts)"
                )
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, dst)
            st.links.append((dst, src))


def _exec_context(handle: ProcessContainer, env: dict[str, str], cwd: str) -> ProcessContainer:
    """What ``exec`` into this container runs with (:mod:`kubesim.kubelet.exec`)."""
    handle.exec_env, handle.exec_cwd = env, cwd
    return handle
