"""``python -m kubesim serve``: serves the API over https with a kubeconfig that kubectl's
clients accept, keeps its start-up objects out of full garbage collections, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client, config


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


def test_freeze_startup_objects_takes_them_out_of_the_collector() -> None:
    # In a process of its own: it changes the collector for the whole process.
    code = (
        "import gc\n"
        "from kubesim.sim import KubeSim, freeze_startup_objects\n"
        "sim = KubeSim(kubelet='instant').start()\n"
        "before = gc.get_freeze_count()\n"
        "freeze_startup_objects()\n"
        "print(before, gc.get_freeze_count())\n"
        "sim.stop()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert before == 0 and after > 50_000, out  # the OpenAPI schemas alone are ~150 000
