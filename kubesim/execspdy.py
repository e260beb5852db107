"""``pods/exec`` over SPDY/3.1: what kubectl falls back to when the WebSocket upgrade is refused,
and what older clients (and the Kubeflow MPI operator's kubectl) speak.

On a cluster the API server proxies a SPDY exec untouched to the kubelet and the runtime's
streaming server; so here the answers are theirs. Before the upgrade: the kubelet's
refusals (:func:`kubesim.execstream.kubelet_refusal`) and the protocol negotiation
(``X-Stream-Protocol-Version``: ``v4.channel.k8s.io``, ``v3``, ``v2``, ``channel.k8s.io``;
none in common is a 403 naming both lists; no header at all is the v1 protocol). Then
``101 Switching Protocols`` and a SPDY/3.1 session (framing as in the SPDY draft 3.1:
control frames, data frames, zlib-compressed header blocks with the draft's dictionary):

- the client opens one stream per channel, its ``streamtype`` header saying which (``error``,
  ``stdin``, ``stdout``, ``stderr``, ``resize``); each gets a ``SYN_REPLY`` at once. The
  command starts once every stream the options call for exists (30 s at most, as the
  kubelet waits);
- stdin arrives as data frames, a ``FIN`` ending it; resize events as JSON lines; ``PING``s
  are echoed; flow control is not enforced (neither does the client's spdystream);
- the command's output goes out as data frames on the ``stdout``/``stderr`` streams; at the
  end the status goes on ``error`` (v4: JSON ``Status`` with the exit code; older versions:
  the failure text only), every stream is finished (``FIN``) and the session ends with
  ``GOAWAY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubesim import execstream

if TYPE_CHECKING:
    from kubesim.execstream import ExecRequest

SYN_STREAM, SYN_REPLY, RST_STREAM, PING, GOAWAY = 1, 2, 3, 6, 7
FLAG_FIN = 0x01
PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
STREAM_TIMEOUT = 30.0
_MAX_DATA = 32 * 1024
_WRITE_HIGH_WATER = 1 << 20


def _dictionary() -> bytes:
    """The header-compression dictionary of SPDY draft 3 (section 2.6.10.1): length-prefixed
    header names and values, then common strings."""
    names = (
        "options head post put delete trace accept accept-charset accept-encoding "
        "accept-language accept-ranges age allow authorization cache-control connection "
        "content-base content-encoding content-language content-length content-location "
        "content-md5 content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status"
    )
    values = ("200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive")
    words = [*names.split(" "), *values, "origin"]
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
        "charset=iso-8859-1,utf-,*,enq=0."
    )
    return b"".join(struct.pack("!I", len(w)) + w.encode() for w in words) + tail.encode()


DICTIONARY = _dictionary()


class FrameParser:
    """Splits the upgraded connection's bytes into frames (aiohttp's payload-parser hooks:
    ``feed_data``/``feed_eof``). Control frames are ``(type, flags, payload)`` with a
    positive type; data frames ``(-stream_id, flags, payload)``; None is the end."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[tuple[int, int, bytes] | None] = asyncio.Queue()
        self._buf = bytearray()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._buf += data
        while len(self._buf) >= 8:
            length = int.from_bytes(self._buf[5:8], "big")
            if len(self._buf) < 8 + length:
                break
            head, payload = bytes(self._buf[:8]), bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            if head[0] & 0x80:
                kind = int.from_bytes(head[2:4], "big")
            else:
                kind = -(int.from_bytes(head[0:4], "big") & 0x7FFFFFFF)
            self.frames.put_nowait((kind, head[4], payload))
        return False, b""

    def feed_eof(self) -> None:
        self.frames.put_nowait(None)


def control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8003, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!II", stream & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


def decode_headers(block: bytes) -> dict[str, str]:
    """A decompressed header block: ``{name: value}`` (names are lowercase on the wire)."""
    out: dict[str, str] = {}
    (count,) = struct.unpack_from("!I", block)
    pos = 4
    for _ in range(count):
        (n,) = struct.unpack_from("!I", block, pos)
        name = block[pos + 4 : pos + 4 + n].decode()
        pos += 4 + n
        (v,) = struct.unpack_from("!I", block, pos)
        out[name] = block[pos + 4 : pos + 4 + v].decode()
        pos += 4 + v
    return out


def negotiate(request: web.Request) -> tuple[str | None, web.Response | None]:
    """(protocol, None), or (None, the 403 refusal); "" when the client named none (v1)."""
    offered = [
        p.strip()
        for h in request.headers.getall("X-Stream-Protocol-Version", [])
        for p in h.split(",")
        if p.strip()
    ]
    if not offered:
        return "", None
    for p in offered:
        if p in PROTOCOLS:
            return p, None
    text = (
        f"unable to upgrade: unable to negotiate protocol: client supports [{' '.join(offered)}], "
        f"server accepts [{' '.join(PROTOCOLS)}]\n"
    )
    resp = web.Response(status=403, text=text)
    for p in PROTOCOLS:
        resp.headers.add("X-Accepted-Stream-Protocol-Versions", p)
    return None, resp


async def serve(sim: Any, request: web.Request, req: ExecRequest) -> web.StreamResponse:
    refusal = execstream.kubelet_refusal(sim, req)
    if refusal is not None:
        return refusal
    protocol, refused = negotiate(request)
    if refused is not None:
        return refused
    assert protocol is not None
    parser = FrameParser()
    request.protocol.set_parser(parser)  # before the 101: the client may write at once
    request.protocol.keep_alive(False)
    resp = web.StreamResponse(status=101, headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
    if protocol:
        resp.headers["X-Stream-Protocol-Version"] = protocol
    await resp.prepare(request)
    transport = request.transport
    assert transport is not None
    session = Session(sim, req, protocol, transport, parser)
    with contextlib.suppress(ConnectionError):
        await session.run()
    return resp


class Session:
    """One SPDY exec session (server side)."""

    def __init__(
        self, sim: Any, req: ExecRequest, protocol: str, transport: Any, parser: FrameParser
    ) -> None:
        self.sim, self.req, self.protocol = sim, req, protocol
        self.transport, self.parser = transport, parser
        self.zout = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=DICTIONARY)
        self.zin = zlib.decompressobj(zdict=DICTIONARY)
        self.streams: dict[str, int] = {}
        self.by_id: dict[int, str] = {}
        self.last_stream = 0
        self.stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.resize: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self.ready = asyncio.Event()
        self._resize_buf = b""
        o = req.opts
        self.expected = {"error"} | {
            name
            for name, wanted in (
                ("stdin", o.stdin),
                ("stdout", o.stdout),
                ("stderr", o.stderr),
                ("resize", o.tty and protocol in PROTOCOLS[:2]),
            )
            if wanted
        }

    async def write(self, frame: bytes) -> None:
        if self.transport.is_closing():
            raise ConnectionResetError("the client went away")
        self.transport.write(frame)
        while self.transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
            if self.transport.is_closing():
                raise ConnectionResetError("the client went away")
            await asyncio.sleep(0.005)

    def headers_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack("!I", len(headers)) + b"".join(
            struct.pack("!I", len(k)) + k.encode() + struct.pack("!I", len(v)) + v.encode()
            for k, v in headers.items()
        )
        return self.zout.compress(raw) + self.zout.flush(zlib.Z_SYNC_FLUSH)

    async def send(self, channel: int, data: bytes) -> None:
        name = {execstream.STDOUT: "stdout", execstream.STDERR: "stderr"}.get(channel, "error")
        stream = self.streams.get(name)
        if stream is None:
            return
        for i in range(0, len(data), _MAX_DATA):
            await self.write(data_frame(stream, 0, data[i : i + _MAX_DATA]))

    async def read(self) -> None:
        """The client's frames, until the connection ends."""
        try:
            while (frame := await self.parser.frames.get()) is not None:
                await self.handle(*frame)
        finally:
            self.stdin.put_nowait(None)

    async def handle(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == SYN_STREAM:
            stream = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
            headers = decode_headers(self.zin.decompress(payload[10:]))
            name = headers.get("streamtype", "")
            self.streams[name], self.by_id[stream] = stream, name
            self.last_stream = max(self.last_stream, stream)
            reply = stream.to_bytes(4, "big") + self.headers_block({})
            await self.write(control(SYN_REPLY, 0, reply))
            if flags & FLAG_FIN:
                self.finished(name)
            if self.expected <= set(self.streams):
                self.ready.set()
        elif kind == PING:
            await self.write(control(PING, 0, payload))
        elif kind == RST_STREAM:
            self.finished(self.by_id.get(int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF, ""))
        elif kind < 0:
            name = self.by_id.get(-kind, "")
            if name == "stdin" and payload:
                self.stdin.put_nowait(payload)
            elif name == "resize":
                self._resize_buf += payload
                *lines, self._resize_buf = self._resize_buf.split(b"\n")
                for line in lines:
                    if size := execstream.parse_resize(line):
                        self.resize.put_nowait(size)
            if flags & FLAG_FIN:
                self.finished(name)

    def finished(self, name: str) -> None:
        if name == "stdin":
            self.stdin.put_nowait(None)

    async def run(self) -> None:
        reader = asyncio.ensure_future(self.read())
        try:
            try:
                await asyncio.wait_for(self.ready.wait(), STREAM_TIMEOUT)
            except TimeoutError:
                return  # "timed out waiting for client to create streams": hang up
            outcome = await execstream.run_command(
                self.sim, self.req, self.send, self.stdin, self.resize
            )
            status = execstream.runtime_status(self.req.opts, outcome)
            if self.protocol == PROTOCOLS[0]:
                await self.send(
                    execstream.ERROR, json.dumps(status, separators=(",", ":")).encode()
                )
            elif status["status"] != "Success":
                await self.send(execstream.ERROR, status["message"].encode())
            for stream in sorted(self.by_id):
                await self.write(data_frame(stream, FLAG_FIN, b""))
            last = self.last_stream.to_bytes(4, "big")
            await self.write(control(GOAWAY, 0, last + (0).to_bytes(4, "big")))
        finally:
            reader.cancel()
