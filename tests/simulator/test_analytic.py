"""The simulator against results worked out by hand or by queueing theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinserve.simulator import (
    FargateParams,
    LambdaParams,
    simulate_fargate_aggregated,
    simulate_fargate_exact,
    simulate_lambda_exact,
)
from twinserve.simulator.queueing import erlang_b, mmc_mean_wait_s

RNG = np.random.default_rng(20261124)
EXPONENTIAL_10MS = RNG.exponential(10.0, 200_000)  # service times, ms (M: exponential)


def poisson_times(rate_per_s: float, n: int, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate_per_s, n))


def one_queue(workers: int) -> FargateParams:
    """One task, no autoscaling: a plain M/M/c queue."""
    return FargateParams(service_ms=EXPONENTIAL_10MS, workers=workers, min_tasks=1, max_tasks=1,
                         requests_per_target_per_min=None, cpu_target_percent=None)


def mean_wait_ms(result_mean_latency_ms: float) -> float:
    return result_mean_latency_ms - float(EXPONENTIAL_10MS.mean())


def test_mm1_mean_wait_within_5_percent() -> None:
    # M/M/1, λ = 70/s, S = 10 ms: ρ = 0.7, Wq = ρ·S/(1 - ρ) = 23.3 ms
    rate, service_s = 70.0, float(EXPONENTIAL_10MS.mean()) / 1000.0
    result = simulate_fargate_exact(poisson_times(rate, 400_000, 1), one_queue(1))
    expected_ms = rate * service_s * service_s / (1 - rate * service_s) * 1000.0
    assert mean_wait_ms(result.latency_ms["mean"]) == pytest.approx(expected_ms, rel=0.05)


@pytest.mark.parametrize("workers,rate", [(2, 150.0), (4, 320.0)])
def test_mmc_mean_wait_matches_erlang_c_within_5_percent(workers: int, rate: float) -> None:
    service_s = float(EXPONENTIAL_10MS.mean()) / 1000.0
    expected_ms = float(mmc_mean_wait_s(workers, rate * service_s, service_s)) * 1000.0
    exact = simulate_fargate_exact(poisson_times(rate, 400_000, workers), one_queue(workers))
    assert mean_wait_ms(exact.latency_ms["mean"]) == pytest.approx(expected_ms, rel=0.05)
    counts = np.bincount(poisson_times(rate, 400_000, workers).astype(int)).astype(float)
    aggregated = simulate_fargate_aggregated(counts, 1.0, one_queue(workers))
    assert mean_wait_ms(aggregated.latency_ms["mean"]) == pytest.approx(expected_ms, rel=0.05)


def deterministic_lambda(*, busy_ms: float, limit: int = 1000, keep_alive_s: float = 600.0) -> LambdaParams:
    return LambdaParams(warm_ms=np.array([busy_ms]), cold_ms=np.array([busy_ms]), concurrency_limit=limit,
                        keep_alive_s=keep_alive_s)


def test_step_in_traffic_starts_the_expected_environments() -> None:
    # Evenly spaced requests busy 250 ms each: at 10/s they need ceil(0.25 × 10) = 3 environments, at
    # 50/s ceil(0.25 × 50) = 13, so the step starts 10 more; after a pause longer than the keep-alive
    # all are gone and the 50/s traffic starts all 13 again.
    slow = np.arange(0, 60, 0.1)
    fast = 60 + np.arange(0, 60, 0.02)
    again = 200 + np.arange(0, 30, 0.02)
    params = deterministic_lambda(busy_ms=250.0, keep_alive_s=30.0)
    assert simulate_lambda_exact(slow, params).cold_starts == 3
    assert simulate_lambda_exact(np.concatenate([slow, fast]), params).cold_starts == 3 + 10
    assert simulate_lambda_exact(np.concatenate([slow, fast, again]), params).cold_starts == 3 + 10 + 13


def test_burst_above_the_concurrency_limit_is_throttled() -> None:
    # 20 requests within 0.1 s, each busy 1 s, limit 5: 5 run (cold), 15 are throttled.
    result = simulate_lambda_exact(np.linspace(0, 0.1, 20), deterministic_lambda(busy_ms=1000.0, limit=5))
    assert (result.cold_starts, result.throttled) == (5, 15)


def test_throttles_under_poisson_load_match_erlang_b() -> None:
    # M/G/c/c: a request finding all c environments busy is lost (Erlang B, any service law).
    limit, rate, busy_ms = 10, 80.0, 100.0
    params = LambdaParams(warm_ms=RNG.lognormal(math.log(busy_ms) - 0.08, 0.4, 50_000),
                          cold_ms=RNG.lognormal(math.log(busy_ms) - 0.08, 0.4, 50_000), concurrency_limit=limit)
    result = simulate_lambda_exact(poisson_times(rate, 300_000, 7), params)
    offered = rate * float(params.warm_ms.mean()) / 1000.0
    assert result.throttled / result.requests == pytest.approx(float(erlang_b(limit, offered)), rel=0.05)


def test_provisioned_concurrency_covers_the_step() -> None:
    params = LambdaParams(warm_ms=np.array([250.0]), cold_ms=np.array([250.0]), provisioned=13)
    assert simulate_lambda_exact(60 + np.arange(0, 60, 0.02), params).cold_starts == 0


def test_scale_out_rate_limits_new_environments() -> None:
    # 3,000 requests in the same instant, each busy 30 s, limit 10,000: the first 1,000 environments start, the
    # scale-out rate (1,000 per 10 s) throttles the rest.
    params = deterministic_lambda(busy_ms=30_000.0, limit=10_000)
    result = simulate_lambda_exact(np.zeros(3000), params)
    assert (result.cold_starts, result.throttled) == (1000, 2000)


def fleet(**overrides: object) -> FargateParams:
    params = {"service_ms": np.array([10.0]), "workers": 1, "min_tasks": 2, "max_tasks": 10,
              "requests_per_target_per_min": 1000.0, "cpu_target_percent": None, "task_start_s": 60.0}
    params.update(overrides)
    return FargateParams(**params)  # type: ignore[arg-type]


def test_target_tracking_scales_out_after_three_minutes_and_in_after_fifteen() -> None:
    # 20 req/s on 2 tasks is 600 requests per target per minute (under 1,000); 100 req/s is 3,000:
    # after 3 minutes above target, scale to ceil(2 × 3000 / 1000) = 6; those tasks serve a minute later.
    times = np.concatenate([np.arange(0, 600, 0.05), 600 + np.arange(0, 600, 0.01), 1200 + np.arange(0, 1800, 0.05)])
    result = simulate_fargate_exact(times, fleet())
    def tasks(at_s: float) -> float:
        index = int(np.searchsorted(result.timeline["t_s"], at_s, side="right")) - 1
        return float(result.timeline["instances"][index])

    assert tasks(590) == 2
    assert tasks(600 + 4 * 60 - 10) == 2  # decided at the end of minute 3, serving a minute later
    assert tasks(600 + 4 * 60 + 10) == 6
    # back to 20 req/s: 1,200/min over 6 tasks = 200 per target, under 90% of 1,000 for 15 minutes,
    # then scaled in to the minimum (ceil(6 × 200 / 1000) = 2)
    assert tasks(1200 + 14 * 60) == 6
    assert tasks(1200 + 16 * 60 + 10) == 2


def test_fleet_never_exceeds_the_maximum_and_queues_beyond_it() -> None:
    times = np.arange(0, 900, 1 / 1500)  # 1,500 req/s against at most 10 tasks of 100 req/s each
    result = simulate_fargate_exact(times, fleet(max_tasks=10))
    assert max(result.timeline["instances"]) == 10
    assert result.failed > 0  # the backlog grows past the load balancer's 60 s timeout


def test_modeled_task_count_at_100_rps_follows_the_deployed_request_policy() -> None:
    # The ServiceStack's defaults: 1,000 requests per target per minute, 2 to 10 tasks. At a steady
    # 100 req/s (6,000 per minute) target tracking settles at ceil(6000 / 1000) = 6 tasks.
    counts = np.full(3600, 100.0)
    result = simulate_fargate_aggregated(counts, 1.0, fleet(service_ms=np.array([5.0])))
    assert result.timeline["instances"][-1] == 6
