"""The two modes agree where they overlap; traces are read or refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinserve.simulator import (
    FargateParams,
    LambdaParams,
    arrivals_from_counts,
    simulate_fargate_aggregated,
    simulate_fargate_exact,
    simulate_lambda_aggregated,
    simulate_lambda_exact,
)
from twinserve.simulator.trace import counts_from_arrivals, read_trace

RNG = np.random.default_rng(7)
WARM_MS = RNG.lognormal(np.log(20.0), 0.3, 5000)
COLD_MS = RNG.normal(300.0, 30.0, 500).clip(100.0)


def both_lambda(counts: np.ndarray, params: LambdaParams) -> tuple:
    times = arrivals_from_counts(counts, 1.0, np.random.default_rng(3), poisson=True)
    exact = simulate_lambda_exact(times, params)
    aggregated = simulate_lambda_aggregated(counts_from_arrivals(times, 1.0, counts.size), 1.0, params)
    return exact, aggregated


@pytest.mark.parametrize("label,counts", [
    ("steady 50 req/s", np.full(1200, 50.0)),
    ("daily wave, compressed", 50 + 45 * np.sin(np.arange(1200) / 1200 * 2 * np.pi)),
])
def test_lambda_modes_agree_on_smooth_traffic(label: str, counts: np.ndarray) -> None:
    exact, aggregated = both_lambda(counts, LambdaParams(warm_ms=WARM_MS, cold_ms=COLD_MS, keep_alive_s=60))
    assert aggregated.p99_ms == pytest.approx(exact.p99_ms, rel=0.05), label
    assert aggregated.cold_starts == pytest.approx(exact.cold_starts, rel=0.25), label


def test_lambda_modes_agree_on_sparse_traffic() -> None:
    # 0.05 req/s against a 60 s keep-alive: most requests are cold (P(gap > 60 s) = e^-3 = 5%, plus
    # the first): both modes put the p99 in the cold-start latencies.
    exact, aggregated = both_lambda(np.full(4000, 0.05), LambdaParams(warm_ms=WARM_MS, cold_ms=COLD_MS,
                                                                       keep_alive_s=60))
    assert exact.cold_fraction > 0.02 and aggregated.cold_fraction > 0.02
    assert aggregated.p99_ms == pytest.approx(exact.p99_ms, rel=0.25)


def test_lambda_modes_agree_on_throttles() -> None:
    params = LambdaParams(warm_ms=np.full(10, 100.0), cold_ms=np.full(10, 300.0), keep_alive_s=60,
                          concurrency_limit=10)
    exact, aggregated = both_lambda(np.r_[np.full(60, 20.0), np.full(10, 150.0), np.full(60, 20.0)], params)
    assert aggregated.throttled == pytest.approx(exact.throttled, rel=0.15)


def test_fargate_modes_agree_through_a_scale_out() -> None:
    counts = np.r_[np.full(600, 20.0), np.full(900, 150.0), np.full(600, 20.0)]
    times = arrivals_from_counts(counts, 1.0, np.random.default_rng(5), poisson=True)
    params = FargateParams(service_ms=RNG.exponential(8.0, 20_000), workers=1, min_tasks=2, max_tasks=10)
    exact = simulate_fargate_exact(times, params)
    aggregated = simulate_fargate_aggregated(counts_from_arrivals(times, 1.0, counts.size), 1.0, params)
    assert max(aggregated.timeline["instances"]) == max(exact.timeline["instances"])
    assert aggregated.latency_ms["p50"] == pytest.approx(exact.latency_ms["p50"], rel=0.15)
    assert aggregated.p99_ms == pytest.approx(exact.p99_ms, rel=0.25)


def test_trace_files(tmp_path: Path) -> None:
    per_request = tmp_path / "requests.csv"
    per_request.write_text("timestamp_s\n0.5\n0.2\n3.9\n")
    trace = read_trace(per_request)
    assert trace.timestamps_s is not None and trace.timestamps_s.tolist() == [0.2, 0.5, 3.9]
    assert trace.counts.tolist() == [2.0, 0.0, 0.0, 1.0] and trace.bin_s == 1.0
    per_minute = tmp_path / "minutes.csv"
    per_minute.write_text("minute,requests\n0,120\n1,60\n")
    assert read_trace(per_minute).bin_s == 60.0
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp_s\n1\nsoon\n")
    with pytest.raises(ValueError, match=r"bad\.csv"):
        read_trace(bad)
    negative = tmp_path / "negative.csv"
    negative.write_text("requests\n5\n-1\n")
    with pytest.raises(ValueError, match="negative"):
        read_trace(negative)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="warm latencies"):
        LambdaParams(warm_ms=np.array([]), cold_ms=COLD_MS)
    with pytest.raises(ValueError, match="provisioned"):
        LambdaParams(warm_ms=WARM_MS, cold_ms=COLD_MS, concurrency_limit=5, provisioned=6)
    with pytest.raises(ValueError, match="min tasks"):
        FargateParams(service_ms=WARM_MS, min_tasks=3, max_tasks=2)
