"""teamhub in JupyterLab, in a real browser against the real local stack.

erin (vision) logs in through the hub's login page and the identity provider's authorize
form, starts her server from the spawn form and works in JupyterLab (in definition order,
sharing her page): a 2-rank job submitted from the Jobs sidebar's dialog turns Running then
Succeeded in the sidebar, and its log view shows both ranks' lines, with a line of markup
shown as text; a job asking for more GPUs than any node has stays Pending with the
scheduler's reason; a running job is cancelled from the sidebar; the notebook toolbar's
button submits the current cell (the brief wait for its code ConfigMap is no warning once the
pods ran); the Team panel shows her team's volumes, credentials and what she uses of her quota.

The tests save the screenshots the README shows (``docs/images/``) every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, expect
from teamhub_hub.demo import LocalStack

from tests.e2e.conftest import login
from tests.stack_support import UI_USER
from tests.ui.labpage import POLLED, SLOW, Lab

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
#: A log line of markup that would run script if it were ever parsed as HTML.
XSS_LINE = '<img src=x onerror="window.__xss=1">'
#: The file the 2-rank job waits for (relative to the server's root, ``/``): the test
#: writes it once it has seen the job Running.
GATE = "home/jovyan/ui-gate-two-ranks"
#: Characters of the long line each rank prints.
WIDE = 400
RANKS_COMMAND = (
    'echo "rank $RANK of $WORLD_SIZE starting"; '
    f"echo '{XSS_LINE}'; "
    f'echo "rank $RANK wide $(head -c {WIDE} /dev/zero | tr "\\0" x) end"; '
    f"while [ ! -e /{GATE} ]; do sleep 0.2; done; "
    'echo "rank $RANK done"'
)
#: A notebook cell the toolbar button submits: Python code every rank runs.
CELL = "import os\n\nprint(f\"hello from rank {os.environ['RANK']} of a cell\", flush=True)\n"
#: Where a long line of the log view is, once scrolled to its end (see the test).
WIDE_LINE_GEOMETRY = """view => {
    const row = [...view.querySelectorAll('.teamhub-LogView-line')]
        .find(r => r.textContent.includes('rank 0 wide'));
    const text = row.lastChild;
    const end = document.createRange();
    end.setStart(text, text.length - 3);
    end.setEnd(text, text.length);
    const v = view.getBoundingClientRect();
    return {
        viewLeft: v.left, viewRight: v.left + view.clientWidth,
        prefixLeft: row.querySelector('.teamhub-LogView-replica').getBoundingClientRect().left,
        endLeft: end.getBoundingClientRect().left, endRight: end.getBoundingClientRect().right,
    };
}"""

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def lab(browser: Browser, stack: LocalStack) -> Iterator[Lab]:
    """erin logged in through the browser, her server started from the spawn form, and
    JupyterLab open. Her server is stopped afterwards."""
    context = browser.new_context(viewport={"width": 1360, "height": 820})
    page = context.new_page()
    page.set_default_timeout(30_000)
    lab = Lab(page, stack.public_url, UI_USER)
    try:
        lab.login()
        lab.start_server()
        yield lab
    finally:
        context.close()
        login(stack, UI_USER).stop_server()


def test_a_two_rank_job_runs_and_shows_every_ranks_log(lab: Lab) -> None:
    page = lab.page
    form = lab.open_submit_dialog()
    # The demo hub does not use Kueue: erin has no queue to choose, so the field is hidden
    # (and the request leaves `queue` out).
    expect(form.locator('[name="queue"]')).to_be_hidden()
    expect(form.locator('[name="queue"]')).to_be_disabled()
    lab.fill_form(form, backend="indexed", program=RANKS_COMMAND, workers="2", name="two-ranks")
    lab.screenshot(IMAGES / "submit-dialog.png", lab.dialog.locator(".jp-Dialog-content"))
    lab.submit_dialog()

    expect(lab.badge("two-ranks")).to_have_text("Running", timeout=SLOW)
    expect(lab.row("two-ranks").locator(".teamhub-JobsSidebar-replicas")).to_have_text(
        "2/2 ready", timeout=POLLED
    )
    # The job's view opened on submit; its merged log follows both ranks while they run.
    lines = lab.log_lines("two-ranks")
    expect(lines.filter(has_text="[rank-0] rank 0 of 2 starting")).to_be_visible(timeout=SLOW)
    expect(lines.filter(has_text="[rank-1] rank 1 of 2 starting")).to_be_visible()

    lab.write_file(GATE, "go")
    expect(lab.badge("two-ranks")).to_have_text("Succeeded", timeout=SLOW)
    expect(lab.row("two-ranks").locator(".teamhub-JobsSidebar-replicas")).to_have_text(
        "2/2 succeeded"
    )
    expect(lines.filter(has_text="[rank-0] rank 0 done")).to_be_visible(timeout=SLOW)
    expect(lines.filter(has_text="[rank-1] rank 1 done")).to_be_visible()

    # The markup line is text: shown as its characters, never an element, never run.
    view = lab.detail("two-ranks").locator(".teamhub-LogView")
    for rank in (0, 1):
        expect(lines.filter(has_text=f"[rank-{rank}] {XSS_LINE}")).to_be_visible()
    assert view.locator("img").count() == 0
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("() => window.__xss") is None
    lab.screenshot(IMAGES / "job-logs.png")

    # A long line scrolls sideways to its end, with its rank still in sight at the left.
    assert view.evaluate("v => v.scrollWidth > v.clientWidth")
    view.evaluate("v => { v.scrollLeft = v.scrollWidth; }")
    at = view.evaluate(WIDE_LINE_GEOMETRY)
    assert at["viewLeft"] <= at["endLeft"] < at["endRight"] <= at["viewRight"] + 1, at
    assert abs(at["prefixLeft"] - at["viewLeft"]) <= 2, at

    # One rank's tab shows that rank's lines only, without prefixes.
    lab.detail("two-ranks").get_by_role("tab", name="rank-1").click()
    expect(lines.first).to_have_text("rank 1 of 2 starting", timeout=SLOW)
    wide = f"rank 1 wide {'x' * WIDE} end"
    expect(lines).to_have_text(["rank 1 of 2 starting", XSS_LINE, wide, "rank 1 done"])


def test_a_job_no_node_can_run_shows_the_schedulers_reason(lab: Lab) -> None:
    # The demo's GPU node has 2 GPUs; vision has no quota, so the API accepts 4.
    lab.submit(backend="indexed", program="nvidia-smi", workers="1", gpus="4", name="many-gpus")
    expect(lab.badge("many-gpus")).to_have_text("Pending: Unschedulable", timeout=SLOW)
    why = lab.row("many-gpus").locator(".teamhub-JobsSidebar-why")
    expect(why).to_contain_text("Insufficient nvidia.com/gpu", timeout=POLLED)
    expect(why).to_contain_text("0/3 nodes are available")

    detail = lab.detail("many-gpus")
    expect(detail.locator(".teamhub-JobDetail-pending")).to_contain_text(
        "Insufficient nvidia.com/gpu", timeout=POLLED
    )
    # Warnings open the events timeline by themselves.
    event = detail.locator(".teamhub-JobDetail-events li", has_text="FailedScheduling")
    expect(event).to_be_visible(timeout=POLLED)
    expect(event).to_contain_text("Insufficient nvidia.com/gpu")


def test_a_running_job_is_cancelled_from_the_sidebar(lab: Lab) -> None:
    lab.submit(
        backend="indexed", program='echo "waiting"; sleep 600', workers="1", name="long-sleep"
    )
    expect(lab.badge("long-sleep")).to_have_text("Running", timeout=SLOW)
    expect(lab.log_lines("long-sleep").filter(has_text="waiting")).to_be_visible(timeout=SLOW)

    lab.row("long-sleep").get_by_role("button", name="Cancel job long-sleep").click()
    lab.confirm("Cancel job")
    expect(lab.badge("long-sleep")).to_have_text("Cancelled", timeout=SLOW)
    expect(
        lab.row("long-sleep").get_by_role("button", name="Cancel job long-sleep")
    ).to_be_disabled()

    # The sidebar with a job of each outcome, beside the pending job's view.
    for job, text in (("two-ranks", "Succeeded"), ("many-gpus", "Pending: Unschedulable")):
        expect(lab.badge(job)).to_have_text(text)
    lab.row("many-gpus").locator(".teamhub-JobsSidebar-name").click()
    expect(lab.detail("many-gpus")).to_be_visible()
    lab.screenshot(IMAGES / "jobs-sidebar.png")


def test_the_notebook_button_submits_the_active_cell(lab: Lab) -> None:
    page = lab.page
    lab.write_notebook("home/jovyan/cell-job.ipynb", 'print("not this cell")', CELL)
    lab.open_file("cell-job.ipynb")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    cell = notebook.locator(".jp-CodeCell").nth(1)
    expect(cell).to_contain_text("hello from rank", timeout=SLOW)
    cell.locator(".jp-InputArea-editor").click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))

    notebook.locator('.jp-Toolbar-item[data-jp-item-name="teamhub-submit"]').click()
    form = lab.dialog.locator(".teamhub-SubmitForm")
    expect(form).to_be_visible(timeout=SLOW)
    expect(form.get_by_label("What to run", exact=True)).to_have_value("source")
    expect(form.locator('[name="program"]')).to_have_value(CELL)
    lab.fill_form(form, workers="2", name="cell-job")
    lab.screenshot(IMAGES / "submit-cell.png", lab.dialog.locator(".jp-Dialog-content"))
    lab.submit_dialog()

    # The job's view opened; the sidebar (it polls only while shown) lists it too.
    expect(lab.detail("cell-job").locator(".teamhub-badge")).to_have_text("Succeeded", timeout=SLOW)
    # A pod that met the job's code ConfigMap missing for a moment (the library creates it
    # right after the Job) started anyway: that event is shown muted, not as a warning.
    code_missing = 'configmap "cell-job.job" not found'
    warnings = lab.detail("cell-job").locator(".teamhub-event-warning", has_text=code_missing)
    expect(warnings).to_have_count(0)
    lab.show_panel("teamhub-jobs-sidebar")
    expect(lab.badge("cell-job")).to_have_text("Succeeded", timeout=SLOW)
    lines = lab.log_lines("cell-job")
    for rank in (0, 1):
        line = lines.filter(has_text=f"[rank-{rank}] hello from rank {rank} of a cell")
        expect(line).to_be_visible(timeout=SLOW)


def test_the_team_panel_shows_erins_team(lab: Lab) -> None:
    panel = lab.show_panel("teamhub-team-panel")
    expect(panel.get_by_role("list", name="Teams")).to_have_text("vision", timeout=SLOW)
    volumes = panel.get_by_role("list", name="Volumes")
    expect(volumes).to_contain_text("/teams/vision/data")
    expect(volumes.locator("li", has_text="/teams/vision/models")).to_contain_text("read-only")
    expect(panel.get_by_role("list", name="Credentials")).to_contain_text("s3")
    # vision has no quota; what erin's pods take is shown against it (her notebook at least).
    quota = panel.get_by_role("table", name="Quota: in use now of each limit")
    expect(quota.locator("thead")).to_contain_text("Used / limit")
    expect(quota.locator('tr[data-resource="pods"] td')).to_have_text(
        re.compile(r"^[1-9]\d* / no limit$")
    )
    expect(quota.locator('tr[data-resource="cpu"] td')).to_have_text(
        re.compile(r"^\d+(\.\d+)? / no limit$")
    )
    lab.screenshot(IMAGES / "team-panel.png")
    lab.show_panel("teamhub-jobs-sidebar")


#: The relative luminance (WCAG) of the colour an element shows: its own, or the first
#: ancestor's with one for a transparent background.
LUMINANCE = r"""
(el, prop) => {
  let node = el, value = getComputedStyle(node)[prop];
  while (prop === 'backgroundColor' && node && /rgba\(.*, 0\)$|transparent/.test(value)) {
    node = node.parentElement;
    value = node ? getComputedStyle(node)[prop] : 'rgb(255, 255, 255)';
  }
  const [r, g, b] = value.match(/[\d.]+/g).slice(0, 3).map(Number).map(c => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
"""


def contrast(text: Locator, background: Locator) -> float:
    """The WCAG contrast ratio of ``text``'s colour on ``background``'s."""
    fg = text.evaluate(LUMINANCE, "color")
    bg = background.evaluate(LUMINANCE, "backgroundColor")
    hi, lo = max(fg, bg), min(fg, bg)
    return (hi + 0.05) / (lo + 0.05)


def choose_theme(lab: Lab, theme: str) -> None:
    lab.page.locator(".lm-MenuBar-itemLabel").get_by_text("Settings", exact=True).click()
    lab.page.locator(".lm-Menu-itemLabel").get_by_text("Theme", exact=True).click()
    lab.page.locator(".lm-Menu-itemLabel").get_by_text(theme, exact=True).click()
    light = "true" if "Light" in theme else "false"
    expect(lab.page.locator("body")).to_have_attribute("data-jp-theme-light", light, timeout=SLOW)


def test_the_panels_follow_the_dark_theme(lab: Lab) -> None:
    """Theme-aware: under JupyterLab Dark the Jobs panel and the job view take the theme's
    dark background, and job names, badges and log lines keep readable contrast."""
    choose_theme(lab, "JupyterLab Dark")
    try:
        panel = lab.show_panel("teamhub-jobs-sidebar")
        name = lab.row("two-ranks").locator(".teamhub-JobsSidebar-name")
        assert panel.evaluate(LUMINANCE, "backgroundColor") < 0.1
        assert contrast(name, panel) >= 4.5
        badge = lab.badge("two-ranks")
        assert contrast(badge, badge) >= 3
        name.click()
        line = lab.log_lines("two-ranks").first
        expect(line).to_be_visible(timeout=SLOW)
        assert contrast(line, lab.detail("two-ranks").locator(".teamhub-LogView")) >= 4.5
        lab.screenshot(IMAGES / "job-logs-dark.png")
    finally:
        choose_theme(lab, "JupyterLab Light")


def test_the_page_met_no_error_and_kept_jupyterlabs_request_defaults(lab: Lab) -> None:
    """Over everything above: nothing uncaught in the page, no error answer from teamhub's
    API, and the extension's requests carry JupyterLab's ``?<timestamp>`` cache-buster
    (its default ``cache: 'no-store'``), which the API accepts."""
    assert lab.problems == []
    assert len(lab.api_calls) > 20, lab.api_calls
    busted = [u for u in lab.api_calls if re.search(r"[?&]\d{10,}$", u)]
    assert len(busted) == len(lab.api_calls), set(lab.api_calls) - set(busted)
    assert any("/logs?" in u and "follow=true&" in u for u in busted), busted
