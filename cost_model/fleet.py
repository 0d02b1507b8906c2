"""The Fargate fleet as the ServiceStack's scaling policy runs it: one source of truth for the cost
model (tasks per minute → task-seconds) and the traffic simulator (tasks serving each request).

Target tracking (https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html):
one-minute metrics (ALBRequestCountPerTarget: requests per target per minute; ECS CPU utilisation);
a policy scales out once its metric has been above the target for 3 consecutive minutes and in once
below 90% of it for 15, to the capacity that brings the metric back to the target; with several
policies, any one scales out and all must agree to scale in; scale-in waits for its cooldown after
any scaling. A new task serves once it has started and passed the load balancer's health checks.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

METRIC_PERIOD_S = 60.0


@dataclass(frozen=True)
class ScalingPolicy:
    min_tasks: int = 2
    max_tasks: int = 10
    requests_per_target_per_min: float | None = 1000.0  # None: no request-count policy
    cpu_target_percent: float | None = 60.0  # None: no CPU policy
    task_start_s: float = 60.0  # scale-out decision to healthy behind the load balancer (modeled)
    scale_out_datapoints: int = 3
    scale_in_datapoints: int = 15
    scale_in_cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_tasks <= self.max_tasks:
            raise ValueError(f"need 1 ≤ min tasks ≤ max tasks, got min {self.min_tasks} and max {self.max_tasks}")
        if self.requests_per_target_per_min is not None and self.requests_per_target_per_min <= 0:
            raise ValueError(f"requests per target per minute must be positive, got {self.requests_per_target_per_min}")
        if self.cpu_target_percent is not None and not 0 < self.cpu_target_percent <= 100:
            raise ValueError(f"CPU target must be above 0 and at most 100%, got {self.cpu_target_percent}")


class Autoscaler:
    """Target tracking over one-minute metrics; `ready_at` holds every task's serving time, sorted."""

    def __init__(self, policy: ScalingPolicy, initial_tasks: int | None = None) -> None:
        self.p = policy
        self.ready_at: list[float] = [-math.inf] * (initial_tasks or policy.min_tasks)
        self.high: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.last_scaled = -math.inf

    def ready(self, t: float) -> int:
        return max(1, bisect.bisect_right(self.ready_at, t))

    def evaluate(self, t: float, requests: float, cpu_percent: float) -> None:
        """The minute ending at `t` had `requests` requests and the tasks serving ran at `cpu_percent`."""
        p, ready = self.p, self.ready(t)
        metrics: dict[str, tuple[float, float]] = {}
        if p.requests_per_target_per_min:
            metrics["requests"] = (requests / ready, p.requests_per_target_per_min)
        if p.cpu_target_percent:
            metrics["cpu"] = (min(100.0, cpu_percent), p.cpu_target_percent)
        out, into = [], []
        for name, (value, target) in metrics.items():
            self.high[name] = self.high.get(name, 0) + 1 if value > target else 0
            self.low[name] = self.low.get(name, 0) + 1 if value < 0.9 * target else 0
            wanted = math.ceil(ready * value / target)
            if self.high[name] >= p.scale_out_datapoints:
                out.append(wanted)
            if self.low[name] >= p.scale_in_datapoints:
                into.append(wanted)
        current = len(self.ready_at)
        if out and min(p.max_tasks, max(out)) > current:
            self.ready_at += [t + p.task_start_s] * (min(p.max_tasks, max(out)) - current)
            self.last_scaled = t
        elif into and len(into) == len(metrics) and t - self.last_scaled >= p.scale_in_cooldown_s:
            wanted = max(p.min_tasks, max(into))
            if wanted < current:
                del self.ready_at[wanted:]  # the newest go first
                self.last_scaled = t


def fleet_per_minute(policy: ScalingPolicy, rates_per_s: ArrayLike, capacity_per_task_rps: float
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Tasks running (billed: started, starting or serving) and tasks serving, each minute, for
    per-minute request rates. CPU is modeled as the rate over the serving tasks' capacity (a task at
    `capacity_per_task_rps` is 100% busy)."""
    rates = np.asarray(rates_per_s, dtype=np.float64)
    scaler = Autoscaler(policy)
    running = np.empty_like(rates)
    serving = np.empty_like(rates)
    for minute, rate in enumerate(rates.tolist()):
        t = minute * METRIC_PERIOD_S
        ready = scaler.ready(t)
        running[minute], serving[minute] = len(scaler.ready_at), ready
        scaler.evaluate(t + METRIC_PERIOD_S, rate * METRIC_PERIOD_S, 100.0 * rate / (ready * capacity_per_task_rps))
    return running, serving


def steady_tasks(policy: ScalingPolicy, rates_per_s: ArrayLike, capacity_per_task_rps: float) -> NDArray[np.float64]:
    """Tasks target tracking settles at for constant rates (vectorised): each policy's
    ceil(metric at one task / target), the largest of them, within min and max."""
    rates = np.asarray(rates_per_s, dtype=np.float64)
    wanted = np.zeros_like(rates)
    if policy.requests_per_target_per_min:
        wanted = np.maximum(wanted, np.ceil(rates * METRIC_PERIOD_S / policy.requests_per_target_per_min - 1e-9))
    if policy.cpu_target_percent:
        cpu_one_task = 100.0 * rates / capacity_per_task_rps
        wanted = np.maximum(wanted, np.ceil(cpu_one_task / policy.cpu_target_percent - 1e-9))
    return np.clip(wanted, policy.min_tasks, policy.max_tasks)
