"""The log tabs and HTML fragments, without a cluster: bounded scrollback, tab order,
escaping (log text is never markup), the image choices of the submit form."""

from __future__ import annotations

import pytest
from teamhub.jobs.entitlements import Entitlements
from teamhub.jobs.logs import LogLine
from teamhub.jobs.status import JobStatus
from teamhub.widgets import fields as F
from teamhub.widgets import render
from teamhub.widgets.logview import MERGED, LogView

XSS = "<img src=x onerror=alert(1)>"


def line(replica: str, text: str, **kw) -> LogLine:
    return LogLine(replica=replica, pod=f"pod-{replica}", container="job", text=text, **kw)


@pytest.mark.asyncio
async def test_tabs_keep_only_the_last_lines_in_rank_order():
    view = LogView(max_lines=3, render_interval=10)
    for i in range(10):
        view.append(line("worker-10", f"w10 {i}"))
    view.append(line("worker-2", "w2 only"))
    view.append(line("master-0", "m0 only"))
    assert view.tabs.titles == (MERGED, "master-0", "worker-2", "worker-10")
    assert view.replicas == ["master-0", "worker-2", "worker-10"]
    assert view.lines("worker-10") == ["w10 7", "w10 8", "w10 9"]
    assert view.lines() == ["[worker-10] w10 9", "[worker-2] w2 only", "[master-0] m0 only"]
    # Rendering waits for the throttle; flush() renders now.
    assert "w10 9" not in view.views["worker-10"].value
    view.flush()
    value = view.views["worker-10"].value
    assert "w10 7\nw10 8\nw10 9" in value and "w10 6" not in value
    assert "7 earlier lines not kept here" in value
    assert "earlier" not in view.views["master-0"].value
    assert "[master-0] m0 only" in view.merged.value
    view.clear()
    assert view.lines() == [] and "w10" not in view.merged.value
    assert view.replicas == ["master-0", "worker-2", "worker-10"]
    view.close()


@pytest.mark.asyncio
async def test_log_text_is_escaped_never_markup():
    view = LogView(render_interval=10)
    view.append(line("rank-0", XSS))
    view.append(line("rank-0", "a & b \"quoted\" 'single' </pre><script>x()</script>"))
    view.flush()
    for value in (view.merged.value, view.views["rank-0"].value):
        assert "<img" not in value and "<script" not in value
        assert "&lt;img src=x onerror=alert(1)&gt;" in value
        assert "&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;" in value
        assert "a &amp; b &quot;quoted&quot; &#x27;single&#x27;" in value
        assert value.count("<pre") == 1 and value.count("</pre>") == 1
    view.close()


@pytest.mark.asyncio
async def test_long_lines_are_cut_and_containers_named():
    view = LogView(max_line_chars=10, render_interval=10)
    view.append(line("rank-0", "x" * 25))
    view.append(line("rank-0", "from the sidecar", show_container=True))
    assert view.lines("rank-0") == ["x" * 10 + "… [15 more chars]", "[job] from… [12 more chars]"]
    assert view.lines()[1] == "[rank-0/jo… [19 more chars]"
    view.close()


@pytest.mark.asyncio
async def test_rendering_is_throttled_then_happens():
    view = LogView(render_interval=0.05)
    view.append(line("rank-0", "later"))
    assert "later" not in view.merged.value
    import asyncio

    await asyncio.sleep(0.2)
    assert "later" in view.merged.value and "later" in view.views["rank-0"].value
    view.close()


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="max_lines must be a whole number >= 1, got 0"):
        LogView(max_lines=0)


def test_badges_and_messages_escape_what_they_show():
    html = render.badge("Pending", XSS)
    assert "<img" not in html and "&lt;img" in html and "Pending" in html
    st = JobStatus(phase="Pending", reason="Unschedulable", message=f"rank-0: {XSS}; rank-1: ok")
    msg = render.status_message(st)
    assert "<img" not in msg and "rank-0: &lt;img" in msg and "<br>rank-1: ok" in msg
    assert render.replicas_text(JobStatus(phase="Running", ready=1, total=2)) == (
        "1/2 replicas ready"
    )
    assert render.error(XSS).count("<") == 2  # only the span's own tags


def test_replica_order_is_numeric_and_coordinators_first():
    names = ["worker-10", "worker-2", "launcher", "master-0", "rank-1", "odd-pod-name"]
    assert sorted(names, key=render.replica_key) == [
        "launcher",
        "master-0",
        "worker-2",
        "worker-10",
        "rank-1",
        "odd-pod-name",
    ]


NB_IMAGE = "quay.io/jupyter/scipy-notebook:2025-01-01"


def test_image_choices_follow_the_entitlements():
    # Any image allowed: free text, empty means the notebook's image.
    w = F.image_widget(Entitlements(images=None), NB_IMAGE)
    assert type(w).__name__ == "Text" and w.value == "" and w.placeholder == NB_IMAGE
    # Only exact images: a dropdown of exactly those, the notebook's first.
    ents = Entitlements(images=("registry.example.org/train:1", NB_IMAGE))
    w = F.image_widget(ents, NB_IMAGE)
    assert type(w).__name__ == "Dropdown"
    assert list(w.options) == [
        (f"{NB_IMAGE} (this notebook's)", NB_IMAGE),
        ("registry.example.org/train:1", "registry.example.org/train:1"),
    ]
    assert w.value == NB_IMAGE and not w.disabled
    # The notebook's image is not allowed: it is not offered.
    w = F.image_widget(Entitlements(images=("registry.example.org/train:1",)), NB_IMAGE)
    assert [v for _, v in w.options] == ["registry.example.org/train:1"]
    # Patterns: suggestions (only allowed ones), free text checked as typed.
    ents = Entitlements(images=("quay.io/jupyter/*", "registry.example.org/x:2"))
    w = F.image_widget(ents, NB_IMAGE)
    assert type(w).__name__ == "Combobox" and not w.ensure_option
    assert list(w.options) == [NB_IMAGE, "registry.example.org/x:2"]
    # Nothing allowed: an empty, disabled dropdown.
    w = F.image_widget(Entitlements(images=()), NB_IMAGE)
    assert list(w.options) == [] and w.disabled


def test_key_value_lines():
    assert F.parse_pairs("A=1\n\n# note\n  B=two=2 \nC=\n", "KEY=value") == (
        {"A": "1", "B": "two=2", "C": ""},
        [],
    )
    assert F.parse_pairs("A=1\nnonsense\n=x", "KEY=value")[1] == [
        "line 2: 'nonsense' is not KEY=value",
        "line 3: '=x' is not KEY=value",
    ]
