"""Fargate under a trace: tasks of `workers` FIFO servers behind a round-robin load balancer (the ALB's
default algorithm), scaled by target tracking as the ServiceStack deploys it (the cost model's
`cost_model.fleet.Autoscaler`, so the fleet simulated and the fleet priced are one).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cost_model.fleet import METRIC_PERIOD_S, Autoscaler, ScalingPolicy
from twinserve.simulator.queueing import erlang_c, smoothed_rate
from twinserve.simulator.result import SimResult, check_samples, draw, latency_summary, timeline
from twinserve.simulator.trace import bin_index

SAMPLED_REQUESTS = 400_000


@dataclass
class FargateParams:
    service_ms: NDArray[np.float64]  # time a worker is busy per request (measured warm latencies)
    workers: int = 1  # per task
    min_tasks: int = 2
    max_tasks: int = 10
    requests_per_target_per_min: float | None = 1000.0  # the request-count policy's target; None: no such policy
    cpu_target_percent: float | None = 60.0  # the CPU policy's target; None: no such policy
    task_start_s: float = 60.0  # scale-out decision to healthy behind the load balancer
    scale_out_datapoints: int = 3
    scale_in_datapoints: int = 15
    scale_in_cooldown_s: float = 300.0
    timeout_s: float = 60.0  # the ALB's idle timeout: a request waiting longer is answered 504
    initial_tasks: int | None = None  # tasks running when the trace starts (default: the minimum)
    # CPU as the cost model computes it (the rate over a task's measured capacity); None: from busy time
    capacity_per_task_rps: float | None = None
    name: str = "fargate"

    def __post_init__(self) -> None:
        self.service_ms = check_samples("service times", self.service_ms)
        if self.workers < 1 or not 1 <= self.min_tasks <= self.max_tasks:
            raise ValueError(f"need workers ≥ 1 and 1 ≤ min tasks ≤ max tasks; got workers {self.workers}, "
                             f"min {self.min_tasks}, max {self.max_tasks}")
        if self.initial_tasks is not None and not self.min_tasks <= self.initial_tasks <= self.max_tasks:
            raise ValueError(f"initial tasks {self.initial_tasks} must be within min {self.min_tasks} and "
                             f"max {self.max_tasks}")

    @property
    def policy(self) -> ScalingPolicy:
        return ScalingPolicy(min_tasks=self.min_tasks, max_tasks=self.max_tasks,
                             requests_per_target_per_min=self.requests_per_target_per_min,
                             cpu_target_percent=self.cpu_target_percent, task_start_s=self.task_start_s,
                             scale_out_datapoints=self.scale_out_datapoints,
                             scale_in_datapoints=self.scale_in_datapoints,
                             scale_in_cooldown_s=self.scale_in_cooldown_s)

    def cpu_percent(self, busy_s: float, ready: int, requests: float) -> float:
        if self.capacity_per_task_rps:
            return 100.0 * requests / METRIC_PERIOD_S / (ready * self.capacity_per_task_rps)
        return 100.0 * busy_s / (ready * self.workers * METRIC_PERIOD_S)

    @property
    def mean_service_s(self) -> float:
        return float(self.service_ms.mean()) / 1000.0

    def describe(self) -> dict[str, float | None]:
        return {"service_p50_ms": float(np.median(self.service_ms)), "workers": self.workers,
                "min_tasks": self.min_tasks, "max_tasks": self.max_tasks,
                "requests_per_target_per_min": self.requests_per_target_per_min,
                "cpu_target_percent": self.cpu_target_percent, "task_start_s": self.task_start_s,
                "capacity_per_task_rps": self.workers / self.mean_service_s}


def simulate_fargate_exact(times_s: NDArray[np.float64], params: FargateParams, *, seed: int = 0,
                           bin_s: float = 1.0) -> SimResult:
    rng = np.random.default_rng(seed)
    n = int(times_s.size)
    service_s = draw(params.service_ms, n, rng).tolist()
    latency_s = np.full(n, np.nan)
    tasks_at = np.zeros(n)
    scaler = Autoscaler(params.policy, params.initial_tasks)
    queues = [[0.0] * params.workers for _ in scaler.ready_at]  # per task: when each worker is free
    next_eval, requests, busy, turn, failed = METRIC_PERIOD_S, 0, 0.0, 0, 0
    for i, t in enumerate(times_s.tolist()):
        while t >= next_eval:
            scaler.evaluate(next_eval, requests, params.cpu_percent(busy, scaler.ready(next_eval), requests))
            requests, busy = 0, 0.0
            del queues[len(scaler.ready_at):]
            queues += [[next_eval + params.task_start_s] * params.workers
                       for _ in range(len(scaler.ready_at) - len(queues))]
            next_eval += METRIC_PERIOD_S
        ready = scaler.ready(t)
        queue = queues[turn % ready]
        turn += 1
        requests += 1
        tasks_at[i] = ready
        start = max(t, queue[0])
        if start - t > params.timeout_s:
            failed += 1
            continue
        heapq.heapreplace(queue, start + service_s[i])
        latency_s[i] = start - t + service_s[i]
        busy += service_s[i]
    answered = ~np.isnan(latency_s)
    idx, bins = bin_index(times_s, bin_s)
    instances = np.zeros(bins)
    np.maximum.at(instances, idx, tasks_at)
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    return SimResult(option=params.name, mode="exact", requests=float(n), cold_starts=0.0, throttled=0.0,
                     failed=float(failed), latency_ms=latency_summary(latency_s[answered] * 1000.0),
                     timeline=timeline(np.arange(bins) * bin_s, instances, counts, bin_s, idx[answered],
                                       latency_s[answered] * 1000.0), inputs=params.describe())


def simulate_fargate_aggregated(counts: NDArray[np.float64], bin_s: float, params: FargateParams, *, seed: int = 0,
                                sampled: int = SAMPLED_REQUESTS) -> SimResult:
    """Per bin: the tasks serving (from the autoscaler), a fluid backlog when they are overloaded,
    and below that the stationary wait of each task's queue: Erlang C with the Allen-Cunneen
    correction (ca² + cs²)/2, where round-robin over T tasks makes each task's arrivals Erlang-T
    (ca² = 1/T) and cs² is the measured service times' squared coefficient of variation."""
    counts = np.asarray(counts, dtype=np.float64)
    mean_s = params.mean_service_s
    cs2 = float(params.service_ms.var() / params.service_ms.mean() ** 2) if params.service_ms.mean() > 0 else 0.0
    scaler = Autoscaler(params.policy, params.initial_tasks)
    tasks = np.empty_like(counts)
    fluid_wait_s = np.zeros_like(counts)
    backlog, requests, busy, next_eval = 0.0, 0.0, 0.0, METRIC_PERIOD_S
    for b, n in enumerate(counts.tolist()):
        t0 = b * bin_s
        ready = scaler.ready(t0)
        tasks[b] = ready
        capacity = ready * params.workers / mean_s * bin_s if mean_s > 0 else math.inf
        after = max(0.0, backlog + n - capacity)
        fluid_wait_s[b] = (backlog + after) / 2.0 / (capacity / bin_s)
        busy += min(n + backlog, capacity) * mean_s
        requests += n
        backlog = after
        while (b + 1) * bin_s >= next_eval:
            share = min(1.0, METRIC_PERIOD_S / bin_s)  # a bin longer than a minute: its share of it
            scaler.evaluate(next_eval, requests * share,
                            params.cpu_percent(busy * share, scaler.ready(next_eval), requests * share))
            requests, busy = 0.0, 0.0
            next_eval += METRIC_PERIOD_S
    load = smoothed_rate(counts, bin_s) * mean_s / tasks  # Erlangs offered to each task
    waiting = np.where(fluid_wait_s > 0, 0.0, erlang_c(params.workers, load))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_wait_s = np.where(waiting > 0, waiting * mean_s / np.maximum(params.workers - load, 1e-12)
                               * (1.0 / tasks + cs2) / 2.0, 0.0)
    rng = np.random.default_rng(seed)
    latency_ms, failed, kept = np.empty(0), 0.0, np.empty(0, dtype=np.int64)
    if counts.sum() > 0:
        m = int(min(sampled, max(counts.sum(), 1)))
        which = rng.choice(counts.size, size=m, p=counts / counts.sum())
        waits = fluid_wait_s[which] + np.where(rng.random(m) < waiting[which],
                                               rng.exponential(1.0, m) * mean_wait_s[which]
                                               / np.maximum(waiting[which], 1e-12), 0.0)
        late = waits > params.timeout_s
        failed = float(late.mean() * counts.sum())
        latency_ms = (waits[~late] * 1000.0 + rng.choice(params.service_ms, int((~late).sum())))
        kept = which[~late]
    return SimResult(option=params.name, mode="aggregated", requests=float(counts.sum()), cold_starts=0.0,
                     throttled=0.0, failed=failed, latency_ms=latency_summary(latency_ms),
                     timeline=timeline(np.arange(counts.size) * bin_s, tasks, counts, bin_s, kept, latency_ms),
                     inputs=params.describe())
