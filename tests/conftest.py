"""Shared fixtures: a running kubesim and clients pointed at it; the session's local stack
(tests/stack_support.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kubesim.sim import KubeSim
from tests.kubesim.helpers import kubectl_path
from tests.stack_support import (  # noqa: F401  (the session's local stack, for e2e and ui)
    pytest_runtest_makereport,
    stack,
    stack_options,
)


@contextmanager
def running_kubesim(tmp_path: Path, **options: Any) -> Iterator[KubeSim]:
    """A started kubesim (instant kubelet unless ``options`` say otherwise) with its
    kubeconfig at ``sim.kubeconfig``, stopped on exit."""
    sim = KubeSim(**{"kubelet": "instant", **options}, data_dir=tmp_path / "kubesim").start()
    sim.kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")  # type: ignore[attr-defined]
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def kubesim(tmp_path: Path) -> Iterator[KubeSim]:
    """A fresh kubesim (instant kubelet) per test, with its kubeconfig at ``sim.kubeconfig``."""
    with running_kubesim(tmp_path) as sim:
        yield sim


@pytest.fixture
def kubectl(kubesim: KubeSim, tmp_path: Path):
    """Run the real kubectl against kubesim: ``kubectl("get", "pods", "-o", "json")``.

    Over https: kubectl sends a bearer token only over TLS."""
    import subprocess

    exe = kubectl_path()
    kubeconfig = kubesim.write_kubeconfig(tmp_path / "kubectl-kubeconfig", tls=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

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
