"""Statistics shared by the harness and the benchmark scripts: nearest-rank percentiles and their
distribution-free confidence intervals from order statistics.

The interval ranks come from scipy's binomial CDF evaluated once over every rank (one vectorised
pass), not a sum from zero per rank: 200,000 latencies summarise in well under a second
(`python -m benchmarks.stats_bench`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import binom

DEFAULT_PERCENTILES = (50, 90, 99)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not len(values):
        raise ValueError("percentile of an empty sequence")
    return float(np.sort(np.asarray(values, dtype=float))[_rank(q, len(values)) - 1])


def _rank(q: float, n: int) -> int:
    return max(1, math.ceil(q / 100.0 * n))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(B <= k) for B ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return float(binom.cdf(k, n, p))


def _ci_ranks(n: int, q: float, confidence: float) -> tuple[int, int]:
    """(l, u): 1-based ranks of the interval's ends; l = 0 or u = n + 1 when that side is unbounded.

    [x(l), x(u)] covers the true q-th percentile with probability P(l <= B <= u-1), B ~ Binomial(n, q/100):
    l is the largest rank with P(B <= l-1) <= alpha/2 and u the smallest with P(B <= u-1) >= 1-alpha/2.
    """
    alpha = 1.0 - confidence
    cdf = binom.cdf(np.arange(n), n, q / 100.0)  # cdf[r-1] = P(B <= r-1), for ranks r = 1..n
    lower = int(np.searchsorted(cdf, alpha / 2, side="right"))  # ranks with cdf <= alpha/2 (a prefix)
    above = int(np.searchsorted(cdf, 1 - alpha / 2, side="left"))  # first index with cdf >= 1 - alpha/2
    return lower, above + 1


def quantile_ci(values: Sequence[float], q: float, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Distribution-free confidence interval for the q-th percentile (q in 0..100) from order statistics.
    A side is None when the sample is too small to bound it (e.g. p99 from 20 values)."""
    n = len(values)
    if n == 0:
        return None, None
    return _interval(np.sort(np.asarray(values, dtype=float)), q, confidence)


def _interval(ordered: np.ndarray, q: float, confidence: float) -> tuple[float | None, float | None]:
    n = len(ordered)
    lower_rank, upper_rank = _ci_ranks(n, q, confidence)
    low = float(ordered[lower_rank - 1]) if lower_rank >= 1 else None
    high = float(ordered[upper_rank - 1]) if upper_rank <= n else None
    return low, high


def summarize(values: Sequence[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> dict[str, object]:
    """Count, mean, min/max and each percentile with its 95% confidence interval (one sort)."""
    if not len(values):
        return {"count": 0}
    ordered = np.sort(np.asarray(values, dtype=float))
    n = len(ordered)
    out: dict[str, object] = {"count": n, "mean": float(ordered.mean()), "min": float(ordered[0]),
                              "max": float(ordered[-1])}
    for q in percentiles:
        out[f"p{q:g}"] = float(ordered[_rank(q, n) - 1])
        out[f"p{q:g}_ci95"] = list(_interval(ordered, q, 0.95))
    return out
