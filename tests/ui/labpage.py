"""A user's JupyterLab in the browser, as the tests drive it: the hub's real login (the
provider's authorize form), the spawn form, and teamhub's Jobs sidebar, submit dialog and
job views. Every step waits on what the page shows (Playwright's auto-waiting locators and
``expect``), never on time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Error, Locator, Page, Request, Response, expect

#: How long a step may take on a busy machine (ms): spawning a server, starting JupyterLab,
#: pods starting and finishing.
SLOW = 120_000
#: Waits for what the page shows after a poll (ms): the sidebar backs off up to 30 s.
POLLED = 60_000

#: The notebook format the tests write notebooks in.
NOTEBOOK_META = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


@dataclass
class Lab:
    """``name``'s JupyterLab open in ``page``; ``base`` is the stack's public URL.

    It watches the page from the start: uncaught exceptions and error answers of
    teamhub's API go to ``problems``; every URL of teamhub's API the page asked for to
    ``api_calls``."""

    page: Page
    base: str
    name: str
    problems: list[str] = field(default_factory=list)
    api_calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("pageerror", self._on_error)
        self.page.on("request", self._on_request)
        self.page.on("response", self._on_response)

    @property
    def api_root(self) -> str:
        return f"{self.base}/user/{self.name}/teamhub/api/"

    def _on_error(self, error: Error) -> None:
        self.problems.append(f"uncaught in the page: {error}\n{error.stack}")

    def _on_request(self, request: Request) -> None:
        if request.url.startswith(self.api_root):
            self.api_calls.append(request.url)

    def _on_response(self, response: Response) -> None:
        if response.url.startswith(self.api_root) and response.status >= 400:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    # ------------------------------------------------------------ hub
    def login(self) -> None:
        """The hub's login page, then the provider's authorize form with the user's
        subject: the browser ends up with the hub's cookies, on the spawn form."""
        page = self.page
        page.goto(f"{self.base}/hub/login?next=/hub/spawn/{self.name}")
        page.get_by_role("button", name="Sign in with").click()
        page.wait_for_url("**/oauth2/authorize**")
        page.fill('input[name="sub"]', self.name)
        page.get_by_role("button", name="Authorize").click()
        page.wait_for_url(f"**/hub/spawn/{self.name}", timeout=SLOW)

    def start_server(self, profile: str = "cpu") -> None:
        """Chooses ``profile`` on the spawn form and starts; returns once JupyterLab has
        started (its launcher or a document is shown)."""
        page = self.page
        page.check(f'input[name="profile"][value="{profile}"]')
        page.get_by_role("button", name="Start").click()
        page.wait_for_url(f"**/user/{self.name}/lab**", timeout=SLOW)
        expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SLOW)
        # JupyterLab is ready once its left sidebar lists teamhub's panels.
        expect(self.sidebar_tab("teamhub-jobs-sidebar")).to_be_visible(timeout=SLOW)

    # ------------------------------------------------------------ JupyterLab
    def sidebar_tab(self, panel_id: str) -> Locator:
        return self.page.locator(f'.jp-SideBar .lm-TabBar-tab[data-id="{panel_id}"]')

    def show_panel(self, panel_id: str) -> Locator:
        """Opens a left-sidebar panel (if it is not shown already); returns the panel."""
        panel = self.page.locator(f"#{panel_id}")
        if not panel.is_visible():
            self.sidebar_tab(panel_id).click()
        expect(panel).to_be_visible()
        return panel

    @property
    def jobs(self) -> Locator:
        return self.page.locator("#teamhub-jobs-sidebar")

    def row(self, job: str) -> Locator:
        """The Jobs sidebar's row of ``job``."""
        return self.jobs.locator(f'li[data-job="{job}"]')

    def badge(self, job: str) -> Locator:
        return self.row(job).locator(".teamhub-badge")

    def detail(self, job: str) -> Locator:
        """The job's detail view in the main area."""
        return self.page.locator(f'[id="teamhub-job-{job}"]')

    def log_lines(self, job: str) -> Locator:
        """The job's log lines in sight (not the view's own notices)."""
        return self.detail(job).locator(".teamhub-LogView-line:not(.teamhub-LogView-notice)")

    @property
    def dialog(self) -> Locator:
        return self.page.locator(".jp-Dialog")

    def open_submit_dialog(self) -> Locator:
        """The Jobs sidebar's Submit button; returns the dialog's form."""
        self.show_panel("teamhub-jobs-sidebar")
        self.jobs.get_by_role("button", name="Submit a job").click()
        form = self.dialog.locator(".teamhub-SubmitForm")
        expect(form).to_be_visible()
        return form

    def fill_form(self, form: Locator, **values: str) -> None:
        """Sets form fields by name (``backend``, ``program``, ``workers``...)."""
        for name, value in values.items():
            control = form.locator(f'[name="{name}"]')
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(value)
            else:
                control.fill(value)

    def submit_dialog(self) -> None:
        """Presses the dialog's Submit and waits until it is gone (the job was created)."""
        self.dialog.get_by_role("button", name="Submit").click()
        expect(self.dialog).to_have_count(0, timeout=SLOW)

    def submit(self, **values: str) -> None:
        """Submits a job from the sidebar's dialog with these form values."""
        form = self.open_submit_dialog()
        self.fill_form(form, **values)
        self.submit_dialog()

    def confirm(self, action: str) -> None:
        """Accepts JupyterLab's confirmation dialog through its ``action`` button."""
        self.dialog.get_by_role("button", name=action, exact=True).click()
        expect(self.dialog).to_have_count(0)

    # ------------------------------------------------------------ the server's files
    def write_file(self, path: str, text: str) -> None:
        """Writes a file in the user's server through jupyter-server's contents API, from
        the page, as JupyterLab does (its cookies and XSRF token). ``path`` is relative
        to the server's root (``/`` in the demo)."""
        status = self.page.evaluate(
            """async ([path, text]) => {
                const config = JSON.parse(
                    document.getElementById('jupyter-config-data').textContent);
                const xsrf = document.cookie.split('; ')
                    .find(c => c.startsWith('_xsrf='))?.slice('_xsrf='.length) ?? '';
                const url = config.baseUrl + 'api/contents/' +
                    path.split('/').map(encodeURIComponent).join('/');
                const r = await fetch(url, {
                    method: 'PUT',
                    headers: {'Content-Type': 'application/json',
                              'X-XSRFToken': decodeURIComponent(xsrf)},
                    body: JSON.stringify({type: 'file', format: 'text', content: text}),
                });
                return r.status;
            }""",
            [path, text],
        )
        assert status in (200, 201), f"writing {path} through the contents API: {status}"

    def write_notebook(self, path: str, *cells: str) -> None:
        """Writes a notebook of code cells."""
        nb = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": NOTEBOOK_META,
            "cells": [
                {
                    "cell_type": "code",
                    "id": f"cell-{i}",
                    "metadata": {},
                    "source": source,
                    "outputs": [],
                    "execution_count": None,
                }
                for i, source in enumerate(cells)
            ],
        }
        self.write_file(path, json.dumps(nb))

    def dismiss_notifications(self) -> None:
        """Answers JupyterLab's own toasts (e.g. whether to fetch Jupyter news: no) so they
        do not cover what a screenshot shows."""
        toasts = self.page.locator(".Toastify__toast")
        for toast in toasts.all():
            no = toast.get_by_role("button", name="No", exact=True)
            (no if no.count() else toast.locator(".Toastify__close-button")).click()
        expect(toasts).to_have_count(0)

    def screenshot(self, path: Path, target: Locator | None = None) -> None:
        """Saves the whole window (or ``target``, e.g. a dialog) as a PNG."""
        if target is None:
            self.dismiss_notifications()
        path.parent.mkdir(parents=True, exist_ok=True)
        (target or self.page).screenshot(path=str(path))

    def open_file(self, path: str) -> None:
        """Opens a file of the home folder from JupyterLab's file browser (refreshed
        first: the file may be new)."""
        self.show_panel("filebrowser")
        browser = self.page.locator("#filebrowser")
        browser.locator('[data-command="filebrowser:refresh"]').click()
        browser.locator(".jp-DirListing-itemText", has_text=path).dblclick()
