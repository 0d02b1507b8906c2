"""The load generator reads replies framed either way HTTP/1.1 allows: Content-Length and chunked."""

from __future__ import annotations

import asyncio

from benchmarks.harness.loadgen import Client, encode_request, new_event_loop

REPLIES = [
    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-kind: length\r\n\r\nhello",
    b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\nx-kind: chunked\r\n\r\n"
    b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n",
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
]


def test_content_length_and_chunked_replies_on_one_keep_alive_connection() -> None:
    loop = new_event_loop()
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        for reply in REPLIES:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
        writer.close()

    async def scenario() -> list[tuple[int, str | None, bytes]]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Client("127.0.0.1", port, connections=1, timeout_s=5)
        out = []
        for _ in REPLIES:
            reply = await client.send(encode_request("GET", "/", None))
            out.append((reply.status, reply.headers.get("x-kind"), reply.body))
        client.close()
        server.close()
        await server.wait_closed()
        return out

    try:
        got = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert got == [(200, "length", b"hello"), (201, "chunked", b"wikipedia"), (503, None, b"")]
    assert len(connections) == 1  # both framings kept the connection alive


class RefusingTransport:
    """What uvloop's transport does once its handle is closed: refuse the write."""

    def write(self, data: bytes) -> None:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

    def close(self) -> None: ...


def test_a_write_the_transport_refuses_fails_one_request_not_the_run() -> None:
    loop = new_event_loop()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(REPLIES[0])
            await writer.drain()

    async def scenario() -> list[tuple[int, str | None]]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        client = Client("127.0.0.1", server.sockets[0].getsockname()[1], connections=1, timeout_s=5)
        first = await client.send(encode_request("GET", "/", None))
        client._idle[0].transport = RefusingTransport()  # type: ignore[assignment]
        second = await client.send(encode_request("GET", "/", None))
        third = await client.send(encode_request("GET", "/", None))  # a new connection serves again
        client.close()
        server.close()
        return [(r.status, r.error) for r in (first, second, third)]

    try:
        got = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert got == [(200, None), (0, "RuntimeError"), (200, None)]


def test_a_connection_the_server_closed_is_not_reused() -> None:
    loop = new_event_loop()
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(REPLIES[0])  # keep-alive promised…
        await writer.drain()
        writer.close()  # …then the server shuts the connection

    async def scenario() -> list[int]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        client = Client("127.0.0.1", server.sockets[0].getsockname()[1], connections=1, timeout_s=5)
        statuses = []
        for _ in range(3):
            statuses.append((await client.send(encode_request("GET", "/", None))).status)
            await asyncio.sleep(0.05)
        client.close()
        server.close()
        return statuses

    try:
        assert loop.run_until_complete(scenario()) == [200, 200, 200]
    finally:
        loop.close()
    assert len(connections) == 3


def test_load_runs_keep_the_collector_quiet_and_give_it_back() -> None:
    import gc

    from benchmarks.harness.loadgen import quiet_gc

    before = gc.get_threshold()
    with quiet_gc():
        assert gc.get_threshold()[0] == before[0] * 10 and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
