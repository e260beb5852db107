"""Helpers for the server-extension tests: calling the REST API through pytest-jupyter's
``jp_fetch`` without raising on error statuses, waiting on it, and a process-kubelet
kubesim with alice's notebook whose mounts are under a temporary directory (job pods run
as real processes there)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubesim.sim import KubeSim
from tests.jobs.process_support import process_notebook

needs_process_kubelet = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="job pods mount the notebook's volumes at their paths: needs kubesim's namespaces",
)


@dataclass
class Reply:
    code: int
    headers: Any
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    jp_fetch: Any,
    method: str,
    *path: str,
    body: Any = None,
    params: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Reply:
    """``METHOD /user/alice/teamhub/api/<path>``; the reply whatever its status."""
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = b""
    elif body is not None and not isinstance(body, str | bytes):
        body = json.dumps(body)
    r = await jp_fetch(
        "teamhub",
        "api",
        *path,
        method=method,
        body=body,
        params=params,
        raise_error=False,
        **kwargs,
    )
    return Reply(r.code, r.headers, r.body or b"")


async def until(fn: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    """Await ``fn()`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await fn()
        if got:
            return got
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {got!r})")
        await asyncio.sleep(0.05)


async def job_phase(jp_fetch: Any, name: str) -> dict[str, Any]:
    r = await call(jp_fetch, "GET", "jobs", name)
    assert r.code == 200, r.text
    return r.json


# Fixtures for modules whose jobs must really run (import them into the module: they
# replace the instant-kubelet ``kubesim`` and its notebook for that module).
@pytest.fixture(scope="module", name="kubesim")
def process_kubesim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    """A kubesim whose kubelet runs real processes, shared by the module's tests."""
    sim = KubeSim(kubelet="process", data_dir=tmp_path_factory.mktemp("sim")).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module", name="notebook_kubeconfig")
def process_notebook_kubeconfig(kubesim: KubeSim, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return process_notebook(kubesim, tmp_path_factory.mktemp("nb"))
