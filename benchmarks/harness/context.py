"""What a scenario gets: the target, a load generator on an event loop, the request body, options."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from benchmarks.harness.loadgen import Client, Reply, encode_request, new_event_loop
from benchmarks.harness.records import Record
from benchmarks.harness.targets import ColdPathTimed, ColdStartable, MemoryConfigurable, ModelSwappable, Target

T = TypeVar("T")
C = TypeVar("C")


@dataclass
class Options:
    quick: bool = False
    cold_starts: int = 10
    warm_requests: int = 200
    burst_size: int = 20
    rate_per_s: float | None = None  # default depends on the target kind
    rate_duration_s: float = 10.0
    slo_p99_ms: float = 100.0
    saturation_start_per_s: float = 20.0
    saturation_step_s: float = 3.0
    saturation_max_steps: int = 16  # 20/s × 1.5^15 ≈ 8,800/s: beyond one instance on this size of machine
    limit_batches: tuple[int, ...] = (1, 10, 100, 1000, 2000, 4000, 6000, 8000, 10_000, 10_001)
    sweep_trees: tuple[int, ...] = (10, 100, 500)
    keep_alive_gaps_min: tuple[float, ...] = (1, 5, 15, 30, 60)
    # Power tuning: the sizes AWS Lambda Power Tuning tries by default, plus 1,769 MB (one vCPU).
    sweep_memory_mb: tuple[int, ...] = (128, 256, 512, 1024, 1536, 1769, 3008, 5120, 10240)
    sweep_cold_starts: int = 3
    sweep_warm_requests: int = 100

    @classmethod
    def quick_defaults(cls) -> Options:
        return cls(quick=True, cold_starts=3, warm_requests=50, burst_size=8, rate_duration_s=3.0,
                   saturation_step_s=2.0, sweep_trees=(10, 100), sweep_memory_mb=(512, 1024, 1769, 3008),
                   sweep_cold_starts=1, sweep_warm_requests=30)


@dataclass
class Context:
    target: Target
    scenario: str
    example: dict[str, Any]
    options: Options
    records: list[Record] = field(default_factory=list)
    progress: Callable[[int], None] = lambda n: None
    extra: dict[str, Any] = field(default_factory=dict)
    unjoined: int = 0  # records whose REPORT line never arrived
    _loop: asyncio.AbstractEventLoop = field(default_factory=new_event_loop)
    _client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.target.host, self.target.port, connections=256,
                                  timeout_s=max(65.0, self.target.timeout_s + 5), tls=self.target.tls)
        return self._client

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def body(self, instances: int = 1) -> bytes:
        return json.dumps({"instances": [self.example] * instances}).encode()

    def request(self, body: bytes | None = None, path: str = "/predict", method: str = "POST") -> bytes:
        return encode_request(method, self.target.path_prefix + path, body if body is not None else self.body(),
                              host=self.target.host)

    def record(self, reply: Reply, step: Any = None, cold: bool | None = None) -> Record:
        rec = Record.from_reply(reply, target=self.target.name, scenario=self.scenario, source=self.target.source,
                                step=step, cold=cold)
        self.records.append(rec)
        return rec

    def send(self, body: bytes | None = None, step: Any = None, cold: bool | None = None) -> Record:
        return self.record(self.run(self.client.send(self.request(body))), step, cold)

    def join_reports(self, records: list[Record] | None = None) -> int:
        """Attach REPORT-line figures to records by request id (waits for late CloudWatch lines, read
        from 5 s before the first of these requests went out). Returns how many could not be joined,
        also counted in `unjoined` for the scenario's findings."""
        records = self.records if records is None else records
        wanted = {r.request_id for r in records if r.request_id and r.status != 429}
        if not wanted or self.target.kind != "lambda":  # only Lambda writes REPORT lines
            return 0
        since_s = min(r.sent_at for r in records) - 5.0
        reports = self.target.reports(wanted=wanted, since_s=since_s)
        missing = 0
        for rec in records:
            if rec.request_id in reports:
                rec.join_report(reports[rec.request_id])
            elif rec.request_id in wanted:
                missing += 1
        self.unjoined += missing
        return missing

    # Capabilities: the scenario registry runs a scenario only on targets that have what it needs.
    def force_cold(self) -> None:
        self.capability(ColdStartable).force_cold()  # type: ignore[type-abstract]
        if self.target.kind == "container":
            # A new instance: the pool's keep-alive connections were to the old one, and their close
            # may not have reached this (idle) loop yet. The first request would fail on one of them.
            self.reset_client()

    def memory_configurable(self) -> MemoryConfigurable:
        return self.capability(MemoryConfigurable)  # type: ignore[type-abstract]

    def swappable(self) -> ModelSwappable:
        return self.capability(ModelSwappable)  # type: ignore[type-abstract]

    def last_cold_path(self) -> dict[str, float]:
        """The target's latest instance start, if it times them ({} otherwise)."""
        return self.target.cold_path_s[-1] if isinstance(self.target, ColdPathTimed) and self.target.cold_path_s \
            else {}

    def capability(self, kind: type[C]) -> C:
        if not isinstance(self.target, kind):
            raise TypeError(f"target {self.target.name} is not {kind.__name__}; scenario {self.scenario} needs it")
        return self.target

    def reset_client(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def close(self) -> None:
        self.reset_client()
        self._loop.close()
