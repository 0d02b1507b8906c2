"""The emulator's HTTP/1.1 server, on its own: what the Runtime API and the front doors rely on."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager

import pytest

from twinserve.emulator.httpserver import MAX_HEADER_BYTES, HttpServer, Request, Response, serve
from twinserve.emulator.runner import new_event_loop

LIMIT = 1000


def echo(req: Request) -> Response | Awaitable[Response]:
    """Answers at once, except /slow, which answers after a loop iteration (a task on the server side)."""
    body = b"%s %s %d %s" % (req.method.encode(), req.path.encode(), len(req.body),
                               str(req.too_large).encode())
    if req.path == "/boom":
        raise RuntimeError("handler bug")
    if req.path == "/slow":
        async def later() -> Response:
            await asyncio.sleep(0.01)
            return Response(200, body)
        return later()
    return Response(200, body, {"x-query": req.query})


@contextmanager
def running(loop_factory: object = new_event_loop) -> Iterator[int]:
    loop = loop_factory()  # type: ignore[operator]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server: HttpServer = asyncio.run_coroutine_threadsafe(serve(echo, max_body_bytes=LIMIT), loop).result(10)
    try:
        yield server.port
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def exchange(port: int, data: bytes, *, responses: int = 1) -> list[bytes]:
    """Send raw bytes; read `responses` whole responses (Content-Length framed) or until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        buffer = b""
        out: list[bytes] = []
        while len(out) < responses:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = buffer[:end].decode("latin-1").lower()
                length = int(head.split("content-length: ", 1)[1].split("\r\n", 1)[0])
                if len(buffer) >= end + 4 + length:
                    out.append(buffer[:end + 4 + length])
                    buffer = buffer[end + 4 + length:]
                    continue
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
        return out


def status_and_body(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("loop_factory", [new_event_loop, asyncio.new_event_loop], ids=["uvloop", "asyncio"])
def test_keep_alive_pipelining_and_deferred_answers_stay_in_order(loop_factory: object) -> None:
    with running(loop_factory) as port:
        requests = (b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                    b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"
                    b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        replies = [status_and_body(r) for r in exchange(port, requests, responses=3)]
        assert replies == [(200, b"POST /a 3 None"), (200, b"GET /slow 0 None"), (200, b"POST /c 0 None")]


def test_a_body_split_across_packets_and_a_chunked_body_are_read_whole() -> None:
    with running() as port, socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /split HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345")
        sock.sendall(b"67890")
        assert b"POST /split 10 None" in sock.recv(65536)
        sock.sendall(b"POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n")
        assert b"POST /chunked 7 None" in sock.recv(65536)


def test_an_oversized_body_is_refused_unread_and_the_connection_closed() -> None:
    with running() as port:
        declared = exchange(port, b"POST /big HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)
        assert status_and_body(declared[0]) == (200, b"POST /big 0 5000")
        assert b"connection: close" in declared[0]
        # A chunked body is refused as soon as more than the limit has arrived; the rest is not read.
        chunked = exchange(port, b"POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + b"x" * 1001)
        assert status_and_body(chunked[0]) == (200, b"POST /big 0 1001")


def test_bad_requests_get_4xx_and_a_failing_handler_500() -> None:
    with running() as port:
        assert status_and_body(exchange(port, b"NONSENSE\r\n\r\n")[0])[0] == 400
        assert status_and_body(exchange(port, b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n")[0])[0] == 400
        huge = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 10) + b"\r\n\r\n"
        assert status_and_body(exchange(port, huge)[0])[0] == 431
        assert status_and_body(exchange(port, b"GET /boom HTTP/1.1\r\n\r\n")[0])[0] == 500
        # ... and the server still answers.
        assert status_and_body(exchange(port, b"GET /ok HTTP/1.1\r\n\r\n")[0]) == (200, b"GET /ok 0 None")


def test_after_write_runs_once_the_response_is_on_the_socket() -> None:
    seen: list[str] = []

    def handler(req: Request) -> Response:
        return Response(200, b"ok", after_write=lambda: seen.append(req.path))

    loop = new_event_loop()
    try:
        async def scenario() -> None:
            server = await serve(handler)
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /first HTTP/1.1\r\n\r\n")
            assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200 OK")
            assert seen == ["/first"]
            writer.close()
            await server.close()

        loop.run_until_complete(scenario())
    finally:
        loop.close()
