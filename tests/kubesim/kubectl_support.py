"""The real kubectl against kubesim: a runner (``Kubectl``), the module-scoped kubesim
(instant kubelet) and kubectl fixtures, and helpers to read kubectl's tables. Imported by
the test_kubectl_*.py modules; each gets its own kubesim."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kubesim.sim import KubeSim
from tests.kubesim.helpers import kubectl_path, wait_for


class Kubectl:
    """Runs kubectl with a kubeconfig for kubesim's https endpoint."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.exe = kubectl_path()
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(cache)}

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.exe, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.exe, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def many(self, *commands: tuple[str, ...]) -> list[str]:
        """The stdout of several read-only commands, run side by side (keeps this fast)."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return [p.stdout for p in pool.map(lambda c: self(*c), commands)]


@pytest.fixture(scope="module", name="sim")
def kubectl_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    d = tmp_path_factory.mktemp("kubectl")
    s = KubeSim(kubelet="instant", data_dir=d / "kubesim").start()
    s.kubectl_config = s.write_kubeconfig(d / "kubeconfig", tls=True)  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module", name="kubectl")
def kubectl_runner(sim: KubeSim, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(sim.kubectl_config, tmp_path_factory.mktemp("kubectl-cache"))  # type: ignore[attr-defined]


# ------------------------------------------------------------------- helpers
def header(text: str) -> list[str]:
    """The column names of kubectl's table output (names may contain one space)."""
    return re.findall(r"\S+(?: \S+)*", text.splitlines()[0])


def rows(text: str) -> list[dict[str, str]]:
    """kubectl's table output as dicts: each cell starts under its column's name."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    spans = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    out = []
    for ln in lines[1:]:
        row = {}
        for i, (start, name) in enumerate(spans):
            end = spans[i + 1][0] if i + 1 < len(spans) else None
            row[name] = ln[start:end].strip()
        out.append(row)
    return out


def by_name(text: str, column: str = "NAME") -> dict[str, dict[str, str]]:
    return {r[column]: r for r in rows(text)}


def namespace(sim: KubeSim, name: str) -> str:
    sim.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_for(lambda: sim.lookup("serviceaccounts", name, "default"), what=f"{name}'s default SA")
    return name


def pod(name: str, ns: str, *, labels: dict | None = None, **annotations: str) -> dict:
    """A pod of one ``main`` container; ``annotations`` script the instant kubelet."""
    ann = {f"kubesim.io/{k.replace('_', '-')}": v for k, v in annotations.items()}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}, "annotations": ann},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11"}],
        },
    }


def phase(sim: KubeSim, ns: str, name: str) -> str:
    p = sim.lookup("pods", ns, name)
    return ((p or {}).get("status") or {}).get("phase", "")


def running(sim: KubeSim, ns: str, *names: str) -> None:
    for n in names:
        wait_for(lambda n=n: phase(sim, ns, n) == "Running", what=f"pod {ns}/{n} running")


AGE = re.compile(r"\d+s|\d+m(\d+s)?")


@pytest.fixture(scope="module", name="tables_ns")
def kubectl_tables_ns(sim: KubeSim) -> str:
    """A namespace holding one object of each kind the table tests print."""
    ns = namespace(sim, "tables")
    sim.apply(pod("web", ns, labels={"app": "web", "tier": "front"}))
    sim.apply(pod("db", ns, labels={"app": "db"}))
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": ns},
            "data": {"a": "1", "b": "2"},
        }
    )
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": ns},
            "stringData": {"token": "t0ken"},
        }
    )
    sim.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "reader", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        }
    )
    sim.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "default", "namespace": ns},
                {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
            ],
        }
    )
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": ns},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
    )
    running(sim, ns, "web", "db")
    wait_for(
        lambda: (
            (sim.lookup("persistentvolumeclaims", ns, "data") or {}).get("status", {}).get("phase")
            == "Bound"
        ),
        what="pvc bound",
    )
    return ns
