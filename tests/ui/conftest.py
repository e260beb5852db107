"""Browser fixtures: Debian's Chromium (``/usr/bin/chromium``, headless) driven by Playwright
against the real local stack of the end-to-end tests (kubesim with the process kubelet,
oidc-provider-mock, configurable-http-proxy, JupyterHub with teamhub).

The stack is the session's one (tests/stack_support.py), shared with the end-to-end
tests; its identity provider also knows ``erin`` (vision), the user these tests log in as,
so nothing they do (servers, jobs) meets what the end-to-end tests assume about the demo
users.

No browser is ever downloaded: Playwright (the Python package, driver only) launches the
system Chromium; ``./dev test`` installs Debian's ``chromium`` when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: Headless Chromium without anything that talks to the network on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./dev test does)")
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()
