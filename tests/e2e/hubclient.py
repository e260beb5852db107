"""A browser-like HTTP client for the local stack: real OIDC login, hub REST API calls with
the hub's XSRF protection, and requests to single-user servers through the proxy."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

import requests

TIMEOUT = 30


class HubClient:
    """One user's browser session against the stack's public URL (the proxy)."""

    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")
        self.session = requests.Session()
        self.name: str | None = None

    # ------------------------------------------------------------ login
    def login(self, sub: str) -> requests.Response:
        """The OIDC authorization-code flow, as a browser does it: the hub's
        ``/hub/oauth_login`` redirects to the provider's authorize form; submitting the
        form with ``sub`` redirects back to ``/hub/oauth_callback``, which sets the hub
        cookies and redirects to ``/hub/home``. Returns the final response."""
        form = self.session.get(
            self.base + "/hub/oauth_login", params={"next": "/hub/home"}, timeout=TIMEOUT
        )
        form.raise_for_status()
        if urlparse(form.url).path != "/oauth2/authorize":
            raise AssertionError(f"expected the provider's authorize form, got {form.url}")
        final = self.session.post(form.url, data={"sub": sub}, timeout=TIMEOUT)
        me = self.api("GET", "/user")
        if me.status_code == 200:
            self.name = me.json()["name"]
        return final

    @property
    def xsrf(self) -> str:
        return self.session.cookies.get("_xsrf", path="/hub/") or ""

    # ------------------------------------------------------------ hub API
    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A hub REST API call authenticated by the login cookie (``/hub/api`` + path)."""
        headers = {"X-XSRFToken": self.xsrf, **kwargs.pop("headers", {})}
        return self.session.request(
            method, self.base + "/hub/api" + path, headers=headers, timeout=TIMEOUT, **kwargs
        )

    def new_token(self, note: str = "e2e") -> str:
        r = self.api("POST", f"/users/{self.name}/tokens", json={"note": note})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def start_server(self, timeout: float = 60) -> dict:
        """Start the default server through the REST API and wait until the hub says it
        is ready; returns the server's model."""
        r = self.api("POST", f"/users/{self.name}/server")
        assert r.status_code in (201, 202), f"{r.status_code} {r.text}"
        deadline = time.monotonic() + timeout
        while True:
            model = self.api("GET", f"/users/{self.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            if not server or not server.get("pending"):
                raise AssertionError(f"server of {self.name} is neither pending nor ready: {model}")
            if time.monotonic() > deadline:
                raise AssertionError(f"server of {self.name} not ready after {timeout}s: {model}")
            time.sleep(0.25)

    def stop_server(self, timeout: float = 60) -> None:
        """Stop the default server and wait until the hub no longer lists it."""
        r = self.api("DELETE", f"/users/{self.name}/server")
        assert r.status_code in (202, 204), f"{r.status_code} {r.text}"
        deadline = time.monotonic() + timeout
        while self.api("GET", f"/users/{self.name}").json().get("servers"):
            if time.monotonic() > deadline:
                raise AssertionError(f"server of {self.name} still listed after {timeout}s")
            time.sleep(0.25)

    # ------------------------------------------------------------ through the proxy
    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET a path of the public URL (e.g. ``/user/alice/api``) with this session."""
        return self.session.get(self.base + path, timeout=TIMEOUT, **kwargs)
