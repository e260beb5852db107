"""kubesim.kubelet.dns: per-pod hosts files standing in for cluster DNS."""

from __future__ import annotations

import os
from pathlib import Path

from kubesim.kubelet.dns import hosts_file, managed_hosts, pod_hostname, write_in_place


def pod(
    name: str,
    ns: str = "team",
    ip: str | None = None,
    ready: bool = True,
    labels: dict | None = None,
    created: str = "2024-01-01T00:00:00Z",
    **spec,
) -> dict:
    status: dict = {}
    if ip:
        status = {
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        }
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels or {},
            "creationTimestamp": created,
        },
        "spec": spec,
        "status": status,
    }


def svc(
    name: str, ns: str = "team", selector: dict | None = None, headless: bool = False, **spec
) -> dict:
    return {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": selector, "clusterIP": "None" if headless else "10.96.0.9", **spec},
    }


def lines(text: str) -> dict[str, str]:
    """name -> ip (first match wins, as the resolver does)."""
    out: dict[str, str] = {}
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            ip, *names = ln.split()
            for n in names:
                out.setdefault(n, ip)
    return out


def test_kubelet_managed_part() -> None:
    p = pod(
        "web-0",
        hostname="web-0",
        subdomain="web",
        hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a", "b"]}],
    )
    text = managed_hosts(p, ["127.1.0.5"])
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "127.1.0.5\tweb-0.web.team.svc.cluster.local\tweb-0\n" in text
    assert text.endswith("\n# Entries added by HostAliases.\n1.2.3.4\ta\tb\n")
    assert pod_hostname(pod("x" * 70)) == ("x" * 63, "")


def test_headless_service_names_and_pod_hostnames() -> None:
    server = pod("server", ip="127.1.0.7", labels={"app": "s"}, hostname="srv", subdomain="grp")
    other = pod("other", ip="127.1.0.8", labels={"app": "s"}, created="2024-02-01T00:00:00Z")
    me = pod("client", ip="127.1.0.9")
    services = [svc("grp", selector={"app": "s"}, headless=True)]
    names = lines(hosts_file(me, ["127.1.0.9"], [server, other, me], services, "127.0.0.1"))
    assert names["client"] == "127.1.0.9"
    assert names["srv.grp"] == "127.1.0.7"
    assert names["srv.grp.team.svc.cluster.local"] == "127.1.0.7"
    assert names["srv.grp.team.svc"] == "127.1.0.7"
    assert names["grp"] == "127.1.0.7"  # oldest ready pod first
    assert names["grp.team.svc.cluster.local"] == "127.1.0.7"
    assert names["kubernetes.default.svc.cluster.local"] == "127.0.0.1"
    assert "kubernetes" not in names  # short name only inside "default"

    # From another namespace only qualified names resolve.
    far = pod("far", ns="elsewhere", ip="127.1.0.10")
    names = lines(hosts_file(far, ["127.1.0.10"], [server, far], services, None))
    assert "srv.grp" not in names and "grp" not in names
    assert names["srv.grp.team"] == "127.1.0.7"
    assert names["grp.team.svc"] == "127.1.0.7"


def test_only_ready_selected_pods_are_published() -> None:
    unready = pod(
        "a", ip="127.1.0.2", ready=False, labels={"app": "x"}, hostname="h", subdomain="x"
    )
    no_ip = pod("b", labels={"app": "x"})
    services = [svc("x", selector={"app": "x"}, headless=True), svc("plain", selector={"app": "x"})]
    names = lines(hosts_file(no_ip, ["127.1.0.3"], [unready, no_ip], services, None))
    assert "x" not in names and "h.x" not in names and "plain" not in names

    services.append(svc("nr", selector={"app": "x"}, headless=True, publishNotReadyAddresses=True))
    ready = pod("c", ip="127.1.0.4", labels={"app": "x"}, created="2025-01-01T00:00:00Z")
    names = lines(hosts_file(no_ip, ["127.1.0.3"], [unready, ready], services, None))
    assert names["nr"] == "127.1.0.2"
    assert names["plain"] == "127.1.0.4"  # ClusterIP service -> a ready pod's IP
    # A pod whose subdomain names no headless Service gets no record (as with CoreDNS).
    lone = pod("lone", ip="127.1.0.6", hostname="h2", subdomain="nosvc")
    assert "h2.nosvc" not in lines(hosts_file(no_ip, [], [lone], services, None))


def test_write_in_place_keeps_inode(tmp_path: Path) -> None:
    f = tmp_path / "hosts"
    assert write_in_place(f, "a long first version\n")
    ino = os.stat(f).st_ino
    assert write_in_place(f, "short\n")
    assert f.read_text() == "short\n"
    assert os.stat(f).st_ino == ino
    assert not write_in_place(f, "short\n")
