"""A minimal asyncio HTTP/1.1 server: keep-alive, Content-Length and chunked bodies, TCP_NODELAY.

Used for the Runtime API (where http.server's Nagle/delayed-ACK interplay added ~40 ms to every
warm invoke) and the emulator's front doors. Every warm invoke crosses it three times, so it is
written as an `asyncio.Protocol` rather than on streams: a handler that can answer at once returns
a `Response` and it is written in the same callback that read the request (no task, no stream
futures); only a handler that must wait (the /next long-poll, an invocation) returns an awaitable,
run as a task. asyncio sets TCP_NODELAY on TCP transports; it is set again explicitly here so the
guarantee does not rest on an implementation detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast

logger = logging.getLogger("twinserve.emulator")

MAX_HEADER_BYTES = 64 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    too_large: int | None = None  # declared size when the body was refused unread


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    after_write: Callable[[], None] | None = None  # called once the response is handed to the socket


# A handler answers at once (a Response) or later (an awaitable of one).
Handler = Callable[[Request], "Response | Awaitable[Response]"]


class BadRequest(ValueError):
    """The bytes on the connection are not an HTTP/1.1 request this server can read."""


def encode_response(response: Response, *, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}\r\n"
            f"content-length: {len(response.body)}\r\n"]
    for name, value in response.headers.items():
        if name != "content-length":
            head.append(f"{name}: {value}\r\n")
    if not keep_alive:
        head.append("connection: close\r\n")
    head.append("\r\n")
    return "".join(head).encode("latin-1") + response.body


@dataclass
class _Head:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    size: int  # bytes up to and including the blank line
    keep_alive: bool
    chunked: bool
    length: int


def _parse_head(data: bytes) -> _Head:
    lines = data.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest(f"bad request line {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    path, _, query = target.partition("?")
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    length = 0
    if not chunked and "content-length" in headers:
        declared = headers["content-length"]
        if not declared.isdigit():
            raise BadRequest(f"bad content-length {declared[:40]!r}")
        length = int(declared)
    return _Head(method, path, query, headers, len(data) + 4, headers.get("connection", "").lower() != "close",
                 chunked, length)


def _chunked_body(buf: bytearray, start: int, limit: int | None) -> tuple[bytes, int, int | None] | None:
    """(body, end offset, size when over the limit) of a complete chunked body at `start`, or None for more data."""
    chunks: list[bytes] = []
    size = 0
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            length = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
        except ValueError:
            raise BadRequest("bad chunk size") from None
        size += length
        if limit is not None and size > limit:
            return b"", eol, size  # refused: the rest is not read
        if length == 0:
            end = buf.find(b"\r\n", eol + 2)  # no trailers are expected: the blank line
            return (b"".join(chunks), end + 2, None) if end >= 0 else None
        if len(buf) < eol + 2 + length + 2:
            return None
        chunks.append(bytes(buf[eol + 2:eol + 2 + length]))
        pos = eol + 2 + length + 2


class _Connection(asyncio.Protocol):
    """One client connection: requests are answered one at a time, in order."""

    def __init__(self, server: HttpServer, handler: Handler, max_body_bytes: int | None) -> None:
        self.server = server
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.head: _Head | None = None  # parsed head of the request whose body is still arriving
        self.busy = False  # a handler is working on a request; later bytes wait in the buffer
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        # A handler still running (an invocation, say) runs to its end; its answer goes nowhere,
        # as when a client hangs up on API Gateway.
        self.closed = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next_request()

    def _next_request(self) -> None:
        while not self.busy and not self.closed and self.buffer:
            try:
                taken = self._take_request()
            except BadRequest as exc:
                self._send(Response(400, str(exc).encode()), keep_alive=False)
                return
            if taken is None:
                return
            request, keep_alive = taken
            try:
                result = self.handler(request)
            except Exception:
                logger.exception("handler failed on %s %s", request.method, request.path)
                self._send(Response(500), keep_alive=False)
                return
            if isinstance(result, Response):
                self._send(result, keep_alive=keep_alive)
            else:
                self.busy = True
                self.server.track(asyncio.ensure_future(self._finish(result, request, keep_alive)))

    async def _finish(self, pending: Awaitable[Response], request: Request, keep_alive: bool) -> None:
        try:
            response = await pending
        except asyncio.CancelledError:
            self._close()  # the server is closing, or the environment behind a long-poll is gone
            raise
        except Exception:
            logger.exception("handler failed on %s %s", request.method, request.path)
            response, keep_alive = Response(500), False
        self.busy = False
        self._send(response, keep_alive=keep_alive)
        self._next_request()

    def _take_request(self) -> tuple[Request, bool] | None:
        """The next whole request from the buffer (removed from it), or None until more bytes come."""
        buf = self.buffer
        head = self.head
        if head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    self._send(Response(431), keep_alive=False)
                return None
            if end > MAX_HEADER_BYTES:
                self._send(Response(431), keep_alive=False)
                return None
            head = self.head = _parse_head(bytes(buf[:end]))
        limit = self.max_body_bytes
        too_large: int | None = None
        keep_alive = head.keep_alive
        if head.chunked:
            parsed = _chunked_body(buf, head.size, limit)
            if parsed is None:
                return None
            body, consumed, too_large = parsed
        elif limit is not None and head.length > limit:
            body, consumed, too_large = b"", len(buf), head.length  # refused unread
        else:
            consumed = head.size + head.length
            if len(buf) < consumed:
                return None
            body = bytes(buf[head.size:consumed])
        if too_large is not None:
            keep_alive = False  # the rest of the body is never read: the connection closes after the answer
        del buf[:consumed]
        self.head = None
        return Request(head.method, head.path, head.query, head.headers, body, too_large), keep_alive

    def _send(self, response: Response, *, keep_alive: bool) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(encode_response(response, keep_alive=keep_alive))
        if response.after_write is not None:
            response.after_write()
        if not keep_alive:
            self._close()

    def _close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.buffer.clear()
            self.transport.close()


class HttpServer:
    """A started server that, unlike asyncio.Server.close() on Python 3.11, also closes the
    connections it has open and ends their handlers, so nothing outlives the event loop."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Future[None]] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def track(self, task: asyncio.Future[None]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for connection in list(self.connections):
            connection._close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


async def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
                max_body_bytes: int | None = None) -> HttpServer:
    """Start serving on host:port (0: any free port; see `.port`)."""
    served = HttpServer()
    loop = asyncio.get_running_loop()
    served.server = await loop.create_server(lambda: _Connection(served, handler, max_body_bytes), host, port)
    return served
