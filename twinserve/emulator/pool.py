"""The function's execution environments: started on demand within the concurrency limit, reused
most-recently-used first, frozen while idle (SIGSTOP), reaped after `keep_alive_s`.

An environment that has answered is "parking" until its runtime is back in /next; it is frozen and
made idle right then (the environment reports it synchronously), so a request right behind the
previous one finds it idle, as on Lambda.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twinserve.emulator.cleanup import EMULATOR_VARIABLE, ENV_VARIABLE
from twinserve.emulator.config import FunctionConfig
from twinserve.emulator.environment import ExecutionEnvironment
from twinserve.emulator.sandbox import Sandbox

PARKING_WAIT_S = 0.05
PARKING_TIMEOUT_S = 5.0  # an answered runtime not back in /next by then is discarded
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class EnvironmentPool:
    def __init__(self, config: FunctionConfig, *, emulator_id: str, cgroup: str | None, runtime_layer: Path,
                 log: Callable[[str, ExecutionEnvironment], None], count: Callable[[str], None]) -> None:
        self.config = config
        self.emulator_id = emulator_id
        self.cgroup = cgroup
        self.runtime_layer = runtime_layer
        self.envs: dict[str, ExecutionEnvironment] = {}
        self.idle: list[ExecutionEnvironment] = []
        # Answered, but the runtime has not yet come back to /next: busy until it does.
        self.parking: dict[str, asyncio.Future[None]] = {}
        self._log = log
        self._count = count
        self._env_counter = itertools.count(1)
        self._reaper: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap())

    async def close(self) -> None:
        await self._settle()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await asyncio.gather(*(self.discard(env) for env in list(self.envs.values())))
        self.idle.clear()

    async def _settle(self) -> None:
        if self.parking:
            await asyncio.wait(list(self.parking.values()), timeout=5)

    async def _reap(self) -> None:
        period = min(1.0, max(self.config.keep_alive_s / 4, 0.05))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for env in [e for e in self.idle if now - e.idle_since >= self.config.keep_alive_s]:
                self.idle.remove(env)
                self._count("reaped")
                await self.discard(env)

    async def drop_idle(self) -> int:
        """Destroy every idle environment, so the next request is a cold start (forced cold)."""
        await self._settle()
        dropped = list(self.idle)
        self.idle.clear()
        for env in dropped:
            await self.discard(env)
        return len(dropped)

    def snapshot(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [{"env": e.env_id, "state": e.state, "invocations": e.invocations, "pid": e.pid,
                 "idle_s": round(now - e.idle_since, 1) if e.state == "idle" else None}
                for e in self.envs.values()]

    # --- environments ------------------------------------------------------------------------
    def new_env(self) -> ExecutionEnvironment:
        """A new environment, marked busy (its INIT runs within the invocation that asked for it)."""
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
            # Every process of this environment, and anything it starts, carries these: clean-up
            # finds them by them (cleanup.py), and so do the tests.
            EMULATOR_VARIABLE: self.emulator_id, ENV_VARIABLE: env_id,
            # Lambda hands the function its role's credentials; locally, whatever this shell has.
            **{k: os.environ[k] for k in CREDENTIAL_VARIABLES if k in os.environ},
            **cfg.environment,
        }
        sandbox = Sandbox(f"twinserve/{env_id}", memory_mb=cfg.memory_mb, kind=self.cgroup)
        env = ExecutionEnvironment(env_id=env_id, handler=cfg.handler, package=cfg.package,
                                   runtime_layer=self.runtime_layer, environ=environ, sandbox=sandbox,
                                   function_arn=cfg.function_arn, log=lambda line: self._log(line, env))
        env.state = "busy"
        self.envs[env_id] = env
        return env

    async def acquire(self) -> ExecutionEnvironment | None:
        """An idle environment, else one about to become idle, else a new one within the limit."""
        env = self._take_idle()
        if env is None and self.parking:
            # An environment that just answered is back in /next within a millisecond or so: on a
            # sequential stream of requests Lambda reuses it rather than starting another.
            await self._wait_parking()
            env = self._take_idle()
        if env is not None:
            return env
        if len(self.envs) < self.config.concurrency:
            return self.new_env()
        if self.parking:  # at the limit, but some environment is about to be free
            await self._wait_parking()
            return self._take_idle()
        return None

    async def _wait_parking(self) -> None:
        await asyncio.wait(list(self.parking.values()), timeout=PARKING_WAIT_S, return_when=asyncio.FIRST_COMPLETED)

    def _take_idle(self) -> ExecutionEnvironment | None:
        while self.idle:
            env = self.idle.pop()  # most recently used first
            if env.alive:
                env.state = "busy"
                return env
            self.envs.pop(env.env_id, None)
        return None

    async def discard(self, env: ExecutionEnvironment) -> None:
        self.envs.pop(env.env_id, None)
        await env.destroy()
        if env.leftovers:
            self._count("cleanup_failures")
            self._log(f"twinserve: environment {env.env_id} could not be cleaned up: {', '.join(env.leftovers)}", env)

    def release(self, env: ExecutionEnvironment) -> None:
        """Park the environment: idle (frozen) as soon as its runtime is back in /next."""
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

        def died(_: object) -> None:
            """A runtime that exits after answering is gone at once, not held busy until the timer."""
            if not parked.done() and env.on_next is back_in_next:
                timer.cancel()
                self._park_timed_out(env, parked)

        if env.in_next:
            back_in_next()
        else:
            env.on_next = back_in_next
            if env.exited is not None:
                env.exited.add_done_callback(died)

    def _park_timed_out(self, env: ExecutionEnvironment, parked: asyncio.Future[None]) -> None:
        """The runtime did not come back to /next after answering (or died): it is not reusable."""
        env.on_next = None
        self.parking[env.env_id] = asyncio.ensure_future(self._retire(env))
        parked.set_result(None)

    async def _retire(self, env: ExecutionEnvironment) -> None:
        try:
            await self.discard(env)
        finally:
            self.parking.pop(env.env_id, None)
