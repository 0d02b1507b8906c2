"""Run the emulator: `Emulator` in an event loop, or `EmulatorThread` from synchronous code."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from twinserve.emulator.async_queue import AsyncPolicy
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.frontdoor import FrontDoor
from twinserve.emulator.httpserver import HttpServer, serve
from twinserve.emulator.service import LambdaService

# API Gateway's own payload ceiling is 10 MB; bodies over 6 MB are refused by the function's limit.
FRONT_DOOR_MAX_BODY_BYTES = 10 * 1024 * 1024


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it ships with uvicorn[standard]): about half the per-hop cost of asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Emulator:
    def __init__(self, config: FunctionConfig, *, host: str = "127.0.0.1", port: int = 0,
                 event_format: str = "http", integration_timeout_s: float | None = None,
                 async_policy: AsyncPolicy | None = None) -> None:
        self.service = LambdaService(config)
        self.front = FrontDoor(self.service, event_format=event_format, integration_timeout_s=integration_timeout_s,
                               async_policy=async_policy)
        self.host = host
        self.port = port
        self._server: HttpServer | None = None

    async def start(self) -> None:
        await self.service.start()
        self._server = await serve(self.front.handle, self.host, self.port, max_body_bytes=FRONT_DOOR_MAX_BODY_BYTES)
        self.port = self._server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
        await self.front.async_queue.close()
        await self.service.close()


class EmulatorThread:
    """The emulator on its own event loop in a background thread (tests, the benchmark harness):
    the same loop `twinserve emulate` runs on."""

    def __init__(self, config: FunctionConfig, **kwargs: Any) -> None:
        self.loop = new_event_loop()
        self.emulator = Emulator(config, **kwargs)
        self._thread = threading.Thread(target=self.loop.run_forever, name="lambda-emulator", daemon=True)

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.emulator.start(), self.loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def service(self) -> LambdaService:
        return self.emulator.service

    def call(self, coro: Any, timeout: float | None = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self.call(self.emulator.close(), timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
