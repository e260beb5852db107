"""``pods/exec``: the API server's part of ``kubectl exec``, and the streams to the command.

**Checks, as kube-apiserver makes them.** The request is authorized like any other (``get``
for the WebSocket ``GET``, ``create`` for the SPDY ``POST``); since 1.35 a WebSocket upgrade
must *also* be allowed to ``create pods/exec`` (``AuthorizePodWebsocketUpgradeCreatePermission``,
KEP-4006), else the usual 403. Then the options (``command`` repeated, ``container``,
``stdin``/``stdout``/``stderr``/``tty`` as the API converts booleans: present and not
``0``/``false`` is true), the pod (404), the container (400 ``container x is not valid for pod
y``, or ``a container name must be specified ...``) and its node (400 ``pod y does not have a
host assigned``). A request that is no upgrade is a 400 ``Upgrade request required``.

**Streams.** kubectl (1.30+) asks for a WebSocket with subprotocol ``v5.channel.k8s.io`` and
falls back to SPDY/3.1 when the upgrade is refused (a 403 for lack of ``get pods/exec`` among
others). Each protocol is served as the cluster serves it:

- *WebSocket v5* is terminated by the API server's stream translator: upgraded first, then the
  kubelet's verdict comes as a ``Status`` on the error channel (``Internal error occurred:
  unable to upgrade connection: container not found ("x")``), so does the exit code
  (``NonZeroExitCode`` with an ``ExitCode`` cause). Channel bytes: 0 stdin, 1 stdout, 2 stderr,
  3 error, 4 resize, 255 close (``[255, 0]`` ends stdin).
- *WebSocket v4* (``v4.channel.k8s.io``, ``v4.base64.channel.k8s.io``) and the older
  ``channel.k8s.io``/``base64.channel.k8s.io`` go through to the kubelet and the runtime's
  streaming server: the kubelet's refusals are plain HTTP answers before the upgrade (500
  ``container not found ("x")``), statuses are the runtime's (v4: JSON ``Status``; older
  protocols: the error text only). v4 has no close signal: stdin ends with the connection.
- *SPDY/3.1* likewise reaches the runtime (``X-Stream-Protocol-Version`` v4 down to v1):
  :mod:`kubesim.execspdy`.

The command itself runs in the kubelet's runtime (:mod:`kubesim.kubelet.exec`). Attach and
port-forward are not served (400 ``Upgrade request required``, as before).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from kubesim import errors
from kubesim.kubelet import exec as kexec
from kubesim.rbac import Attributes, UserInfo, forbidden_error

if TYPE_CHECKING:
    from kubesim.auth import User
    from kubesim.server import Route, Server

V5 = "v5.channel.k8s.io"
#: WebSocket subprotocols the runtime's streaming server speaks: (base64 text?, v4 status?).
RUNTIME_WS = {
    "v4.channel.k8s.io": (False, True),
    "v4.base64.channel.k8s.io": (True, True),
    "channel.k8s.io": (False, False),
    "base64.channel.k8s.io": (True, False),
}
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
_FALSE = ("0", "false")
#: Commands whose client went away: they run on (as under containerd) until they end.
_orphans: set[asyncio.Task[Any]] = set()


@dataclass(frozen=True)
class ExecRequest:
    """The checked request: pod, container and options."""

    pod: dict
    container: str
    opts: kexec.ExecOptions


# ------------------------------------------------------------------ statuses
def success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def internal(message: str) -> dict[str, Any]:
    """``apierrors.NewInternalError(err)`` as JSON."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def exit_status(code: int, message: str) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {message}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def runtime_status(opts: kexec.ExecOptions, outcome: int | kexec.ExecFailed) -> dict[str, Any]:
    """The status the runtime's streaming server writes (containerd's words)."""
    if isinstance(outcome, kexec.ExecFailed):
        return internal(f"error executing command in container: {outcome}")
    if outcome == 0:
        return success()
    argv = " ".join(opts.command)
    return exit_status(outcome, f"error executing command [{argv}], exit code {outcome}")


def translated_status(opts: kexec.ExecOptions, outcome: int | kexec.ExecFailed) -> dict[str, Any]:
    """The status the API server's stream translator writes: the runtime's status as its
    SPDY client understood it (a failure message wrapped once more)."""
    if isinstance(outcome, kexec.ExecFailed):
        return internal(runtime_status(opts, outcome)["message"])
    if outcome == 0:
        return success()
    return exit_status(outcome, f"command terminated with exit code {outcome}")


# ------------------------------------------------------------------ checks
def _flag(query: Any, name: str) -> bool:
    values = query.getall(name, [])
    return bool(values) and values[0].lower() not in _FALSE


def check_request(server: Server, request: web.Request, route: Route) -> ExecRequest:
    """Options, pod, container and node, checked as ``ExecREST.Connect`` does."""
    q = request.query
    tty = _flag(q, "tty")
    opts = kexec.ExecOptions(
        command=list(q.getall("command", [])),
        stdin=_flag(q, "stdin"),
        stdout=_flag(q, "stdout"),
        stderr=_flag(q, "stderr") and not tty,  # a terminal has one output
        tty=tty,
    )
    pod = server.sim.api.get(route.rt, route.namespace, route.name)
    spec, name = pod["spec"], route.name
    container = q.get("container", "")
    names = {
        k: [c["name"] for c in spec.get(k) or []]
        for k in ("containers", "initContainers", "ephemeralContainers")
    }
    if not container:
        if len(names["containers"]) != 1:
            msg = (
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(names['containers'])}]"
            )
            if names["initContainers"]:
                msg += f" or one of the init containers: [{' '.join(names['initContainers'])}]"
            raise errors.bad_request(msg)
        container = names["containers"][0]
    elif not any(container in n for n in names.values()):
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    if not spec.get("nodeName"):
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    return ExecRequest(pod, container, opts)


def _is_websocket(request: web.Request) -> bool:
    conn = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
    return "upgrade" in conn and request.headers.get("Upgrade", "").lower() == "websocket"


def _offered(request: web.Request) -> list[str]:
    raw = ",".join(request.headers.getall("Sec-WebSocket-Protocol", []))
    return [p.strip() for p in raw.split(",") if p.strip()]


def kubelet_refusal(sim: Any, req: ExecRequest) -> web.Response | None:
    """What the kubelet answers before it upgrades: 400 without any stream, 500 when the
    container is not running (plain text, proxied back by the API server)."""
    o = req.opts
    if not (o.stdin or o.stdout or o.stderr):
        return web.Response(status=400, text="you must specify at least 1 of stdin, stdout, stderr")
    try:
        kexec.running_container(sim, req.pod, req.container)
    except kexec.ContainerNotFound as e:
        return web.Response(status=500, text=str(e))
    return None


async def serve(
    server: Server, request: web.Request, route: Route, user: User
) -> web.StreamResponse:
    """``GET``/``POST .../pods/<name>/exec``."""
    sim = server.sim
    if route.subresource != "exec":  # attach, portforward: not served
        sim.api.get(route.rt, route.namespace, route.name)
        raise errors.bad_request("Upgrade request required")
    websocket = _is_websocket(request)
    if websocket and request.method == "GET" and not user.is_admin:
        info = UserInfo(user.name, tuple(user.groups))
        attrs = Attributes("create", "", "pods", "exec", route.namespace, route.name)
        if not sim.rbac.authorize(info, attrs)[0]:
            raise forbidden_error(info, attrs)
    req = check_request(server, request, route)
    if websocket:
        offered = _offered(request)
        if V5 in offered:
            return await _translated(sim, request, req)
        return await _runtime_websocket(sim, request, req, offered)
    if request.headers.get("Upgrade", "").lower() == "spdy/3.1":
        from kubesim import execspdy

        return await execspdy.serve(sim, request, req)
    raise errors.bad_request("Upgrade request required")


# ------------------------------------------------------------------ running
async def run_command(
    sim: Any,
    req: ExecRequest,
    send: Callable[[int, bytes], Awaitable[None]],
    stdin: asyncio.Queue[bytes | None],
    resize: asyncio.Queue[tuple[int, int]],
) -> int | kexec.ExecFailed:
    """Run the command, feeding ``stdin`` (None: end of input) and ``resize`` to it and its
    output to ``send``; its exit code, or the runtime's refusal. If the client goes away (this
    coroutine is cancelled) the command runs on, its output unread."""
    try:
        handle = kexec.running_container(sim, req.pod, req.container)
        proc = await kexec.start(sim, handle, req.opts)
    except kexec.ExecFailed as e:
        return e
    except kexec.ContainerNotFound as e:  # it stopped since the kubelet said yes
        return kexec.ExecFailed(str(e))

    async def feed() -> None:
        while (chunk := await stdin.get()) is not None:
            await proc.write(chunk)
        proc.close_stdin()

    async def resizes() -> None:
        while True:
            proc.resize(*await resize.get())

    helpers = [asyncio.ensure_future(resizes())]
    if req.opts.stdin:
        helpers.append(asyncio.ensure_future(feed()))
    orphaned = False
    try:
        async for fd, chunk in proc.output():
            await send(fd, chunk)
        return await proc.wait()
    except (asyncio.CancelledError, ConnectionError):
        orphaned = True
        task = asyncio.ensure_future(_run_on(proc))
        _orphans.add(task)
        task.add_done_callback(_orphans.discard)
        raise
    finally:
        for t in helpers:
            t.cancel()
        if not orphaned:
            proc.close()


async def _run_on(proc: kexec.ExecProcess) -> None:
    try:
        async for _ in proc.output():
            pass
        await proc.wait()
    finally:
        proc.close()


def parse_resize(data: bytes) -> tuple[int, int] | None:
    try:
        size = json.loads(data)
        return int(size.get("Width", 0)), int(size.get("Height", 0))
    except (ValueError, TypeError, AttributeError):
        return None


# ------------------------------------------------------------------ websocket
class _WebSocket:
    """One upgraded WebSocket: channel-prefixed messages in and out."""

    def __init__(self, ws: web.WebSocketResponse, base64_text: bool, closable: bool) -> None:
        self.ws = ws
        self.b64 = base64_text
        self.closable = closable  # v5: the client can end stdin with a close signal
        self.stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.resize: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    async def send(self, channel: int, data: bytes) -> None:
        if self.b64:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes([channel]) + data)

    async def read(self) -> None:
        """Until the client closes: stdin data, resize events, the close signal."""
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                if not data:
                    continue
                if self.closable and data[0] == CLOSE:
                    if data[1:2] == bytes([STDIN]):
                        self.stdin.put_nowait(None)
                    continue
                channel, payload = data[0], data[1:]
                if self.b64:
                    channel -= ord("0")
                    with contextlib.suppress(ValueError):
                        payload = base64.b64decode(payload)
                if channel == STDIN and payload:
                    self.stdin.put_nowait(payload)
                elif channel == RESIZE and (size := parse_resize(payload)):
                    self.resize.put_nowait(size)
        finally:
            self.stdin.put_nowait(None)  # no more input once the connection is gone

    async def hello(self, opts: kexec.ExecOptions) -> None:
        """An empty message on the lowest writable channel: the streams are ready."""
        await self.send(STDOUT if opts.stdout else STDERR if opts.stderr else ERROR, b"")


async def _translated(sim: Any, request: web.Request, req: ExecRequest) -> web.StreamResponse:
    ws = web.WebSocketResponse(protocols=(V5,), max_msg_size=0)
    await ws.prepare(request)
    conn = _WebSocket(ws, False, True)
    reader = asyncio.ensure_future(conn.read())
    try:
        await conn.hello(req.opts)
        refusal = kubelet_refusal(sim, req)
        if refusal is not None:
            status = internal(f"unable to upgrade connection: {refusal.text}")
        else:
            outcome = await run_command(sim, req, conn.send, conn.stdin, conn.resize)
            status = translated_status(req.opts, outcome)
        await conn.send(ERROR, json.dumps(status, separators=(",", ":")).encode())
        await ws.close()
    except ConnectionError:
        pass
    finally:
        reader.cancel()
    return ws


async def _runtime_websocket(
    sim: Any, request: web.Request, req: ExecRequest, offered: list[str]
) -> web.StreamResponse:
    refusal = kubelet_refusal(sim, req)
    if refusal is not None:
        return refusal
    chosen = next((p for p in offered or [""] if p in RUNTIME_WS or p == ""), None)
    if chosen is None:  # golang.org/x/net/websocket: the handshake is refused
        return web.Response(status=403)
    b64, v4 = RUNTIME_WS.get(chosen, (False, False))
    ws = web.WebSocketResponse(protocols=(chosen,) if chosen else (), max_msg_size=0)
    await ws.prepare(request)
    conn = _WebSocket(ws, b64, False)
    reader = asyncio.ensure_future(conn.read())
    try:
        await conn.hello(req.opts)
        outcome = await run_command(sim, req, conn.send, conn.stdin, conn.resize)
        status = runtime_status(req.opts, outcome)
        if v4:
            await conn.send(ERROR, json.dumps(status, separators=(",", ":")).encode())
        elif status["status"] != "Success":
            await conn.send(ERROR, status["message"].encode())
        await ws.close()
    except ConnectionError:
        pass
    finally:
        reader.cancel()
    return ws
