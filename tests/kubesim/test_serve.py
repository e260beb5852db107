"""``python -m kubesim serve``: serves the API over https with a kubeconfig that kubectl's
clients accept, sets up the garbage collector for serving (start-up objects frozen, young
collections less often), and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client, config

from kubesim.sim import SERVING_GC_THRESHOLD0, KubeSim


def test_serve_answers_over_https_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim",
            "serve",
            "--kubeconfig",
            str(kubeconfig),
            "--kubelet",
            "instant",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "kubesim serve wrote no kubeconfig in 60 s"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but let the writer close it
        api = config.new_client_from_config(str(kubeconfig))
        assert api.configuration.host.startswith("https://")
        nodes = client.CoreV1Api(api).list_node()
        assert {n.metadata.name for n in nodes.items} >= {"kubesim-node-1", "kubesim-node-2"}
        api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "stopping kubesim" in out
    assert "event loop: uvloop" in out  # a process of its own: the cheaper loop


def test_the_event_loop_is_chosen_and_checked(tmp_path: Path) -> None:
    import asyncio

    import pytest
    import uvloop

    with pytest.raises(ValueError, match="event_loop must be one of asyncio, uvloop"):
        KubeSim(event_loop="trio")
    for name, expected in (("asyncio", asyncio.BaseEventLoop), ("uvloop", uvloop.Loop)):
        sim = KubeSim(kubelet="instant", event_loop=name).start()
        try:
            assert isinstance(sim.call(asyncio.get_running_loop), expected)
            api = config.new_client_from_config(str(sim.write_kubeconfig(tmp_path / name)))
            pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
            client.CoreV1Api(api).create_namespaced_pod("default", pod)
            deadline = time.monotonic() + 10
            while client.CoreV1Api(api).read_namespaced_pod("p", "default").status.phase != (
                "Running"
            ):
                assert time.monotonic() < deadline, f"no Running pod on {name}"
                time.sleep(0.05)
            api.close()
        finally:
            sim.stop()


def test_tune_gc_for_serving_freezes_startup_objects_and_collects_less_often() -> None:
    # In a process of its own: it changes the collector for the whole process.
    code = (
        "import gc\n"
        "from kubesim.sim import KubeSim, tune_gc_for_serving\n"
        "sim = KubeSim(kubelet='instant').start()\n"
        "before = gc.get_freeze_count(), gc.get_threshold()[0]\n"
        "tune_gc_for_serving()\n"
        "print(*before, gc.get_freeze_count(), gc.get_threshold()[0])\n"
        "sim.stop()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    frozen_before, threshold_before, frozen, threshold = map(int, out)
    assert frozen_before == 0 and frozen > 50_000, out  # the OpenAPI schemas alone: ~150 000
    assert threshold_before == 700 and threshold == SERVING_GC_THRESHOLD0, out
