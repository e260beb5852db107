"""The magics and the monitor widget in a real ipykernel (as JupyterLab 4 / Notebook 7 run
them), talking to kubesim: ``%%job`` shows the widget (a widget-view display and comm
models, core ipywidgets only), the kernel keeps answering while the widget follows the
job, and the widget's updates reach the front-end as comm messages — the log text
escaped, the status live."""

from __future__ import annotations

import json
import os
import textwrap
import time
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

from tests.jobs.jobs_support import NS, POD

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SETUP = """
import teamhub.jobs.api
from teamhub.jobs.backends.base import Backend
teamhub.jobs.api.configure(kubeconfig={kubeconfig!r}, namespace={ns!r}, pod_name={pod!r})
_original = Backend.pod_template
def _scripted(self, ctx, **kw):  # kubesim's instant kubelet: what each pod prints
    t = _original(self, ctx, **kw)
    t["metadata"]["annotations"]["kubesim.io/logs"] = "hello <b>world</b>\\n"
    return t
Backend.pod_template = _scripted
%load_ext teamhub
%config JobMagics.poll_interval = 0.1
"""


class Kernel:
    def __init__(self, env: dict[str, str]) -> None:
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=60)
        self.iopub: list[dict[str, Any]] = []

    def execute(self, code: str, timeout: float = 30) -> dict[str, Any]:
        """Run a cell; its execute_reply (iopub messages are kept in ``self.iopub``)."""
        msg_id = self.kc.execute(code)
        while True:  # skip replies to earlier requests (kernel_info at start-up)
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        self.wait_for(  # the cell's output all comes before its "idle" status
            lambda msgs: any(
                m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"
                and m["parent_header"].get("msg_id") == msg_id
                for m in msgs
            ),
            timeout,
            "the cell's output",
        )
        return reply["content"]

    def drain(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                self.iopub.append(self.kc.get_iopub_msg(timeout=remaining))
            except Exception:  # queue.Empty
                return

    def wait_for(self, predicate: Any, timeout: float = 20, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate(self.iopub)
            if found:
                return found
            self.drain(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def widget_states(msgs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each widget model's state as the front-end would hold it (opens, then updates)."""
    models: dict[str, dict[str, Any]] = {}
    for m in msgs:
        content = m["content"]
        if m["msg_type"] == "comm_open" and content.get("target_name") == "jupyter.widget":
            models[content["comm_id"]] = dict(content["data"]["state"])
        elif m["msg_type"] == "comm_msg" and content["data"].get("method") == "update":
            models.setdefault(content["comm_id"], {}).update(content["data"]["state"])
    return models


def html_values(msgs: list[dict[str, Any]]) -> list[str]:
    return [
        s.get("value", "")
        for s in widget_states(msgs).values()
        if s.get("_model_name") == "HTMLModel"
    ]


@pytest.mark.timeout(90)
def test_job_magic_in_a_real_kernel(kubesim, kubeconfig, tmp_path):
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    kernel = Kernel(env)
    try:
        setup = SETUP.format(kubeconfig=str(kubeconfig), ns=NS, pod=POD)
        assert kernel.execute(textwrap.dedent(setup))["status"] == "ok"
        reply = kernel.execute("%%job --workers 2 --name live\nprint('hello')\n")
        assert reply["status"] == "ok", reply
        shown = [
            m
            for m in kernel.iopub
            if m["msg_type"] == "display_data" and WIDGET_VIEW in m["content"]["data"]
        ]
        assert len(shown) == 1, "the monitor is displayed as a widget view"
        model_id = shown[0]["content"]["data"][WIDGET_VIEW]["model_id"]
        assert widget_states(kernel.iopub)[model_id]["_model_name"] == "VBoxModel"

        # The kernel answers while the monitor follows a job that runs until cancelled.
        reply = kernel.execute("print(21 * 2)")
        assert reply["status"] == "ok"
        assert any(
            m["msg_type"] == "stream" and m["content"]["text"] == "42\n" for m in kernel.iopub
        )

        # The logs reach the front-end as widget updates, escaped.
        kernel.wait_for(
            lambda msgs: any(
                "[rank-1] hello &lt;b&gt;world&lt;/b&gt;" in v for v in html_values(msgs)
            ),
            what="the merged log in a widget update",
        )
        assert not any("<b>world" in v for v in html_values(kernel.iopub))
        kernel.wait_for(
            lambda msgs: any(
                s.get("value") == "2/2 replicas ready" for s in widget_states(msgs).values()
            ),
            what="the replicas label",
        )

        # Cancel from the widget (a button click, as the front-end sends it).
        reply = kernel.execute(
            "m = get_ipython().magics_manager.registry['JobMagics'].last_monitor\n"
            "m.cancel_button.click()"
        )
        assert reply["status"] == "ok"
        kernel.wait_for(
            lambda msgs: any(">Cancelled</span>" in v for v in html_values(msgs)),
            what="the Cancelled badge",
        )
        assert kubesim.lookup("configmaps", NS, "live.record") is not None
        archived = tmp_path / "home" / ".teamhub" / "job-logs" / "live" / "rank-0.log"
        assert archived.read_text() == "hello <b>world</b>\n"
        states = json.dumps(widget_states(kernel.iopub))
        assert "<img" not in states and "<b>world" not in states
    finally:
        kernel.stop()
