"""A minimal asyncio HTTP/1.1 server: keep-alive, Content-Length and chunked bodies, TCP_NODELAY.

Used for the Runtime API (where http.server's Nagle/delayed-ACK interplay added ~40 ms to every
warm invoke) and the emulator's front doors. asyncio sets TCP_NODELAY on TCP transports; it is
set again explicitly here so the guarantee does not rest on an implementation detail.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEADER_BYTES = 64 * 1024


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


Handler = Callable[[Request], Awaitable[Response]]


def _status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\n".encode()


def encode_response(response: Response, *, keep_alive: bool) -> bytes:
    head = [_status_line(response.status)]
    headers = {"content-length": str(len(response.body)), **response.headers}
    if not keep_alive:
        headers["connection"] = "close"
    for name, value in headers.items():
        head.append(f"{name}: {value}\r\n".encode("latin-1"))
    head.append(b"\r\n")
    return b"".join(head) + response.body


async def _read_chunked(reader: asyncio.StreamReader, limit: int | None) -> tuple[bytes, int | None]:
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        length = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if length == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks), None
        data = await reader.readexactly(length + 2)
        size += length
        if limit is not None and size > limit:
            return b"", size
        chunks.append(data[:-2])


async def _handle_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler,
                             max_body_bytes: int | None) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            except asyncio.LimitOverrunError:
                writer.write(encode_response(Response(431), keep_alive=False))
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                writer.write(encode_response(Response(400), keep_alive=False))
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            path, _, query = target.partition("?")
            keep_alive = headers.get("connection", "").lower() != "close"
            too_large: int | None = None
            body = b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body, too_large = await _read_chunked(reader, max_body_bytes)
                if too_large is not None:
                    keep_alive = False
            elif "content-length" in headers:
                length = int(headers["content-length"])
                if max_body_bytes is not None and length > max_body_bytes:
                    too_large, keep_alive = length, False  # refuse unread, then close the connection
                else:
                    body = await reader.readexactly(length)
            response = await handler(Request(method, path, query, headers, body, too_large))
            writer.write(encode_response(response, keep_alive=keep_alive))
            await writer.drain()
            if not keep_alive:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    except asyncio.CancelledError:
        return  # the environment behind this connection was destroyed mid long-poll
    finally:
        writer.close()


class HttpServer:
    """A started server that, unlike asyncio.Server.close() on Python 3.11, also closes the
    connections it has open, so nothing outlives the event loop."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler,
                          max_body_bytes: int | None) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await _handle_connection(reader, writer, handler, max_body_bytes)
        finally:
            self.tasks.discard(task)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


async def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
                max_body_bytes: int | None = None) -> HttpServer:
    """Start serving on host:port (0: any free port; see `.port`)."""
    served = HttpServer()
    served.server = await asyncio.start_server(
        lambda r, w: served._connection(r, w, handler, max_body_bytes), host, port, limit=MAX_HEADER_BYTES)
    return served
