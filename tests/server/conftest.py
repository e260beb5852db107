"""Fixtures for the server-extension tests: pytest-jupyter's server fixtures (``jp_fetch``,
``jp_serverapp``...) with the teamhub extension enabled, against kubesim.

pytest-jupyter normally runs async tests itself, on its own event loop (its vendored
pytest-tornasync hooks), which does not mix with pytest-asyncio's strict mode: a test
marked ``@pytest.mark.asyncio`` would run on pytest-asyncio's loop while the server
listens on pytest-jupyter's. So here its fixtures are imported without its two collection
and call hooks, and ``jp_asyncio_loop`` *is* the loop pytest-asyncio runs the test on:
the server, ``jp_fetch`` and the test share one loop, and async tests are marked
``@pytest.mark.asyncio`` as everywhere else in this repository.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pytest_jupyter.jupyter_server import *  # noqa: F403  (the fixtures)

from tests.jobs.jobs_support import NS, POD, notebook, provision

# Not pytest-jupyter's hooks: pytest-asyncio runs the (marked) async tests.
del pytest_pycollect_makeitem, pytest_pyfunc_call  # type: ignore[name-defined]  # noqa: F821


@pytest_asyncio.fixture
async def jp_asyncio_loop() -> Any:
    """The test's own loop (pytest-asyncio's), for pytest-jupyter's fixtures."""
    yield asyncio.get_running_loop()


@pytest.fixture
def jp_base_url() -> str:
    """As JupyterHub serves alice's default server."""
    return "/user/alice/"


@pytest.fixture
def notebook_kubeconfig(kubesim: Any, tmp_path: Path) -> Path:
    """alice's namespace and notebook pod in kubesim, as TeamSpawner makes them; a
    kubeconfig acting as the notebook's ServiceAccount."""
    return provision(kubesim, notebook(), tmp_path)


@pytest.fixture
def teamhub_config(notebook_kubeconfig: Path) -> dict[str, Any]:
    """``c.TeamhubExtension`` settings: where the notebook pod is and how to reach it."""
    return {"kubeconfig": str(notebook_kubeconfig), "namespace": NS, "pod_name": POD}


@pytest.fixture
def jp_server_config(teamhub_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"teamhub": True}},
        "TeamhubExtension": teamhub_config,
    }
