"""Pod names and addresses without cluster DNS: a generated ``/etc/hosts`` per pod.

Networking model of the ``process`` runtime: every pod gets its own loopback address
(``status.podIP``, e.g. ``127.1.0.7``; all of 127/8 reaches ``lo`` on Linux), but pods
share the host's network stack. A server is reachable *at its pod IP* only if it binds to
it (or to 0.0.0.0); two pods can both listen on port 8888 only when each binds to its own
pod IP. There is no kube-proxy: a Service has no working ClusterIP, so a Service *name*
resolves directly to the IP of one ready pod it selects, and a connection works only when
the Service's ``port`` equals the ``targetPort`` the pod listens on.

Names resolve through ``/etc/hosts`` (the runtime bind-mounts each pod's own file over
``/etc/hosts`` in the pod's private mount namespace). Because a hosts file cannot express
search domains, each pod gets its own file, whose short names are those of its namespace:

- the kubelet's own content (``localhost``, the pod's hostname/FQDN, ``hostAliases``);
- ``kubernetes``, ``kubernetes.default[.svc[.cluster.local]]`` -> kubesim's API address;
- each Service with a selector: ``<svc>.<ns>.svc.cluster.local``, ``<svc>.<ns>.svc``,
  ``<svc>.<ns>`` (and ``<svc>`` in the pod's own namespace) -> its first ready selected pod
  (oldest first; not-ready pods too with ``publishNotReadyAddresses``);
- for a headless Service (``clusterIP: None``) ``S``, each selected pod with
  ``spec.hostname`` H and ``spec.subdomain`` S: ``H.S.<ns>.svc.cluster.local``,
  ``H.S.<ns>.svc``, ``H.S.<ns>`` (and ``H.S`` in its own namespace) -> that pod, as
  CoreDNS answers (it needs the Service, as on a real cluster).

The files are rewritten *in place* (same inode) when pods or Services change, so the bind
mounts see the change at once. Without a mount namespace (fallback mode) the processes
see the host's ``/etc/hosts`` and must use IPs (``status.podIP``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"
HEADER = "# Kubernetes-managed hosts file.\n"


def pod_hostname(pod: Obj) -> tuple[str, str]:
    """(hostname, domain) as ``GeneratePodHostNameAndDomain``; domain "" without subdomain."""
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    hostname = spec.get("hostname") or meta["name"]
    if len(hostname) > 63:
        hostname = hostname[:63].rstrip("-.")
    domain = ""
    if spec.get("subdomain"):
        domain = f"{spec['subdomain']}.{meta.get('namespace', '')}.svc.{CLUSTER_DOMAIN}"
    return hostname, domain


def uts_hostname(pod: Obj) -> str:
    """The kernel hostname of the pod's containers (FQDN with ``setHostnameAsFQDN``)."""
    host, domain = pod_hostname(pod)
    if domain and (pod.get("spec") or {}).get("setHostnameAsFQDN"):
        return f"{host}.{domain}"
    return host


def pod_ips(pod: Obj) -> list[str]:
    st = pod.get("status") or {}
    ips = [p["ip"] for p in st.get("podIPs") or [] if p.get("ip")]
    return ips or ([st["podIP"]] if st.get("podIP") else [])


def is_ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp") or not pod_ips(pod):
        return False
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def selects(selector: dict[str, str] | None, pod: Obj) -> bool:
    if not selector:
        return False
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def managed_hosts(pod: Obj, ips: list[str]) -> str:
    """The kubelet's ``managedHostsFileContent`` for ``pod``."""
    host, domain = pod_hostname(pod)
    lines = [
        HEADER,
        "127.0.0.1\tlocalhost\n",
        "::1\tlocalhost ip6-localhost ip6-loopback\n",
        "fe00::0\tip6-localnet\n",
        "fe00::0\tip6-mcastprefix\n",
        "fe00::1\tip6-allnodes\n",
        "fe00::2\tip6-allrouters\n",
    ]
    for ip in ips:
        lines.append(f"{ip}\t{host}.{domain}\t{host}\n" if domain else f"{ip}\t{host}\n")
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if aliases:
        lines.append("\n# Entries added by HostAliases.\n")
        for a in aliases:
            lines.append(f"{a.get('ip', '')}\t{chr(9).join(a.get('hostnames') or [])}\n")
    return "".join(lines)


def _names(base: list[str], ns: str, viewer_ns: str) -> list[str]:
    """``base`` = [short, ...] -> FQDN, .svc, .<ns> forms (+ short in the same namespace)."""
    short = ".".join(base)
    names = [f"{short}.{ns}.svc.{CLUSTER_DOMAIN}", f"{short}.{ns}.svc", f"{short}.{ns}"]
    if ns == viewer_ns:
        names.append(short)
    return names


def _age(pod: Obj) -> tuple[str, str]:
    return pod["metadata"].get("creationTimestamp", ""), pod["metadata"]["name"]


def cluster_entries(
    viewer_ns: str, pods: list[Obj], services: list[Obj], api_ip: str | None
) -> list[tuple[str, list[str]]]:
    """(ip, names) lines standing in for cluster DNS, as seen from ``viewer_ns``."""
    out: list[tuple[str, list[str]]] = []
    if api_ip:
        out.append((api_ip, _names(["kubernetes"], "default", viewer_ns)))
    by_ns: dict[str, list[Obj]] = {}
    for p in sorted(pods, key=_age):
        by_ns.setdefault(p["metadata"].get("namespace", ""), []).append(p)
    for svc in sorted(
        services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])
    ):
        spec, ns = svc.get("spec") or {}, svc["metadata"].get("namespace", "")
        name = svc["metadata"]["name"]
        if spec.get("type") == "ExternalName" or (ns == "default" and name == "kubernetes"):
            continue
        nready = bool(spec.get("publishNotReadyAddresses"))
        backends = [
            p
            for p in by_ns.get(ns, [])
            if selects(spec.get("selector"), p)
            and (
                is_ready(p)
                or (nready and pod_ips(p) and not p["metadata"].get("deletionTimestamp"))
            )
        ]
        if not backends:
            continue
        out.append((pod_ips(backends[0])[0], _names([name], ns, viewer_ns)))
        if spec.get("clusterIP") == "None":
            for p in backends:
                ps = p.get("spec") or {}
                if ps.get("hostname") and ps.get("subdomain") == name:
                    out.append((pod_ips(p)[0], _names([ps["hostname"], name], ns, viewer_ns)))
    return out


def hosts_file(
    pod: Obj, ips: list[str], pods: list[Obj], services: list[Obj], api_ip: str | None
) -> str:
    """The whole ``/etc/hosts`` of ``pod`` (whose own IPs are ``ips``)."""
    text = managed_hosts(pod, ips)
    entries = cluster_entries(pod["metadata"].get("namespace", ""), pods, services, api_ip)
    if entries:
        text += "\n# Cluster names (kubesim stands in for cluster DNS).\n"
        text += "".join(f"{ip}\t{' '.join(names)}\n" for ip, names in entries)
    return text


def write_in_place(path: Path, content: str) -> bool:
    """Rewrite ``path`` keeping its inode (bind mounts of it see the new content).

    Returns whether anything changed. Not atomic: a reader may see a half-written file
    for an instant, as with the real kubelet's in-place writes.
    """
    data = content.encode()
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
        if f.read() == data:
            return False
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    return True


def _dns_key(pod: Obj | None) -> Any:
    """What of a pod can change other pods' hosts files."""
    if pod is None:
        return None
    m, s = pod["metadata"], pod.get("spec") or {}
    return (
        m.get("labels"),
        bool(m.get("deletionTimestamp")),
        pod_ips(pod),
        is_ready(pod),
        s.get("hostname"),
        s.get("subdomain"),
    )


class HostsFiles:
    """Keeps the hosts file of every running pod current, following store events.

    ``view(uid)`` returns the freshest pod object. Subscribed to the store only while some
    pod is registered; bursts of events are coalesced into one rewrite per loop turn.
    """

    def __init__(self, sim: Any, api_ip: Callable[[], str], view: Callable[[str], Obj]) -> None:
        self.sim = sim
        self.api_ip = api_ip
        self.view = view
        self.files: dict[str, tuple[str, Path]] = {}  # uid -> (pod IP, hosts file)
        self._dirty = False

    def register(self, uid: str, ip: str, path: Path) -> None:
        self.files[uid] = (ip, path)
        if self.on_event not in self.sim.store.listeners:
            self.sim.store.listeners.append(self.on_event)
        self.refresh()

    def unregister(self, uid: str) -> None:
        self.files.pop(uid, None)
        if not self.files and self.on_event in self.sim.store.listeners:
            self.sim.store.listeners.remove(self.on_event)

    def on_event(self, ev: Any) -> None:
        if ev.rt.key == ("", "pods"):
            if ev.type == "MODIFIED" and _dns_key(ev.obj) == _dns_key(ev.old):
                return
        elif ev.rt.key != ("", "services"):
            return
        if not self._dirty:
            self._dirty = True
            asyncio.get_running_loop().call_soon(self.refresh)

    def refresh(self) -> None:
        self._dirty = False
        pods = list(self.sim.store.iter(self.sim.api.rt("", "pods")))
        services = list(self.sim.store.iter(self.sim.api.rt("", "services")))
        for uid, (ip, path) in list(self.files.items()):
            text = hosts_file(self.view(uid), [ip], pods, services, self.api_ip())
            with contextlib.suppress(OSError):
                write_in_place(path, text)
