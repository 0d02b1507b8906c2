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
