"""An HTTP/1.1 load generator on asyncio (uvloop when installed): keep-alive connection pool,
pre-encoded requests, open-loop schedules measured from each request's intended send time (no
coordinated omission). benchmarks/harness_bench.py checks it against wrk."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httptools


@dataclass
class Reply:
    status: int  # 0 when the connection failed
    headers: dict[str, str]
    body: bytes
    intended_s: float  # perf_counter when the request was meant to go out
    sent_s: float
    done_s: float
    error: str | None = None

    @property
    def latency_ms(self) -> float:
        """From the intended send time: queueing in the client counts, as it would for a user."""
        return (self.done_s - self.intended_s) * 1000.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection; replies are parsed by httptools (llhttp), the parser the emulator's
    server uses too, so Content-Length and chunked replies are both read."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, dict[str, str], bytes, bool]] | None = None
        self.closed = False
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(str(exc) if exc else "connection closed"))

    def eof_received(self) -> bool:
        """The server closed its side: never reuse this connection (connection_lost comes later)."""
        self.closed = True
        return False

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.closed = True
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ConnectionError(f"unreadable reply: {exc}"))
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.headers = {}
        self.body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), self.headers, b"".join(self.body),
                               self.parser.should_keep_alive()))

    async def roundtrip(self, request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def encode_request(method: str, path: str, body: bytes | None, headers: dict[str, str] | None = None,
                   host: str = "127.0.0.1") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
    all_headers = {"content-type": "application/json", **(headers or {})}
    if body is not None:
        all_headers["content-length"] = str(len(body))
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


@dataclass
class Client:
    """A pool of up to `connections` keep-alive connections to one host:port."""

    host: str
    port: int
    connections: int = 64
    timeout_s: float = 60.0
    tls: bool = False
    _idle: list[_Connection] = field(default_factory=list)
    _open: int = 0
    _slots: asyncio.Semaphore | None = None

    async def _get(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
            self._open -= 1
        loop = asyncio.get_running_loop()
        if self.tls:
            import ssl

            _, conn = await loop.create_connection(_Connection, self.host, self.port,
                                                   ssl=ssl.create_default_context(), server_hostname=self.host)
        else:
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
        self._open += 1
        return conn

    async def send(self, request: bytes, *, intended_s: float | None = None) -> Reply:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.connections)
        intended = intended_s if intended_s is not None else time.perf_counter()
        async with self._slots:
            sent = time.perf_counter()
            conn: _Connection | None = None
            try:
                conn = await self._get()
                status, headers, body, keep = await asyncio.wait_for(conn.roundtrip(request), self.timeout_s)
            # RuntimeError: uvloop refuses a write on a transport the server has just closed (a
            # keep-alive connection dropped at shutdown, before connection_lost ran). It is that
            # request's failure, never the run's.
            except (OSError, ConnectionError, TimeoutError, RuntimeError) as exc:
                if conn is not None and conn.transport is not None:
                    conn.transport.close()
                    self._open -= 1
                return Reply(0, {}, b"", intended, sent, time.perf_counter(), error=type(exc).__name__)
            done = time.perf_counter()
            if keep and not conn.closed:
                self._idle.append(conn)
            else:
                if conn.transport is not None:
                    conn.transport.close()
                self._open -= 1
            return Reply(status, headers, body, intended, sent, done)

    def close(self) -> None:
        for conn in self._idle:
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """No full collections during a load run: everything alive before it is frozen out of the
    collector, and young collections run ten times less often. Under load a full collection of
    hundreds of thousands of replies and tasks stalled the generator for about a second, which
    would be measured as the server's latency."""
    gc.collect()
    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 1) * 10, before[1], before[2] * 10 or 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


async def open_loop(client: Client, make_request: Callable[[int], bytes], *, rate_per_s: float, duration_s: float,
                    on_reply: Callable[[Reply], None] | None = None) -> list[Reply]:
    """Send at a constant arrival rate whatever the responses do; latency from the intended time."""
    with quiet_gc():
        return await _open_loop(client, make_request, rate_per_s=rate_per_s, duration_s=duration_s,
                                on_reply=on_reply)


async def _open_loop(client: Client, make_request: Callable[[int], bytes], *, rate_per_s: float, duration_s: float,
                     on_reply: Callable[[Reply], None] | None) -> list[Reply]:
    total = max(1, int(rate_per_s * duration_s))
    start = time.perf_counter() + 0.01
    tasks = []
    for i in range(total):
        intended = start + i / rate_per_s
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(client.send(make_request(i), intended_s=intended))
        if on_reply is not None:
            task.add_done_callback(lambda t: on_reply(t.result()))
        tasks.append(task)
    return list(await asyncio.gather(*tasks))


WAKE_EARLY_S = 0.05  # open_loop_at: how long before a request's time to stop sleeping and wait in 1 ms steps


async def open_loop_at(client: Client, make_request: Callable[[int], bytes], offsets_s: list[float]) -> list[Reply]:
    """Send request i at `offsets_s[i]` seconds after the start (a replayed trace), whatever the
    responses do; latency from each intended time."""
    with quiet_gc():
        start = time.perf_counter() + 0.05
        tasks = []
        for i, offset in enumerate(offsets_s):
            intended = start + offset
            delay = intended - time.perf_counter()
            if delay > WAKE_EARLY_S:  # a long sleep wakes late (by 10-15 ms here after a 14 s pause)
                await asyncio.sleep(delay - WAKE_EARLY_S)
            while (delay := intended - time.perf_counter()) > 0:
                await asyncio.sleep(min(delay, 0.001))
            tasks.append(asyncio.ensure_future(client.send(make_request(i), intended_s=intended)))
        return list(await asyncio.gather(*tasks))


async def closed_loop(client: Client, request: bytes, *, concurrency: int, duration_s: float) -> list[Reply]:
    """`concurrency` workers sending back to back for `duration_s` (maximum-throughput measurement)."""
    deadline = time.perf_counter() + duration_s
    replies: list[Reply] = []

    async def worker() -> None:
        while time.perf_counter() < deadline:
            replies.append(await client.send(request))

    with quiet_gc():
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return replies


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.new_event_loop()
