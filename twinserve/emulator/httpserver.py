"""A minimal asyncio HTTP/1.1 server on httptools (llhttp): keep-alive, pipelining, Content-Length and
chunked bodies, TCP_NODELAY.

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
import collections
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast

import httptools

logger = logging.getLogger("twinserve.emulator")

MAX_HEADER_BYTES = 64 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names; a header sent more than once is its values joined (RFC 9110)
    body: bytes
    too_large: int | None = None  # declared size when the body was refused unread
    header_pairs: list[tuple[str, str]] = field(default_factory=list)  # every header as sent, in order


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


class _Refused(Exception):
    """Parsing stops here: the request is answered as it stands (431, or a body over the limit)."""


class _Connection(asyncio.Protocol):
    """One client connection: requests are parsed by httptools (llhttp) as bytes arrive and
    answered one at a time, in order; requests pipelined behind a busy one wait in `pending`."""

    def __init__(self, server: HttpServer, handler: Handler, max_body_bytes: int | None) -> None:
        self.server = server
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        # Parsed requests (with keep-alive) waiting for their turn, or a protocol error's answer.
        self.pending: collections.deque[tuple[Request | Response, bool]] = collections.deque()
        self.busy = False  # a handler is working on a request; later requests wait in `pending`
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.header_pairs: list[tuple[str, str]] = []
        self.head_bytes = 0
        self.body: list[bytes] = []
        self.body_bytes = 0

    # --- httptools callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        key, text = name.decode("latin-1").lower(), value.decode("latin-1").strip()
        self.header_pairs.append((key, text))
        previous = self.headers.get(key)
        self.headers[key] = text if previous is None else previous + ("; " if key == "cookie" else ",") + text

    def _count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_HEADER_BYTES:
            raise _Refused(431)

    def on_headers_complete(self) -> None:
        declared = self.headers.get("content-length", "")
        if self.max_body_bytes is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            self._refuse(int(declared))

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.max_body_bytes is not None and self.body_bytes > self.max_body_bytes:
            self._refuse(self.body_bytes)
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.pending.append((self._request(b"".join(self.body), None), self.parser.should_keep_alive()))

    def _request(self, body: bytes, too_large: int | None) -> Request:
        path, _, query = self.url.decode("latin-1").partition("?")
        method = self.parser.get_method().decode("latin-1")
        return Request(method, path, query, self.headers, body, too_large, self.header_pairs)

    def _refuse(self, size: int) -> None:
        """Answer now with what came so far (`too_large` set); the rest of the body is never read,
        so the connection closes after the answer."""
        self.pending.append((self._request(b"", size), False))
        raise _Refused(0)

    # --- transport ----------------------------------------------------------------------------
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
        if self.closed:
            return
        refused = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            # httptools wraps an exception raised in a callback (ours: _Refused) in HttpParserCallbackError.
            if not isinstance(exc.__context__, _Refused):
                self._answer_then_close(Response(400, f"bad request: {exc}".encode()))
                return
            refused = exc.__context__.args[0]
        if refused == 431:
            self._answer_then_close(Response(431))
            return
        if refused is not None and self.transport is not None:  # a body over the limit: read no more of it
            self.transport.pause_reading()
        self._next_request()

    def _answer_then_close(self, response: Response) -> None:
        """A protocol error: answered after the requests already read, then the connection closes."""
        self.pending.append((response, False))
        self._next_request()

    def _next_request(self) -> None:
        while not self.busy and not self.closed and self.pending:
            request, keep_alive = self.pending.popleft()
            if isinstance(request, Response):
                self._send(request, keep_alive=False)
                return
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
            self.pending.clear()
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
