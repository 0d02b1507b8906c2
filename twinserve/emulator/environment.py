"""One execution environment: an awslambdaric process and the Runtime API it talks to."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import termios
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinserve.emulator import cleanup
from twinserve.emulator.config import SYNC_PAYLOAD_LIMIT_BYTES
from twinserve.emulator.exceptions import InitError
from twinserve.emulator.httpserver import HttpServer, Request, Response, serve
from twinserve.emulator.sandbox import Sandbox, make_preexec, quiet_child_stops

API = "/2018-06-01/runtime"
NEXT = f"{API}/invocation/next"
JSON = {"content-type": "application/json"}
ACCEPTED = Response(202, b'{"status":"OK"}', dict(JSON))
INVALID_STATE = Response(403, b'{"errorMessage":"Invalid state transition","errorType":"InvalidStateTransition"}',
                         dict(JSON))  # the Runtime API's answer to a call out of turn


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    client_context: str | None = None
    cognito_identity: str | None = None
    delivered_at: float | None = None  # perf_counter when /next returned it
    # The environment's memory peak when the runtime posted the result: read then, while the runtime
    # waits for the 202 and so cannot contend for its own memory map (about a quarter of the cost).
    peak_memory_bytes: int | None = None
    result: asyncio.Future[tuple[str, bytes, str | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class ExecutionEnvironment:
    """States: starting → idle (frozen) ⇄ busy → dead. One invocation at a time."""

    def __init__(self, *, env_id: str, handler: str, package: Path, runtime_layer: Path, environ: dict[str, str],
                 sandbox: Sandbox, function_arn: str, log: Callable[[str], None]) -> None:
        self.env_id = env_id
        self.handler = handler
        self.package = package
        self.runtime_layer = runtime_layer
        self.environ = environ
        self.sandbox = sandbox
        self.function_arn = function_arn
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.server: HttpServer | None = None
        self.state = "new"
        self.invocations = 0
        self.spawned_at = 0.0
        self.ready_at: float | None = None
        self.idle_since = time.monotonic()
        self.frozen = False
        self.pending: Invocation | None = None
        self._next_waiter: asyncio.Future[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._reader: asyncio.Future[None] | None = None
        self._out_fd: int | None = None
        self.log_request_id: str | None = None
        self.exited: asyncio.Task[int] | None = None
        self.in_next = False  # True while the runtime waits in /next with nothing to do (safe to freeze)
        # Called (synchronously) when the runtime comes back to /next after an invocation.
        self.on_next: Callable[[], None] | None = None
        self.metric_lines: list[dict[str, Any]] = []
        self.leftovers: list[str] = []  # what destroy() could not remove (processes, cgroup directories)
        self._frozen_pids: list[int] = []  # what freeze() stopped, so thaw() continues exactly those

    # --- Runtime API -------------------------------------------------------------------------
    def _runtime_api(self, req: Request) -> Response | Awaitable[Response]:
        """Answers at once, except /next with nothing to deliver: that long-polls until `deliver`."""
        if req.method == "GET" and req.path == NEXT:
            return self._next()
        parts = req.path.split("/")
        if req.method == "POST" and req.path.startswith(f"{API}/invocation/") and len(parts) == 6:
            request_id, kind = parts[4], parts[5]
            inv = self.pending
            if inv is None or inv.request_id != request_id or kind not in ("response", "error"):
                return Response(400, b'{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}',
                                dict(JSON))
            if inv.result.done():  # answered already: the Runtime API's 403, an invalid state transition
                return INVALID_STATE
            inv.peak_memory_bytes = self.sandbox.peak_memory_bytes(self.pid)
            if kind == "response" and len(req.body) > SYNC_PAYLOAD_LIMIT_BYTES:
                # Too large: the runtime is told 413, the caller gets Function.ResponseSizeTooLarge.
                inv.result.set_result(("response", req.body, None))
                return Response(413, b'{"errorMessage":"Response payload size exceeded maximum allowed payload '
                                     b'size","errorType":"RequestEntityTooLarge"}', dict(JSON))
            inv.result.set_result((kind, req.body, req.headers.get("lambda-runtime-function-error-type")))
            return ACCEPTED
        if req.method == "POST" and req.path == f"{API}/init/error":
            if self._ready is None or self._ready.done():  # INIT is over: the Runtime API's 403
                return INVALID_STATE
            error_type = req.headers.get("lambda-runtime-function-error-type", "Runtime.Unknown")
            self._ready.set_exception(InitError(error_type, req.body))
            return ACCEPTED
        return Response(404, b'{"errorMessage":"not found","errorType":"NotFound"}', dict(JSON))

    def _next(self) -> Response | Awaitable[Response]:
        if self._ready is not None and not self._ready.done():
            self.ready_at = time.perf_counter()
            self._ready.set_result(None)
        previous = self.pending
        if previous is not None and previous.result.done():
            self.pending = None
        if self.pending is not None:
            return self._invocation_response(self.pending)
        return self._wait_next()

    async def _wait_next(self) -> Response:
        self._next_waiter = asyncio.get_running_loop().create_future()
        self.in_next = True
        if self.on_next is not None:
            self.on_next()
        try:
            await self._next_waiter
        finally:
            self._next_waiter = None
            self.in_next = False
        assert self.pending is not None
        return self._invocation_response(self.pending)

    def _invocation_response(self, inv: Invocation) -> Response:
        headers = {
            "content-type": "application/json",
            "lambda-runtime-aws-request-id": inv.request_id,
            "lambda-runtime-deadline-ms": str(inv.deadline_ms),
            "lambda-runtime-invoked-function-arn": self.function_arn,
            # awslambdaric crashes without a trace id; Lambda always sends one.
            "lambda-runtime-trace-id": f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};"
                                       f"Parent={os.urandom(8).hex()};Sampled=0;Lineage=1:{self.env_id}:0",
        }
        if inv.client_context:
            headers["lambda-runtime-client-context"] = inv.client_context
        if inv.cognito_identity:
            headers["lambda-runtime-cognito-identity"] = inv.cognito_identity
        inv.delivered_at = time.perf_counter()
        # A frozen runtime is thawed once the invocation is in its socket: it then wakes once, to
        # read it, instead of once for SIGCONT and again for the data.
        return Response(200, inv.payload, headers, after_write=self.thaw if self.frozen else None)

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Spawn the runtime process; `wait_ready` completes at its first /next (end of INIT)."""
        self.server = await serve(self._runtime_api)
        port = self.server.port
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        env = {**self.environ, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
               "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.env_id}",
               "PYTHONPATH": f"{self.package}:{self.runtime_layer}", "_HANDLER": self.handler,
               "LAMBDA_TASK_ROOT": str(self.package), "LAMBDA_RUNTIME_DIR": str(self.runtime_layer)}
        self.spawned_at = time.perf_counter()
        self.state = "starting"
        # The output pipe is read by a protocol that handles each chunk as it arrives, so "no unread
        # bytes in the pipe" (FIONREAD) means every line written so far has been logged: see
        # settle_output, which makes an invocation's log complete before its END line.
        read_fd, write_fd = os.pipe()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-S", "-m", "awslambdaric", self.handler, cwd=str(self.package), env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=write_fd, stderr=asyncio.subprocess.STDOUT,
                preexec_fn=make_preexec(self.sandbox.procs_files), start_new_session=True)  # type: ignore[arg-type]
        finally:
            os.close(write_fd)
        quiet_child_stops()  # freezing and thawing it should not signal this process each time
        self._out_fd = read_fd
        done: asyncio.Future[None] = loop.create_future()
        await loop.connect_read_pipe(lambda: _OutputProtocol(self._line, done), os.fdopen(read_fd, "rb", buffering=0))
        self._reader = done
        self.exited = asyncio.create_task(self.proc.wait())  # one watcher for the process's whole life

    async def wait_ready(self, timeout_s: float) -> float:
        """INIT duration in ms; raises TimeoutError, or InitError (reported or the process exited)."""
        assert self._ready is not None and self.exited is not None
        exited = self.exited
        waiting: set[asyncio.Future[Any]] = {self._ready, exited}
        done, _ = await asyncio.wait(waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if self._ready in done:
            self._ready.result()  # raises InitError when the runtime reported one
            assert self.ready_at is not None
            return (self.ready_at - self.spawned_at) * 1000.0
        if exited in done:
            raise InitError("Runtime.ExitError", json.dumps({
                "errorMessage": f"Runtime exited with error: exit status {exited.result()}",
                "errorType": "Runtime.ExitError"}).encode())
        raise TimeoutError

    async def settle_output(self, timeout_s: float = 1.0) -> None:
        """Wait until every byte the runtime has written is logged (the pipe holds no unread data):
        called once the function has answered, so the lines it wrote before answering belong to
        its invocation, complete, before END and REPORT."""
        deadline = time.perf_counter() + timeout_s
        while self._out_fd is not None and _unread_bytes(self._out_fd) > 0 and time.perf_counter() < deadline:
            await asyncio.sleep(0)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace")
        if text.startswith('{"_aws"'):
            with contextlib.suppress(ValueError):
                self.metric_lines.append(json.loads(text))
        self.log(text)

    def deliver(self, inv: Invocation) -> None:
        self.pending = inv
        self.log_request_id = inv.request_id  # output is this invocation's until the next is delivered
        if self._next_waiter is not None and not self._next_waiter.done():
            self._next_waiter.set_result(None)  # the /next response thaws the runtime once written
        else:
            self.thaw()

    def freeze(self) -> None:
        """SIGSTOP between invocations, as Lambda freezes idle environments: every process of the
        environment (its cgroup: a child the function forked, in a session of its own or not, stops
        with it), or the runtime's process group where there is no cgroup."""
        if self.proc is not None and self.proc.returncode is None and not self.frozen:
            self._frozen_pids = self.sandbox.pids()
            self._signal_all(signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if self.proc is not None and self.frozen:
            self._signal_all(signal.SIGCONT)
            self.frozen = False

    def _signal_all(self, sig: int) -> None:
        assert self.proc is not None
        if not self._frozen_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            return
        for pid in self._frozen_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def destroy(self) -> None:
        """Everything of this environment goes: the runtime's process group (whether or not the
        runtime is still alive: children of a crashed or OOM-killed runtime outlive it), anything
        that left the group (a child in its own session), found by its environment marker or in
        the cgroup, then the cgroup itself. What could not be removed is kept in `leftovers`."""
        self.state = "dead"
        if self.proc is not None:
            for sig in (signal.SIGKILL, signal.SIGCONT):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, sig)
        if self.proc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), timeout=5)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, timeout=1)
        if self.exited is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.exited, timeout=1)
        if self._next_waiter is not None and not self._next_waiter.done():
            self._next_waiter.cancel()
        if self.server is not None:
            await self.server.close()
        left = cleanup.kill_marked(cleanup.ENV_VARIABLE, self.env_id, self.sandbox.dirs)
        self.sandbox.destroy()
        self.leftovers = [f"pid {pid}" for pid in left] + [str(d) for d in self.sandbox.dirs if d.exists()]


class _OutputProtocol(asyncio.Protocol):
    """The runtime's output, split into lines whatever their length, each handed on as it arrives."""

    def __init__(self, on_line: Callable[[bytes], None], done: asyncio.Future[None]) -> None:
        self.on_line = on_line
        self.done = done
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        *lines, self.pending = (self.pending + data).split(b"\n")
        for line in lines:
            self.on_line(line)

    def eof_received(self) -> bool:
        if self.pending:
            self.on_line(self.pending)
            self.pending = b""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof_received()
        if not self.done.done():
            self.done.set_result(None)


def _unread_bytes(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD); 0 once it is closed."""
    try:
        return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)
    except OSError:
        return 0
