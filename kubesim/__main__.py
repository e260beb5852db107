"""``python -m kubesim serve --kubeconfig PATH [--port N] [--kubelet instant|process]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubesim", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run a local Kubernetes API + kubelet until interrupted")
    serve.add_argument(
        "--kubeconfig",
        required=True,
        type=Path,
        help="where to write a kubeconfig for the admin user",
    )
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    serve.add_argument(
        "--kubelet",
        choices=("instant", "process"),
        default="process",
        help="instant: pods Run at once; process: run containers as processes",
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where volumes and logs live (default: a temporary directory)",
    )
    serve.add_argument("--k8s-version", default="1.37", help="Kubernetes version to validate as")
    serve.add_argument(
        "--event-loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop kubesim serves on (default: uvloop, the cheaper per request)",
    )
    serve.add_argument("--gpu-node", action="store_true", help="add a node with 2 nvidia.com/gpu")
    serve.add_argument(
        "--kueue",
        action="store_true",
        help="serve Kueue's LocalQueue API (kueue.x-k8s.io/v1beta1; no Kueue controllers)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from kubesim.sim import DEFAULT_NODES, KubeSim, tune_gc_for_serving

    nodes = list(DEFAULT_NODES)
    if args.gpu_node:
        nodes.append({"name": "kubesim-gpu-1", "gpus": 2})
    sim = KubeSim(
        kubelet=args.kubelet,
        port=args.port,
        data_dir=args.data_dir,
        k8s_version=args.k8s_version,
        nodes=nodes,
        kueue=args.kueue,
        event_loop=args.event_loop,
    )
    sim.start()
    tune_gc_for_serving()  # this process is kubesim's alone
    # https: kubectl (client-go) only sends a bearer token over TLS.
    path = sim.write_kubeconfig(args.kubeconfig, tls=True)
    print(
        f"kubesim {args.k8s_version} serving at {sim.tls_url} "
        f"(kubelet: {args.kubelet}, event loop: {args.event_loop})"
    )
    print(f"kubeconfig written to {path}; try:")
    print(f"  export KUBECONFIG={path.resolve()}")
    print("  kubectl get nodes")
    print("Ctrl-C stops kubesim and every process it started.", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("stopping kubesim...", flush=True)
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
