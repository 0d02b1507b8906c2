"""Power tuning on hand-made sweep results: prices worked out by hand, each strategy, and the SLO
strategy picking differently from the cheapest (and moving when cold starts count)."""

from __future__ import annotations

import pytest

from cost_model.compare import Inputs
from cost_model.power_tuning import (
    SizeFigures,
    apply_recommendation,
    mixture_quantile_ms,
    recommend,
    usd_per_invocation,
)
from cost_model.prices import load_prices

PRICES = load_prices("us-east-1")


def size(memory_mb: int, duration_ms: float, *, cold_ms: float = 900.0, **kw: object) -> SizeFigures:
    return SizeFigures(memory_mb=memory_mb, duration_p50_ms=duration_ms, duration_p99_ms=duration_ms * 1.1,
                       billed_p50_ms=duration_ms, init_p50_ms=400.0, max_memory_used_mb=100.0,
                       warm_latency_ms=tuple([duration_ms + 5.0] * 100), cold_latency_ms=(cold_ms,) * 3,
                       **kw)  # type: ignore[arg-type]


SIZES = [size(256, 300.0), size(1024, 100.0, cold_ms=600.0), size(3008, 40.0, cold_ms=140.0),
         size(128, 700.0, failures={"Runtime.OutOfMemory": 2})]


def test_cost_per_invocation_by_hand() -> None:
    # 1,024 MB for 100 ms = 0.1 GB-s × $0.0000166667 + $0.0000002 per request = $0.00000186667
    assert usd_per_invocation(PRICES, size(1024, 100.0), arch="x86_64") == pytest.approx(1.86667e-6, rel=1e-5)
    # arm64: 0.1 GB-s × $0.0000133334 + $0.0000002 = $0.00000153334
    assert usd_per_invocation(PRICES, size(1024, 100.0), arch="arm64") == pytest.approx(1.53334e-6, rel=1e-5)
    # 2% cold: billed 100 + 0.02 × 400 ms INIT = 108 ms → 0.108 × 1.66667e-5 + 2e-7
    assert usd_per_invocation(PRICES, size(1024, 100.0), arch="x86_64", cold_fraction=0.02) == \
        pytest.approx(0.108 * 1.66667e-5 + 2e-7, rel=1e-5)


def test_mixture_p99_by_hand() -> None:
    warm, cold = [10.0] * 100, [500.0] * 10
    assert mixture_quantile_ms(warm, cold, 0.005) == 10.0  # 99.5% of requests are ≤ 10 ms
    assert mixture_quantile_ms(warm, cold, 0.02) == 500.0  # only 98% are: the p99 is a cold start
    assert mixture_quantile_ms([], cold, 0.0) == 500.0 and mixture_quantile_ms([], [], 0.5) is None


@pytest.mark.parametrize(("strategy", "weight", "memory_mb"), [
    ("cheapest", 0.5, 256),  # $1.45/M
    ("fastest", 0.5, 3008),  # 40 ms
    ("balanced", 0.5, 3008),  # 0.5 × 1 + 0.5 × 40/300 = 0.567 beats 1,024 MB's 0.599
    ("balanced", 0.9, 256),  # cost-heavy: 0.9 × 1.45/2.158 + 0.1 × 1 = 0.705
    ("slo", 0.5, 1024),  # 256 MB misses 150 ms (305 ms); 1,024 MB meets it (105 ms) and costs less than 3,008 MB
])
def test_each_strategy(strategy: str, weight: float, memory_mb: int) -> None:
    rec = recommend(PRICES, SIZES, strategy=strategy, slo_p99_ms=150.0, balanced_weight=weight)  # type: ignore[arg-type]
    assert rec.memory_mb == memory_mb, rec.reason
    assert "128 MB failed and were not considered" in rec.reason


def test_cold_starts_at_the_teams_traffic_move_the_slo_choice() -> None:
    rec = recommend(PRICES, SIZES, strategy="slo", slo_p99_ms=150.0, cold_fraction=0.02)
    assert rec.memory_mb == 3008  # at 2% cold the p99 is a cold start: 600 ms at 1,024 MB, 140 ms at 3,008 MB
    nothing = recommend(PRICES, SIZES, strategy="slo", slo_p99_ms=20.0)
    assert nothing.memory_mb is None and "closest is 3008 MB" in nothing.reason


def test_flags_and_refusals() -> None:
    near = SizeFigures(memory_mb=128, duration_p50_ms=5.0, duration_p99_ms=6.0, billed_p50_ms=5.0, init_p50_ms=1.0,
                       max_memory_used_mb=120.0)
    assert near.near_memory_limit and not size(1024, 1.0).near_memory_limit
    with pytest.raises(ValueError, match="strategy 'quickest' is not one of cheapest, fastest, balanced, slo"):
        recommend(PRICES, SIZES, strategy="quickest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="balanced weight"):
        recommend(PRICES, SIZES, strategy="balanced", balanced_weight=2.0)


def test_the_tuned_size_becomes_the_modeled_memory() -> None:
    inputs = Inputs(provenance={})
    apply_recommendation(inputs, recommend(PRICES, SIZES, strategy="slo", slo_p99_ms=150.0))
    assert (inputs.lambda_memory_mb, inputs.lambda_duration_ms, inputs.lambda_init_ms) == (1024, 100.0, 400.0)
    assert inputs.provenance["lambda_memory_mb"].startswith("memory sweep (measured-local), strategy slo")
