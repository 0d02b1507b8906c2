"""Cost benchmark: price 10,000 traffic points for every option (vectorised), against the same
points priced one at a time, in one run. Target: the vectorised pass well under a second.
Run: `python -m benchmarks.cost_bench`."""

from __future__ import annotations

import time

import numpy as np

from cost_model.compare import Inputs, fargate_constant_rate_usd, lambda_constant_rate_usd
from cost_model.prices import load_prices

POINTS = 10_000


def main() -> None:
    prices = load_prices()
    inputs = Inputs()
    rates = np.logspace(-3, 4, POINTS)
    start = time.perf_counter()
    lam = lambda_constant_rate_usd(prices, inputs, rates)
    far = fargate_constant_rate_usd(prices, inputs, rates)
    vectorised_s = time.perf_counter() - start
    sample = rates[:: POINTS // 200]
    start = time.perf_counter()
    for r in sample:
        lambda_constant_rate_usd(prices, inputs, np.array([r]))
        fargate_constant_rate_usd(prices, inputs, np.array([r]))
    one_by_one_s = (time.perf_counter() - start) * POINTS / len(sample)
    assert lam.shape == far.shape == (POINTS,)
    print(f"{POINTS:,} traffic points × 2 options, measured here (one run):\n"
          f"  vectorised        {vectorised_s * 1000:8.1f} ms\n"
          f"  one at a time     {one_by_one_s * 1000:8.1f} ms (extrapolated from {len(sample)} points)\n"
          f"  ratio             {one_by_one_s / vectorised_s:8.1f}×\n"
          f"  target: vectorised well under 1 s → {'meets' if vectorised_s < 0.5 else 'misses'}")


if __name__ == "__main__":
    main()
