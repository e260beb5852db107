"""Fixtures for the notebook-side tests (magics and widgets) against kubesim.

alice's namespace and notebook pod are made exactly as TeamSpawner makes them
(``tests.jobs.jobs_support``), and every client acts as her notebook's ServiceAccount.
kubesim's instant kubelet runs pods at once; ``scripted`` puts its script annotations
(``kubesim.io/logs``, ``kubesim.io/exit-code``) on every job pod, the way a test tells that
kubelet what a container prints and how it ends (it does not run the code).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from teamhub.jobs.api import Jobs
from teamhub.jobs.backends.base import Backend
from teamhub.jobs.client import JobsClient

from kubesim.sim import KubeSim
from tests.conftest import running_kubesim
from tests.hub.teams_fixtures import base
from tests.jobs.jobs_support import NS, POD, notebook, provision


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of the test's own: archived logs (``~/.teamhub/job-logs``) land here."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def kubesim(tmp_path: Path) -> Iterator[KubeSim]:
    """A fresh kubesim per test that serves Kueue's LocalQueues (alice's team has one)."""
    with running_kubesim(tmp_path, kueue=True) as sim:
        yield sim


#: The vision team waits in this Kueue ClusterQueue: alice has the LocalQueue ``vision``.
CLUSTER_QUEUE = "teamhub-team-vision"


@pytest.fixture
def kubeconfig(kubesim, tmp_path: Path, home: Path) -> Path:
    cfg = base()
    cfg["teams"]["vision"]["clusterQueue"] = CLUSTER_QUEUE
    return provision(kubesim, notebook(config=cfg), tmp_path)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Annotations added to every job pod template (fill in before submitting)."""
    annotations: dict[str, str] = {}
    original = Backend.pod_template

    def pod_template(self: Backend, ctx: Any, **kwargs: Any) -> dict[str, Any]:
        template = original(self, ctx, **kwargs)
        template["metadata"]["annotations"].update(annotations)
        return template

    monkeypatch.setattr(Backend, "pod_template", pod_template)
    return annotations


@pytest_asyncio.fixture
async def client(kubeconfig: Path):
    """An async jobs client on the test's loop (the kernel's loop, in a notebook)."""
    from teamhub import widgets

    c = await JobsClient.connect(kubeconfig=kubeconfig, namespace=NS, pod_name=POD)
    try:
        yield c
    finally:
        await widgets.shutdown()
        await c.close()


@pytest_asyncio.fixture
async def facade(kubeconfig: Path):
    """The blocking jobs API, as notebook code and the magics use it."""
    from teamhub import widgets

    jobs = Jobs(kubeconfig=kubeconfig, namespace=NS, pod_name=POD)
    try:
        yield jobs
    finally:
        await widgets.shutdown()
        await asyncio.get_running_loop().run_in_executor(None, jobs.close)
