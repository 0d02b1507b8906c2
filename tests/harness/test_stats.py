"""Percentiles and their confidence intervals, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from benchmarks.stats import binomial_cdf, percentile, quantile_ci, summarize


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50.0  # rank ceil(0.5 × 100) = 50
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_binomial_cdf_small_case_by_hand() -> None:
    # B ~ Bin(4, 0.5): P(B <= 1) = (1 + 4) / 16
    assert binomial_cdf(1, 4, 0.5) == pytest.approx(5 / 16)
    assert binomial_cdf(4, 4, 0.5) == 1.0 and binomial_cdf(-1, 4, 0.5) == 0.0


def test_median_ci_for_ten_values_by_hand() -> None:
    # n = 10, q = 0.5: P(B <= 1) = 11/1024 = 0.0107 <= 0.025 < P(B <= 2) = 56/1024 = 0.0547,
    # so l = 2; P(B <= 7) = 968/1024 = 0.945 < 0.975 <= P(B <= 8) = 1013/1024, so u = 9.
    # [x(2), x(9)] covers the median with probability 1013/1024 - 11/1024 = 0.9785.
    values = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    assert quantile_ci(values, 50) == (20.0, 90.0)


def test_p99_of_twenty_values_has_no_upper_bound() -> None:
    low, high = quantile_ci([float(v) for v in range(20)], 99)
    assert high is None  # 20 samples cannot bound a 99th percentile from above
    assert low is not None


def test_summary_fields() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s["count"] == 4 and s["mean"] == 2.5 and s["min"] == 1.0 and s["max"] == 4.0
    assert s["p50"] == 2.0 and len(s["p50_ci95"]) == 2  # type: ignore[arg-type]
    assert summarize([]) == {"count": 0}
    assert math.isclose(sum(binomial_cdf(k, 50, 0.3) - binomial_cdf(k - 1, 50, 0.3) for k in range(51)), 1.0)


def _reference_ci(values: list[float], q: float, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """The definition, term by term with exact binomial coefficients (slow; small n only)."""
    n, p, alpha = len(values), q / 100.0, 1 - confidence
    ordered = sorted(values)

    def cdf(k: int) -> float:
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))

    lower = max((r for r in range(1, n + 1) if cdf(r - 1) <= alpha / 2), default=0)
    upper = min((r for r in range(1, n + 1) if cdf(r - 1) >= 1 - alpha / 2), default=n + 1)
    return (ordered[lower - 1] if lower else None, ordered[upper - 1] if upper <= n else None)


@pytest.mark.parametrize("n", [1, 2, 7, 20, 59, 100, 301])
@pytest.mark.parametrize("q", [50, 90, 99])
def test_interval_ranks_match_the_definition(n: int, q: float) -> None:
    values = [float((i * 7919) % 1009) for i in range(n)]
    assert quantile_ci(values, q) == _reference_ci(values, q)
    summary = summarize(values)
    assert summary[f"p{q:g}"] == percentile(values, q)
    assert tuple(summary[f"p{q:g}_ci95"]) == _reference_ci(values, q)  # type: ignore[arg-type]
