"""What one bare API request costs on this machine, client and server side.

`spawn.py` measures it next to each round's bursts, to say how much of a start's CPU is the
HTTP requests themselves, whatever the spawner does with them: a TeamSpawner start makes
16 requests where a KubeSpawner start makes 2, and every one costs the hub an aiohttp
client round trip and kubesim an aiohttp server round trip before either looks at the
object. The request here is one of teamhub's creates stripped to its transport: a JSON
body of the same size posted as ``restapi.session_request`` posts it (orjson, the same
headers and a total timeout, 16 in flight) to an aiohttp server on uvloop, as kubesim
serves, that reads the body and answers 201 with a small JSON body; nothing is validated,
stored or watched. The client runs on asyncio's default loop, as JupyterHub's does.

    python bench/request_cost.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import time
from typing import Any

import orjson

#: A namespaced create's body, about the size of teamhub's (a Role, a PVC ...).
BODY = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {
        "name": "team-vision-datasets",
        "namespace": "teamhub-user000",
        "labels": {
            "app.kubernetes.io/managed-by": "teamhub",
            "hub.teamhub.io/user": "user000",
            "hub.teamhub.io/team": "vision",
        },
    },
    "spec": {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": "",
        "volumeName": "teamhub-vision-datasets-user000",
    },
}
IN_FLIGHT = 16


def _serve(sock: socket.socket, ready: Any) -> None:
    import uvloop
    from aiohttp import web

    answer = orjson.dumps({**BODY, "status": {"phase": "Pending"}})

    async def create(request: web.Request) -> web.Response:
        orjson.loads(await request.read())
        return web.Response(body=answer, status=201, content_type="application/json")

    async def cpu(_: web.Request) -> web.Response:
        return web.json_response(time.process_time())

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/cpu", cpu)
        app.router.add_post("/{tail:.*}", create)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready.set()
        await asyncio.Event().wait()

    uvloop.run(main())


async def _client(url: str, n: int) -> tuple[float, float]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        limit = asyncio.Semaphore(IN_FLIGHT)
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": "Bearer token",
            "User-Agent": "bench",
        }

        async def one(i: int) -> None:
            async with limit:
                resp = await session.request(
                    "POST",
                    f"{url}/api/v1/namespaces/teamhub-user{i:03d}/persistentvolumeclaims",
                    data=orjson.dumps(BODY),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30),
                )
                try:
                    data = await resp.read()
                finally:
                    resp.release()
                orjson.loads(data)

        async def server_cpu() -> float:
            async with session.get(f"{url}/cpu") as resp:
                return float(await resp.json())

        await asyncio.gather(*(one(i) for i in range(min(n, 300))))  # connections, caches
        s0, c0 = await server_cpu(), time.process_time()
        await asyncio.gather(*(one(i) for i in range(n)))
        client = time.process_time() - c0
        server = await server_cpu() - s0
    return client / n, server / n


def measure(n: int = 3000) -> dict[str, float]:
    """CPU seconds per request: ``client`` (this process) and ``server`` (another)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=_serve, args=(sock, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the request-cost server did not start in 60 s")
        port = sock.getsockname()[1]
        client, served = asyncio.run(_client(f"http://127.0.0.1:{port}", n))
    finally:
        server.kill()
        server.join(10)
        sock.close()
    return {"client": client, "server": served}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args(argv)
    cost = measure(args.requests)
    print(
        f"one bare request ({os.cpu_count()} cores): client {cost['client'] * 1000:.3f} ms, "
        f"server {cost['server'] * 1000:.3f} ms of CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
