"""The Lambda service around the environments: Lambda's execution model, as AWS documents it.

- one invocation per environment; no idle environment → a new one (cold start) while fewer than
  `concurrency` exist; otherwise the request is throttled (never queued) — see pool.py;
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
import json
import math
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from benchmarks.reportlog import (
    Report,
    billed_duration_ms,
    format_end,
    format_init_report,
    format_report,
    format_start,
)
from twinserve.emulator import cleanup
from twinserve.emulator.config import SYNC_PAYLOAD_LIMIT_BYTES, FunctionConfig, InvokeOutcome
from twinserve.emulator.environment import ExecutionEnvironment, Invocation
from twinserve.emulator.exceptions import InitError
from twinserve.emulator.logsink import LogSink
from twinserve.emulator.pool import EnvironmentPool
from twinserve.emulator.runtime_layer import build_runtime_layer, default_layer_dir
from twinserve.emulator.sandbox import MB, detect_cgroup, rss_bytes, vcpus_for

RSS_POLL_S = 0.01
MAX_KEPT_REPORTS = 100_000


def _error_payload(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class LambdaService:
    """The invoke state machine: throttle or take an environment, INIT it when cold (with AWS's INIT
    timeout and retry), deliver the event under the function timeout, classify how it ended
    (answer, error, timeout, exit, out of memory, oversized response), write START/END/REPORT."""

    def __init__(self, config: FunctionConfig) -> None:
        config.validate()
        self.config = config
        self.cgroup = detect_cgroup() if config.use_cgroups else None
        self.emulator_id = uuid.uuid4().hex[:8]
        self.counters = collections.Counter[str]()
        self.reports: dict[str, Report] = {}
        self.logs = LogSink(echo=config.echo, log_file=config.log_file)
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.pool = EnvironmentPool(config, emulator_id=self.emulator_id, cgroup=self.cgroup,
                                    runtime_layer=build_runtime_layer(config.runtime_layer or default_layer_dir()),
                                    log=self._env_log, count=self._count)

    def _count(self, name: str) -> None:
        self.counters[name] += 1

    def _env_log(self, line: str, env: ExecutionEnvironment) -> None:
        self.logs.log(line, env.log_request_id)

    async def start(self) -> None:
        self._watchdog = cleanup.start_watchdog(self.emulator_id)
        self.pool.start()

    async def close(self) -> None:
        await self.pool.close()
        left_pids, left_dirs = cleanup.clean_emulator(self.emulator_id)  # anything the environments missed
        if left_pids or left_dirs:
            self.counters["cleanup_failures"] += 1
            self.logs.log(f"twinserve: could not clean up processes {left_pids} and cgroups "
                          f"{[str(d) for d in left_dirs]}")
        if self._watchdog is not None:  # its pipe closes: it checks once more and exits
            with contextlib.suppress(OSError):
                assert self._watchdog.stdin is not None
                self._watchdog.stdin.close()
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(None, self._watchdog.wait, 10)
            self._watchdog = None
        self.logs.close()

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
            "emulator_id": self.emulator_id, "package_report": self.config.package_report,
        }

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
        env = await self.pool.acquire()
        if env is None:
            self.counters["throttled"] += 1
            return InvokeOutcome(request_id, "throttled", _error_payload("Rate Exceeded.", "TooManyRequestsException"))
        self.logs.capture(request_id)
        try:
            return await self._invoke_in(env, request_id, payload, client_context, cognito_identity)
        finally:
            self.logs.release(request_id)

    async def _init(self, env: ExecutionEnvironment) -> tuple[ExecutionEnvironment, float | None, str | None,
                                                                 bytes | None, float]:
        """Start INIT. Returns (env, init_ms or None when INIT was retried in the invoke phase,
        error type, error payload, invoke-phase seconds already used)."""
        await env.start()
        try:
            return env, await env.wait_ready(self.config.init_timeout_s), None, None, 0.0
        except InitError as exc:
            init_ms = (time.perf_counter() - env.spawned_at) * 1000
            self.logs.log(format_init_report(init_ms, phase="init", status="error") + f"\tError Type: {exc.error_type}")
        except TimeoutError:
            self.logs.log(format_init_report(self.config.init_timeout_s * 1000, phase="init", status="timeout"))
        # INIT failed or timed out: as Lambda does, discard this environment and run INIT again within
        # the invocation (a "suppressed init"), where the function timeout (not the 10 s INIT limit)
        # applies and whose time is the invocation's, billed.
        # https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-init-errors
        await self.pool.discard(env)
        self.counters["init_retries"] += 1
        retry = self.pool.new_env()
        started = time.perf_counter()
        await retry.start()
        try:
            await retry.wait_ready(self.config.timeout_s)
        except InitError as exc:
            used = time.perf_counter() - started
            self.logs.log(format_init_report(used * 1000, phase="invoke", status="error")
                          + f"\tError Type: {exc.error_type}")
            return retry, None, exc.error_type, exc.body, used
        except TimeoutError:
            return retry, None, "Sandbox.Timedout", None, time.perf_counter() - started
        used = time.perf_counter() - started
        self.logs.log(format_init_report(used * 1000, phase="invoke", status="success"))
        return retry, None, None, None, used

    async def _invoke_in(self, env: ExecutionEnvironment, request_id: str, payload: bytes,
                         client_context: str | None, cognito_identity: str | None) -> InvokeOutcome:
        cfg = self.config
        cold = env.proc is None
        init_ms: float | None = None
        used_s = 0.0
        if cold:  # INIT_START opens a cold start, before START (the runtime version as this machine has it)
            self.logs.log(f"INIT_START Runtime Version: python:{sys.version_info.major}.{sys.version_info.minor}."
                          f"local\tRuntime Version ARN: arn:aws:lambda:{cfg.region}::runtime:local")
        self.logs.log(format_start(request_id), request_id)
        if cold:
            self.counters["cold_starts"] += 1
            env, init_ms, init_error, error_body, used_s = await self._init(env)
            if init_error is not None:
                await self.pool.discard(env)
                message = f"Task timed out after {cfg.timeout_s:.2f} seconds" if init_error == "Sandbox.Timedout" \
                    else "init failed"
                body = error_body or _error_payload(message, init_error)
                return self._finish(env, request_id, cold, init_ms, used_s * 1000, body, init_error,
                                    status="timeout" if init_error == "Sandbox.Timedout" else "error")
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
        status: str | None = None
        body = b""
        if inv.result in done:
            kind, body, header_type = inv.result.result()
            if kind == "error":
                error_type = header_type or _error_type_of(body)
            elif len(body) > SYNC_PAYLOAD_LIMIT_BYTES:
                error_type, status = "Function.ResponseSizeTooLarge", "error"
                body = _error_payload(f"Response payload size exceeded maximum allowed payload size "
                                      f"({SYNC_PAYLOAD_LIMIT_BYTES} bytes).", error_type)
        elif exited in done or (oom_watch is not None and oom_watch in done):
            await asyncio.sleep(0)  # let the cgroup's OOM counter settle
            oom = (oom_watch is not None and oom_watch in done) or env.sandbox.oom_killed()
            error_type = "Runtime.OutOfMemory" if oom else "Runtime.ExitError"
            status = "error"
            code = env.proc.returncode if env.proc is not None else None
            message = (f"RequestId: {request_id} Error: Runtime exited with error: signal: killed" if oom
                       else f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}")
            body = _error_payload(message, error_type)
            self.logs.log(message, request_id)
        else:
            error_type, status = "Sandbox.Timedout", "timeout"
            message = f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {request_id} Task timed out after " \
                      f"{cfg.timeout_s:.2f} seconds"
            body = _error_payload(message, error_type)
            self.logs.log(message, request_id)
        await env.settle_output()  # the lines it wrote before answering are in, before END and REPORT
        outcome = self._finish(env, request_id, cold, init_ms, duration_ms, body, error_type,
                               peak_memory_bytes=inv.peak_memory_bytes if inv.result in done else None,
                               status=status)
        outcome.metrics = _emf_values(env.metric_lines[metrics_before:])
        env.invocations += 1
        if error_type in ("Sandbox.Timedout", "Runtime.ExitError", "Runtime.OutOfMemory") or not env.alive:
            await self.pool.discard(env)  # the environment does not survive these; the next request is cold
        else:
            self.pool.release(env)
        return outcome

    def _finish(self, env: ExecutionEnvironment, request_id: str, cold: bool, init_ms: float | None,
                duration_ms: float, body: bytes, error_type: str | None, *,
                peak_memory_bytes: int | None = None, status: str | None = None) -> InvokeOutcome:
        """`status`: REPORT's Status, for a timeout or an error of the platform (the runtime crashed
        or ran out of memory, INIT failed, the response was too large); a handler's own exception
        has none, as on AWS."""
        if peak_memory_bytes is None:
            peak_memory_bytes = env.sandbox.peak_memory_bytes(env.pid)
        max_mem_mb = math.ceil(peak_memory_bytes / MB)
        report = Report(request_id=request_id, duration_ms=round(duration_ms, 2),
                        billed_duration_ms=billed_duration_ms(duration_ms, init_ms),
                        memory_size_mb=self.config.memory_mb, max_memory_used_mb=max_mem_mb,
                        init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
                        status=status, error_type=error_type if status == "error" else None)
        self.reports[request_id] = report
        if len(self.reports) > MAX_KEPT_REPORTS:
            del self.reports[next(iter(self.reports))]  # oldest first: a long run keeps bounded memory
        self.logs.log(format_end(request_id), request_id)
        self.logs.log(format_report(report), request_id)
        if error_type is not None:
            self.counters["errors"] += 1
        return InvokeOutcome(request_id, "function_error" if error_type else "ok", body, error_type, cold, env.env_id,
                             init_ms, duration_ms, report, logs=self.logs.captured(request_id))

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


