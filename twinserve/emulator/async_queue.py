"""Asynchronous (`Event`) invocations as Lambda handles them: queued, retried, and counted.

AWS (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html): a function
error is retried twice, about one minute and then two minutes later; a throttle (or a system error)
is retried with exponential backoff, from about a second up to five minutes, for as long as the
event is younger than its maximum age (6 hours by default); an event that runs out of retries or
age is dropped (or sent to a destination or dead-letter queue, which the emulator does not have).
The delays are settings, so a test can run the policy in seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from twinserve.emulator.config import InvokeOutcome


@dataclass(frozen=True)
class AsyncPolicy:
    retry_delays_s: tuple[float, ...] = (60.0, 120.0)  # after a function error; len = retries
    throttle_first_s: float = 1.0
    throttle_max_s: float = 300.0
    max_event_age_s: float = 6 * 3600.0


class Invoker(Protocol):
    async def invoke(self, payload: bytes, *, client_context: str | None = None,
                     cognito_identity: str | None = None) -> InvokeOutcome: ...


class AsyncQueue:
    """Events accepted with 202, run in the background with the retry policy. `counters`: accepted,
    processed (succeeded), retried (attempts after the first), function_errors, throttles, dropped
    (out of retries or age), in_flight."""

    def __init__(self, service: Invoker, policy: AsyncPolicy | None = None) -> None:
        self.service = service
        self.policy = policy or AsyncPolicy()
        self.counters: Counter[str] = Counter()
        self._tasks: set[asyncio.Future[None]] = set()

    def submit(self, payload: bytes, client_context: str | None) -> str:
        event_id = str(uuid.uuid4())
        self.counters["accepted"] += 1
        self.counters["in_flight"] += 1
        task = asyncio.ensure_future(self._run(payload, client_context))
        self._tasks.add(task)  # keep a reference until it finishes
        task.add_done_callback(self._tasks.discard)
        return event_id

    async def _run(self, payload: bytes, client_context: str | None) -> None:
        policy, received = self.policy, time.monotonic()
        errors, backoff = 0, policy.throttle_first_s
        try:
            while True:
                outcome = await self.service.invoke(payload, client_context=client_context)
                if outcome.status == "throttled" or outcome.status == "too_large":
                    self.counters["throttles" if outcome.status == "throttled" else "too_large"] += 1
                    if outcome.status == "too_large" or time.monotonic() - received + backoff > policy.max_event_age_s:
                        self.counters["dropped"] += 1
                        return
                    delay, backoff = backoff, min(backoff * 2, policy.throttle_max_s)
                elif outcome.function_error:
                    self.counters["function_errors"] += 1
                    if errors >= len(policy.retry_delays_s):
                        self.counters["dropped"] += 1
                        return
                    delay, errors = policy.retry_delays_s[errors], errors + 1
                else:
                    self.counters["processed"] += 1
                    return
                self.counters["retried"] += 1
                await asyncio.sleep(delay)
        finally:
            self.counters["in_flight"] -= 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
