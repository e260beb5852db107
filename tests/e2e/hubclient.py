"""A browser-like HTTP client for the local stack: real OIDC login, hub REST API calls with
the hub's XSRF protection, spawn progress, and requests to single-user servers through the
proxy (including jupyter-server's contents API, to look at files inside a notebook pod)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlparse

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

    def start_server(self, options: dict | None = None, timeout: float = 120) -> dict:
        """Start the default server through the REST API (with ``options`` as its
        user_options; without, JupyterHub reuses the last ones) and wait until the hub
        says it is ready; returns the server's model."""
        kwargs = {} if options is None else {"json": options}
        r = self.api("POST", f"/users/{self.name}/server", **kwargs)
        assert r.status_code in (201, 202), f"{r.status_code} {r.text}"
        return self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120) -> dict:
        """Wait until the hub says the default server is ready; returns its model."""
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

    def progress(self, timeout: float = 60) -> list[dict]:
        """The default server's spawn progress events, read from the hub's event stream
        (``/hub/api/users/<name>/server/progress``) until the ready or failed event.

        Call it while a spawn is under way (e.g. from another thread than the one whose
        POST starts it): until the spawn is registered the hub answers 400, which is
        retried. Uses its own connection, with this session's cookies."""
        url = f"{self.base}/hub/api/users/{self.name}/server/progress"
        deadline = time.monotonic() + timeout
        while True:
            with requests.get(
                url, cookies=self.session.cookies.copy(), stream=True, timeout=timeout
            ) as r:
                if r.status_code == 200:
                    events = []
                    for line in r.iter_lines(decode_unicode=True):
                        if line and line.startswith("data:"):
                            events.append(json.loads(line[len("data:") :]))
                            if events[-1].get("ready") or events[-1].get("failed"):
                                return events
                    return events
                if r.status_code != 400 or time.monotonic() > deadline:
                    raise AssertionError(f"progress of {self.name}: {r.status_code} {r.text}")
            time.sleep(0.05)

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

    # ------------------------------------------------------------ inside the server
    @property
    def server_token(self) -> str:
        """A hub API token of this user (created once), which the user's single-user
        server accepts."""
        if not getattr(self, "_server_token", None):
            self._server_token = self.new_token("e2e contents")
        return self._server_token

    def contents(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """jupyter-server's contents API of this user's server, through the proxy. ``path``
        is relative to the server's root directory (``/`` in the demo)."""
        url = f"{self.base}/user/{self.name}/api/contents/{quote(path.lstrip('/'))}"
        headers = {"Authorization": f"token {self.server_token}"}
        return requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)

    def read_text(self, path: str) -> str:
        """A text file inside the server (asserts it is there)."""
        r = self.contents("GET", path, params={"type": "file", "format": "text"})
        assert r.status_code == 200, f"{self.name}: GET {path}: {r.status_code} {r.text}"
        return r.json()["content"]

    def write_text(self, path: str, text: str) -> requests.Response:
        """PUT a text file inside the server; returns the response (201/200 if written)."""
        body = {"type": "file", "format": "text", "content": text}
        return self.contents("PUT", path, json=body)
