"""The Lambda service around the environments: Lambda's execution model, as AWS documents it.

- one invocation per environment; no idle environment → a new one (cold start) while fewer than
  `concurrency` exist; otherwise the request is throttled (never queued);
- idle environments are frozen (SIGSTOP) and reaped after `keep_alive_s` (0: every request cold);
- INIT is limited to 10 s; on an INIT timeout the environment is discarded and INIT is retried
  within the first invocation, under the function timeout;
- the function timeout ends the invocation with "Task timed out after N.NN seconds" and destroys
  the environment; a crashed runtime gives Runtime.ExitError, an OOM kill Runtime.OutOfMemory;
- 6 MB synchronous request and response payloads;
- START / END / REPORT lines (INIT billed since 2025-08) for every invocation.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import math
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from benchmarks.emulator.environment import ExecutionEnvironment, InitError, Invocation
from benchmarks.emulator.runtime_layer import build_runtime_layer, default_layer_dir
from benchmarks.emulator.sandbox import MB, Sandbox, detect_cgroup, rss_bytes, vcpus_for
from benchmarks.reportlog import (
    Report,
    billed_duration_ms,
    format_end,
    format_init_report,
    format_report,
    format_start,
)

SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024  # request and response, synchronous invokes
INIT_LIMIT_S = 10.0
ACCOUNT_ID = "123456789012"
RSS_POLL_S = 0.01
PARKING_WAIT_S = 0.05
PARKING_TIMEOUT_S = 5.0  # an answered runtime not back in /next by then is discarded
MAX_KEPT_REPORTS = 100_000
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class ConfigError(ValueError):
    """An emulator setting is outside what Lambda accepts."""


@dataclass
class FunctionConfig:
    package: Path
    handler: str
    function_name: str = "predict"
    memory_mb: int = 1024
    timeout_s: float = 3.0
    concurrency: int = 10
    keep_alive_s: float = 300.0
    init_timeout_s: float = INIT_LIMIT_S
    region: str = "us-east-1"
    environment: dict[str, str] = field(default_factory=dict)
    log_file: Path | None = None
    echo: TextIO | None = None  # where to print log lines as they come (sam-local style), if anywhere
    runtime_layer: Path | None = None
    use_cgroups: bool = True

    def validate(self) -> None:
        if not 128 <= self.memory_mb <= 10_240:
            raise ConfigError(f"--memory-mb must be 128 to 10240 (Lambda's range), got {self.memory_mb}")
        if not 1 <= self.timeout_s <= 900:
            raise ConfigError(f"--timeout-s must be 1 to 900 (Lambda's range), got {self.timeout_s}")
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.keep_alive_s < 0:
            raise ConfigError(f"--keep-alive-s must be 0 or more, got {self.keep_alive_s}")
        if not (self.package / self.handler.rsplit(".", 1)[0].replace(".", "/")).with_suffix(".py").is_file():
            raise ConfigError(f"handler {self.handler!r} not found in package {self.package}")

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"


@dataclass
class InvokeOutcome:
    request_id: str
    status: str  # "ok" | "function_error" | "throttled" | "too_large"
    payload: bytes = b""
    function_error: str | None = None
    cold: bool = False
    env_id: str | None = None
    init_ms: float | None = None
    duration_ms: float | None = None
    report: Report | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)


def _error_payload(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class LambdaService:
    def __init__(self, config: FunctionConfig) -> None:
        config.validate()
        self.config = config
        self.cgroup = detect_cgroup() if config.use_cgroups else None
        self.runtime_layer = build_runtime_layer(config.runtime_layer or default_layer_dir())
        self.envs: dict[str, ExecutionEnvironment] = {}
        self.idle: list[ExecutionEnvironment] = []
        # Answered, but the runtime has not yet come back to /next: busy until it does.
        self.parking: dict[str, asyncio.Future[None]] = {}
        self.emulator_id = uuid.uuid4().hex[:8]
        self._env_counter = itertools.count(1)
        self.counters = collections.Counter[str]()
        self.reports: dict[str, Report] = {}
        self.log_lines: collections.deque[str] = collections.deque(maxlen=20_000)
        self.log_total = 0  # lines ever logged (the deque keeps the latest)
        self._capture: dict[str, list[str]] = {}
        self._log_fh = config.log_file.open("a") if config.log_file else None
        self._unwritten: list[str] = []  # echo / --log-file lines, written once per loop iteration
        self._reaper: asyncio.Task[None] | None = None

    # --- logging -----------------------------------------------------------------------------
    def log(self, line: str, env: ExecutionEnvironment | None = None, *, request_id: str | None = None) -> None:
        """One log line: kept, echoed, written to --log-file, and captured for its invocation."""
        self.log_lines.append(line)
        self.log_total += 1
        if request_id is None and env is not None and env.pending is not None:
            request_id = env.pending.request_id
        if request_id in self._capture:
            self._capture[request_id].append(line)
        if self.config.echo is not None or self._log_fh is not None:
            # Written together at the end of this loop iteration: END and REPORT then go out in one
            # write, after the response rather than before it.
            if not self._unwritten:
                try:
                    asyncio.get_running_loop().call_soon(self._write_out)
                except RuntimeError:  # not on the service's loop: write now
                    self._unwritten.append(line)
                    self._write_out()
                    return
            self._unwritten.append(line)

    def _write_out(self) -> None:
        if not self._unwritten:
            return
        text = "\n".join(self._unwritten) + "\n"
        self._unwritten.clear()
        for stream in (self.config.echo, self._log_fh):
            if stream is not None:
                stream.write(text)
                stream.flush()

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap())

    async def close(self) -> None:
        if self.parking:
            await asyncio.wait(list(self.parking.values()), timeout=5)
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await asyncio.gather(*(env.destroy() for env in list(self.envs.values())))
        self.envs.clear()
        self.idle.clear()
        self._write_out()
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    async def _reap(self) -> None:
        period = min(1.0, max(self.config.keep_alive_s / 4, 0.05))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for env in [e for e in self.idle if now - e.idle_since >= self.config.keep_alive_s]:
                self.idle.remove(env)
                self.envs.pop(env.env_id, None)
                self.counters["reaped"] += 1
                await env.destroy()

    async def drop_idle(self) -> int:
        """Destroy every idle environment, so the next request is a cold start (forced cold)."""
        if self.parking:
            await asyncio.wait(list(self.parking.values()), timeout=5)
        dropped = list(self.idle)
        self.idle.clear()
        for env in dropped:
            await self._discard(env)
        return len(dropped)

    def describe(self) -> dict[str, Any]:
        vcpus = min(vcpus_for(self.config.memory_mb), float(os.cpu_count() or 1))
        cpu = f"cgroup-{self.cgroup} quota {vcpus:.2f} vCPU" if self.cgroup else "CPU not scaled"
        return {
            "function_name": self.config.function_name, "handler": self.config.handler,
            "package": str(self.config.package), "memory_mb": self.config.memory_mb,
            "timeout_s": self.config.timeout_s, "concurrency": self.config.concurrency,
            "keep_alive_s": self.config.keep_alive_s, "init_timeout_s": self.config.init_timeout_s,
            "memory_enforcement": f"cgroup-{self.cgroup}" if self.cgroup else "rss-poll (approximate)",
            "cpu": cpu, "cpu_scaled": self.cgroup is not None,
            "python": platform.python_version(), "python_executable": sys.executable,
            "emulator_id": self.emulator_id,
        }

    def snapshot(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [{"env": e.env_id, "state": e.state, "invocations": e.invocations, "pid": e.pid,
                 "idle_s": round(now - e.idle_since, 1) if e.state == "idle" else None}
                for e in self.envs.values()]

    # --- environments ------------------------------------------------------------------------
    def _new_env(self) -> ExecutionEnvironment:
        env_id = f"{self.emulator_id}-{next(self._env_counter)}"
        cfg = self.config
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "en_US.UTF-8", "TZ": ":UTC",
            "PYTHONNOUSERSITE": "1", "PYTHONUNBUFFERED": "1",
            # /var/task is read-only on Lambda: no .pyc is ever written there, so none is here either.
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_LAMBDA_FUNCTION_NAME": cfg.function_name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(cfg.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(cfg.timeout_s)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{cfg.function_name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "AWS_REGION": cfg.region,
            "AWS_DEFAULT_REGION": cfg.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "TWINSERVE_EMULATOR": self.emulator_id,  # lets tests find any process we leave behind
            # Lambda hands the function its role's credentials; locally, whatever this shell has.
            **{k: os.environ[k] for k in CREDENTIAL_VARIABLES if k in os.environ},
            **cfg.environment,
        }
        sandbox = Sandbox(f"twinserve/{env_id}", memory_mb=cfg.memory_mb, kind=self.cgroup)
        env = ExecutionEnvironment(env_id=env_id, handler=cfg.handler, package=cfg.package,
                                   runtime_layer=self.runtime_layer, environ=environ, sandbox=sandbox,
                                   function_arn=cfg.function_arn, log=lambda line: self.log(line, env))
        self.envs[env_id] = env
        return env

    async def _acquire(self) -> ExecutionEnvironment | None:
        """An idle environment, else one about to become idle, else a new one within the limit."""
        env = self._take_idle()
        if env is None and self.parking:
            # An environment that just answered is back in /next within a millisecond or so: on a
            # sequential stream of requests Lambda reuses it rather than starting another.
            await asyncio.wait(list(self.parking.values()), timeout=PARKING_WAIT_S,
                               return_when=asyncio.FIRST_COMPLETED)
            env = self._take_idle()
        if env is not None:
            return env
        if len(self.envs) < self.config.concurrency:
            env = self._new_env()
            env.state = "busy"
            return env
        if self.parking:  # at the limit, but some environment is about to be free
            await asyncio.wait(list(self.parking.values()), timeout=PARKING_WAIT_S,
                               return_when=asyncio.FIRST_COMPLETED)
            return self._take_idle()
        return None

    def _take_idle(self) -> ExecutionEnvironment | None:
        while self.idle:
            env = self.idle.pop()  # most recently used first
            if env.alive:
                env.state = "busy"
                return env
            self.envs.pop(env.env_id, None)
        return None

    async def _discard(self, env: ExecutionEnvironment) -> None:
        self.envs.pop(env.env_id, None)
        await env.destroy()

    def _release(self, env: ExecutionEnvironment) -> None:
        """Park the environment: idle (frozen) as soon as its runtime is back in /next, which the
        environment reports synchronously, so a request right behind this one already finds it idle."""
        env.state = "parking"
        if self.config.keep_alive_s == 0:  # every request cold: this environment is done
            self.parking[env.env_id] = asyncio.ensure_future(self._retire(env))
            return
        loop = asyncio.get_running_loop()
        parked = self.parking[env.env_id] = loop.create_future()
        timer = loop.call_later(PARKING_TIMEOUT_S, self._park_timed_out, env, parked)

        def back_in_next() -> None:
            env.on_next = None
            timer.cancel()
            if env.alive:
                env.freeze()
                env.state = "idle"
                env.idle_since = time.monotonic()
                self.idle.append(env)
                self.parking.pop(env.env_id, None)
                parked.set_result(None)
            else:
                self._park_timed_out(env, parked)

        if env.in_next:
            back_in_next()
        else:
            env.on_next = back_in_next

    def _park_timed_out(self, env: ExecutionEnvironment, parked: asyncio.Future[None]) -> None:
        """The runtime did not come back to /next after answering (or died): it is not reusable."""
        env.on_next = None
        self.parking[env.env_id] = asyncio.ensure_future(self._retire(env))
        parked.set_result(None)

    async def _retire(self, env: ExecutionEnvironment) -> None:
        try:
            await self._discard(env)
        finally:
            self.parking.pop(env.env_id, None)

    # --- invoke ------------------------------------------------------------------------------
    async def invoke(self, payload: bytes, *, client_context: str | None = None,
                     cognito_identity: str | None = None) -> InvokeOutcome:
        request_id = str(uuid.uuid4())
        self.counters["requests"] += 1
        if len(payload) > SYNC_PAYLOAD_LIMIT_BYTES:
            self.counters["too_large"] += 1
            return InvokeOutcome(request_id, "too_large", _error_payload(
                f"Request must be smaller than {SYNC_PAYLOAD_LIMIT_BYTES} bytes for the InvokeFunction operation",
                "RequestEntityTooLargeException"))
        env = await self._acquire()
        if env is None:
            self.counters["throttled"] += 1
            return InvokeOutcome(request_id, "throttled", _error_payload("Rate Exceeded.", "TooManyRequestsException"))
        self._capture[request_id] = []
        try:
            return await self._invoke_in(env, request_id, payload, client_context, cognito_identity)
        finally:
            self._capture.pop(request_id, None)

    async def _init(self, env: ExecutionEnvironment) -> tuple[ExecutionEnvironment, float | None, str | None,
                                                                 bytes | None, float]:
        """Start INIT. Returns (env, init_ms or None when INIT was retried in the invoke phase,
        error type, error payload, invoke-phase seconds already used)."""
        await env.start()
        try:
            return env, await env.wait_ready(self.config.init_timeout_s), None, None, 0.0
        except InitError as exc:
            init_ms = (time.perf_counter() - env.spawned_at) * 1000
            self.log(format_init_report(init_ms, phase="init", status="error") + f"\tError Type: {exc.error_type}")
            return env, None, exc.error_type, exc.body, 0.0
        except TimeoutError:
            self.log(format_init_report(self.config.init_timeout_s * 1000, phase="init", status="timeout"))
        # INIT timed out: discard this environment and retry INIT within the invocation, where
        # the function timeout (not the 10 s INIT limit) applies.
        await self._discard(env)
        retry = self._new_env()
        retry.state = "busy"
        started = time.perf_counter()
        await retry.start()
        try:
            await retry.wait_ready(self.config.timeout_s)
        except InitError as exc:
            return retry, None, exc.error_type, exc.body, time.perf_counter() - started
        except TimeoutError:
            return retry, None, "Sandbox.Timedout", None, time.perf_counter() - started
        used = time.perf_counter() - started
        self.log(format_init_report(used * 1000, phase="invoke", status="success"))
        self.counters["init_retries"] += 1
        return retry, None, None, None, used

    async def _invoke_in(self, env: ExecutionEnvironment, request_id: str, payload: bytes,
                         client_context: str | None, cognito_identity: str | None) -> InvokeOutcome:
        cfg = self.config
        cold = env.proc is None
        init_ms: float | None = None
        used_s = 0.0
        self.log(format_start(request_id), request_id=request_id)
        if cold:
            self.counters["cold_starts"] += 1
            env, init_ms, init_error, error_body, used_s = await self._init(env)
            if init_error is not None:
                await self._discard(env)
                message = f"Task timed out after {cfg.timeout_s:.2f} seconds" if init_error == "Sandbox.Timedout" \
                    else "init failed"
                body = error_body or _error_payload(message, init_error)
                return self._finish(env, request_id, cold, init_ms, used_s * 1000, body, init_error)
        remaining_s = cfg.timeout_s - used_s
        inv = Invocation(request_id=request_id, payload=payload,
                         deadline_ms=int((time.time() + remaining_s) * 1000),
                         client_context=client_context, cognito_identity=cognito_identity)
        metrics_before = len(env.metric_lines)
        env.deliver(inv)
        assert env.exited is not None
        exited = env.exited
        watchers: set[asyncio.Future[Any]] = {inv.result, exited}
        oom_watch = None
        if self.cgroup is None:
            oom_watch = asyncio.create_task(self._watch_rss(env))
            watchers.add(oom_watch)
        start = time.perf_counter()
        done = await _first_done(watchers, remaining_s)
        end = time.perf_counter()
        if oom_watch is not None and not oom_watch.done():
            oom_watch.cancel()
        duration_ms = used_s * 1000 + (end - (inv.delivered_at or start)) * 1000
        error_type: str | None = None
        body = b""
        if inv.result in done:
            kind, body, header_type = inv.result.result()
            if kind == "error":
                error_type = header_type or _error_type_of(body)
            elif len(body) > SYNC_PAYLOAD_LIMIT_BYTES:
                error_type = "Function.ResponseSizeTooLarge"
                body = _error_payload(f"Response payload size exceeded maximum allowed payload size "
                                      f"({SYNC_PAYLOAD_LIMIT_BYTES} bytes).", error_type)
        elif exited in done or (oom_watch is not None and oom_watch in done):
            await asyncio.sleep(0)  # let the cgroup's OOM counter settle
            oom = (oom_watch is not None and oom_watch in done) or env.sandbox.oom_killed()
            error_type = "Runtime.OutOfMemory" if oom else "Runtime.ExitError"
            code = env.proc.returncode if env.proc is not None else None
            message = (f"RequestId: {request_id} Error: Runtime exited with error: signal: killed" if oom
                       else f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}")
            body = _error_payload(message, error_type)
            self.log(message, request_id=request_id)
        else:
            error_type = "Sandbox.Timedout"
            message = f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {request_id} Task timed out after " \
                      f"{cfg.timeout_s:.2f} seconds"
            body = _error_payload(message, error_type)
            self.log(message, request_id=request_id)
        outcome = self._finish(env, request_id, cold, init_ms, duration_ms, body, error_type,
                               peak_memory_bytes=inv.peak_memory_bytes if inv.result in done else None)
        outcome.metrics = _emf_values(env.metric_lines[metrics_before:])
        env.invocations += 1
        if error_type in ("Sandbox.Timedout", "Runtime.ExitError", "Runtime.OutOfMemory") or not env.alive:
            await self._discard(env)  # the environment does not survive these; the next request is cold
        else:
            self._release(env)
        return outcome

    def _finish(self, env: ExecutionEnvironment, request_id: str, cold: bool, init_ms: float | None,
                duration_ms: float, body: bytes, error_type: str | None, *,
                peak_memory_bytes: int | None = None) -> InvokeOutcome:
        if peak_memory_bytes is None:
            peak_memory_bytes = env.sandbox.peak_memory_bytes(env.pid)
        max_mem_mb = math.ceil(peak_memory_bytes / MB)
        report = Report(request_id=request_id, duration_ms=round(duration_ms, 2),
                        billed_duration_ms=billed_duration_ms(duration_ms, init_ms),
                        memory_size_mb=self.config.memory_mb, max_memory_used_mb=max_mem_mb,
                        init_duration_ms=round(init_ms, 2) if init_ms is not None else None)
        self.reports[request_id] = report
        if len(self.reports) > MAX_KEPT_REPORTS:
            del self.reports[next(iter(self.reports))]  # oldest first: a long run keeps bounded memory
        self.log(format_end(request_id), request_id=request_id)
        self.log(format_report(report), request_id=request_id)
        if error_type is not None:
            self.counters["errors"] += 1
        return InvokeOutcome(request_id, "function_error" if error_type else "ok", body, error_type, cold, env.env_id,
                             init_ms, duration_ms, report, logs=list(self._capture.get(request_id, [])))

    async def _watch_rss(self, env: ExecutionEnvironment) -> None:
        """Without a cgroup: kill the environment when its RSS passes the memory size (approximate)."""
        limit = self.config.memory_mb * MB
        while env.alive:
            if env.pid is not None and rss_bytes(env.pid) > limit:
                await env.destroy()
                return
            await asyncio.sleep(RSS_POLL_S)
        await asyncio.Event().wait()  # the process ended on its own: that is the exit watcher's case


async def _first_done(futures: set[asyncio.Future[Any]], timeout_s: float) -> set[asyncio.Future[Any]]:
    """The futures done once the first of them completes or the timeout passes: what
    asyncio.wait(return_when=FIRST_COMPLETED) gives, at under half its cost (one callback per future,
    no set bookkeeping), as it runs once per invocation."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    timer = loop.call_later(timeout_s, wake, None)
    try:
        await waiter
    finally:
        timer.cancel()
        for future in futures:
            future.remove_done_callback(wake)
    return {f for f in futures if f.done()}


def _error_type_of(body: bytes) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(body).get("errorType") or "Unhandled")
    return "Unhandled"


def _emf_values(lines: list[dict[str, Any]]) -> dict[str, float]:
    """Metric values from CloudWatch EMF lines the function printed (Powertools Metrics)."""
    out: dict[str, float] = {}
    for doc in lines:
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                value = doc.get(name)
                if isinstance(value, list) and value:
                    value = value[-1]
                if isinstance(value, (int, float)):
                    out[name] = float(value)
    return out


