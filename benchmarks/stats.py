"""Small statistics helpers shared by the benchmark scripts (nearest-rank percentiles)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(B <= k) for B ~ Binomial(n, p), summed in log space (stable for large n)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p
                          + (n - i) * log_q)
    return min(total, 1.0)


def quantile_ci(values: Sequence[float], q: float, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Distribution-free confidence interval for the q-th percentile (q in 0..100) from order statistics.

    [x(l), x(u)] covers the true percentile with probability P(l <= B <= u-1), B ~ Binomial(n, q/100):
    l is the largest rank with P(B <= l-1) <= alpha/2 and u the smallest with P(B <= u-1) >= 1-alpha/2.
    A side is None when the sample is too small to bound it (e.g. p99 from 20 values).
    """
    n = len(values)
    if n == 0:
        return None, None
    ordered = sorted(values)
    p = q / 100.0
    alpha = 1.0 - confidence
    lower_rank = 0
    for rank in range(1, n + 1):
        if binomial_cdf(rank - 1, n, p) <= alpha / 2:
            lower_rank = rank
        else:
            break
    upper_rank = n + 1
    for rank in range(1, n + 1):
        if binomial_cdf(rank - 1, n, p) >= 1 - alpha / 2:
            upper_rank = rank
            break
    low = ordered[lower_rank - 1] if lower_rank >= 1 else None
    high = ordered[upper_rank - 1] if upper_rank <= n else None
    return low, high


def summarize(values: Sequence[float], percentiles: Sequence[float] = (50, 90, 99)) -> dict[str, object]:
    """Count, mean, min/max and each percentile with its 95% confidence interval."""
    if not values:
        return {"count": 0}
    out: dict[str, object] = {"count": len(values), "mean": sum(values) / len(values), "min": min(values),
                              "max": max(values)}
    for q in percentiles:
        low, high = quantile_ci(values, q)
        out[f"p{q:g}"] = percentile(values, q)
        out[f"p{q:g}_ci95"] = [low, high]
    return out
